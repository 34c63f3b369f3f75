import { createRemoteJWKSet, jwtVerify } from 'jose';
import type { CredentialGrants, VerifiedIdentity } from './identity';
import { bearerTokenFrom, offeredSubprotocols } from './subprotocol';
import { autoSubscribeFrom, grantFrom, groupGrantFrom } from './topics';

/** Longer tokens are refused unread; real ones are well under this. */
export const MAX_TOKEN_CHARS = 8 * 1024;

/**
 * Bounds on what an identity may be, whoever vouches for it (a token's claims, an API key's row).
 * A user id or tenant is a DynamoDB key (at most 2,048 bytes) and travels twice in the authorizer's
 * result (at most 8 KB); real ones are far shorter.
 */
export const MAX_USER_ID_BYTES = 256;
export const MAX_TENANT_BYTES = 256;
/** 9999-12-31T23:59:59Z: the last second an ISO 8601 time (and so an expiry bucket) can name. */
export const MAX_EXPIRY_SECONDS = 253_402_300_799;

/** Only asymmetric algorithms: a JWKS holds public keys, and `none` or HMAC must never verify. */
const ALGORITHMS = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA'];

export interface JwtSettings {
  issuer: string;
  audience: string;
  jwksUri: string;
  /** The claim that names the token's tenant; a token without it is refused. Unset: no tenants. */
  tenantClaim?: string;
}

/** User ids of anonymous connections; no credential may name one. */
export const ANONYMOUS_PREFIX = 'anonymous:';

export function anonymousUserId(connectionId: string): string {
  return `${ANONYMOUS_PREFIX}${connectionId}`;
}

export function isAnonymousUserId(userId: string): boolean {
  return userId.startsWith(ANONYMOUS_PREFIX);
}

export type VerifyToken = (token: string) => Promise<VerifiedIdentity>;

/** The request parts of a `$connect` upgrade that may carry a credential. */
export interface UpgradeRequest {
  headers?: Record<string, string | undefined> | null;
  queryStringParameters?: Record<string, string | undefined> | null;
}

export class CredentialError extends Error {
  override readonly name = 'CredentialError';
}

/**
 * Verifies signature (against the issuer's JWKS, fetched and cached), `iss`, `aud`, `exp` and
 * `nbf`. An unreachable JWKS rejects, so callers fail closed.
 */
export function createJwtVerifier({ issuer, audience, jwksUri, tenantClaim }: JwtSettings): VerifyToken {
  const jwks = createRemoteJWKSet(new URL(jwksUri), { timeoutDuration: 3000 });
  return async (token) => {
    if (token.length > MAX_TOKEN_CHARS) throw new CredentialError(`token longer than ${MAX_TOKEN_CHARS} characters`);
    const { payload } = await jwtVerify(token, jwks, {
      issuer,
      audience,
      algorithms: ALGORITHMS,
      requiredClaims: ['sub', 'exp'],
    });
    // jose checks only that `sub` is present and `exp` a number; both must be usable as stored.
    const userId = payload.sub;
    if (typeof userId !== 'string') throw new CredentialError('sub must be a non-empty string');
    const userIdRefusal = userIdProblem(userId, 'sub');
    if (userIdRefusal !== undefined) throw new CredentialError(userIdRefusal);
    const expiresAt = payload.exp as number;
    if (!Number.isInteger(expiresAt) || expiresAt > MAX_EXPIRY_SECONDS) {
      throw new CredentialError(`exp must be a whole number of seconds up to ${MAX_EXPIRY_SECONDS} (year 9999)`);
    }
    const identity: VerifiedIdentity = { userId, expiresAt, ...grantsIn(payload) };
    if (tenantClaim === undefined) return identity;
    const tenant = payload[tenantClaim];
    if (typeof tenant !== 'string' || tenant.length === 0) {
      throw new CredentialError(`token has no "${tenantClaim}" claim naming its tenant`);
    }
    const tenantRefusal = tenantProblem(tenant, `the "${tenantClaim}" claim`);
    if (tenantRefusal !== undefined) throw new CredentialError(tenantRefusal);
    return { ...identity, tenant };
  };
}

/** What is wrong with a user id a credential names, if anything: empty, anonymous, or over MAX_USER_ID_BYTES. */
export function userIdProblem(userId: string, what: string): string | undefined {
  if (userId.length === 0) return `${what} must be a non-empty string`;
  if (isAnonymousUserId(userId)) return `${what} may not start with "${ANONYMOUS_PREFIX}"`;
  if (Buffer.byteLength(userId) > MAX_USER_ID_BYTES) return `${what} is longer than ${MAX_USER_ID_BYTES} bytes`;
  return undefined;
}

/** What is wrong with a tenant a credential names, if anything: empty, or over MAX_TENANT_BYTES. */
export function tenantProblem(tenant: string, what: string): string | undefined {
  if (tenant.length === 0) return `${what} must be a non-empty string`;
  if (Buffer.byteLength(tenant) > MAX_TENANT_BYTES) return `${what} is longer than ${MAX_TENANT_BYTES} bytes`;
  return undefined;
}

/** The token's topic grants, auto-subscriptions and keepalive; a malformed one refuses the token. */
function grantsIn(payload: Record<string, unknown>): CredentialGrants {
  try {
    const topics = grantFrom(payload['topics'], 'topics');
    const publishTopics = grantFrom(payload['publishTopics'], 'publishTopics');
    const groups = groupGrantFrom(payload['groups'], 'groups');
    const autoSubscribe = autoSubscribeFrom(payload['autoSubscribe'], 'autoSubscribe');
    const keepalive = payload['keepalive'];
    if (keepalive !== undefined && typeof keepalive !== 'boolean') throw new RangeError('"keepalive" must be true or false');
    return {
      ...(topics && { topics }),
      ...(publishTopics && { publishTopics }),
      ...(groups && { groups }),
      ...(autoSubscribe && { autoSubscribe }),
      ...(keepalive === true && { keepalive }),
    };
  } catch (error) {
    throw new CredentialError((error as Error).message);
  }
}

/** A credential as the client presented it, not yet verified. */
export type PresentedCredential =
  | { kind: 'token'; token: string }
  /** `user` is the user name of `Authorization: Basic`, which must be the key's user. */
  | { kind: 'apiKey'; apiKey: string; user?: string };

/**
 * The credential from the first of these that holds one: `Authorization: Bearer <jwt>`,
 * `Authorization: Basic base64(<user>:<key>)`, `x-api-key`, `?token=`, `?apikey=`, the
 * `bearer.<jwt>` subprotocol. Only that one is verified: a credential found earlier is never
 * skipped over for a later one.
 */
export function credentialFrom(request: UpgradeRequest): PresentedCredential | undefined {
  const authorization = header(request, 'authorization');
  const bearer = authorization?.match(/^Bearer\s+(\S+)\s*$/i)?.[1];
  if (bearer !== undefined) return { kind: 'token', token: bearer };
  const basic = authorization?.match(/^Basic\s+(\S+)\s*$/i)?.[1];
  if (basic !== undefined) {
    const decoded = Buffer.from(basic, 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    // Without a colon there is no user: an empty one, which matches no key's user.
    return colon < 0 ? { kind: 'apiKey', apiKey: decoded, user: '' } : { kind: 'apiKey', apiKey: decoded.slice(colon + 1), user: decoded.slice(0, colon) };
  }
  const query = request.queryStringParameters ?? {};
  const candidates: [PresentedCredential['kind'], string | undefined][] = [
    ['apiKey', header(request, 'x-api-key')],
    ['token', query['token']],
    ['apiKey', query['apikey']],
    ['token', bearerTokenFrom(offeredSubprotocols(header(request, 'sec-websocket-protocol')))],
  ];
  const [kind, value] = candidates.find(([, candidate]) => candidate !== undefined && candidate.length > 0) ?? [];
  if (kind === undefined || value === undefined) return undefined;
  return kind === 'token' ? { kind, token: value } : { kind, apiKey: value };
}

/**
 * Whether the request offers a credential at all, usable or not: an Authorization or x-api-key
 * header, a `token` or `apikey` query parameter, or a `bearer.` subprotocol. Where anonymous
 * access is on, an offered credential that cannot be used is refused, never taken for no credential.
 */
export function credentialOffered(request: UpgradeRequest): boolean {
  const query = request.queryStringParameters ?? {};
  return (
    header(request, 'authorization') !== undefined ||
    header(request, 'x-api-key') !== undefined ||
    query['token'] !== undefined ||
    query['apikey'] !== undefined ||
    offeredSubprotocols(header(request, 'sec-websocket-protocol')).some((protocol) => /^bearer\./i.test(protocol))
  );
}

/** API Gateway passes headers with the case the client sent. */
export function header(request: UpgradeRequest, name: string): string | undefined {
  const entry = Object.entries(request.headers ?? {}).find(([key]) => key.toLowerCase() === name);
  return entry?.[1];
}
