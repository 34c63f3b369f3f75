import { createDocumentClient } from './clients';
import { readConfig, readOptionalConfig } from './config';
import { ApiKeyTable, createApiKeyVerifier, type VerifyApiKey } from './core/api-keys';
import { createJwtVerifier, type VerifyToken } from './core/auth';

/** The issuer's token verifier, as the deployment configured it (the authorizer and `authenticate` share it). */
export function tokenVerifierFromEnvironment(): VerifyToken {
  const config = readConfig('JWT_ISSUER', 'JWT_AUDIENCE', 'JWKS_URI');
  const { TENANT_CLAIM } = readOptionalConfig('TENANT_CLAIM');
  return createJwtVerifier({
    issuer: config.JWT_ISSUER,
    audience: config.JWT_AUDIENCE,
    jwksUri: config.JWKS_URI,
    ...(TENANT_CLAIM && { tenantClaim: TENANT_CLAIM }),
  });
}

/** The verifier of `connect` API keys, against the deployment's key table. */
export function connectKeyVerifierFromEnvironment(): VerifyApiKey {
  const { API_KEYS_TABLE_NAME } = readConfig('API_KEYS_TABLE_NAME');
  const { TENANT_CLAIM } = readOptionalConfig('TENANT_CLAIM');
  return createApiKeyVerifier(new ApiKeyTable(createDocumentClient(), API_KEYS_TABLE_NAME), {
    scope: 'connect',
    multiTenant: TENANT_CLAIM !== undefined,
  });
}
