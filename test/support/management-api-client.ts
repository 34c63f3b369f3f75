import { ApiGatewayManagementApiClient } from '@aws-sdk/client-apigatewaymanagementapi';

/** What every local engine and endpoint accepts: they check a request's signature, not its key. */
export const LOCAL_CREDENTIALS = { accessKeyId: 'local', secretAccessKey: 'local' };

/**
 * The real SDK v3 client of a management API on loopback (the local runtime's, or a test's own
 * server), as a function builds it from `https://${domainName}/${stage}`.
 */
export function managementApiClient(
  endpoint: string,
  {
    region = 'us-east-1',
    maxAttempts,
  }: {
    region?: string;
    /** @default the SDK's (3): a throttled or failed call is retried */
    maxAttempts?: number;
  } = {},
): ApiGatewayManagementApiClient {
  return new ApiGatewayManagementApiClient({ endpoint, region, credentials: LOCAL_CREDENTIALS, ...(maxAttempts !== undefined && { maxAttempts }) });
}
