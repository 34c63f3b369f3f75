import type { ApiGatewayManagementApiClient } from '@aws-sdk/client-apigatewaymanagementapi';
import { GetCommand } from '@aws-sdk/lib-dynamodb';
import type { Context } from 'aws-lambda';
import type { VerifiedIdentity } from '../../lambdas/core/identity';
import { ApiKeyTable } from '../../lambdas/core/api-keys';
import { ConnectionTable, removeConnection } from '../../lambdas/core/connections';
import {
  CLOSE_RESERVE_MS,
  closeRevokedKeyConnections,
  expireCredentials,
  MAX_CLOSE_ATTEMPTS,
  refreshCredential,
  type RefreshDeps,
  type SweepDeps,
} from '../../lambdas/core/credentials';
import { DEFAULT_MAX_SUBSCRIPTIONS_PER_CONNECTION, SUBSCRIBED_TOPICS, SubscriptionTable } from '../../lambdas/core/subscriptions';
import { loadHandler } from '../support/load-handler';
import { managementApiClient } from '../support/management-api-client';
import { type ManagementApiServer, RecordingConnections, startManagementApi } from '../support/management-api-server';
import { lambdaContext, type StackUnderTest, startStackUnderTest } from '../support/stack-under-test';

let stack: StackUnderTest;
let managementApiServer: ManagementApiServer;
let managementApi: ApiGatewayManagementApiClient;
let connections: ConnectionTable;
let apiKeys: ApiKeyTable;
let subscriptions: SubscriptionTable;
const clients = new RecordingConnections();
const nowSeconds = () => Math.floor(Date.now() / 1000);
const NO_GRANTS = { subscribe: [], publish: [], groups: [] };

beforeAll(async () => {
  stack = await startStackUnderTest();
  managementApiServer = await startManagementApi(clients, 'live');
  // The SDK retries a failed call once (three attempts by default), so that an injected failure costs one short backoff.
  managementApi = managementApiClient(managementApiServer.endpoint, { maxAttempts: 2 });
  connections = new ConnectionTable(stack.db, stack.tableName);
  apiKeys = new ApiKeyTable(stack.db, stack.apiKeysTableName);
  subscriptions = new SubscriptionTable(stack.db, stack.subscriptionsTableName, stack.tableName);
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

/** A sweep run's dependencies, with a minute to run, as the scheduled Lambda has. */
function run(overrides: Partial<SweepDeps> = {}): SweepDeps & { apiKeys: ApiKeyTable } {
  return { connections, subscriptions, apiKeys, managementApi, deadline: (overrides.now ?? Date.now)() + 60_000, ...overrides };
}

/** What authenticate needs besides the verifier: the tables, no public grants, the management API. */
function refreshing(verifyToken: RefreshDeps['verifyToken'], overrides: Partial<RefreshDeps> = {}): RefreshDeps {
  return { verifyToken, connections, subscriptions, publicGrants: { topics: [], groups: [] }, managementApi, ...overrides };
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
      refreshing(verifierSaying({ userId: 'alice', expiresAt })),
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
      refreshing(verifierSaying(verdict), { logRefusal: (why) => logged.push(why) }),
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
    const reply = await refreshCredential(body, { connectionId: 'c', userId: 'alice' }, refreshing(verifierSaying({ userId: 'alice', expiresAt: 1 })));
    expect(JSON.parse(reply)).toMatchObject({ type: 'error', code: 'invalid_credential' });
  });

  it('replaces the grants: each subscription (topic, or group) no longer granted ends with an unsubscribed frame (grant_revoked), before the reply', async () => {
    await open('conn-regrant', 'alice', nowSeconds() + 300, 'acme');
    const expiresAt = nowSeconds() + 3600;
    for (const [topic, group] of [['kept'], ['public'], ['dropped'], ['jobs', 'workers'], ['jobs.eu', 'auditors']] as const) {
      await subscriptions.subscribe({ connectionId: 'conn-regrant', topic, tenant: 'acme', ...(group && { group }), expiresAt }, DEFAULT_MAX_SUBSCRIPTIONS_PER_CONNECTION);
    }
    const fresh: VerifiedIdentity = { userId: 'alice', tenant: 'acme', expiresAt, topics: ['kept', 'jobs*'], publishTopics: ['kept'], groups: ['jobs#workers'] };

    const reply = await refreshCredential(
      JSON.stringify({ action: 'authenticate', token: 'jwt', id: 'rg' }),
      { connectionId: 'conn-regrant', userId: 'alice', tenant: 'acme' },
      refreshing(verifierSaying(fresh), { publicGrants: { topics: ['public'], groups: [] } }),
    );

    expect(JSON.parse(reply)).toMatchObject({ type: 'authenticated', id: 'rg' });
    expect(clients.framesOf('conn-regrant')).toEqual(
      expect.arrayContaining([
        { type: 'unsubscribed', topic: 'dropped', reason: 'grant_revoked' },
        { type: 'unsubscribed', topic: 'jobs.eu', reason: 'grant_revoked' },
      ]),
    );
    expect(clients.framesOf('conn-regrant')).toHaveLength(2);
    expect((await subscriptions.subscriptionsOf('conn-regrant')).sort((a, b) => a.topic.localeCompare(b.topic))).toEqual([
      { topic: 'jobs', group: 'workers' },
      { topic: 'kept' },
      { topic: 'public' },
    ]);
    // The connection row's set, which the subscription limit counts, lost the ended topics too.
    const { Item } = await stack.db.send(new GetCommand({ TableName: stack.tableName, Key: { connectionId: 'conn-regrant' } }));
    expect([...(Item?.[SUBSCRIBED_TOPICS] as Set<string>)].sort()).toEqual(['jobs', 'kept', 'public']);
    // Where subscribe and publish read them from now on.
    expect(await connections.grantsOf('conn-regrant')).toEqual({ subscribe: ['kept', 'jobs*'], publish: ['kept'], groups: ['jobs#workers'] });
    await subscriptions.removeAllOf('conn-regrant');
  });

  it('answers jwt_not_enabled on a stack with JWT off, logging why, and leaves the expiry as it was', async () => {
    const before = nowSeconds() + 300;
    await open('conn-refresh-3', 'key-user', before);
    const logged: string[] = [];

    const reply = await refreshCredential(
      JSON.stringify({ action: 'authenticate', token: 'jwt', id: 'r3' }),
      { connectionId: 'conn-refresh-3', userId: 'key-user' },
      refreshing(undefined, { logRefusal: (why) => logged.push(why) }),
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
      refreshed ??= connections.refreshCredential('conn-refreshed', now + 3600, NO_GRANTS);
      await refreshed;
      await new Promise((resolve) => setTimeout(resolve, ms));
    };
    const outcomes = await expireCredentials(run({ sleep }));

    expect(outcomes).toMatchObject({ closed: 2, skipped: 1, gone: 1, failed: 0, deferred: 0 });
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

    const [first, second] = await Promise.all([expireCredentials(run()), expireCredentials(run())]);

    expect(first.closed + second.closed).toBe(1);
    expect(clients.framesOf('conn-overlap')).toEqual([expect.objectContaining({ code: 'credential_expired' })]);
  });

  it('refuses a refresh once the connection is closing for its expired credential', async () => {
    await open('conn-closing', 'dana', nowSeconds() - 1);
    const claim = await connections.claimClose('conn-closing', { reason: 'credential_expired', nowSeconds: nowSeconds(), until: nowSeconds() + 60, maxAttempts: 1 });
    expect(claim).toMatchObject({ attempt: 1, reason: 'credential_expired' });

    expect(await connections.refreshCredential('conn-closing', nowSeconds() + 3600, NO_GRANTS)).toBe(false);
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

    const outcomes = await closeRevokedKeyConnections(run());

    expect(outcomes).toMatchObject({ closed: 2, skipped: 0, gone: 1, failed: 0, deferred: 0 });
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
      closeRevokedKeyConnections(run()),
      closeRevokedKeyConnections(run()),
    ]);
    // The test's management API does not run $disconnect, so the row stays, claimed: later sweeps skip it.
    const third = await closeRevokedKeyConnections(run());

    expect(first.closed + second.closed).toBe(1);
    expect(third).toMatchObject({ closed: 0 });
    expect(clients.framesOf('conn-key-overlap')).toEqual([expect.objectContaining({ code: 'credential_revoked' })]);
  });

  it('leaves alone the connections of a key revoked longer ago than the sweep looks back', async () => {
    const key = await apiKeys.create({ userId: 'gus', scope: 'connect' });
    await openWithKey('conn-key-old-revocation', 'gus', key.record.keyId);
    await apiKeys.revoke(key.record.keyId, nowSeconds() - 16 * 60);

    await closeRevokedKeyConnections(run());

    expect(clients.info('conn-key-old-revocation')).toBeDefined();
  });
});

describe('the credential sweep under AWS errors', () => {
  const failures = () => managementApiServer.failures;
  const deletesOf = (connectionId: string) => failures().callsTo(connectionId, 'DELETE').filter((call) => call.status === 204).length;
  /** API Gateway runs $disconnect after DeleteConnection, which deletes the row and the subscriptions. */
  const disconnect = (connectionId: string) => removeConnection(connectionId, { connections, subscriptions });

  beforeAll(() => clients.runOnDisconnect(disconnect));
  afterEach(() => failures().clear());
  // A close a test did not wait for still runs its $disconnect: it must end before the tables stop.
  afterAll(async () => {
    await clients.disconnected();
    clients.runOnDisconnect(undefined);
  });

  it.each(['POST', 'DELETE'] as const)(
    'retries a close whose %s was throttled (429 after the SDK retries) on the next run, which closes the connection, telling it once',
    async (method) => {
      const connectionId = `conn-throttled-${method}`;
      await open(connectionId, 'hana', nowSeconds() - 1);
      failures().failConnection(connectionId, 429, { method, times: 2 });

      const first = await expireCredentials(run());

      expect(first.failures).toContainEqual({
        connectionId,
        reason: 'credential_expired',
        attempt: 1,
        abandoned: false,
        error: expect.stringContaining('LimitExceededException'),
      });
      expect(clients.info(connectionId)).toBeDefined();
      expect(await row(connectionId)).toMatchObject({ closing: 'credential_expired', closeAttempts: 1 });

      await expireCredentials(run());
      await clients.disconnected();

      expect(clients.info(connectionId)).toBeUndefined();
      expect(await row(connectionId)).toBeUndefined();
      expect(clients.framesOf(connectionId)).toEqual([expect.objectContaining({ type: 'error', code: 'credential_expired' })]);
      expect(deletesOf(connectionId)).toBe(1);
    },
  );

  it('refuses a refresh with a valid token while a failed close waits for its retry, and the retry closes the connection', async () => {
    await open('conn-retry-refresh', 'ivan', nowSeconds() - 1);
    failures().failConnection('conn-retry-refresh', 500, { times: 2 });
    await expireCredentials(run());

    const reply = await refreshCredential(
      JSON.stringify({ action: 'authenticate', token: 'jwt' }),
      { connectionId: 'conn-retry-refresh', userId: 'ivan' },
      refreshing(verifierSaying({ userId: 'ivan', expiresAt: nowSeconds() + 3600 })),
    );
    await expireCredentials(run());

    expect(JSON.parse(reply)).toMatchObject({ type: 'error', code: 'invalid_credential', message: 'this connection is closing' });
    expect(clients.info('conn-retry-refresh')).toBeUndefined();
  });

  it(`gives up after ${MAX_CLOSE_ATTEMPTS} failed attempts with an error log, stops delivering to the connection and leaves it to API Gateway`, async () => {
    const connectionId = 'conn-always-failing';
    await open(connectionId, 'jade', nowSeconds() - 1);
    await subscriptions.subscribe({ connectionId, topic: 'news', expiresAt: nowSeconds() + 3600 }, 100);
    failures().failConnection(connectionId, 500);
    for (let attempt = 1; attempt < MAX_CLOSE_ATTEMPTS; attempt += 1) {
      expect((await expireCredentials(run())).failures).toContainEqual(expect.objectContaining({ connectionId, attempt, abandoned: false }));
    }

    // The last attempt through the Lambda handler, for the log line an operator sees.
    const handler = loadHandler<(event: unknown, context: Context) => Promise<void>>('credential-sweep', {
      CONNECTIONS_TABLE_NAME: stack.tableName, CONNECTION_COUNTS_TABLE_NAME: stack.connectionCountsTableName,
      SUBSCRIPTIONS_TABLE_NAME: stack.subscriptionsTableName,
      API_KEYS_TABLE_NAME: stack.apiKeysTableName,
      MANAGEMENT_API_ENDPOINT: managementApiServer.endpoint,
      POWERTOOLS_LOG_LEVEL: 'WARN',
    });
    const logged: string[] = [];
    const capture = (text: string | Uint8Array) => void logged.push(String(text));
    const stdout = jest.spyOn(process.stdout, 'write').mockImplementation((text) => (capture(text), true));
    const stderr = jest.spyOn(process.stderr, 'write').mockImplementation((text) => (capture(text), true));
    try {
      await handler({}, { ...lambdaContext(), getRemainingTimeInMillis: () => 60_000 });
    } finally {
      stdout.mockRestore();
      stderr.mockRestore();
    }
    const callsBefore = failures().callsTo(connectionId).length;
    const afterwards = await expireCredentials(run());

    const lines = logged.flatMap((text) => text.split('\n')).filter((line) => line.startsWith('{')).map((line) => JSON.parse(line));
    expect(lines).toContainEqual(
      expect.objectContaining({
        level: 'ERROR',
        message: 'credential sweep gave up closing a connection',
        connectionId,
        reason: 'credential_expired',
        attempt: MAX_CLOSE_ATTEMPTS,
        abandoned: true,
        error: expect.stringContaining('InternalServerErrorException'),
      }),
    );
    expect(afterwards.failures).not.toContainEqual(expect.objectContaining({ connectionId }));
    expect(failures().callsTo(connectionId)).toHaveLength(callsBefore);
    const abandoned = await row(connectionId);
    expect(abandoned).toMatchObject({ closing: 'credential_expired', closeAttempts: MAX_CLOSE_ATTEMPTS });
    expect(abandoned).not.toHaveProperty('expiryBucket');
    expect(abandoned?.['expiresAt']).toBeLessThanOrEqual(nowSeconds());
    expect(await fanOutTargets('jade')).not.toContain(connectionId);
    expect((await subscriptions.plainSubscribers('news', undefined, { limit: 10 })).subscribers).toEqual([]);
    expect(await connections.refreshCredential(connectionId, nowSeconds() + 3600, NO_GRANTS)).toBe(false);
    expect(clients.info(connectionId)).toBeDefined();
  }, 20_000);

  it("works through a mass expiry larger than one run's time over successive runs, closing each connection once", async () => {
    const ids = Array.from({ length: 50 }, (_, i) => `conn-mass-${i}`);
    for (const id of ids) await open(id, 'kim', nowSeconds() - 5);
    // Each close takes a second of the run's clock, and a run has 10 s beside its reserve.
    let clock = Date.now();
    clients.runOnDisconnect((connectionId) => ((clock += 1000), disconnect(connectionId)));
    const runs: number[] = [];
    try {
      for (let i = 0; i < 10 && ids.some((id) => clients.info(id)); i += 1) {
        clock = Date.now();
        const report = await expireCredentials(run({ now: () => clock, deadline: clock + CLOSE_RESERVE_MS + 10_000 }));
        runs.push(report.closed);
      }
    } finally {
      clients.runOnDisconnect(disconnect);
    }
    await clients.disconnected();

    expect(runs.length).toBeGreaterThan(1);
    expect(runs[0]).toBeLessThan(ids.length);
    for (const id of ids) {
      expect(clients.info(id)).toBeUndefined();
      expect(clients.framesOf(id)).toEqual([expect.objectContaining({ code: 'credential_expired' })]);
      expect(deletesOf(id)).toBe(1);
    }
  }, 30_000);

  it('closes each connection once when sweeps overlap while their closes are being retried', async () => {
    const ids = Array.from({ length: 5 }, (_, i) => `conn-retry-overlap-${i}`);
    for (const id of ids) {
      await open(id, 'lena', nowSeconds() - 1);
      failures().failConnection(id, 429, { method: 'DELETE', times: 2 });
    }
    await expireCredentials(run());
    expect(ids.every((id) => clients.info(id))).toBe(true);

    await Promise.all([expireCredentials(run()), expireCredentials(run()), expireCredentials(run())]);

    for (const id of ids) {
      expect(clients.info(id)).toBeUndefined();
      expect(deletesOf(id)).toBe(1);
      expect(clients.framesOf(id)).toEqual([expect.objectContaining({ code: 'credential_expired' })]);
    }
  });

  it("retries a revoked key's failed close through the expiry index, after the key has left the revocation look-back", async () => {
    const key = await apiKeys.create({ userId: 'milo', scope: 'connect' });
    await connections.register({ connectionId: 'conn-key-retry', userId: 'milo', connectedAt: Date.now(), keyId: key.record.keyId });
    clients.connect('conn-key-retry');
    await apiKeys.revoke(key.record.keyId, nowSeconds() - 14 * 60);
    failures().failConnection('conn-key-retry', 500, { times: 2 });

    expect((await closeRevokedKeyConnections(run())).failures).toContainEqual(expect.objectContaining({ connectionId: 'conn-key-retry', attempt: 1 }));
    // Two minutes on, the key was revoked 16 minutes ago: only the expiry index still finds the connection.
    const later = () => Date.now() + 2 * 60_000;
    await closeRevokedKeyConnections(run({ now: later }));
    expect(clients.info('conn-key-retry')).toBeDefined();
    await expireCredentials(run({ now: later }));

    expect(clients.info('conn-key-retry')).toBeUndefined();
    expect(clients.framesOf('conn-key-retry')).toEqual([expect.objectContaining({ code: 'credential_revoked' })]);
  });
});

/** The connections a notification to the user is fanned out to. */
async function fanOutTargets(userId: string): Promise<string[]> {
  const targets: string[] = [];
  for await (const page of connections.connectionIdsOf(userId)) targets.push(...page);
  return targets;
}
