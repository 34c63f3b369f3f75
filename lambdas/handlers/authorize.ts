import { readConfig } from '../config';
import { createJwtVerifier, tokenFrom } from '../core/auth';
import type { AuthorizerResult, WebSocketAuthorizerEvent } from '../events';
import { logger } from '../logger';

const config = readConfig('JWT_ISSUER', 'JWT_AUDIENCE', 'JWKS_URI');
const verifyToken = createJwtVerifier({
  issuer: config.JWT_ISSUER,
  audience: config.JWT_AUDIENCE,
  jwksUri: config.JWKS_URI,
});

/**
 * The `$connect` REQUEST authorizer. No token: 401 (API Gateway's answer to an `Unauthorized`
 * error). Any token that does not verify, for whatever reason, JWKS outages included: 403.
 */
export const handler = async (event: WebSocketAuthorizerEvent): Promise<AuthorizerResult> => {
  const token = tokenFrom(event);
  if (token === undefined) {
    logger.info('connection refused: no credential', { connectionId: event.requestContext.connectionId });
    throw new Error('Unauthorized');
  }
  try {
    const { userId, expiresAt } = await verifyToken(token);
    return policy('Allow', userId, event.methodArn, { userId, exp: expiresAt });
  } catch (error) {
    logger.info('connection refused: credential rejected', {
      connectionId: event.requestContext.connectionId,
      reason: (error as Error).message,
    });
    return policy('Deny', 'anonymous', event.methodArn);
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
