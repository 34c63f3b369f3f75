import { readConfig } from '../config';
import { anonymousUserId, credentialOffered, tokenFrom } from '../core/auth';
import type { AuthorizerResult, WebSocketAuthorizerEvent } from '../events';
import { logger } from '../logger';
import { tokenVerifierFromEnvironment } from '../token-verifier';

const config = readConfig('ALLOW_ANONYMOUS');
const verifyToken = tokenVerifierFromEnvironment();
const allowAnonymous = config.ALLOW_ANONYMOUS === 'true';

/**
 * The `$connect` REQUEST authorizer. No credential: 401 (API Gateway's answer to an
 * `Unauthorized` error), or, where anonymous access is on, an anonymous user of this connection
 * alone. A credential that does not verify, for whatever reason, JWKS outages included: 403,
 * never a fall-back to anonymous.
 */
export const handler = async (event: WebSocketAuthorizerEvent): Promise<AuthorizerResult> => {
  const { connectionId } = event.requestContext;
  const token = tokenFrom(event);
  if (token === undefined) {
    if (allowAnonymous && credentialOffered(event)) {
      logger.info('connection refused: a credential was offered but holds no token', { connectionId });
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
    const { userId, expiresAt, tenant } = await verifyToken(token);
    return policy('Allow', userId, event.methodArn, { userId, exp: expiresAt, ...(tenant !== undefined && { tenant }) });
  } catch (error) {
    logger.info('connection refused: credential rejected', {
      connectionId,
      reason: (error as Error).message,
    });
    return policy('Deny', 'unauthenticated', event.methodArn);
  }
};

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
