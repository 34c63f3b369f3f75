import { readConfig, readOptionalConfig } from './config';
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
