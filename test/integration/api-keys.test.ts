import { createHash } from 'node:crypto';
import { GetCommand } from '@aws-sdk/lib-dynamodb';
import { ApiKeyTable, createApiKeyVerifier } from '../../lambdas/core/api-keys';
import { ConnectionTable } from '../../lambdas/core/connections';
import type { AuthorizerResult, WebSocketAuthorizerEvent, WebSocketEvent, WebSocketResult } from '../../lambdas/events';
import { authorizerEventWith, connectEventFor } from '../support/events';
import { loadHandler } from '../support/load-handler';
import { type StackUnderTest, startStackUnderTest } from '../support/stack-under-test';

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

  it("lists a user's keys, oldest first, without their hashes, revoked ones included", async () => {
    const now = nowSeconds();
    const first = await keys.create({ userId: 'dave', scope: 'connect' }, now - 20);
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

  it('refuses to create a key for an anonymous or empty user, or one already expired', async () => {
    await expect(keys.create({ userId: 'anonymous:abc', scope: 'connect' })).rejects.toThrow(RangeError);
    await expect(keys.create({ userId: '', scope: 'connect' })).rejects.toThrow(RangeError);
    await expect(keys.create({ userId: 'frank', scope: 'connect', expiresAt: nowSeconds() - 1 })).rejects.toThrow(RangeError);
  });
});

describe('the API key verifier', () => {
  it('accepts a key of its scope, as the key alone or as the password of its own user', async () => {
    const verify = createApiKeyVerifier(keys, { scope: 'connect', multiTenant: false });
    const { apiKey, record } = await keys.create({ userId: 'gina', scope: 'connect' });

    await expect(verify(apiKey)).resolves.toEqual({ userId: 'gina', keyId: record.keyId });
    await expect(verify(apiKey, 'gina')).resolves.toEqual({ userId: 'gina', keyId: record.keyId });
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
    const connect = loadHandler<Connect>('connect', { CONNECTIONS_TABLE_NAME: stack.tableName });
    const event = connectEventFor('conn-keyed', 'lena');
    event.requestContext.authorizer = { ...event.requestContext.authorizer, keyId: 'feedfacecafebeef' };

    await connect(event);

    const connections = new ConnectionTable(stack.db, stack.tableName);
    const opened = [];
    for await (const connectionId of connections.connectionIdsOpenedWith('feedfacecafebeef')) opened.push(connectionId);
    expect(opened).toEqual(['conn-keyed']);
  });
});
