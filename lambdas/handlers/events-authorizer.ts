import type { APIGatewayRequestAuthorizerEventV2, APIGatewaySimpleAuthorizerWithContextResult } from 'aws-lambda';
import { createDocumentClient } from '../wiring/clients';
import { readConfig, readOptionalConfig } from '../wiring/config';
import { ApiKeyTable, createApiKeyVerifier } from '../core/api-keys';
import { credentialFrom } from '../core/auth';
import { logger } from '../wiring/logger';

const config = readConfig('API_KEYS_TABLE_NAME');
const { TENANT_CLAIM } = readOptionalConfig('TENANT_CLAIM');
const verifyApiKey = createApiKeyVerifier(new ApiKeyTable(createDocumentClient(), config.API_KEYS_TABLE_NAME), {
  scope: 'publish',
  multiTenant: TENANT_CLAIM !== undefined,
});

type Result = APIGatewaySimpleAuthorizerWithContextResult<Record<string, string>>;

/**
 * The events ingress authorizer (HTTP API, simple responses): a `publish`-scope API key, as
 * `x-api-key`, `?apikey=` or `Authorization: Basic`. Any refusal is API Gateway's 403.
 */
export const handler = async (event: APIGatewayRequestAuthorizerEventV2): Promise<Result> => {
  const credential = credentialFrom({ headers: event.headers ?? {}, queryStringParameters: event.queryStringParameters ?? {} });
  if (credential?.kind !== 'apiKey') {
    logger.info('events refused: no API key', { credential: credential?.kind });
    return { isAuthorized: false, context: {} };
  }
  try {
    const { userId, keyId, tenant, publishTopics } = await verifyApiKey(credential.apiKey, credential.user);
    return {
      isAuthorized: true,
      context: { userId, keyId, publishTopics: JSON.stringify(publishTopics ?? []), ...(tenant !== undefined && { tenant }) },
    };
  } catch (error) {
    logger.info('events refused: API key rejected', { reason: (error as Error).message });
    return { isAuthorized: false, context: {} };
  }
};
