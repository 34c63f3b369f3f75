import { ApiGatewayManagementApiClient } from '@aws-sdk/client-apigatewaymanagementapi';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { SQSClient } from '@aws-sdk/client-sqs';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';

// Handlers call these at module scope, so warm invocations reuse the clients and their sockets.
// Endpoints come from the SDK's own settings (AWS_ENDPOINT_URL_DYNAMODB, AWS_ENDPOINT_URL_SQS).

/**
 * Every call is bounded, so that a stalled service fails the records that need it in seconds
 * instead of holding the invocation to its 30 s timeout (which fails every record of the batch).
 * An attempt gets 1 s to connect and 2 s for the answer to begin (DynamoDB, SQS and
 * PostToConnection answer in milliseconds), then 2 s of silence at most while it arrives; with the
 * SDK's 3 attempts and backoff, a stalled call gives up after about 6.5 s, which leaves a record
 * room for its other calls. Without `throwOnRequestTimeout` the SDK only logs a breach.
 */
export const REQUEST_TIMEOUTS = {
  connectionTimeout: 1_000,
  requestTimeout: 2_000,
  throwOnRequestTimeout: true,
  socketTimeout: 2_000,
};

/**
 * An enrichment function's answer comes when it has run: it gets 10 s, and one attempt (its
 * client takes `maxAttempts: 1`), so that the fan-out's own calls still fit in its 30 s. A slow or
 * throttled enrichment fails the record, which SQS retries.
 */
export const ENRICHMENT_TIMEOUTS = { ...REQUEST_TIMEOUTS, requestTimeout: 10_000, socketTimeout: 10_000 };

export function createDocumentClient(): DynamoDBDocumentClient {
  return DynamoDBDocumentClient.from(new DynamoDBClient({ requestHandler: REQUEST_TIMEOUTS }), { marshallOptions: { removeUndefinedValues: true } });
}

// cacheMiddleware: the middleware stack is resolved once per client, not on every call (a third of
// an SDK call's CPU, measured by bench/sdk-call-cost.ts). The DocumentClient does not take it.

export function createSqsClient(): SQSClient {
  // Send to the configured endpoint, not the host named in a queue URL (emulators name their own).
  return new SQSClient({ useQueueUrlAsEndpoint: false, cacheMiddleware: true, requestHandler: REQUEST_TIMEOUTS });
}

export function createManagementApiClient(endpoint: string): ApiGatewayManagementApiClient {
  return new ApiGatewayManagementApiClient({ endpoint, cacheMiddleware: true, requestHandler: REQUEST_TIMEOUTS });
}
