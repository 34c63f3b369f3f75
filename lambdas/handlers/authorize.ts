import { authorizeEnvironment } from '../contract/environment';
import {
  anonymousUserId,
  CredentialError,
  credentialFrom,
  credentialOffered,
  type PresentedCredential,
} from '../core/auth';
import {
  authorizerContext,
  authorizerPolicy,
  type AuthorizerResult,
  authorizerResultBytes,
  MAX_AUTHORIZER_RESULT_BYTES,
} from '../core/authorizer-result';
import type { ApiKeyIdentity, VerifiedIdentity } from '../core/identity';
import type { WebSocketAuthorizerEvent } from '../transport/events';
import { createDocumentClient } from '../wiring/clients';
import { apiKeyVerifier, tokenVerifier } from '../wiring/credential-verifiers';
import { ConfigurationError, readEnvironment } from '../wiring/environment';
import { logger } from '../wiring/logger';

const env = readEnvironment(authorizeEnvironment);
const { ALLOW_ANONYMOUS: allowAnonymous, ACCEPT_API_KEYS: acceptApiKeys } = env;
const verifyToken = tokenVerifier(env);
const verifyApiKey = acceptApiKeys ? apiKeyVerifier(createDocumentClient(), 'connect', { ...env, API_KEYS_TABLE_NAME: apiKeysTableName() }) : undefined;
if (!verifyToken && !verifyApiKey && !allowAnonymous) {
  throw new ConfigurationError('no authentication mode is on: set JWT_ISSUER (JWT), ACCEPT_API_KEYS or ALLOW_ANONYMOUS');
}

/**
 * The `$connect` REQUEST authorizer: a JWT or an API key, each where the stack accepts it. No
 * credential: 401 (API Gateway's answer to an `Unauthorized` error), or, where anonymous access is
 * on, an anonymous user of this connection alone. A credential that does not verify, for whatever
 * reason (a kind the stack does not accept and JWKS outages included): 403, never a fall-back to
 * anonymous.
 */
export const handler = async (event: WebSocketAuthorizerEvent): Promise<AuthorizerResult> => {
  const { connectionId } = event.requestContext;
  const credential = credentialFrom(event);
  if (credential === undefined) {
    if (allowAnonymous && credentialOffered(event)) {
      logger.info('connection refused: a credential was offered but is empty or malformed', { connectionId });
      return authorizerPolicy('Deny', 'unauthenticated', event.methodArn);
    }
    if (allowAnonymous) {
      const userId = anonymousUserId(connectionId);
      logger.info('anonymous connection', { connectionId });
      return authorizerPolicy('Allow', userId, event.methodArn, { userId, anonymous: true });
    }
    logger.info('connection refused: no credential', { connectionId });
    throw new Error('Unauthorized');
  }
  let identity: VerifiedIdentity | ApiKeyIdentity;
  try {
    identity = await verify(credential);
  } catch (error) {
    logger.info('connection refused: credential rejected', { connectionId, credential: credential.kind, reason: (error as Error).message });
    return authorizerPolicy('Deny', 'unauthenticated', event.methodArn);
  }
  const result = authorizerPolicy('Allow', identity.userId, event.methodArn, authorizerContext(identity));
  // Over API Gateway's quota the upgrade would fail with 500: refuse it cleanly instead.
  const bytes = authorizerResultBytes(result);
  if (bytes > MAX_AUTHORIZER_RESULT_BYTES) {
    logger.info('connection refused: the credential grants too much for the authorizer result', {
      connectionId,
      credential: credential.kind,
      reason: `the result would be ${bytes} bytes, over API Gateway's limit of ${MAX_AUTHORIZER_RESULT_BYTES}`,
    });
    return authorizerPolicy('Deny', 'unauthenticated', event.methodArn);
  }
  return result;
};

function verify(credential: PresentedCredential): Promise<VerifiedIdentity | ApiKeyIdentity> {
  if (credential.kind === 'token') {
    if (!verifyToken) throw new CredentialError('JWT is not enabled on this stack');
    return verifyToken(credential.token);
  }
  if (!verifyApiKey) throw new CredentialError('API keys are not accepted on this stack');
  return verifyApiKey(credential.apiKey, credential.user);
}

/** Required where the stack accepts API keys. */
function apiKeysTableName(): string {
  if (env.API_KEYS_TABLE_NAME === undefined) throw new ConfigurationError('missing environment variable(s): API_KEYS_TABLE_NAME (ACCEPT_API_KEYS is true)');
  return env.API_KEYS_TABLE_NAME;
}
