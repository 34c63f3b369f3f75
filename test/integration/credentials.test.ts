import { ApiGatewayManagementApiClient } from '@aws-sdk/client-apigatewaymanagementapi';
import { GetCommand } from '@aws-sdk/lib-dynamodb';
import type { VerifiedIdentity } from '../../lambdas/core/auth';
import { ApiKeyTable } from '../../lambdas/core/api-keys';
import { ConnectionTable } from '../../lambdas/core/connections';
import { closeRevokedKeyConnections, expireCredentials, refreshCredential } from '../../lambdas/core/credentials';
import { SubscriptionTable } from '../../lambdas/core/subscriptions';
import { type ManagementApiServer, RecordingConnections, startManagementApi } from '../support/management-api-server';
import { type StackUnderTest, startStackUnderTest } from '../support/stack-under-test';

let stack: StackUnderTest;
let managementApiServer: ManagementApiServer;
let managementApi: ApiGatewayManagementApiClient;
let connections: ConnectionTable;
let apiKeys: ApiKeyTable;
let subscriptions: SubscriptionTable;
const clients = new RecordingConnections();
const nowSeconds = () => Math.floor(Date.now() / 1000);

beforeAll(async () => {
  stack = await startStackUnderTest();
  managementApiServer = await startManagementApi(clients, 'live');
  managementApi = new ApiGatewayManagementApiClient({ endpoint: managementApiServer.endpoint });
  connections = new ConnectionTable(stack.db, stack.tableName);
  apiKeys = new ApiKeyTable(stack.db, stack.apiKeysTableName);
  subscriptions = new SubscriptionTable(stack.db, stack.subscriptionsTableName);
}, 60_000);

afterAll(async () => {
  managementApi?.destroy();
  await managementApiServer?.stop();
  await stack?.stop();
});

async function open(connectionId: string, userId: string, credentialExpiresAt: number, tenant?: string): Promise<void> {
  await connections.register({ connectionId, userId, connectedAt: Date.now(), credentialExpiresAt, ...(tenant && { tenant }) });
  clients.connect(connectionId);
}

async function row(connectionId: string) {
  const { Item } = await stack.db.send(new GetCommand({ TableName: stack.tableName, Key: { connectionId } }));
  return Item;
}

/** The issuer's verdict on a token, as the test decides it (the real verifier is tested with real JWTs elsewhere). */
const verifierSaying =
  (identity: VerifiedIdentity | Error) =>
  async (): Promise<VerifiedIdentity> => {
    if (identity instanceof Error) throw identity;
    return identity;
  };

describe('authenticate (refreshing a connection\'s credential)', () => {
  it('moves the expiry to the new token\'s exp and answers "authenticated", echoing the id', async () => {
    await open('conn-refresh-1', 'alice', nowSeconds() + 300);
    const expiresAt = nowSeconds() + 3600;

    const reply = await refreshCredential(
      JSON.stringify({ action: 'authenticate', token: 'jwt', id: 'r1' }),
      { connectionId: 'conn-refresh-1', userId: 'alice' },
      { verifyToken: verifierSaying({ userId: 'alice', expiresAt }), connections },
    );

    expect(JSON.parse(reply)).toEqual({ type: 'authenticated', expiresAt: new Date(expiresAt * 1000).toISOString(), id: 'r1' });
    expect(await row('conn-refresh-1')).toMatchObject({ credentialExpiresAt: expiresAt });
  });

  it.each<[string, VerifiedIdentity | Error, string, string]>([
    ['a token that does not verify', new Error('"exp" claim timestamp check failed'), 'invalid_credential', '"exp" claim timestamp check failed'],
    ["another user's token", { userId: 'mallory', expiresAt: nowSeconds() + 3600 }, 'user_mismatch', 'the token names another user or tenant'],
    ["the same user's token in another tenant", { userId: 'alice', expiresAt: nowSeconds() + 3600, tenant: 'globex' }, 'user_mismatch', 'the token names another user or tenant'],
  ])('refuses %s with a code alone, logging the reason, and leaves the expiry as it was', async (_, verdict, code, reason) => {
    const before = nowSeconds() + 300;
    await open('conn-refresh-2', 'alice', before, 'acme');
    const logged: string[] = [];

    const reply = await refreshCredential(
      JSON.stringify({ action: 'authenticate', token: 'jwt' }),
      { connectionId: 'conn-refresh-2', userId: 'alice', tenant: 'acme' },
      { verifyToken: verifierSaying(verdict), connections, logRefusal: (why) => logged.push(why) },
    );

    expect(JSON.parse(reply)).toMatchObject({ type: 'error', code });
    expect(reply).not.toContain(reason);
    expect(logged).toEqual([reason]);
    expect(await row('conn-refresh-2')).toMatchObject({ credentialExpiresAt: before });
  });

  it.each([
    ['no token', '{"action":"authenticate"}'],
    ['a token that is not a string', '{"action":"authenticate","token":42}'],
    ['an empty token', '{"action":"authenticate","token":""}'],
  ])('answers invalid_credential to %s', async (_, body) => {
    const reply = await refreshCredential(body, { connectionId: 'c', userId: 'alice' }, {
      verifyToken: verifierSaying({ userId: 'alice', expiresAt: 1 }),
      connections,
    });
    expect(JSON.parse(reply)).toMatchObject({ type: 'error', code: 'invalid_credential' });
  });

  it('answers jwt_not_enabled on a stack with JWT off, logging why, and leaves the expiry as it was', async () => {
    const before = nowSeconds() + 300;
    await open('conn-refresh-3', 'key-user', before);
    const logged: string[] = [];

    const reply = await refreshCredential(
      JSON.stringify({ action: 'authenticate', token: 'jwt', id: 'r3' }),
      { connectionId: 'conn-refresh-3', userId: 'key-user' },
      { verifyToken: undefined, connections, logRefusal: (why) => logged.push(why) },
    );

    expect(JSON.parse(reply)).toEqual({ type: 'error', code: 'jwt_not_enabled', message: expect.any(String), id: 'r3' });
    expect(logged).toEqual(['JWT is not enabled on this stack']);
    expect(await row('conn-refresh-3')).toMatchObject({ credentialExpiresAt: before });
  });
});

describe('the credential expiry sweep', () => {
  it('closes expired and about-to-expire connections at their exp with credential_expired, and spares refreshed and later ones', async () => {
    const now = nowSeconds();
    await open('conn-expired', 'bob', now - 5);
    await open('conn-expiring', 'bob', now + 2);
    await open('conn-refreshed', 'bob', now + 2);
    await open('conn-later', 'bob', now + 600);
    await connections.register({ connectionId: 'conn-vanished', userId: 'bob', connectedAt: Date.now(), credentialExpiresAt: now - 5 });

    // The client refreshes while the sweep waits for the credentials due within the minute.
    let refreshed: Promise<boolean> | undefined;
    const sleep = async (ms: number) => {
      refreshed ??= connections.refreshCredential('conn-refreshed', now + 3600);
      await refreshed;
      await new Promise((resolve) => setTimeout(resolve, ms));
    };
    const outcomes = await expireCredentials({ connections, subscriptions, managementApi, sleep });

    expect(outcomes).toEqual({ closed: 2, skipped: 1, gone: 1 });
    for (const closed of ['conn-expired', 'conn-expiring']) {
      expect(clients.framesOf(closed)).toEqual([expect.objectContaining({ type: 'error', code: 'credential_expired' })]);
      expect(clients.info(closed)).toBeUndefined();
    }
    expect(nowSeconds()).toBeGreaterThanOrEqual(now + 2);
    expect(clients.info('conn-refreshed')).toBeDefined();
    expect(clients.info('conn-later')).toBeDefined();
    expect(await row('conn-vanished')).toBeUndefined();
  }, 20_000);

  it('closes a connection once when sweeps overlap (a sweep waits up to a minute; the next starts every minute)', async () => {
    await open('conn-overlap', 'cara', nowSeconds() - 1);

    const [first, second] = await Promise.all([expireCredentials({ connections, subscriptions, managementApi }), expireCredentials({ connections, subscriptions, managementApi })]);

    expect(first.closed + second.closed).toBe(1);
    expect(clients.framesOf('conn-overlap')).toEqual([expect.objectContaining({ code: 'credential_expired' })]);
  });

  it('refuses a refresh once the connection is closing for its expired credential', async () => {
    await open('conn-closing', 'dana', nowSeconds() - 1);
    expect(await connections.claimExpired('conn-closing', nowSeconds())).toBe(true);

    expect(await connections.refreshCredential('conn-closing', nowSeconds() + 3600)).toBe(false);
  });
});

describe('the revocation sweep', () => {
  async function openWithKey(connectionId: string, userId: string, keyId: string): Promise<void> {
    await connections.register({ connectionId, userId, connectedAt: Date.now(), keyId });
    clients.connect(connectionId);
  }

  it("closes every connection a revoked key opened with credential_revoked, and spares other keys' connections", async () => {
    const revoked = await apiKeys.create({ userId: 'erin', scope: 'connect' });
    const kept = await apiKeys.create({ userId: 'erin', scope: 'connect' });
    await openWithKey('conn-key-1', 'erin', revoked.record.keyId);
    await openWithKey('conn-key-2', 'erin', revoked.record.keyId);
    await openWithKey('conn-key-kept', 'erin', kept.record.keyId);
    await connections.register({ connectionId: 'conn-key-vanished', userId: 'erin', connectedAt: Date.now(), keyId: revoked.record.keyId });
    await apiKeys.revoke(revoked.record.keyId);

    const outcomes = await closeRevokedKeyConnections({ connections, subscriptions, apiKeys, managementApi });

    expect(outcomes).toEqual({ closed: 2, skipped: 0, gone: 1 });
    for (const closed of ['conn-key-1', 'conn-key-2']) {
      expect(clients.framesOf(closed)).toEqual([expect.objectContaining({ type: 'error', code: 'credential_revoked' })]);
      expect(clients.info(closed)).toBeUndefined();
    }
    expect(clients.info('conn-key-kept')).toBeDefined();
    expect(clients.framesOf('conn-key-kept')).toEqual([]);
    expect(await row('conn-key-vanished')).toBeUndefined();
  });

  it('closes a connection once when sweeps overlap, and again finds nothing to do while $disconnect is pending', async () => {
    const key = await apiKeys.create({ userId: 'finn', scope: 'connect' });
    await openWithKey('conn-key-overlap', 'finn', key.record.keyId);
    await apiKeys.revoke(key.record.keyId);

    const [first, second] = await Promise.all([
      closeRevokedKeyConnections({ connections, subscriptions, apiKeys, managementApi }),
      closeRevokedKeyConnections({ connections, subscriptions, apiKeys, managementApi }),
    ]);
    // The test's management API does not run $disconnect, so the row stays, claimed: later sweeps skip it.
    const third = await closeRevokedKeyConnections({ connections, subscriptions, apiKeys, managementApi });

    expect(first.closed + second.closed).toBe(1);
    expect(third).toMatchObject({ closed: 0 });
    expect(clients.framesOf('conn-key-overlap')).toEqual([expect.objectContaining({ code: 'credential_revoked' })]);
  });

  it('leaves alone the connections of a key revoked longer ago than the sweep looks back', async () => {
    const key = await apiKeys.create({ userId: 'gus', scope: 'connect' });
    await openWithKey('conn-key-old-revocation', 'gus', key.record.keyId);
    await apiKeys.revoke(key.record.keyId, nowSeconds() - 16 * 60);

    await closeRevokedKeyConnections({ connections, subscriptions, apiKeys, managementApi });

    expect(clients.info('conn-key-old-revocation')).toBeDefined();
  });
});
