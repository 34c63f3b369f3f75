import type { ApiKeyIdentity, VerifiedIdentity } from './identity';

/**
 * API Gateway's quota on a WebSocket Lambda authorizer's result, not adjustable. A larger result is
 * an authorizer configuration error: `$connect` fails with 500 and no function after it runs.
 */
export const MAX_AUTHORIZER_RESULT_BYTES = 8 * 1024;

/** What a REQUEST authorizer answers: an IAM policy for the route, and the context handed on as `requestContext.authorizer`. */
export interface AuthorizerResult {
  principalId: string;
  policyDocument: {
    Version: '2012-10-17';
    Statement: { Action: 'execute-api:Invoke'; Effect: 'Allow' | 'Deny'; Resource: string }[];
  };
  context?: Record<string, string | number | boolean>;
}

export function authorizerPolicy(
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

/** What `$connect` stores with the connection. */
export function authorizerContext(identity: VerifiedIdentity | ApiKeyIdentity): NonNullable<AuthorizerResult['context']> {
  return {
    userId: identity.userId,
    ...(identity.expiresAt !== undefined && { exp: identity.expiresAt }),
    ...(identity.tenant !== undefined && { tenant: identity.tenant }),
    ...('keyId' in identity && { keyId: identity.keyId }),
    // Context values are strings, numbers or booleans: lists travel as JSON.
    ...(identity.topics !== undefined && { topics: JSON.stringify(identity.topics) }),
    ...(identity.publishTopics !== undefined && { publishTopics: JSON.stringify(identity.publishTopics) }),
    ...(identity.groups !== undefined && { groups: JSON.stringify(identity.groups) }),
    ...(identity.autoSubscribe !== undefined && { autoSubscribe: JSON.stringify(identity.autoSubscribe) }),
    ...(identity.keepalive === true && { keepalive: true }),
  };
}

/** The result's size as the function returns it: the UTF-8 bytes of its JSON, principalId, policy and context together. */
export function authorizerResultBytes(result: AuthorizerResult): number {
  return Buffer.byteLength(JSON.stringify(result));
}

/**
 * The longest `$connect` methodArn API Gateway can send: the longest partition and region, a
 * 10-character API id and a stage name of 128 characters, its maximum. Key creation measures a
 * key's result against it, so a key that was created connects from any stage of any stack.
 */
export const LONGEST_CONNECT_METHOD_ARN = `arn:aws-iso-b:execute-api:xx-xxxxxxxxx-1:123456789012:abcdefghij/${'s'.repeat(128)}/$connect`;
