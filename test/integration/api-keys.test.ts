import { createHash, randomBytes } from 'node:crypto';
import { GetCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import { ApiKeyTable, checkNewApiKey, createApiKeyVerifier, type NewApiKey } from '../../lambdas/core/api-keys';
import { authorizerContext, authorizerPolicy, authorizerResultBytes } from '../../lambdas/core/authorizer-result';
import { ConnectionTable } from '../../lambdas/core/connections';
import type { AuthorizerResult, WebSocketAuthorizerEvent, WebSocketEvent, WebSocketResult } from '../../lambdas/transport/events';
import { authorizerEventWith, connectEventFor } from '../support/events';
import { loadHandler } from '../support/load-handler';
import { CONNECTION_LIMITS_ENV, type StackUnderTest, startStackUnderTest } from '../support/stack-under-test';

type Authorizer = (event: WebSocketAuthorizerEvent) => Promise<AuthorizerResult>;
type Connect = (event: WebSocketEvent) => Promise<WebSocketResult>;

let stack: StackUnderTest;
let keys: ApiKeyTable;
const nowSeconds = () => Math.floor(Date.now() / 1000);
type UpgradeRequest = Parameters<typeof authorizerEventWith>[0];
const basic = (user: string, key: string) => `Basic ${Buffer.from(`${user}:${key}`).toString('base64')}`;

beforeAll(async () => {
  stack = await startStackUnderTest();
  keys = new ApiKeyTable(stack.db, stack.apiKeysTableName);
}, 60_000);

afterAll(async () => {
  await stack?.stop();
});

/** The authorizer as deployed, for a stack with or without tenants; the JWKS is never fetched by these cases. */
function loadAuthorizer(env: Record<string, string> = {}): Authorizer {
  return loadHandler<Authorizer>('authorize', {
    ALLOW_ANONYMOUS: 'false',
    ACCEPT_API_KEYS: 'true',
    JWT_ISSUER: 'https://issuer.ws-notify.test',
    JWT_AUDIENCE: 'ws-notify-test',
    JWKS_URI: 'http://127.0.0.1:9/.well-known/jwks.json',
    API_KEYS_TABLE_NAME: stack.apiKeysTableName,
    ...env,
  });
}

function effectOf(result: AuthorizerResult): string | undefined {
  return result.policyDocument.Statement[0]?.Effect;
}

describe('the API key table', () => {
  it('creates wsn_<id>_<secret> keys and stores the SHA-256 of the secret, never the secret', async () => {
    const { apiKey, record } = await keys.create({ userId: 'alice', scope: 'connect' });

    expect(apiKey).toMatch(new RegExp(`^wsn_${record.keyId}_[A-Za-z0-9_-]{43}$`));
    const { Item } = await stack.db.send(new GetCommand({ TableName: stack.apiKeysTableName, Key: { keyId: record.keyId } }));
    const secret = apiKey.slice(`wsn_${record.keyId}_`.length);
    expect(Item).toEqual({
      keyId: record.keyId,
      userId: 'alice',
      scope: 'connect',
      createdAt: record.createdAt,
      secretHash: createHash('sha256').update(secret).digest('hex'),
    });
    expect(JSON.stringify(Item)).not.toContain(secret);
  });

  it('verifies a key to its row, and refuses a wrong secret, an unknown id and anything not shaped like a key', async () => {
    const { apiKey, record } = await keys.create({ userId: 'alice', tenant: 'acme', scope: 'connect' });
    const otherSecret = (await keys.create({ userId: 'alice', scope: 'connect' })).apiKey.split('_').slice(2).join('_');

    await expect(keys.verify(apiKey)).resolves.toEqual(record);
    await expect(keys.verify(`wsn_${record.keyId}_${otherSecret}`)).rejects.toThrow('wrong API key secret');
    await expect(keys.verify(`wsn_0000000000000000_${otherSecret}`)).rejects.toThrow('unknown API key');
    for (const malformed of ['', 'garbage', apiKey.slice(0, -1), `${apiKey}x`, apiKey.toUpperCase(), `Bearer ${apiKey}`]) {
      await expect(keys.verify(malformed)).rejects.toThrow(/not an API key/);
    }
    await expect(keys.verify('x'.repeat(10_000))).rejects.toThrow('longer than 128');
  });

  it('refuses an expired key, and a revoked one from the moment it is revoked', async () => {
    const now = nowSeconds();
    const expiring = await keys.create({ userId: 'bob', scope: 'connect', expiresAt: now + 60 }, now - 10);
    const revoked = await keys.create({ userId: 'bob', scope: 'connect' });

    await expect(keys.verify(expiring.apiKey, now + 59)).resolves.toMatchObject({ expiresAt: now + 60 });
    await expect(keys.verify(expiring.apiKey, now + 60)).rejects.toThrow('API key expired');
    await expect(keys.verify(revoked.apiKey)).resolves.toBeDefined();
    expect(await keys.revoke(revoked.record.keyId)).toBe('revoked');
    await expect(keys.verify(revoked.apiKey)).rejects.toThrow('API key revoked');
  });

  it('revokes once: a second revocation and an unknown id are told apart', async () => {
    const { record } = await keys.create({ userId: 'carol', scope: 'connect' });

    expect(await keys.revoke(record.keyId)).toBe('revoked');
    expect(await keys.revoke(record.keyId)).toBe('already revoked');
    expect(await keys.revoke('0123456789abcdef')).toBe('unknown');
  });

  it("lists a user's keys, oldest first, with their grants, without their hashes, revoked ones included", async () => {
    const now = nowSeconds();
    const first = await keys.create({ userId: 'dave', scope: 'connect', topics: ['orders'], publishTopics: ['orders'], groups: ['workers'] }, now - 20);
    const second = await keys.create({ userId: 'dave', scope: 'publish', expiresAt: now + 3600 }, now - 10);
    await keys.create({ userId: 'someone-else', scope: 'connect' });
    await keys.revoke(first.record.keyId, now);

    const listed = [];
    for await (const key of keys.keysOf('dave')) listed.push(key);

    expect(listed).toEqual([{ ...first.record, revokedAt: now }, second.record]);
  });

  it('finds the keys revoked in a time window by minute buckets', async () => {
    const now = nowSeconds();
    const recent = await keys.create({ userId: 'erin', scope: 'connect' });
    const old = await keys.create({ userId: 'erin', scope: 'connect' });
    await keys.revoke(recent.record.keyId, now - 90);
    await keys.revoke(old.record.keyId, now - 3600);

    const revoked = [];
    for await (const keyId of keys.revokedBetween(now - 15 * 60, now)) revoked.push(keyId);

    expect(revoked).toContain(recent.record.keyId);
    expect(revoked).not.toContain(old.record.keyId);
  });

  it('refuses to create a key for an anonymous, empty or over-long user or tenant, or with an expiry past or beyond year 9999', async () => {
    await expect(keys.create({ userId: 'anonymous:abc', scope: 'connect' })).rejects.toThrow(RangeError);
    await expect(keys.create({ userId: '', scope: 'connect' })).rejects.toThrow(RangeError);
    await expect(keys.create({ userId: 'frank', scope: 'connect', expiresAt: nowSeconds() - 1 })).rejects.toThrow(RangeError);
    await expect(keys.create({ userId: 'x'.repeat(257), scope: 'connect' })).rejects.toThrow("an API key's user id is longer than 256 bytes");
    await expect(keys.create({ userId: 'frank', tenant: 'x'.repeat(257), scope: 'connect' })).rejects.toThrow("an API key's tenant is longer than 256 bytes");
    await expect(keys.create({ userId: 'frank', scope: 'connect', expiresAt: 1e13 })).rejects.toThrow('up to 253402300799 (year 9999)');
    await expect(keys.create({ userId: 'frank', scope: 'connect', topics: ['no spaces'] })).rejects.toThrow('"topics" must be a list');
  });
});

/** Grants of `chars` pattern characters in all: 128-character patterns, topics first (50 at most), then publishTopics. */
function grantsOf(chars: number): Pick<NewApiKey, 'topics' | 'publishTopics'> {
  const patterns: string[] = [];
  for (let start = 0; start < chars; start += 128) patterns.push('p'.repeat(Math.min(128, chars - start)));
  return { topics: patterns.slice(0, 50), ...(patterns.length > 50 && { publishTopics: patterns.slice(50) }) };
}

/** A key row as one made before creation was bounded: written to the table directly. */
async function storedKey(userId: string, fields: Partial<NewApiKey>): Promise<{ apiKey: string; keyId: string }> {
  const keyId = randomBytes(8).toString('hex');
  const secret = randomBytes(32).toString('base64url');
  const secretHash = createHash('sha256').update(secret).digest('hex');
  await stack.db.send(new PutCommand({ TableName: stack.apiKeysTableName, Item: { keyId, userId, scope: 'connect', createdAt: nowSeconds(), secretHash, ...fields } }));
  return { apiKey: `wsn_${keyId}_${secret}`, keyId };
}

describe("API Gateway's 8 KB quota on the authorizer's result", () => {
  it('refuses to create a connect key whose grants could not fit, saying what to change; the largest it creates connects', async () => {
    let largest = 0;
    while (!throwsOn(() => checkNewApiKey({ userId: 'max-grants', scope: 'connect', ...grantsOf(largest + 1) }))) largest += 1;

    const error = await keys.create({ userId: 'max-grants', scope: 'connect', ...grantsOf(largest + 1) }).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(RangeError);
    expect((error as Error).message).toMatch(/^this key's topic and group grants and auto-subscriptions would make the \$connect authorizer's result \d+ bytes, over API Gateway's limit of 8192: grant fewer or shorter patterns/);
    const { apiKey } = await keys.create({ userId: 'max-grants', scope: 'connect', ...grantsOf(largest) });
    const result = await loadAuthorizer()(authorizerEventWith({ headers: { 'x-api-key': apiKey } }));
    expect(effectOf(result)).toBe('Allow');
    expect(authorizerResultBytes(result)).toBeLessThanOrEqual(8192);
    // A publish key's grants never travel in a WebSocket authorizer's result.
    await expect(keys.create({ userId: 'max-grants', scope: 'publish', ...grantsOf(largest + 1) })).resolves.toBeDefined();
  });

  /** The pattern characters that make this key's result exactly `bytes` long (the row's keyId is fixed-length, so any id will do). */
  function charsForResultOf(bytes: number, methodArn: string): number {
    const sizeOf = (chars: number) =>
      authorizerResultBytes(authorizerPolicy('Allow', 'at-limit', methodArn, authorizerContext({ userId: 'at-limit', keyId: 'f'.repeat(16), ...grantsOf(chars) })));
    let chars = 0;
    while (sizeOf(chars) < bytes) chars += 1;
    if (sizeOf(chars) !== bytes) throw new Error(`no grants make a result of exactly ${bytes} bytes`);
    return chars;
  }

  it('connects a key whose result is exactly 8192 bytes, and refuses one at 8193 with 403 and a log line, not a 500 from API Gateway', async () => {
    const authorize = loadAuthorizer({ POWERTOOLS_LOG_LEVEL: 'INFO' });
    const event = (apiKey: string) => authorizerEventWith({ headers: { 'x-api-key': apiKey } });
    const { methodArn } = event('');
    const atLimit = await storedKey('at-limit', grantsOf(charsForResultOf(8192, methodArn)));
    const overLimit = await storedKey('at-limit', grantsOf(charsForResultOf(8193, methodArn)));

    const allowed = await authorize(event(atLimit.apiKey));
    expect(effectOf(allowed)).toBe('Allow');
    expect(Buffer.byteLength(JSON.stringify(allowed))).toBe(8192);

    const logged = jest.spyOn(process.stdout, 'write').mockImplementation(() => true);
    try {
      const refused = await authorize(event(overLimit.apiKey));
      expect(effectOf(refused)).toBe('Deny');
      expect(refused.context).toBeUndefined();
      const lines = logged.mock.calls.map(([chunk]) => String(chunk));
      expect(lines.some((line) => line.includes("the result would be 8193 bytes, over API Gateway's limit of 8192"))).toBe(true);
    } finally {
      logged.mockRestore();
    }
  });
});

function throwsOn(act: () => void): boolean {
  try {
    act();
    return false;
  } catch {
    return true;
  }
}

describe('the API key verifier', () => {
  it('accepts a key of its scope, as the key alone or as the password of its own user', async () => {
    const verify = createApiKeyVerifier(keys, { scope: 'connect', multiTenant: false });
    const { apiKey, record } = await keys.create({ userId: 'gina', scope: 'connect' });

    await expect(verify(apiKey)).resolves.toEqual({ userId: 'gina', keyId: record.keyId });
    await expect(verify(apiKey, 'gina')).resolves.toEqual({ userId: 'gina', keyId: record.keyId });
  });

  it("carries the key's topic, publish and group grants into the identity, and so into the authorizer's context", async () => {
    const verify = createApiKeyVerifier(keys, { scope: 'connect', multiTenant: false });
    const { apiKey, record } = await keys.create({ userId: 'gus', scope: 'connect', topics: ['jobs'], publishTopics: ['jobs'], groups: ['jobs#workers'] });

    const identity = await verify(apiKey);

    expect(identity).toEqual({ userId: 'gus', keyId: record.keyId, topics: ['jobs'], publishTopics: ['jobs'], groups: ['jobs#workers'] });
    expect(authorizerContext(identity)).toMatchObject({ groups: '["jobs#workers"]' });
  });

  it('refuses a Basic user name that is not the key owner, a key of another scope, and a mismatched tenancy', async () => {
    const singleTenant = createApiKeyVerifier(keys, { scope: 'connect', multiTenant: false });
    const multiTenant = createApiKeyVerifier(keys, { scope: 'connect', multiTenant: true });
    const plain = await keys.create({ userId: 'hank', scope: 'connect' });
    const publish = await keys.create({ userId: 'hank', scope: 'publish' });
    const tenanted = await keys.create({ userId: 'hank', tenant: 'acme', scope: 'connect' });

    await expect(singleTenant(plain.apiKey, 'mallory')).rejects.toThrow("the Basic user name is not the key's user");
    await expect(singleTenant(plain.apiKey, '')).rejects.toThrow("the Basic user name is not the key's user");
    await expect(singleTenant(publish.apiKey)).rejects.toThrow('API key has scope "publish", not "connect"');
    await expect(singleTenant(tenanted.apiKey)).rejects.toThrow('this stack has none');
    await expect(multiTenant(plain.apiKey)).rejects.toThrow('this stack has tenants');
    await expect(multiTenant(tenanted.apiKey)).resolves.toEqual({ userId: 'hank', keyId: tenanted.record.keyId, tenant: 'acme' });
  });
});

describe('the $connect authorizer with API keys', () => {
  it('refuses (403) a stored key whose user id or tenant is over 256 bytes', async () => {
    const longUser = await storedKey('x'.repeat(300), {});
    const longTenant = await storedKey('tenanted', { tenant: 'x'.repeat(300) });

    const withKey = ({ apiKey }: { apiKey: string }) => authorizerEventWith({ headers: { 'x-api-key': apiKey } });
    expect(effectOf(await loadAuthorizer()(withKey(longUser)))).toBe('Deny');
    expect(effectOf(await loadAuthorizer({ TENANT_CLAIM: 'org' })(withKey(longTenant)))).toBe('Deny');
  });

  it('allows a key from x-api-key, ?apikey= or Basic auth, passing userId, keyId and the key expiry on', async () => {
    const authorize = loadAuthorizer();
    const expiresAt = nowSeconds() + 3600;
    const { apiKey, record } = await keys.create({ userId: 'ivan', scope: 'connect', expiresAt });

    const requests: UpgradeRequest[] = [{ headers: { 'x-api-key': apiKey } }, { query: { apikey: apiKey } }, { headers: { Authorization: basic('ivan', apiKey) } }];
    for (const request of requests) {
      const result = await authorize(authorizerEventWith(request));

      expect(effectOf(result)).toBe('Allow');
      expect(result.principalId).toBe('ivan');
      expect(result.context).toEqual({ userId: 'ivan', keyId: record.keyId, exp: expiresAt });
    }
  });

  it("passes a key's tenant on in a multi-tenant stack, and omits exp for a key that does not expire", async () => {
    const authorize = loadAuthorizer({ TENANT_CLAIM: 'org' });
    const { apiKey, record } = await keys.create({ userId: 'judy', tenant: 'acme', scope: 'connect' });

    const result = await authorize(authorizerEventWith({ headers: { 'X-API-Key': apiKey } }));

    expect(result.context).toEqual({ userId: 'judy', keyId: record.keyId, tenant: 'acme' });
  });

  it('denies, with no context, a revoked key, a wrong secret, a publish key and a Basic user that is not the owner', async () => {
    const authorize = loadAuthorizer();
    const revoked = await keys.create({ userId: 'kate', scope: 'connect' });
    await keys.revoke(revoked.record.keyId);
    const good = await keys.create({ userId: 'kate', scope: 'connect' });
    const publish = await keys.create({ userId: 'kate', scope: 'publish' });

    const requests: UpgradeRequest[] = [
      { headers: { 'x-api-key': revoked.apiKey } },
      { headers: { 'x-api-key': `${good.apiKey.slice(0, -1)}${good.apiKey.endsWith('A') ? 'B' : 'A'}` } },
      { query: { apikey: publish.apiKey } },
      { headers: { Authorization: basic('mallory', good.apiKey) } },
    ];
    for (const request of requests) {
      const result = await authorize(authorizerEventWith(request));

      expect(effectOf(result)).toBe('Deny');
      expect(result.context).toBeUndefined();
    }
  });
});

describe('$connect with an API key', () => {
  it('stores the key id with the connection, so that revoking the key finds it', async () => {
    const connect = loadHandler<Connect>('connect', {
      CONNECTIONS_TABLE_NAME: stack.tableName,
      CONNECTION_COUNTS_TABLE_NAME: stack.connectionCountsTableName,
      SUBSCRIPTIONS_TABLE_NAME: stack.subscriptionsTableName,
      ...CONNECTION_LIMITS_ENV,
    });
    const event = connectEventFor('conn-keyed', 'lena');
    event.requestContext.authorizer = { ...event.requestContext.authorizer, keyId: 'feedfacecafebeef' };

    await connect(event);

    const connections = new ConnectionTable(stack.db, stack.tableName);
    const opened = [];
    for await (const connectionId of connections.connectionIdsOpenedWith('feedfacecafebeef')) opened.push(connectionId);
    expect(opened).toEqual(['conn-keyed']);
  });
});
