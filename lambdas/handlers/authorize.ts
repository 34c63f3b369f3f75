import { readConfig } from '../config';
import type { ApiKeyIdentity } from '../core/api-keys';
import { anonymousUserId, credentialFrom, credentialOffered, type VerifiedIdentity } from '../core/auth';
import { connectKeyVerifierFromEnvironment, tokenVerifierFromEnvironment } from '../credential-verifiers';
import type { AuthorizerResult, WebSocketAuthorizerEvent } from '../events';
import { logger } from '../logger';

const config = readConfig('ALLOW_ANONYMOUS');
const verifyToken = tokenVerifierFromEnvironment();
const verifyApiKey = connectKeyVerifierFromEnvironment();
const allowAnonymous = config.ALLOW_ANONYMOUS === 'true';

/**
 * The `$connect` REQUEST authorizer: a JWT or an API key. No credential: 401 (API Gateway's
 * answer to an `Unauthorized` error), or, where anonymous access is on, an anonymous user of this
 * connection alone. A credential that does not verify, for whatever reason, JWKS outages
 * included: 403, never a fall-back to anonymous.
 */
export const handler = async (event: WebSocketAuthorizerEvent): Promise<AuthorizerResult> => {
  const { connectionId } = event.requestContext;
  const credential = credentialFrom(event);
  if (credential === undefined) {
    if (allowAnonymous && credentialOffered(event)) {
      logger.info('connection refused: a credential was offered but is empty or malformed', { connectionId });
      return policy('Deny', 'unauthenticated', event.methodArn);
    }
    if (allowAnonymous) {
      const userId = anonymousUserId(connectionId);
      logger.info('anonymous connection', { connectionId });
      return policy('Allow', userId, event.methodArn, { userId, anonymous: true });
    }
    logger.info('connection refused: no credential', { connectionId });
    throw new Error('Unauthorized');
  }
  try {
    const identity: VerifiedIdentity | ApiKeyIdentity =
      credential.kind === 'token' ? await verifyToken(credential.token) : await verifyApiKey(credential.apiKey, credential.user);
    return policy('Allow', identity.userId, event.methodArn, authorizerContext(identity));
  } catch (error) {
    logger.info('connection refused: credential rejected', {
      connectionId,
      credential: credential.kind,
      reason: (error as Error).message,
    });
    return policy('Deny', 'unauthenticated', event.methodArn);
  }
};

/** What `$connect` stores with the connection; API Gateway hands it on as `requestContext.authorizer`. */
function authorizerContext(identity: VerifiedIdentity | ApiKeyIdentity): NonNullable<AuthorizerResult['context']> {
  return {
    userId: identity.userId,
    ...(identity.expiresAt !== undefined && { exp: identity.expiresAt }),
    ...(identity.tenant !== undefined && { tenant: identity.tenant }),
    ...('keyId' in identity && { keyId: identity.keyId }),
    // Context values are strings, numbers or booleans: lists travel as JSON.
    ...(identity.topics !== undefined && { topics: JSON.stringify(identity.topics) }),
    ...(identity.publishTopics !== undefined && { publishTopics: JSON.stringify(identity.publishTopics) }),
  };
}

function policy(
  effect: 'Allow' | 'Deny',
  principalId: string,
  resource: string,
  context?: AuthorizerResult['context'],
): AuthorizerResult {
  return {
    principalId,
    policyDocument: { Version: '2012-10-17', Statement: [{ Action: 'execute-api:Invoke', Effect: effect, Resource: resource }] },
    ...(context && { context }),
  };
}
