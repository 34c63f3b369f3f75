import type { APIGatewayRequestAuthorizerEventV2, APIGatewaySimpleAuthorizerWithContextResult } from 'aws-lambda';
import { eventsAuthorizerEnvironment } from '../contract/environment';
import { credentialFrom } from '../core/auth';
import { createDocumentClient } from '../wiring/clients';
import { apiKeyVerifier } from '../wiring/credential-verifiers';
import { readEnvironment } from '../wiring/environment';
import { logger } from '../wiring/logger';

const verifyApiKey = apiKeyVerifier(createDocumentClient(), 'publish', readEnvironment(eventsAuthorizerEnvironment));

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
