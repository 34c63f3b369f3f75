import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { createApiKeyVerifier, type VerifyApiKey } from '../core/api-keys';
import { createJwtVerifier, type VerifyToken } from '../core/auth';
import { ConfigurationError } from './environment';
import { apiKeyTable } from './tables';

interface JwtEnvironment {
  JWT_ISSUER?: string;
  JWT_AUDIENCE?: string;
  JWKS_URI?: string;
  TENANT_CLAIM?: string;
}

/**
 * The issuer's token verifier, as the deployment configured it (the authorizer and `authenticate`
 * share it); undefined on a stack with JWT off, which sets none of JWT_ISSUER, JWT_AUDIENCE, JWKS_URI.
 */
export function tokenVerifier(env: JwtEnvironment): VerifyToken | undefined {
  const { JWT_ISSUER, JWT_AUDIENCE, JWKS_URI, TENANT_CLAIM } = env;
  const settings = { JWT_ISSUER, JWT_AUDIENCE, JWKS_URI };
  if (Object.values(settings).every((value) => value === undefined)) return undefined;
  if (JWT_ISSUER === undefined || JWT_AUDIENCE === undefined || JWKS_URI === undefined) {
    const missing = Object.entries(settings).filter(([, value]) => value === undefined).map(([name]) => name);
    throw new ConfigurationError(`JWT is half configured: missing environment variable(s): ${missing.join(', ')}`);
  }
  return createJwtVerifier({ issuer: JWT_ISSUER, audience: JWT_AUDIENCE, jwksUri: JWKS_URI, ...(TENANT_CLAIM && { tenantClaim: TENANT_CLAIM }) });
}

/** The verifier of API keys of one scope (`connect` for the authorizer, `publish` for the events ingress), against the deployment's key table. */
export function apiKeyVerifier(
  db: DynamoDBDocumentClient,
  scope: 'connect' | 'publish',
  env: { API_KEYS_TABLE_NAME: string; TENANT_CLAIM?: string },
): VerifyApiKey {
  return createApiKeyVerifier(apiKeyTable(db, env), { scope, multiTenant: env.TENANT_CLAIM !== undefined });
}
