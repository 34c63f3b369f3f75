import type { ApiGatewayManagementApiClient } from '@aws-sdk/client-apigatewaymanagementapi';
import { GetCommand, QueryCommand } from '@aws-sdk/lib-dynamodb';
import type { Context } from 'aws-lambda';
import { ConnectionTable } from '../../lambdas/core/connections';
import { KEEPALIVE_PERIOD_MINUTES, keepaliveSlot, sendKeepalives } from '../../lambdas/core/keepalive';
import { CONNECTION_INDEX, SubscriptionTable } from '../../lambdas/core/subscriptions';
import type { WebSocketEvent, WebSocketResult } from '../../lambdas/transport/events';
import { connectEventFor } from '../support/events';
import { loadHandler } from '../support/load-handler';
import { managementApiClient } from '../support/management-api-client';
import { type ManagementApiServer, RecordingConnections, startManagementApi } from '../support/management-api-server';
import { CONNECTION_LIMITS_ENV, type StackUnderTest, startStackUnderTest } from '../support/stack-under-test';

type Connect = (event: WebSocketEvent) => Promise<WebSocketResult>;

let stack: StackUnderTest;
let connections: ConnectionTable;
let subscriptions: SubscriptionTable;
let managementApiServer: ManagementApiServer;
let managementApi: ApiGatewayManagementApiClient;
const clients = new RecordingConnections();

beforeAll(async () => {
  stack = await startStackUnderTest();
  connections = new ConnectionTable(stack.db, stack.tableName, stack.connectionCountsTableName);
  subscriptions = new SubscriptionTable(stack.db, stack.subscriptionsTableName, stack.tableName);
  managementApiServer = await startManagementApi(clients, 'live');
  managementApi = managementApiClient(managementApiServer.endpoint, { maxAttempts: 1 });
}, 60_000);

afterAll(async () => {
  managementApi?.destroy();
  await managementApiServer?.stop();
  await stack?.stop();
});

/** The `$connect` function as the construct configures it: public topic `news`, public group `news#readers`. */
function connectHandler(env: Record<string, string> = {}): Connect {
  return loadHandler<Connect>('connect', {
    CONNECTIONS_TABLE_NAME: stack.tableName,
    CONNECTION_COUNTS_TABLE_NAME: stack.connectionCountsTableName,
    SUBSCRIPTIONS_TABLE_NAME: stack.subscriptionsTableName,
    PUBLIC_TOPICS: JSON.stringify(['news']),
    PUBLIC_GROUPS: JSON.stringify(['news#readers']),
    KEEPALIVE: 'requested',
    ...CONNECTION_LIMITS_ENV,
    ...env,
  });
}

let sequence = 0;
/** A `$connect` event as API Gateway sends it after the authorizer passed `authorizer` on (grants as JSON strings). */
function connecting(query: Record<string, string>, authorizer: Record<string, string | boolean> = {}): WebSocketEvent {
  const event = connectEventFor(`conn-ro-${++sequence}`, `user-ro-${sequence}`);
  event.queryStringParameters = query;
  event.requestContext.authorizer = { ...event.requestContext.authorizer, ...authorizer };
  return event;
}

async function subscriptionsOf(connectionId: string): Promise<Record<string, unknown>[]> {
  const { Items = [] } = await stack.db.send(
    new QueryCommand({
      TableName: stack.subscriptionsTableName,
      IndexName: CONNECTION_INDEX,
      KeyConditionExpression: 'connectionId = :id',
      ExpressionAttributeValues: { ':id': connectionId },
    }),
  );
  const rows = await Promise.all(
    Items.map(async (key) => (await stack.db.send(new GetCommand({ TableName: stack.subscriptionsTableName, Key: { topicKey: key['topicKey'], connectionId } }))).Item),
  );
  return rows.map((row) => ({ topic: row?.['topic'], events: row?.['events'], group: row?.['group'], tenant: row?.['tenant'], topicKey: row?.['topicKey'] }));
}

async function rowOf(connectionId: string): Promise<Record<string, unknown> | undefined> {
  return (await stack.db.send(new GetCommand({ TableName: stack.tableName, Key: { connectionId }, ConsistentRead: true }))).Item;
}

const byTopic = (rows: Record<string, unknown>[]) => [...rows].sort((a, b) => String(a['topic']).localeCompare(String(b['topic'])));

describe('subscribing at $connect (?subscribe=, the autoSubscribe grant)', () => {
  let connect: Connect;
  beforeAll(() => {
    connect = connectHandler();
  });

  it('subscribes to every topic of ?subscribe with the ?events filters, granted or public, before the upgrade completes', async () => {
    const event = connecting({ subscribe: 'orders,news', events: 'order.*,news.breaking' }, { topics: JSON.stringify(['orders']) });

    await expect(connect(event)).resolves.toMatchObject({ statusCode: 200 });

    const { connectionId } = event.requestContext;
    expect(byTopic(await subscriptionsOf(connectionId))).toEqual([
      { topic: 'news', events: ['order.*', 'news.breaking'], topicKey: 's#news' },
      { topic: 'orders', events: ['order.*', 'news.breaking'], topicKey: 's#orders' },
    ]);
    // The row's set, which the subscription limit counts and $disconnect removes by.
    expect((await rowOf(connectionId))?.['subscribedTopics']).toEqual(new Set(['orders', 'news']));
    expect((await subscriptions.plainSubscribers('orders', undefined, { limit: 10 })).subscribers).toContainEqual({ connectionId, events: ['order.*', 'news.breaking'] });
  });

  it('joins ?group on its topics when the groups grant lets it', async () => {
    const event = connecting({ subscribe: 'jobs', group: 'workers' }, { topics: JSON.stringify(['jobs']), groups: JSON.stringify(['jobs#workers']) });

    await expect(connect(event)).resolves.toMatchObject({ statusCode: 200 });

    expect((await subscriptions.groupMembers('jobs', undefined, { limit: 10 })).members).toContainEqual({ connectionId: event.requestContext.connectionId, group: 'workers' });
  });

  it("subscribes the credential's autoSubscribe topics (and <topic>#<group>) with no query, and lets the query's subscription replace the grant's for a topic", async () => {
    const event = connecting(
      { subscribe: 'alerts', events: 'alert.high' },
      { topics: JSON.stringify(['alerts', 'jobs', 'status.*']), groups: JSON.stringify(['jobs#*']), autoSubscribe: JSON.stringify(['alerts', 'jobs#workers', 'status.eu']) },
    );

    await expect(connect(event)).resolves.toMatchObject({ statusCode: 200 });

    expect(byTopic(await subscriptionsOf(event.requestContext.connectionId))).toEqual([
      { topic: 'alerts', events: ['alert.high'], topicKey: 's#alerts' },
      { topic: 'jobs', group: 'workers', topicKey: 'g#jobs' },
      { topic: 'status.eu', topicKey: 's#status.eu' },
    ]);
  });

  it("subscribes within the connection's tenant", async () => {
    const event = connecting({ subscribe: 'orders' }, { topics: JSON.stringify(['orders']), tenant: 'acme' });

    await expect(connect(event)).resolves.toMatchObject({ statusCode: 200 });

    expect(await subscriptionsOf(event.requestContext.connectionId)).toEqual([{ topic: 'orders', tenant: 'acme', topicKey: 'sacme#orders' }]);
  });

  it('lets an anonymous connection subscribe to public topics and groups only', async () => {
    const publicOnes = connecting({ subscribe: 'news', group: 'readers' }, { anonymous: true });
    const granted = connecting({ subscribe: 'orders' }, { anonymous: true });

    await expect(connect(publicOnes)).resolves.toMatchObject({ statusCode: 200 });
    await expect(connect(granted)).resolves.toMatchObject({ statusCode: 403 });

    expect(await subscriptionsOf(publicOnes.requestContext.connectionId)).toEqual([{ topic: 'news', group: 'readers', topicKey: 'g#news' }]);
  });

  it.each([
    ['a topic the grants do not cover', { subscribe: 'orders,secret' }, {}, 403, 'forbidden_topic', 'this connection may not subscribe to "secret"'],
    ['a group the grants do not cover', { subscribe: 'orders', group: 'admins' }, {}, 403, 'forbidden_group', 'this connection may not join the group "admins" of "orders"'],
    ['an autoSubscribe topic the grants do not cover', {}, { autoSubscribe: JSON.stringify(['payroll']) }, 403, 'forbidden_topic', 'this connection may not subscribe to "payroll"'],
    ['a topic that is not one', { subscribe: 'orders,a b' }, {}, 400, 'invalid_subscription', expect.stringContaining('a topic is 1-128 letters')],
    ['an empty ?subscribe', { subscribe: '' }, {}, 400, 'invalid_subscription', expect.stringContaining('?subscribe')],
    ['?events without ?subscribe', { events: 'order.*' }, {}, 400, 'invalid_subscription', '?events and ?group apply to the topics of ?subscribe, which is missing'],
  ])('refuses the connection for %s, and stores nothing', async (_case, query, authorizer, statusCode, code, message) => {
    const event = connecting(query, { topics: JSON.stringify(['orders']), ...authorizer });

    const result = await connect(event);

    expect(result.statusCode).toBe(statusCode);
    expect(JSON.parse(result.body ?? '')).toEqual({ error: code, message });
    expect(await rowOf(event.requestContext.connectionId)).toBeUndefined();
    expect(await subscriptionsOf(event.requestContext.connectionId)).toEqual([]);
  });

  it('makes the most it takes at connect, 50, in the one transaction with the row and the counts', async () => {
    const topics = Array.from({ length: 50 }, (_, index) => `bulk.t${index}`);
    const event = connecting({ subscribe: topics.join(',') }, { topics: JSON.stringify(['bulk.*']), keyId: 'key-bulk' });

    await expect(connect(event)).resolves.toMatchObject({ statusCode: 200 });

    expect(await subscriptionsOf(event.requestContext.connectionId)).toHaveLength(50);
    expect((await rowOf(event.requestContext.connectionId))?.['subscribedTopics']).toEqual(new Set(topics));
  });

  it("refuses more topics than the connection's subscription limit with too_many_subscriptions", async () => {
    const limited = connectHandler({ MAX_SUBSCRIPTIONS_PER_CONNECTION: '2' });
    const event = connecting({ subscribe: 'a,b,c' }, { topics: JSON.stringify(['*']) });

    const result = await limited(event);

    expect(result).toMatchObject({ statusCode: 400 });
    expect(JSON.parse(result.body ?? '')).toMatchObject({ error: 'too_many_subscriptions' });
    expect(await rowOf(event.requestContext.connectionId)).toBeUndefined();
  });

  it("stores no subscription for a connection refused at its user's connection limit (one transaction)", async () => {
    const limited = connectHandler({ MAX_CONNECTIONS_PER_USER: '1' });
    const first = connecting({ subscribe: 'orders' }, { topics: JSON.stringify(['orders']), userId: 'user-at-limit' });
    const second = connecting({ subscribe: 'orders' }, { topics: JSON.stringify(['orders']), userId: 'user-at-limit' });

    await expect(limited(first)).resolves.toMatchObject({ statusCode: 200 });
    await expect(limited(second)).resolves.toMatchObject({ statusCode: 429 });

    expect(await subscriptionsOf(second.requestContext.connectionId)).toEqual([]);
    expect(await rowOf(second.requestContext.connectionId)).toBeUndefined();
  });

  it('removes the subscriptions made at connect when the connection goes', async () => {
    const event = connecting({ subscribe: 'orders,news' }, { topics: JSON.stringify(['orders']) });
    await connect(event);

    await connections.remove(event.requestContext.connectionId).then((removed) => subscriptions.removeAllOf(event.requestContext.connectionId, removed));

    expect(await subscriptionsOf(event.requestContext.connectionId)).toEqual([]);
  });
});

describe('asking for keepalives at $connect', () => {
  it('gives a slot to a connection that asks (?keepalive=1, or its credential), and none to one that does not', async () => {
    const connect = connectHandler();
    const byQuery = connecting({ keepalive: '1' });
    const byCredential = connecting({}, { keepalive: 'true' });
    const without = connecting({});

    for (const event of [byQuery, byCredential, without]) await expect(connect(event)).resolves.toMatchObject({ statusCode: 200 });

    for (const event of [byQuery, byCredential]) {
      const { connectionId, connectedAt } = event.requestContext;
      expect((await rowOf(connectionId))?.['keepaliveSlot']).toBe(keepaliveSlot(connectionId, connectedAt));
    }
    expect(await rowOf(without.requestContext.connectionId)).not.toHaveProperty('keepaliveSlot');
  });

  it("gives every connection a slot where the stack's keepalive is all", async () => {
    const event = connecting({});

    await expect(connectHandler({ KEEPALIVE: 'all' })(event)).resolves.toMatchObject({ statusCode: 200 });

    expect(await rowOf(event.requestContext.connectionId)).toHaveProperty('keepaliveSlot');
  });

  it('refuses ?keepalive=1 on a stack without keepalives (400), and a value that is not 1 or 0', async () => {
    const off = connecting({ keepalive: '1' });
    const unclear = connecting({ keepalive: 'yes' });

    const refusedOff = await connectHandler({ KEEPALIVE: 'off' })(off);
    const refusedUnclear = await connectHandler()(unclear);

    expect(refusedOff.statusCode).toBe(400);
    expect(JSON.parse(refusedOff.body ?? '')).toMatchObject({ error: 'keepalive_not_enabled' });
    expect(refusedUnclear.statusCode).toBe(400);
    expect(JSON.parse(refusedUnclear.body ?? '')).toMatchObject({ error: 'invalid_keepalive' });
    expect(await rowOf(off.requestContext.connectionId)).toBeUndefined();
  });
});

describe('the keepalive sweep', () => {
  /**
   * A minute whose slot the connections the tests above made (this minute or the next) are not
   * in; the tests below use the two after it.
   */
  const scheduledAt = (Math.floor(Date.now() / 60_000) + 3) * 60_000;

  /** A keepalive connection in the slot of `slotTime`, live for 2 hours unless `expired`, open at the management API unless not `open`. */
  async function keepaliveConnection(connectionId: string, slotTime: number, { open = true, expired = false } = {}): Promise<void> {
    await connections.register({
      connectionId,
      userId: `user-${connectionId}`,
      connectedAt: expired ? Date.now() - 3 * 3600_000 : Date.now(),
      keepaliveSlot: keepaliveSlot(connectionId, slotTime),
    });
    if (open) clients.connect(connectionId);
  }

  it("posts {\"type\":\"keepalive\"} to exactly the due slot's live connections, and removes one that is gone (410) with its subscriptions", async () => {
    const due = ['ka-due-1', 'ka-due-2', 'ka-due-3'];
    for (const id of due) await keepaliveConnection(id, scheduledAt);
    // Connected a period earlier: the same slot.
    await keepaliveConnection('ka-due-earlier', scheduledAt - KEEPALIVE_PERIOD_MINUTES * 60_000);
    await keepaliveConnection('ka-next-minute', scheduledAt + 60_000);
    await keepaliveConnection('ka-past-lifetime', scheduledAt, { expired: true });
    await keepaliveConnection('ka-gone', scheduledAt, { open: false });
    await subscriptions.subscribe({ connectionId: 'ka-gone', topic: 'orders', expiresAt: Math.floor(Date.now() / 1000) + 3600 }, 100);
    await connections.register({ connectionId: 'ka-without', userId: 'user-without', connectedAt: scheduledAt });
    clients.connect('ka-without', 'ka-past-lifetime');

    const report = await sendKeepalives(scheduledAt, { connections, subscriptions, managementApi, deadline: Date.now() + 30_000 });

    expect(report).toMatchObject({ sent: 4, gone: 1, failed: 0, deferred: 0 });
    for (const id of [...due, 'ka-due-earlier']) expect(clients.framesOf(id)).toEqual([{ type: 'keepalive' }]);
    for (const id of ['ka-next-minute', 'ka-past-lifetime', 'ka-without']) expect(clients.framesOf(id)).toEqual([]);
    expect(await rowOf('ka-gone')).toBeUndefined();
    expect(await subscriptionsOf('ka-gone')).toEqual([]);
  });

  it('runs as the scheduled function, for the minute EventBridge scheduled it', async () => {
    const minute = scheduledAt + 2 * 60_000;
    await keepaliveConnection('ka-handler', minute);
    const handler = loadHandler<(event: { time: string }, context: Context) => Promise<void>>('keepalive', {
      CONNECTIONS_TABLE_NAME: stack.tableName,
      CONNECTION_COUNTS_TABLE_NAME: stack.connectionCountsTableName,
      SUBSCRIPTIONS_TABLE_NAME: stack.subscriptionsTableName,
      MANAGEMENT_API_ENDPOINT: managementApiServer.endpoint,
    });

    // EventBridge's time is the minute, not the second the run starts.
    await handler({ time: new Date(minute + 40_000).toISOString().replace(/\.\d{3}Z$/, 'Z') }, { getRemainingTimeInMillis: () => 30_000 } as Context);

    expect(clients.framesOf('ka-handler')).toEqual([{ type: 'keepalive' }]);
  });

  it('posts nothing past its deadline, and reports those connections deferred', async () => {
    const minute = scheduledAt + 3 * 60_000;
    await keepaliveConnection('ka-late', minute);

    const report = await sendKeepalives(minute, { connections, subscriptions, managementApi, deadline: Date.now() });

    expect(report).toMatchObject({ sent: 0, deferred: 1 });
    expect(clients.framesOf('ka-late')).toEqual([]);
  });
});
