import { createDocumentClient } from './clients';
import { ConfigurationError, readConfig, readOptionalConfig } from './config';
import { ApiKeyTable, createApiKeyVerifier, type VerifyApiKey } from '../core/api-keys';
import { createJwtVerifier, type VerifyToken } from '../core/auth';

const JWT_SETTINGS = ['JWT_ISSUER', 'JWT_AUDIENCE', 'JWKS_URI'] as const;

/**
 * The issuer's token verifier, as the deployment configured it (the authorizer and `authenticate`
 * share it); undefined on a stack with JWT off, which sets none of JWT_ISSUER, JWT_AUDIENCE, JWKS_URI.
 */
export function tokenVerifierFromEnvironment(): VerifyToken | undefined {
  const config = readOptionalConfig(...JWT_SETTINGS);
  if (Object.keys(config).length === 0) return undefined;
  const { JWT_ISSUER, JWT_AUDIENCE, JWKS_URI } = config;
  if (JWT_ISSUER === undefined || JWT_AUDIENCE === undefined || JWKS_URI === undefined) {
    const missing = JWT_SETTINGS.filter((name) => config[name] === undefined);
    throw new ConfigurationError(`JWT is half configured: missing environment variable(s): ${missing.join(', ')}`);
  }
  const { TENANT_CLAIM } = readOptionalConfig('TENANT_CLAIM');
  return createJwtVerifier({
    issuer: JWT_ISSUER,
    audience: JWT_AUDIENCE,
    jwksUri: JWKS_URI,
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
