/**
 * The `$connect` attack table: every way a credential (a JWT or an API key) can be sent wrong, and
 * what the upgrade must answer. docs/security.md mirrors it row by row, by case name.
 */

import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import * as path from 'node:path';
import {
  base64url,
  CompactSign,
  type CryptoKey,
  exportJWK,
  exportSPKI,
  generateKeyPair,
  importJWK,
  type JWK,
  type JWSHeaderParameters,
  type JWTPayload,
} from 'jose';
import type { ApiKeyTable, NewApiKey } from '../../lambdas/core/api-keys';
import type { LocalIssuer } from '../../local/dev-endpoints/issuer';

/** How a client presents (or fails to present) a credential on the upgrade. */
export interface Credential {
  headers?: Record<string, string>;
  query?: Record<string, string>;
  protocols?: string[];
}

export interface RefusedCase {
  name: string;
  credential: (forge: TokenForge) => Promise<Credential>;
  /** The HTTP status the upgrade is refused with, as docs/protocol.md "Connecting" states it. */
  status: 401 | 403;
}

export interface AcceptedCase {
  name: string;
  credential: (forge: TokenForge) => Promise<Credential>;
  /** The user the connection must be stored under: the `sub` of the token that won. */
  connectsAs: string;
}

/** A key the issuer's JWKS does not hold, and a loopback site that serves it, counting fetches. */
export class AttackerKeySite {
  private constructor(
    private readonly server: Server,
    private readonly fetches: { count: number },
    readonly privateKey: CryptoKey,
    readonly publicJwk: JWK,
  ) {}

  static async start(): Promise<AttackerKeySite> {
    const { privateKey, publicKey } = await generateKeyPair('RS256');
    const publicJwk: JWK = { ...(await exportJWK(publicKey)), kid: 'attacker-key', alg: 'RS256', use: 'sig' };
    const fetches = { count: 0 };
    const server = createServer((_request, response) => {
      fetches.count += 1;
      response.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ keys: [publicJwk] }));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return new AttackerKeySite(server, fetches, privateKey, publicJwk);
  }

  get url(): string {
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/.well-known/jwks.json`;
  }

  /** How many times anything fetched the attacker's keys (the server must never). */
  get fetchCount(): number {
    return this.fetches.count;
  }

  stop(): Promise<void> {
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}

export interface Forgery {
  /** Replaces the default claims; a claim set to `undefined` is left out. */
  claims?: JWTPayload;
  /** Replaces the default protected header (`alg`, `kid`, `typ`); a field set to `undefined` is left out. */
  header?: JWSHeaderParameters;
  /** Signs with the attacker's key instead of the issuer's. */
  attackerSigned?: boolean;
}

/**
 * Crafts JWTs the way an attacker (or a careless issuer) could: the issuer's real private key from
 * the runtime's state directory, a key of the attacker's own, or no key at all. Issues (and
 * revokes) real API keys in the runtime's key table, as `ws-notify apikey` does.
 */
export class TokenForge {
  private constructor(
    readonly issuer: LocalIssuer,
    readonly attacker: AttackerKeySite,
    private readonly issuerPrivateJwk: JWK,
    readonly issuerKid: string,
    private readonly keys: ApiKeyTable,
  ) {}

  static open(stateDir: string, issuer: LocalIssuer, attacker: AttackerKeySite, keys: ApiKeyTable): TokenForge {
    const issuerPrivateJwk = JSON.parse(readFileSync(path.join(stateDir, 'issuer-key.json'), 'utf8')) as JWK;
    const kid = issuer.jwks().keys[0]?.kid;
    if (kid === undefined) throw new Error('the local issuer publishes no key id');
    return new TokenForge(issuer, attacker, issuerPrivateJwk, kid, keys);
  }

  /** A new API key (scope connect unless said otherwise), created `createdSecondsAgo` ago. */
  async apiKey(key: Partial<NewApiKey> & { userId: string }, createdSecondsAgo = 0): Promise<string> {
    const { apiKey } = await this.keys.create({ scope: 'connect', ...key }, nowSeconds() - createdSecondsAgo);
    return apiKey;
  }

  /** A new API key, revoked at once. */
  async revokedApiKey(userId: string): Promise<string> {
    const { apiKey, record } = await this.keys.create({ userId, scope: 'connect' });
    await this.keys.revoke(record.keyId);
    return apiKey;
  }

  /** Claims that verify: this issuer and audience, `sub`, `iat` now, `exp` in ten minutes. */
  claims(overrides: JWTPayload = {}): JWTPayload {
    const now = Math.floor(Date.now() / 1000);
    const { issuer, audience } = this.issuer.settings;
    return withoutUndefined({ iss: issuer, aud: audience, sub: 'mallory', iat: now, exp: now + 600, ...overrides });
  }

  /** A compact JWS over `claims` (defaults above), signed as `header.alg` says with the chosen key. */
  async sign({ claims = {}, header = {}, attackerSigned = false }: Forgery = {}): Promise<string> {
    const protectedHeader = withoutUndefined({
      alg: 'RS256',
      kid: attackerSigned ? this.attacker.publicJwk.kid : this.issuerKid,
      typ: 'JWT',
      ...header,
    }) as JWSHeaderParameters & { alg: string };
    const key = attackerSigned ? this.attacker.privateKey : await importJWK(this.issuerPrivateJwk, protectedHeader.alg);
    const crit = Object.fromEntries((protectedHeader.crit ?? []).map((name) => [name, true]));
    return new CompactSign(new TextEncoder().encode(JSON.stringify(this.claims(claims))))
      .setProtectedHeader(protectedHeader)
      .sign(key, { crit });
  }

  /** `alg: none`: a header and payload with an empty signature. */
  unsigned(claims: JWTPayload = {}): string {
    return `${encodeSegment({ alg: 'none', typ: 'JWT' })}.${encodeSegment(this.claims(claims))}.`;
  }

  /** HS256 keyed with the public key's PEM, which a verifier that trusts `alg` would accept. */
  async hmacWithPublicKey(): Promise<string> {
    const publicKey = await importJWK(this.issuer.jwks().keys[0] as JWK, 'RS256', { extractable: true });
    const pem = await exportSPKI(publicKey as CryptoKey);
    return new CompactSign(new TextEncoder().encode(JSON.stringify(this.claims())))
      .setProtectedHeader({ alg: 'HS256', kid: this.issuerKid, typ: 'JWT' })
      .sign(new TextEncoder().encode(pem));
  }

  /** A valid token of exactly `length` characters, padded with a claim (and a header field to reach any length). */
  async ofLength(length: number, sub: string): Promise<string> {
    const signatureLength = (await this.sign({ claims: { sub } })).split('.')[2]!.length;
    for (let headerPad = 0; headerPad < 4; headerPad++) {
      const header = { alg: 'RS256', kid: this.issuerKid, typ: 'JWT', pad: 'x'.repeat(headerPad) };
      const fixed = encodeSegment(header).length + 2 + signatureLength;
      for (let padding = 0; padding < length; padding++) {
        const payloadLength = encodeSegment(this.claims({ sub, padding: 'x'.repeat(padding) })).length;
        if (fixed + payloadLength === length) return this.sign({ claims: { sub, padding: 'x'.repeat(padding) }, header });
        if (fixed + payloadLength > length) break;
      }
    }
    throw new Error(`no token of exactly ${length} characters`);
  }
}

/** The JWT `header.payload.signature` with the payload replaced, keeping the old signature. */
export function withPayload(token: string, claims: JWTPayload): string {
  const [header, , signature] = token.split('.');
  return `${header}.${encodeSegment(claims)}.${signature}`;
}

/** The token with one bit of its signature's first byte flipped. */
export function withFlippedSignatureByte(token: string): string {
  const [header, payload, signature] = token.split('.') as [string, string, string];
  const bytes = base64url.decode(signature);
  bytes[0] = bytes[0]! ^ 0x01;
  return `${header}.${payload}.${base64url.encode(bytes)}`;
}

function encodeSegment(part: object): string {
  return base64url.encode(JSON.stringify(part));
}

function withoutUndefined<T extends object>(record: T): T {
  return Object.fromEntries(Object.entries(record).filter(([, value]) => value !== undefined)) as T;
}

const bearer = (token: string): Credential => ({ headers: { Authorization: `Bearer ${token}` } });

/** `Authorization: Bearer <jwt>`, the JWT forged as `forgery` says when the case runs (so times are fresh). */
const bearerForged =
  (forgery: (forge: TokenForge) => Forgery = () => ({})) =>
  async (forge: TokenForge): Promise<Credential> =>
    bearer(await forge.sign(forgery(forge)));

const attackerSigned = (header: JWSHeaderParameters = {}) => bearerForged(() => ({ attackerSigned: true, header }));
const withClaims = (claims: JWTPayload) => bearerForged(() => ({ claims }));
const basic = (userAndPassword: string) => `Basic ${Buffer.from(userAndPassword).toString('base64')}`;
const apiKeyHeader = (apiKey: string): Credential => ({ headers: { 'x-api-key': apiKey } });
/** The key with its secret's last character changed: a real key id, the wrong secret. */
const withWrongSecret = (apiKey: string) => `${apiKey.slice(0, -1)}${apiKey.endsWith('A') ? 'B' : 'A'}`;
const KB8 = 8 * 1024;
const TEN_YEARS = 10 * 365 * 24 * 3600;
const SUB_256_BYTES = `bound-${'x'.repeat(248)}é`;

/** Must be refused, and store nothing. */
export const refusedCases: RefusedCase[] = [
  // No credential: 401, without a token to verify.
  { name: 'no credential at all', status: 401, credential: async () => ({}) },
  { name: 'an empty Authorization header', status: 401, credential: async () => ({ headers: { Authorization: '' } }) },
  { name: 'Authorization: Bearer with no token', status: 401, credential: async () => ({ headers: { Authorization: 'Bearer' } }) },
  {
    name: 'Authorization: Bearer followed only by spaces',
    status: 401,
    credential: async () => ({ headers: { Authorization: 'Bearer     ' } }),
  },
  {
    name: 'Authorization: Bearer with two tokens (the header is malformed, so unread)',
    status: 401,
    credential: async (forge) => ({ headers: { Authorization: `Bearer ${await forge.sign()} ${await forge.sign()}` } }),
  },
  { name: 'an empty token query parameter', status: 401, credential: async () => ({ query: { token: '' } }) },
  { name: 'an empty bearer. subprotocol', status: 401, credential: async () => ({ protocols: ['ws-notify.v1', 'bearer.'] }) },
  {
    name: 'a valid token under a Bearer. subprotocol (the prefix is case-sensitive)',
    status: 401,
    credential: async (forge) => ({ protocols: ['ws-notify.v1', `Bearer.${await forge.sign()}`] }),
  },

  // Malformed tokens, wherever they are sent.
  { name: 'a garbage bearer token', status: 403, credential: async () => bearer('garbage') },
  {
    name: 'a JWT of two parts (signature segment missing)',
    status: 403,
    credential: async (forge) => bearer((await forge.sign()).split('.').slice(0, 2).join('.')),
  },
  {
    name: 'a JWT with its signature stripped (empty third part)',
    status: 403,
    credential: async (forge) => bearer(`${(await forge.sign()).split('.').slice(0, 2).join('.')}.`),
  },
  {
    name: 'lowercase bearer with an invalid token (the scheme is read case-insensitively)',
    status: 403,
    credential: async () => ({ headers: { Authorization: 'bearer garbage' } }),
  },
  { name: 'an invalid token in the query string', status: 403, credential: async () => ({ query: { token: 'garbage.garbage.garbage' } }) },
  {
    name: 'an invalid token in the bearer subprotocol',
    status: 403,
    credential: async () => ({ protocols: ['ws-notify.v1', 'bearer.garbage.garbage.garbage'] }),
  },

  // Time.
  { name: 'an expired token (exp a minute ago)', status: 403, credential: bearerForged(() => ({ claims: { exp: nowSeconds() - 60 } })) },
  {
    name: 'a token expired a second ago (no clock tolerance)',
    status: 403,
    credential: bearerForged(() => ({ claims: { exp: nowSeconds() - 1 } })),
  },
  {
    name: 'a token not valid yet (nbf ten minutes ahead)',
    status: 403,
    credential: bearerForged(() => ({ claims: { nbf: nowSeconds() + 600 } })),
  },
  {
    name: 'an exp that is not a number',
    status: 403,
    // The casts put wrongly typed claims where jose's types (rightly) allow only numbers and strings.
    credential: bearerForged(() => ({ claims: { exp: String(nowSeconds() + 600) as unknown as number } })),
  },
  { name: 'an iat that is not a number', status: 403, credential: withClaims({ iat: 'now' as unknown as number }) },

  // Claims, under the issuer's real signature.
  { name: 'a token from another issuer (signed by the same key)', status: 403, credential: withClaims({ iss: 'https://evil.example' }) },
  { name: 'a token for another audience (signed by the same key)', status: 403, credential: withClaims({ aud: 'some-other-app' }) },
  { name: 'a token without aud', status: 403, credential: withClaims({ aud: undefined }) },
  { name: 'a token without sub', status: 403, credential: withClaims({ sub: undefined }) },
  { name: 'a token without exp', status: 403, credential: withClaims({ exp: undefined }) },
  { name: 'a token whose sub is empty', status: 403, credential: withClaims({ sub: '' }) },
  { name: 'a token whose sub is a number', status: 403, credential: withClaims({ sub: 42 as unknown as string }) },
  { name: 'a token whose sub is null', status: 403, credential: withClaims({ sub: null as unknown as string }) },
  {
    name: 'a token whose sub is in the anonymous namespace (anonymous:…)',
    status: 403,
    credential: withClaims({ sub: 'anonymous:L0SM9cOFvHcCIhw=' }),
  },

  // Signatures and keys.
  // Signed by the issuer, but not storable: these failed $connect with 500 (a DynamoDB key over 2 KB, an expiry no Date holds).
  { name: 'a token whose sub is 3,000 characters (over the 256-byte bound)', status: 403, credential: withClaims({ sub: 'x'.repeat(3000) }) },
  { name: 'a token whose exp is 1e13 (past year 9999)', status: 403, credential: withClaims({ exp: 1e13 }) },
  { name: 'a token whose exp is not a whole number of seconds', status: 403, credential: bearerForged(() => ({ claims: { exp: nowSeconds() + 600.5 } })) },
  {
    name: 'a bad signature (one bit flipped)',
    status: 403,
    credential: async (forge) => bearer(withFlippedSignatureByte(await forge.sign())),
  },
  {
    name: 'a tampered payload under the original signature (sub changed)',
    status: 403,
    credential: async (forge) => bearer(withPayload(await forge.sign({ claims: { sub: 'mallory' } }), forge.claims({ sub: 'victim' }))),
  },
  { name: 'alg none with an empty signature', status: 403, credential: async (forge) => bearer(forge.unsigned()) },
  {
    name: "HS256 keyed with the issuer's public key PEM (key confusion)",
    status: 403,
    credential: async (forge) => bearer(await forge.hmacWithPublicKey()),
  },
  {
    name: "the issuer's key used with another algorithm than its JWK names (RS384 for RS256)",
    status: 403,
    credential: bearerForged(() => ({ header: { alg: 'RS384' } })),
  },
  { name: 'an unknown kid (signed by a key the JWKS does not hold)', status: 403, credential: attackerSigned() },
  {
    name: "another key under the issuer's kid",
    status: 403,
    credential: bearerForged((forge) => ({ attackerSigned: true, header: { kid: forge.issuerKid } })),
  },
  { name: 'another key and no kid', status: 403, credential: attackerSigned({ kid: undefined }) },
  {
    name: "an embedded jwk header carrying the attacker's key",
    status: 403,
    credential: bearerForged((forge) => ({ attackerSigned: true, header: { kid: undefined, jwk: forge.attacker.publicJwk } })),
  },
  {
    name: "an embedded jwk header under the issuer's kid",
    status: 403,
    credential: bearerForged((forge) => ({
      attackerSigned: true,
      header: { kid: forge.issuerKid, jwk: forge.attacker.publicJwk },
    })),
  },
  {
    name: "a jku header pointing at the attacker's JWKS",
    status: 403,
    credential: bearerForged((forge) => ({ attackerSigned: true, header: { jku: forge.attacker.url } })),
  },
  {
    name: "an x5u header pointing at the attacker's site",
    status: 403,
    credential: bearerForged((forge) => ({ attackerSigned: true, header: { x5u: forge.attacker.url } })),
  },
  {
    name: 'a crit header naming an extension the server does not understand',
    status: 403,
    credential: bearerForged(() => ({ header: { crit: ['urn:ws-notify:attack'], 'urn:ws-notify:attack': true } })),
  },

  // Size.
  {
    name: `a valid token one character over ${KB8} (refused unread)`,
    status: 403,
    credential: async (forge) => bearer(await forge.ofLength(KB8 + 1, 'mallory')),
  },

  // Precedence: the first place that holds a token decides; a bad one there is not skipped over.
  {
    name: 'an invalid header token next to a valid query token (the header wins, no fall-back)',
    status: 403,
    credential: async (forge) => ({ headers: { Authorization: 'Bearer garbage' }, query: { token: await forge.sign() } }),
  },
  {
    name: 'an invalid query token next to a valid subprotocol token (the query wins, no fall-back)',
    status: 403,
    credential: async (forge) => ({ query: { token: 'garbage' }, protocols: ['ws-notify.v1', `bearer.${await forge.sign()}`] }),
  },
  {
    name: 'Authorization: Basic (a password, not an API key) next to a valid query token (the header wins, no fall-back)',
    status: 403,
    credential: async (forge) => ({ headers: { Authorization: basic('someone:else') }, query: { token: await forge.sign() } }),
  },
  {
    name: 'a revoked API key in x-api-key next to a valid query token (the header wins, no fall-back)',
    status: 403,
    credential: async (forge) => ({ ...apiKeyHeader(await forge.revokedApiKey('mallory')), query: { token: await forge.sign() } }),
  },
  {
    name: 'an invalid query token next to a valid apikey parameter (the token parameter wins, no fall-back)',
    status: 403,
    credential: async (forge) => ({ query: { token: 'garbage', apikey: await forge.apiKey({ userId: 'mallory' }) } }),
  },

  // API keys.
  { name: 'an empty x-api-key header', status: 401, credential: async () => apiKeyHeader('') },
  { name: 'an empty apikey query parameter', status: 401, credential: async () => ({ query: { apikey: '' } }) },
  { name: 'Authorization: Basic with a password that is not an API key', status: 403, credential: async () => ({ headers: { Authorization: basic('mallory:hunter2') } }) },
  { name: 'a garbage API key in x-api-key', status: 403, credential: async () => apiKeyHeader('garbage') },
  { name: 'a garbage API key in the apikey parameter', status: 403, credential: async () => ({ query: { apikey: 'wsn_garbage' } }) },
  { name: 'a revoked API key', status: 403, credential: async (forge) => apiKeyHeader(await forge.revokedApiKey('mallory')) },
  {
    name: 'an expired API key (expired a minute ago)',
    status: 403,
    credential: async (forge) => apiKeyHeader(await forge.apiKey({ userId: 'mallory', expiresAt: nowSeconds() - 60 }, 3600)),
  },
  {
    name: 'a real key id with the wrong secret',
    status: 403,
    credential: async (forge) => apiKeyHeader(withWrongSecret(await forge.apiKey({ userId: 'mallory' }))),
  },
  {
    name: 'an unknown key id with a well-formed secret',
    status: 403,
    credential: async (forge) => apiKeyHeader((await forge.apiKey({ userId: 'mallory' })).replace(/^wsn_[0-9a-f]{16}_/, 'wsn_0000000000000000_')),
  },
  {
    name: 'a valid API key with a character appended',
    status: 403,
    credential: async (forge) => apiKeyHeader(`${await forge.apiKey({ userId: 'mallory' })}x`),
  },
  {
    name: 'an API key of 10,000 characters (refused unread)',
    status: 403,
    credential: async () => apiKeyHeader(`wsn_${'0'.repeat(10_000)}`),
  },
  {
    name: 'a publish-scope API key (it may post events, not connect)',
    status: 403,
    credential: async (forge) => apiKeyHeader(await forge.apiKey({ userId: 'mallory', scope: 'publish' })),
  },
  {
    name: 'an API key that names a tenant, in a stack without tenants',
    status: 403,
    credential: async (forge) => apiKeyHeader(await forge.apiKey({ userId: 'mallory', tenant: 'acme' })),
  },
  {
    name: "Authorization: Basic with another user's name and the attacker's valid key",
    status: 403,
    credential: async (forge) => ({ headers: { Authorization: basic(`victim:${await forge.apiKey({ userId: 'mallory' })}`) } }),
  },
  {
    name: 'Authorization: Basic with an empty user name and a valid key',
    status: 403,
    credential: async (forge) => ({ headers: { Authorization: basic(`:${await forge.apiKey({ userId: 'mallory' })}`) } }),
  },
  {
    name: 'Authorization: Basic with a valid key and no colon (no user name)',
    status: 403,
    credential: async (forge) => ({ headers: { Authorization: basic(await forge.apiKey({ userId: 'mallory' })) } }),
  },
  {
    name: 'a valid API key sent as a Bearer token (a key is not a JWT)',
    status: 403,
    credential: async (forge) => bearer(await forge.apiKey({ userId: 'mallory' })),
  },
];

/** Must connect, stored under exactly the user named. */
export const acceptedCases: AcceptedCase[] = [
  {
    name: 'lowercase bearer with a valid token (RFC 7235: the scheme is case-insensitive)',
    connectsAs: 'lower-bearer',
    credential: async (forge) => ({ headers: { Authorization: `bearer ${await forge.sign({ claims: { sub: 'lower-bearer' } })}` } }),
  },
  {
    name: 'a valid token in the header and another in the query: the header wins',
    connectsAs: 'header-user',
    credential: async (forge) => ({
      headers: { Authorization: `Bearer ${await forge.sign({ claims: { sub: 'header-user' } })}` },
      query: { token: await forge.sign({ claims: { sub: 'query-user' } }) },
    }),
  },
  {
    name: 'a valid token in the query and another in the subprotocol: the query wins',
    connectsAs: 'query-user',
    credential: async (forge) => ({
      query: { token: await forge.sign({ claims: { sub: 'query-user' } }) },
      protocols: ['ws-notify.v1', `bearer.${await forge.sign({ claims: { sub: 'protocol-user' } })}`],
    }),
  },
  {
    name: 'an Authorization header of another scheme next to a valid query token: the header holds no credential',
    connectsAs: 'digest-then-query',
    credential: async (forge) => ({
      headers: { Authorization: 'Digest username="someone"' },
      query: { token: await forge.sign({ claims: { sub: 'digest-then-query' } }) },
    }),
  },
  {
    name: 'an iat far in the future (jose checks iat only when a maximum token age is set)',
    connectsAs: 'future-iat',
    credential: bearerForged(() => ({ claims: { sub: 'future-iat', iat: nowSeconds() + TEN_YEARS } })),
  },
  {
    name: 'a token valid for ten years (the authorizer sets no maximum lifetime)',
    connectsAs: 'ten-years',
    credential: bearerForged(() => ({ claims: { sub: 'ten-years', exp: nowSeconds() + TEN_YEARS } })),
  },
  {
    name: 'an aud array that includes the audience (RFC 7519)',
    connectsAs: 'aud-array',
    credential: bearerForged((forge) => ({ claims: { sub: 'aud-array', aud: ['some-other-app', forge.issuer.settings.audience] } })),
  },
  {
    name: "no kid, signed by the issuer's only key",
    connectsAs: 'no-kid',
    credential: bearerForged(() => ({ claims: { sub: 'no-kid' }, header: { kid: undefined } })),
  },
  {
    name: 'a token whose sub is exactly 256 bytes (the bound)',
    connectsAs: SUB_256_BYTES,
    credential: bearerForged(() => ({ claims: { sub: SUB_256_BYTES } })),
  },
  {
    name: `a valid token of exactly ${KB8} characters`,
    connectsAs: 'exactly-8k',
    credential: async (forge) => bearer(await forge.ofLength(KB8, 'exactly-8k')),
  },
  {
    name: 'a valid API key in x-api-key',
    connectsAs: 'key-header-user',
    credential: async (forge) => apiKeyHeader(await forge.apiKey({ userId: 'key-header-user' })),
  },
  {
    name: 'a valid API key in the apikey query parameter',
    connectsAs: 'key-query-user',
    credential: async (forge) => ({ query: { apikey: await forge.apiKey({ userId: 'key-query-user' }) } }),
  },
  {
    name: "Authorization: Basic with the key's own user name",
    connectsAs: 'key-basic-user',
    credential: async (forge) => ({ headers: { Authorization: basic(`key-basic-user:${await forge.apiKey({ userId: 'key-basic-user' })}`) } }),
  },
  {
    name: 'an API key that expires in an hour',
    connectsAs: 'key-expiring-user',
    credential: async (forge) => apiKeyHeader(await forge.apiKey({ userId: 'key-expiring-user', expiresAt: nowSeconds() + 3600 })),
  },
  {
    name: "a valid API key in x-api-key and another user's token in the query: the header wins",
    connectsAs: 'key-over-token-user',
    credential: async (forge) => ({
      ...apiKeyHeader(await forge.apiKey({ userId: 'key-over-token-user' })),
      query: { token: await forge.sign({ claims: { sub: 'token-under-key-user' } }) },
    }),
  },
  {
    name: "a valid Bearer token and another user's API key in x-api-key: Authorization wins",
    connectsAs: 'token-over-key-user',
    credential: async (forge) => ({
      headers: { Authorization: `Bearer ${await forge.sign({ claims: { sub: 'token-over-key-user' } })}`, 'x-api-key': await forge.apiKey({ userId: 'key-under-token-user' }) },
    }),
  },
];

function nowSeconds(): number {
  return Math.floor(Date.now() / 1000);
}
