import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { type CryptoKey, exportJWK, generateKeyPair, type JWTPayload, SignJWT } from 'jose';
import type { AuthorizerResult, WebSocketAuthorizerEvent } from '../../lambdas/transport/events';
import { ApiKeyTable } from '../../lambdas/core/api-keys';
import { authorizerEventWith } from '../support/events';
import { loadHandler } from '../support/load-handler';
import { type StackUnderTest, startStackUnderTest } from '../support/stack-under-test';

type Authorizer = (event: WebSocketAuthorizerEvent) => Promise<AuthorizerResult>;

const ISSUER = 'https://issuer.ws-notify.test';
const AUDIENCE = 'ws-notify-test';
const KID = 'test-key-1';

let jwksServer: Server;
let jwksUri: string;
let signingKey: CryptoKey;
let otherKey: CryptoKey;
let publicJwk: Record<string, unknown>;
let authorize: Authorizer;

// Most cases send no API key, so the key table is never read; those of the modes below start one.
const loadAuthorizer = (env: Record<string, string>) =>
  loadHandler<Authorizer>('authorize', { ALLOW_ANONYMOUS: 'false', ACCEPT_API_KEYS: 'true', API_KEYS_TABLE_NAME: 'ApiKeys', ...env });

/** The JSON log lines a handler loaded with POWERTOOLS_LOG_LEVEL=INFO writes while `act` runs. */
async function logLinesOf<T>(act: () => Promise<T>): Promise<{ result: T; lines: Record<string, unknown>[] }> {
  const chunks: string[] = [];
  const write = jest.spyOn(process.stdout, 'write').mockImplementation((chunk) => {
    chunks.push(String(chunk));
    return true;
  });
  try {
    const result = await act();
    const lines = chunks.flatMap((chunk) => chunk.split('\n')).filter((line) => line.startsWith('{'));
    return { result, lines: lines.map((line) => JSON.parse(line) as Record<string, unknown>) };
  } finally {
    write.mockRestore();
  }
}

beforeAll(async () => {
  ({ privateKey: signingKey } = await generateKeyPair('RS256', { extractable: true }));
  ({ privateKey: otherKey } = await generateKeyPair('RS256'));
  publicJwk = { ...(await exportJWK(signingKey)), kid: KID, alg: 'RS256', use: 'sig' };
  // Publish only the public half.
  for (const privatePart of ['d', 'p', 'q', 'dp', 'dq', 'qi']) delete publicJwk[privatePart];
  jwksServer = createServer((request, response) => {
    if (request.url !== '/.well-known/jwks.json') return void response.writeHead(404).end();
    response.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ keys: [publicJwk] }));
  });
  await new Promise<void>((resolve) => jwksServer.listen(0, '127.0.0.1', resolve));
  jwksUri = `http://127.0.0.1:${(jwksServer.address() as AddressInfo).port}/.well-known/jwks.json`;
  process.env['POWERTOOLS_LOG_LEVEL'] = 'SILENT';
  authorize = loadAuthorizer({ JWT_ISSUER: ISSUER, JWT_AUDIENCE: AUDIENCE, JWKS_URI: jwksUri });
});

afterAll(async () => {
  await new Promise((resolve) => jwksServer?.close(resolve));
});

interface TokenOptions {
  claims?: JWTPayload;
  key?: CryptoKey;
  kid?: string;
  issuer?: string;
  audience?: string;
  expiresIn?: string | number;
}

function token({ claims = {}, key = signingKey, kid = KID, issuer = ISSUER, audience = AUDIENCE, expiresIn = '10m' }: TokenOptions = {}) {
  return new SignJWT({ sub: 'alice', ...claims })
    .setProtectedHeader({ alg: 'RS256', kid })
    .setIssuer(issuer)
    .setAudience(audience)
    .setIssuedAt()
    .setExpirationTime(expiresIn)
    .sign(key);
}

const bearer = async (jwt: string | Promise<string>) => authorizerEventWith({ headers: { Authorization: `Bearer ${await jwt}` } });

function expectDenied(result: AuthorizerResult): void {
  expect(result.policyDocument.Statement).toEqual([
    { Action: 'execute-api:Invoke', Effect: 'Deny', Resource: 'arn:aws:execute-api:us-east-1:123456789012:abcdef123/live/$connect' },
  ]);
  expect(result.context).toBeUndefined();
}

describe('the $connect authorizer', () => {
  describe('allows a valid token', () => {
    it('from the Authorization header, passing userId (sub) and exp in its context', async () => {
      const jwt = await token({ claims: { sub: 'alice' } });
      const result = await authorize(await bearer(jwt));

      expect(result.principalId).toBe('alice');
      expect(result.policyDocument.Statement[0]).toMatchObject({ Effect: 'Allow', Resource: expect.stringMatching(/\$connect$/) });
      expect(result.context).toEqual({ userId: 'alice', exp: expect.any(Number) });
      expect(result.context?.['exp']).toBeGreaterThan(Date.now() / 1000);
    });

    it('from the token query parameter', async () => {
      const result = await authorize(authorizerEventWith({ query: { token: await token({ claims: { sub: 'bob' } }) } }));

      expect(result.context).toMatchObject({ userId: 'bob' });
    });

    it('from the Sec-WebSocket-Protocol pair "ws-notify.v1, bearer.<jwt>" that browsers send', async () => {
      const jwt = await token({ claims: { sub: 'carol' } });
      const result = await authorize(authorizerEventWith({ headers: { 'Sec-WebSocket-Protocol': `ws-notify.v1, bearer.${jwt}` } }));

      expect(result.context).toMatchObject({ userId: 'carol' });
    });

    it('whatever the case of the header names', async () => {
      const result = await authorize(authorizerEventWith({ headers: { authorization: `bearer ${await token()}` } }));

      expect(result.policyDocument.Statement[0]?.Effect).toBe('Allow');
    });
  });

  it('passes the autoSubscribe claim on as JSON and keepalive as true, for $connect to act on', async () => {
    const claims = { sub: 'dora', topics: ['orders'], groups: ['jobs#workers'], autoSubscribe: ['orders', 'jobs#workers'], keepalive: true };
    const result = await authorize(await bearer(token({ claims })));

    expect(result.context).toMatchObject({ autoSubscribe: '["orders","jobs#workers"]', keepalive: true });
  });

  it('allows the largest claims it stores: a sub of 256 bytes and an exp in year 9999', async () => {
    const sub = `${'x'.repeat(254)}é`;
    const result = await authorize(await bearer(token({ claims: { sub }, expiresIn: 253_402_300_799 })));

    expect(result.context).toEqual({ userId: sub, exp: 253_402_300_799 });
  });

  it('answers Unauthorized (401) when no token is sent anywhere', async () => {
    await expect(authorize(authorizerEventWith())).rejects.toThrow('Unauthorized');
    await expect(authorize(authorizerEventWith({ headers: { Authorization: 'Bearer ' } }))).rejects.toThrow('Unauthorized');
  });

  describe('denies (403)', () => {
    const noneAlgToken = () => {
      const encode = (part: object) => Buffer.from(JSON.stringify(part)).toString('base64url');
      const now = Math.floor(Date.now() / 1000);
      return `${encode({ alg: 'none', typ: 'JWT' })}.${encode({ sub: 'alice', iss: ISSUER, aud: AUDIENCE, exp: now + 600 })}.`;
    };
    const hmacWithPublicKey = async () =>
      new SignJWT({ sub: 'alice' })
        .setProtectedHeader({ alg: 'HS256', kid: KID })
        .setIssuer(ISSUER)
        .setAudience(AUDIENCE)
        .setExpirationTime('10m')
        .sign(new TextEncoder().encode(JSON.stringify(publicJwk)));
    const tamperedPayload = async () => {
      const [header, , signature] = (await token({ claims: { sub: 'alice' } })).split('.');
      const payload = Buffer.from(
        JSON.stringify({ sub: 'admin', iss: ISSUER, aud: AUDIENCE, exp: Math.floor(Date.now() / 1000) + 600 }),
      ).toString('base64url');
      return `${header}.${payload}.${signature}`;
    };

    it.each([
      ['a malformed token', async () => 'not-a-jwt'],
      ['an expired token', () => token({ expiresIn: Math.floor(Date.now() / 1000) - 60 })],
      ['a token not valid yet (nbf in the future)', () => token({ claims: { nbf: Math.floor(Date.now() / 1000) + 600 } })],
      ['a token from another issuer', () => token({ issuer: 'https://evil.example.com' })],
      ['a token for another audience', () => token({ audience: 'some-other-app' })],
      ['a token signed by another key', () => token({ key: otherKey })],
      ['a token with alg "none"', async () => noneAlgToken()],
      ['an HS256 token signed with the public key', hmacWithPublicKey],
      ['a token whose kid the JWKS does not have', () => token({ kid: 'unknown-kid' })],
      ['a tampered payload under the original signature', tamperedPayload],
      ['a token without sub', () => token({ claims: { sub: undefined } })],
      ['a token over 8 KB', () => token({ claims: { padding: 'x'.repeat(8 * 1024) } })],
      ['a token whose sub is empty', () => token({ claims: { sub: '' } })],
      ['a token whose sub claims the anonymous namespace', () => token({ claims: { sub: 'anonymous:L0SM9cOFvHcCIhw=' } })],
      // The issuer signed these, but $connect could not store them (a DynamoDB key over 2 KB, an expiry no Date can hold).
      ['a token whose sub is 3,000 characters', () => token({ claims: { sub: 'x'.repeat(3000) } })],
      ['a token whose sub is 257 bytes (one over the bound)', () => token({ claims: { sub: `${'x'.repeat(255)}é` } })],
      ['a token whose exp is 1e13 (past year 9999)', () => token({ expiresIn: 1e13 })],
      ['a token whose exp is not a whole number', () => token({ expiresIn: Math.floor(Date.now() / 1000) + 600.5 })],
      ['a token whose autoSubscribe names a pattern, not a topic', () => token({ claims: { autoSubscribe: ['orders.*'] } })],
      ['a token whose keepalive is not true or false', () => token({ claims: { keepalive: 'yes' } })],
    ])('%s', async (_, makeToken) => {
      expectDenied(await authorize(await bearer(makeToken())));
    });

    it('logs why, and tells the client nothing but the 403', async () => {
      const logged = loadAuthorizer({ JWT_ISSUER: ISSUER, JWT_AUDIENCE: AUDIENCE, JWKS_URI: jwksUri, POWERTOOLS_LOG_LEVEL: 'INFO' });
      const event = await bearer(token({ expiresIn: 1e13 }));

      const { result, lines } = await logLinesOf(() => logged(event));

      expectDenied(result);
      expect(lines).toContainEqual(
        expect.objectContaining({ message: 'connection refused: credential rejected', credential: 'token', reason: expect.stringContaining('exp must be a whole number') }),
      );
    });

    it('every token while the JWKS is unreachable (fails closed)', async () => {
      const closed = createServer();
      await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
      const deadUri = `http://127.0.0.1:${(closed.address() as AddressInfo).port}/.well-known/jwks.json`;
      await new Promise((resolve) => closed.close(resolve));
      const isolated = loadAuthorizer({ JWT_ISSUER: ISSUER, JWT_AUDIENCE: AUDIENCE, JWKS_URI: deadUri });

      expectDenied(await isolated(await bearer(token())));
    });
  });
});

describe('the $connect authorizer with anonymous access on', () => {
  let anonymousAllowed: Authorizer;

  beforeAll(() => {
    anonymousAllowed = loadAuthorizer({ JWT_ISSUER: ISSUER, JWT_AUDIENCE: AUDIENCE, JWKS_URI: jwksUri, ALLOW_ANONYMOUS: 'true' });
  });

  it('makes a connection without a credential the anonymous user of that connection', async () => {
    const event = authorizerEventWith();
    const result = await anonymousAllowed(event);

    const userId = `anonymous:${event.requestContext.connectionId}`;
    expect(result.principalId).toBe(userId);
    expect(result.policyDocument.Statement[0]).toMatchObject({ Effect: 'Allow' });
    expect(result.context).toEqual({ userId, anonymous: true });
  });

  it('still denies a credential that does not verify, rather than falling back to anonymous', async () => {
    expectDenied(await anonymousAllowed(await bearer('not-a-jwt')));
  });

  it.each<[string, Parameters<typeof authorizerEventWith>[0]]>([
    ['a Basic Authorization header', { headers: { Authorization: 'Basic YWxpY2U6c2VjcmV0' } }],
    ['a Bearer header without a token', { headers: { Authorization: 'Bearer' } }],
    ['an empty token query parameter', { query: { token: '' } }],
    ['an empty bearer. subprotocol', { headers: { 'Sec-WebSocket-Protocol': 'ws-notify.v1, bearer.' } }],
  ])('denies %s: an offered credential that holds no token is not "no credential"', async (_, request) => {
    expectDenied(await anonymousAllowed(authorizerEventWith(request)));
  });

  it('still lets a valid token connect as its user', async () => {
    const result = await anonymousAllowed(await bearer(token({ claims: { sub: 'alice' } })));
    expect(result.context).toMatchObject({ userId: 'alice' });
  });
});

describe('the $connect authorizer with a tenant claim', () => {
  let multiTenant: Authorizer;

  beforeAll(() => {
    multiTenant = loadAuthorizer({ JWT_ISSUER: ISSUER, JWT_AUDIENCE: AUDIENCE, JWKS_URI: jwksUri, TENANT_CLAIM: 'org' });
  });

  it("passes the token's tenant in the context", async () => {
    const result = await multiTenant(await bearer(token({ claims: { sub: 'alice', org: 'acme' } })));
    expect(result.context).toEqual({ userId: 'alice', exp: expect.any(Number), tenant: 'acme' });
  });

  it.each([
    ['no tenant claim', {}],
    ['an empty tenant claim', { org: '' }],
    ['a tenant claim that is not a string', { org: ['acme', 'globex'] }],
    ['a tenant claim over 256 bytes', { org: 'x'.repeat(257) }],
  ])('denies a token with %s', async (_, claims) => {
    expectDenied(await multiTenant(await bearer(token({ claims }))));
  });
});

describe('the $connect authorizer in each authentication mode', () => {
  let stack: StackUnderTest;
  let keys: ApiKeyTable;
  const jwt = () => ({ JWT_ISSUER: ISSUER, JWT_AUDIENCE: AUDIENCE, JWKS_URI: jwksUri });
  const withMode = (env: Record<string, string>) => loadAuthorizer({ API_KEYS_TABLE_NAME: stack.apiKeysTableName, POWERTOOLS_LOG_LEVEL: 'INFO', ...env });
  /** Runs the authorizer with its log captured, so that only the lines a case asserts are written. */
  const run = (authorizer: Authorizer, event: WebSocketAuthorizerEvent) => logLinesOf(() => authorizer(event));
  const apiKey = async (userId: string) => (await keys.create({ userId, scope: 'connect' })).apiKey;
  const withKey = (key: string) => authorizerEventWith({ headers: { 'x-api-key': key } });

  beforeAll(async () => {
    stack = await startStackUnderTest();
    keys = new ApiKeyTable(stack.db, stack.apiKeysTableName);
  }, 60_000);

  afterAll(async () => {
    await stack?.stop();
  });

  it('key-only (no JWT settings): connects an API key; refuses a token the issuer signed (403), logging that JWT is off', async () => {
    const keyOnly = withMode({ ACCEPT_API_KEYS: 'true' });

    expect((await run(keyOnly, withKey(await apiKey('key-user')))).result.context).toMatchObject({ userId: 'key-user' });
    const refused = await run(keyOnly, await bearer(token()));
    expectDenied(refused.result);
    expect(refused.lines).toContainEqual(expect.objectContaining({ credential: 'token', reason: 'JWT is not enabled on this stack' }));
    await expect(run(keyOnly, authorizerEventWith())).rejects.toThrow('Unauthorized');
  });

  it('anonymous-only: connects without a credential; refuses a valid token and a valid key (403), never as anonymous', async () => {
    const anonymousOnly = withMode({ ACCEPT_API_KEYS: 'false', ALLOW_ANONYMOUS: 'true' });

    expect((await run(anonymousOnly, authorizerEventWith())).result.context).toMatchObject({ anonymous: true });
    expectDenied((await run(anonymousOnly, await bearer(token()))).result);
    const refused = await run(anonymousOnly, withKey(await apiKey('key-user')));
    expectDenied(refused.result);
    expect(refused.lines).toContainEqual(expect.objectContaining({ credential: 'apiKey', reason: 'API keys are not accepted on this stack' }));
  });

  it('JWT with API keys off: connects a token; refuses a valid key (403), with or without anonymous access', async () => {
    const tokensOnly = withMode({ ...jwt(), ACCEPT_API_KEYS: 'false' });
    const tokensOrAnonymous = withMode({ ...jwt(), ACCEPT_API_KEYS: 'false', ALLOW_ANONYMOUS: 'true' });
    const key = await apiKey('key-user');

    expect((await run(tokensOnly, await bearer(token({ claims: { sub: 'alice' } })))).result.context).toMatchObject({ userId: 'alice' });
    expectDenied((await run(tokensOnly, withKey(key))).result);
    expectDenied((await run(tokensOrAnonymous, withKey(key))).result);
    const basic = `Basic ${Buffer.from(`key-user:${key}`).toString('base64')}`;
    expectDenied((await run(tokensOrAnonymous, authorizerEventWith({ headers: { Authorization: basic } }))).result);
  });

  it('refuses to start with no mode on, with half the JWT settings, or with a flag that is not true or false', () => {
    expect(() => withMode({ ACCEPT_API_KEYS: 'false' })).toThrow('no authentication mode is on');
    expect(() => withMode({ ACCEPT_API_KEYS: 'true', JWT_ISSUER: ISSUER })).toThrow('missing environment variable(s): JWT_AUDIENCE, JWKS_URI');
    expect(() => withMode({ ACCEPT_API_KEYS: 'yes' })).toThrow('ACCEPT_API_KEYS must be "true" or "false"');
  });
});
