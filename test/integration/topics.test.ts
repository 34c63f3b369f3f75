import { BatchWriteCommand, GetCommand, QueryCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { ConnectionTable, removeConnection } from '../../lambdas/core/connections';
import type { WebSocketEvent } from '../../lambdas/transport/events';
import type { Context, SQSBatchResponse, SQSEvent } from 'aws-lambda';
import { InvalidMessageError } from '../../lambdas/core/messages';
import { StreamTable, topicStreamKey } from '../../lambdas/core/streams';
import { chooseMember, CONNECTION_INDEX, DEFAULT_MAX_SUBSCRIPTIONS_PER_CONNECTION, type Subscription, SubscriptionTable } from '../../lambdas/core/subscriptions';
import { fanOutToTopic, type TopicFanOutDeps } from '../../lambdas/core/topic-fan-out';
import { acceptEvents } from '../../lambdas/core/events-ingress';
import type { TopicCaller } from '../../lambdas/core/identity';
import { publishFromClient, subscribe } from '../../lambdas/core/topic-frames';
import { type CloudEvent, MAX_GROUPS_PER_TOPIC, type PublishMessage, type TopicPage } from '../../lambdas/core/topics';
import { RecordedMetrics } from '../support/recorded-metrics';
import { type ManagementApiServer, RecordingConnections, startManagementApi } from '../support/management-api-server';
import { loadHandler } from '../support/load-handler';
import { afterVisibilityTimeout, createQueuePair, drain, enqueue, type QueuePair, receiveAll, type StackUnderTest, startStackUnderTest, takeAll } from '../support/stack-under-test';

type SqsHandler = (event: SQSEvent, context: Context) => Promise<SQSBatchResponse>;

let stack: StackUnderTest;
let subscriptions: SubscriptionTable;
let publish: QueuePair;
let topicPages: QueuePair;
let topicPagesQueueUrl: string;
let managementApi: ManagementApiServer;
const clients = new RecordingConnections();
const inAnHour = () => Math.floor(Date.now() / 1000) + 3600;

beforeAll(async () => {
  stack = await startStackUnderTest();
  subscriptions = new SubscriptionTable(stack.db, stack.subscriptionsTableName, stack.tableName);
  publish = await createQueuePair(stack.sqs, 'Publish');
  topicPages = await createQueuePair(stack.sqs, 'TopicPages');
  topicPagesQueueUrl = topicPages.url;
  managementApi = await startManagementApi(clients, 'live');
}, 60_000);

afterAll(async () => {
  await managementApi?.stop();
  await stack?.stop();
});

function deps(overrides: Partial<TopicFanOutDeps> = {}): TopicFanOutDeps {
  return { subscriptions, sqs: stack.sqs, notifyConnectionQueueUrl: stack.notifyConnection.url, topicPagesQueueUrl, metrics: new RecordedMetrics(), ...overrides };
}

function event(type: string, id = `e-${Math.random().toString(36).slice(2)}`): CloudEvent {
  return { specversion: '1.0', id, source: 'https://test.example', type };
}

/** The deliveries the fan-out enqueued, by connection id. */
async function deliveredTo(): Promise<string[]> {
  const messages = await takeAll(stack.sqs, stack.notifyConnection.url);
  return messages.map((message) => (JSON.parse(message.Body as string) as { connectionId: string }).connectionId).sort();
}

/** Opens the connection (its row) unless the test did, and subscribes it. */
async function subscribed(subscription: Subscription): Promise<void> {
  await opened(subscription.connectionId);
  await subscriptions.subscribe(subscription, DEFAULT_MAX_SUBSCRIPTIONS_PER_CONNECTION);
}

/** A connection's row, as `$connect` writes it, unless it is there already. */
async function opened(connectionId: string): Promise<void> {
  await stack.db.send(
    new UpdateCommand({
      TableName: stack.tableName,
      Key: { connectionId },
      UpdateExpression: 'SET userId = if_not_exists(userId, :user), connectedAt = if_not_exists(connectedAt, :now)',
      ExpressionAttributeValues: { ':user': 'u-topics', ':now': Date.now() },
    }),
  );
}

async function continuations(): Promise<TopicPage[]> {
  return (await takeAll(stack.sqs, topicPagesQueueUrl)).map((message) => JSON.parse(message.Body as string) as TopicPage);
}

async function topicRows(topicKey: string): Promise<string[]> {
  const { Items = [] } = await stack.db.send(
    new QueryCommand({ TableName: stack.subscriptionsTableName, KeyConditionExpression: 'topicKey = :k', ExpressionAttributeValues: { ':k': topicKey } }),
  );
  return Items.map((item) => item['connectionId'] as string);
}

describe('the subscription table', () => {
  it('keeps one subscription per connection and topic: a grouped one replaces a plain one and back', async () => {
    await subscribed({ connectionId: 'c-1', topic: 'swap', expiresAt: inAnHour() });
    await subscribed({ connectionId: 'c-1', topic: 'swap', group: 'g', expiresAt: inAnHour() });

    expect(await topicRows('s#swap')).toEqual([]);
    expect(await topicRows('g#swap')).toEqual(['c-1']);

    await subscriptions.unsubscribe('c-1', 'swap', undefined);
    expect(await topicRows('g#swap')).toEqual([]);
  });

  it("keeps tenants' topics apart", async () => {
    await subscribed({ connectionId: 'c-acme', topic: 'news', tenant: 'acme', expiresAt: inAnHour() });

    expect((await subscriptions.plainSubscribers('news', 'acme', { limit: 10 })).subscribers).toEqual([{ connectionId: 'c-acme' }]);
    expect((await subscriptions.plainSubscribers('news', 'globex', { limit: 10 })).subscribers).toEqual([]);
    expect((await subscriptions.plainSubscribers('news', undefined, { limit: 10 })).subscribers).toEqual([]);
  });

  it('skips subscriptions past their expiry, which TTL removes lazily', async () => {
    await subscribed({ connectionId: 'c-stale', topic: 'stale', expiresAt: Math.floor(Date.now() / 1000) - 1 });

    expect((await subscriptions.plainSubscribers('stale', undefined, { limit: 10 })).subscribers).toEqual([]);
  });

  it("removes all of a connection's subscriptions, in batches of 25", async () => {
    for (let index = 0; index < 30; index++) {
      await subscribed({ connectionId: 'c-many', topic: `t${index}`, ...(index % 2 === 0 && { group: 'g' }), expiresAt: inAnHour() });
    }

    await subscriptions.removeAllOf('c-many');

    const { Count } = await stack.db.send(
      new QueryCommand({
        TableName: stack.subscriptionsTableName,
        IndexName: CONNECTION_INDEX,
        KeyConditionExpression: 'connectionId = :c',
        ExpressionAttributeValues: { ':c': 'c-many' },
        Select: 'COUNT',
      }),
    );
    expect(Count).toBe(0);
  });
});

describe('joining a group', () => {
  const caller = (groups: string[]): TopicCaller => ({ connectionId: 'c-joiner', userId: 'u-joiner', connectedAt: Date.now(), grants: { subscribe: ['jobs'], publish: [], groups } });
  const ask = (groups: string[], group: string) =>
    subscribe(JSON.stringify({ action: 'subscribe', topic: 'jobs', group, id: 'j' }), caller(groups), { subscriptions, maxSubscriptionsPerConnection: 10 }).then((reply) => JSON.parse(reply));

  it('refuses, with forbidden_group, a connection that may read the topic but holds no grant for the group, and stores nothing', async () => {
    expect(await ask([], 'workers')).toEqual({ type: 'error', code: 'forbidden_group', message: 'this connection may not join the group "workers" of "jobs"', id: 'j' });
    expect(await ask(['jobs#auditors'], 'workers')).toMatchObject({ code: 'forbidden_group' });

    expect(await topicRows('g#jobs')).toEqual([]);
    expect(await topicRows('s#jobs')).toEqual([]);
  });

  it('lets a connection whose grant names the group, or its topic, join it', async () => {
    await opened('c-joiner');
    expect(await ask(['jobs#workers'], 'workers')).toMatchObject({ type: 'subscribed', group: 'workers' });
    expect(await ask(['jobs'], 'others')).toMatchObject({ type: 'subscribed', group: 'others' });
    await subscriptions.unsubscribe('c-joiner', 'jobs', undefined);
  });
});

describe("a connection's subscription limit", () => {
  const limited = () => ({ subscriptions, maxSubscriptionsPerConnection: 3 });
  const caller = (connectionId: string, tenant?: string): TopicCaller => ({
    connectionId,
    userId: 'u-limit',
    ...(tenant !== undefined && { tenant }),
    connectedAt: Date.now(),
    grants: { subscribe: ['*'], publish: [], groups: ['*'] },
  });
  const ask = async (connectionId: string, frame: object, tenant?: string) => {
    await opened(connectionId);
    return JSON.parse(await subscribe(JSON.stringify({ action: 'subscribe', ...frame }), caller(connectionId, tenant), limited()));
  };

  it('refuses a subscription beyond the limit and stores nothing, but lets a held topic be subscribed again', async () => {
    for (const topic of ['l1', 'l2', 'l3']) expect(await ask('c-limit', { topic })).toMatchObject({ type: 'subscribed', topic });

    expect(await ask('c-limit', { topic: 'l4', id: 'x' })).toEqual({
      type: 'error',
      code: 'too_many_subscriptions',
      message: 'a connection may hold 3 subscriptions: unsubscribe from one first',
      id: 'x',
    });
    expect(await topicRows('s#l4')).toEqual([]);
    // Re-subscribing replaces a subscription (here with a group): it adds none.
    expect(await ask('c-limit', { topic: 'l2', group: 'g' })).toMatchObject({ type: 'subscribed', topic: 'l2', group: 'g' });

    await subscriptions.unsubscribe('c-limit', 'l1', undefined);
    expect(await ask('c-limit', { topic: 'l4' })).toMatchObject({ type: 'subscribed', topic: 'l4' });
  });

  it("counts a connection's own subscriptions only", async () => {
    for (const topic of ['o1', 'o2', 'o3']) await ask('c-other', { topic });

    expect(await ask('c-fresh', { topic: 'o1' })).toMatchObject({ type: 'subscribed' });
  });

  it('applies to tenant-keyed topics alike', async () => {
    for (const topic of ['t1', 't2', 't3']) await ask('c-tenant', { topic }, 'acme');

    expect(await ask('c-tenant', { topic: 't4' }, 'acme')).toMatchObject({ code: 'too_many_subscriptions' });
    expect(await ask('c-tenant', { topic: 't3', events: ['a.*'] }, 'acme')).toMatchObject({ type: 'subscribed' });
  });
});

describe('subscriptions under bursts and races (DynamoDB transactions)', () => {
  const caller = (connectionId: string): TopicCaller => ({ connectionId, userId: 'u-burst', connectedAt: Date.now(), grants: { subscribe: ['*'], publish: [], groups: ['*'] } });
  const countOf = async (connectionId: string) => {
    const { Count } = await stack.db.send(
      new QueryCommand({
        TableName: stack.subscriptionsTableName,
        IndexName: CONNECTION_INDEX,
        KeyConditionExpression: 'connectionId = :c',
        ExpressionAttributeValues: { ':c': connectionId },
        Select: 'COUNT',
      }),
    );
    return Count;
  };
  const topicsHeld = async (connectionId: string) => {
    const { Item } = await stack.db.send(new GetCommand({ TableName: stack.tableName, Key: { connectionId }, ConsistentRead: true }));
    return Item?.['subscribedTopics'] === undefined ? 0 : (Item['subscribedTopics'] as Set<string>).size;
  };

  it('stores exactly the limit of 400 subscribe frames sent at once on one connection, and refuses the rest', async () => {
    await opened('c-burst');
    const deps = { subscriptions, maxSubscriptionsPerConnection: 100 };

    const replies = await Promise.all(
      Array.from({ length: 400 }, (_, index) =>
        subscribe(JSON.stringify({ action: 'subscribe', topic: `burst-${index}` }), caller('c-burst'), deps).then((reply) => JSON.parse(reply) as { type: string; code?: string }),
      ),
    );

    expect(replies.filter((reply) => reply.type === 'subscribed')).toHaveLength(100);
    expect(replies.filter((reply) => reply.code === 'too_many_subscriptions')).toHaveLength(300);
    expect(await countOf('c-burst')).toBe(100);
    expect(await topicsHeld('c-burst')).toBe(100);
  }, 60_000);

  it('keeps the count exact through unsubscribes, re-subscribes and a switch to a group: it never drifts', async () => {
    await opened('c-drift');
    const ask = (frame: object) => subscribe(JSON.stringify({ action: 'subscribe', ...frame }), caller('c-drift'), { subscriptions, maxSubscriptionsPerConnection: 2 });
    await ask({ topic: 'd1' });
    await ask({ topic: 'd1', group: 'g' });
    await ask({ topic: 'd1', events: ['x'] });
    await subscriptions.unsubscribe('c-drift', 'd2', undefined);
    expect(await topicsHeld('c-drift')).toBe(1);

    await Promise.all([ask({ topic: 'd2' }), ask({ topic: 'd2', group: 'g' }), subscriptions.unsubscribe('c-drift', 'd1', undefined), subscriptions.unsubscribe('c-drift', 'd1', undefined)]);
    expect(await topicsHeld('c-drift')).toBe(1);
    expect(JSON.parse(await ask({ topic: 'd3' }))).toMatchObject({ type: 'subscribed' });
    expect(JSON.parse(await ask({ topic: 'd4' }))).toMatchObject({ code: 'too_many_subscriptions' });
  });

  it('stores nothing for a subscribe that arrives after its connection was removed, and answers connection_closed', async () => {
    await opened('c-closed');
    await removeConnection('c-closed', { connections: new ConnectionTable(stack.db, stack.tableName), subscriptions });

    const reply = JSON.parse(await subscribe(JSON.stringify({ action: 'subscribe', topic: 'late' }), caller('c-closed'), { subscriptions, maxSubscriptionsPerConnection: 100 }));

    expect(reply).toMatchObject({ type: 'error', code: 'connection_closed' });
    expect(await topicRows('s#late')).toEqual([]);
    // Nor does the failed condition leave a row behind for the connection.
    expect((await stack.db.send(new GetCommand({ TableName: stack.tableName, Key: { connectionId: 'c-closed' } }))).Item).toBeUndefined();
  });

  it("leaves no subscription behind when 400 subscribes race the connection's $disconnect", async () => {
    const disconnect = loadHandler<(event: WebSocketEvent) => Promise<unknown>>('disconnect', {
      CONNECTIONS_TABLE_NAME: stack.tableName, CONNECTION_COUNTS_TABLE_NAME: stack.connectionCountsTableName,
      SUBSCRIPTIONS_TABLE_NAME: stack.subscriptionsTableName,
    });
    await opened('c-race');
    const deps = { subscriptions, maxSubscriptionsPerConnection: 1000 };
    const subscribes = Array.from({ length: 400 }, (_, index) =>
      subscribe(JSON.stringify({ action: 'subscribe', topic: `race-${index}`, ...(index % 3 === 0 && { group: 'g' }) }), caller('c-race'), deps),
    );

    // $disconnect lands in the middle of the burst, once some subscriptions are stored.
    await Promise.race(subscribes);
    await disconnect({ requestContext: { connectionId: 'c-race', routeKey: '$disconnect', eventType: 'DISCONNECT', connectedAt: Date.now(), stage: 'live', domainName: 'localhost', requestId: 'r' } });
    const replies = (await Promise.all(subscribes)).map((reply) => JSON.parse(reply) as { type: string; code?: string });

    // Both orders happened: subscribes before the removal (stored, then removed by it) and after it (refused).
    expect(replies.filter((reply) => reply.type === 'subscribed').length).toBeGreaterThan(0);
    expect(replies.filter((reply) => reply.code === 'connection_closed').length).toBeGreaterThan(0);
    expect(replies.every((reply) => reply.type === 'subscribed' || reply.code === 'connection_closed')).toBe(true);
    expect(await countOf('c-race')).toBe(0);
    expect(await topicRows('s#race-1')).toEqual([]);
  }, 60_000);
});

describe('choosing a group member', () => {
  const members = ['a', 'b', 'c', 'd'].map((connectionId) => ({ connectionId }));

  it('picks the same member for the same event, whatever the order of the members', () => {
    expect(chooseMember(members, 'source\0id-1')).toEqual(chooseMember([...members].reverse(), 'source\0id-1'));
  });

  it('spreads events over the members', () => {
    const counts = new Map<string, number>();
    for (let index = 0; index < 400; index++) {
      const { connectionId } = chooseMember(members, `source\0id-${index}`)!;
      counts.set(connectionId, (counts.get(connectionId) ?? 0) + 1);
    }
    expect([...counts.values()].every((count) => count > 50)).toBe(true);
  });

  it('picks nobody from an empty group', () => {
    expect(chooseMember([], 'x')).toBeUndefined();
  });
});

describe('the topic fan-out', () => {
  it("pages a large topic: one page per message, the rest enqueued on the fan-out's own queue, one TopicEvents", async () => {
    for (let index = 0; index < 7; index++) {
      await subscribed({ connectionId: `p-${index}`, topic: 'big', expiresAt: inAnHour() });
    }
    await subscribed({ connectionId: 'p-group-member', topic: 'big', group: 'g', expiresAt: inAnHour() });
    const message: PublishMessage = { topic: 'big', event: event('x') };

    const all: string[] = [];
    const metrics = new RecordedMetrics();
    let outcome = await fanOutToTopic(message, deps({ pageSize: 3, metrics }));
    let pages = 1;
    all.push(...(await deliveredTo()));
    while (outcome.continued) {
      const pending = await continuations();
      expect(pending).toEqual([{ ...message, after: expect.any(String) }]);
      const { after, ...rest } = pending[0]!;
      outcome = await fanOutToTopic(rest, deps({ pageSize: 3, metrics }), { after });
      pages += 1;
      all.push(...(await deliveredTo()));
    }
    expect(await continuations()).toEqual([]);

    expect(pages).toBe(3);
    expect(all.sort()).toEqual(['p-0', 'p-1', 'p-2', 'p-3', 'p-4', 'p-5', 'p-6', 'p-group-member']);
    // The event is counted once, on its first page, not once per continuation.
    expect(metrics.valuesOf('TopicEvents')).toEqual([1]);
  });

  it('requires a tenant in a multi-tenant stack, and refuses one in a single-tenant stack, enqueueing nothing', async () => {
    const metrics = new RecordedMetrics();
    await expect(fanOutToTopic({ topic: 'news', event: event('x') }, deps({ tenantClaim: 'org', metrics }))).rejects.toThrow(InvalidMessageError);
    await expect(fanOutToTopic({ topic: 'news', tenant: 'acme', event: event('x') }, deps({ metrics }))).rejects.toThrow(/no tenants/);
    expect(await deliveredTo()).toEqual([]);
    // Refused events are dead-lettered, not counted as taken for fan-out.
    expect(metrics.valuesOf('TopicEvents')).toEqual([]);
  });

  it("takes, on a multi-tenant stack, a public topic's event that names no tenant, for the subscribers of no tenant (anonymous) only", async () => {
    await subscribed({ connectionId: 'anon-1', topic: 'status', expiresAt: inAnHour() });
    await subscribed({ connectionId: 'acme-1', topic: 'status', tenant: 'acme', expiresAt: inAnHour() });
    const multiTenant = { tenantClaim: 'org', publicTopics: ['status'] };

    await fanOutToTopic({ topic: 'status', event: event('x') }, deps(multiTenant));
    expect(await deliveredTo()).toEqual(['anon-1']);
    await fanOutToTopic({ topic: 'status', tenant: 'acme', event: event('x') }, deps(multiTenant));
    expect(await deliveredTo()).toEqual(['acme-1']);
    // A topic that is not public still needs its tenant.
    await expect(fanOutToTopic({ topic: 'status', event: event('x') }, deps({ tenantClaim: 'org', publicTopics: ['news'] }))).rejects.toThrow(/name the topic's tenant/);
  });

  it('refuses, before enqueueing anything, an event whose frame API Gateway could not deliver', async () => {
    await subscribed({ connectionId: 'c-huge', topic: 'huge', expiresAt: inAnHour() });

    const huge = { ...event('x'), data: 'x'.repeat(130 * 1024) };
    await expect(fanOutToTopic({ topic: 'huge', event: huge }, deps())).rejects.toMatchObject({ reason: 'payload_too_large' });
    expect(await deliveredTo()).toEqual([]);
  });

  it("appends each event once to the topic's stream, on its first page, and carries seq and epoch through the pages to every delivery", async () => {
    for (let index = 0; index < 5; index++) await subscribed({ connectionId: `s-${index}`, topic: 'streamed', expiresAt: inAnHour() });
    const streams = new StreamTable(stack.db, stack.streamsTableName, { ttlSeconds: 3600, maxEntries: 1000 });
    const withStreams = () => deps({ pageSize: 3, streams });
    const fanOutAll = async (message: PublishMessage, messageId: string) => {
      let outcome = await fanOutToTopic(message, withStreams(), undefined, { messageId, sentAt: Date.now(), retried: false });
      const deliveries = await takeAll(stack.sqs, stack.notifyConnection.url);
      while (outcome.continued) {
        const [page] = await continuations();
        const { after, seq, epoch, ...rest } = page!;
        expect({ seq, epoch }).toEqual({ seq: outcome.position?.seq ?? seq, epoch: expect.any(String) });
        outcome = await fanOutToTopic(rest, withStreams(), { after, seq, epoch });
        deliveries.push(...(await takeAll(stack.sqs, stack.notifyConnection.url)));
      }
      return deliveries.map((delivery) => JSON.parse(delivery.Body as string) as { seq: number; epoch: string });
    };

    const first = await fanOutAll({ topic: 'streamed', event: event('x', 'ev-1') }, 'msg-1');
    const second = await fanOutAll({ topic: 'streamed', event: event('x', 'ev-2') }, 'msg-2');
    // Nobody subscribed: the event is appended all the same.
    await fanOutAll({ topic: 'streamed-nobody', event: event('x', 'ev-3') }, 'msg-3');

    expect(first).toHaveLength(5);
    expect(new Set(first.map(({ seq, epoch }) => `${seq}/${epoch}`))).toEqual(new Set([`1/${first[0]?.epoch}`]));
    expect(second.every(({ seq, epoch }) => seq === 2 && epoch === first[0]?.epoch)).toBe(true);
    const newest = await streams.newest(topicStreamKey('streamed', undefined));
    expect(newest).toMatchObject({ seq: 2, messageId: 'msg-2' });
    expect(JSON.parse(newest?.content ?? '')).toEqual({ topic: 'streamed', event: expect.objectContaining({ id: 'ev-2' }) });
    expect(await streams.newest(topicStreamKey('streamed-nobody', undefined))).toMatchObject({ seq: 1 });
  });
});

describe('the topic fan-out function', () => {
  let topicFanOut: SqsHandler;
  let notifyConnection: SqsHandler;
  const subscribeAll = async (topic: string) => {
    for (const connectionId of ['h-1', 'h-2', 'h-3']) await subscribed({ connectionId: `${topic}-${connectionId}`, topic, expiresAt: inAnHour() });
    await subscribed({ connectionId: `${topic}-member`, topic, group: 'g', expiresAt: inAnHour() });
  };

  beforeAll(() => {
    topicFanOut = loadHandler('topic-fan-out', {
      SUBSCRIPTIONS_TABLE_NAME: stack.subscriptionsTableName,
      NOTIFY_CONNECTION_QUEUE_URL: stack.notifyConnection.url,
      TOPIC_PAGES_QUEUE_URL: topicPages.url,
      TOPIC_PAGES_QUEUE_ARN: topicPages.arn,
      DEAD_LETTER_QUEUE_URL: publish.deadLetterUrl,
    });
    notifyConnection = loadHandler('notify-connection', {
      CONNECTIONS_TABLE_NAME: stack.tableName, CONNECTION_COUNTS_TABLE_NAME: stack.connectionCountsTableName,
      SUBSCRIPTIONS_TABLE_NAME: stack.subscriptionsTableName,
      MANAGEMENT_API_ENDPOINT: managementApi.endpoint,
      DEAD_LETTER_QUEUE_URL: stack.notifyConnection.deadLetterUrl,
    });
  });

  it('pages 1,100 group members like plain subscribers, 1,000 a page over 2 invocations, and sends each group its member chosen over all of them', async () => {
    const groupOf = (index: number) => ['a', 'b', '__proto__'][index % 3]!;
    const members = Array.from({ length: 1100 }, (_, index) => ({ connectionId: `gm-${String(index).padStart(4, '0')}`, group: groupOf(index) }));
    // Written straight to the table, as subscribe stores them: the fan-out reads nothing else.
    const rows = [...members, { connectionId: 'gm-filtered', group: 'filtered' }].map(({ connectionId, group }) => ({
      topicKey: 'g#crowd',
      connectionId,
      group,
      expiresAt: inAnHour(),
      ...(group === 'filtered' && { events: ['other'] }),
    }));
    await Promise.all(
      Array.from({ length: Math.ceil(rows.length / 25) }, (_, batch) =>
        stack.db.send(new BatchWriteCommand({ RequestItems: { [stack.subscriptionsTableName]: rows.slice(batch * 25, batch * 25 + 25).map((Item) => ({ PutRequest: { Item } })) } })),
      ),
    );

    for (const id of ['crowd-1', 'crowd-2', 'crowd-3']) {
      const published = event('x', id);
      await enqueue(stack.sqs, publish.url, JSON.stringify({ topic: 'crowd', event: published }));
      const first = await drain(stack, publish, topicFanOut);
      const continued = await receiveAll(stack.sqs, topicPages.url);
      expect(continued.map((page) => JSON.parse(page.Body as string))).toEqual([
        // The Publish queue's event, stamped as a backend's on its first page.
        { topic: 'crowd', event: { ...published, wsnpublisher: 'backend' }, groups: { after: 'gm-0999', chosen: expect.any(Array) } },
      ]);
      await afterVisibilityTimeout();
      const second = await drain(stack, topicPages, topicFanOut);

      expect([first.batches, second.batches]).toEqual([1, 1]);
      expect(await continuations()).toEqual([]);
      const expected = ['a', 'b', '__proto__'].map((group) => chooseMember(members.filter((member) => member.group === group), `https://test.example\0${id}`)!.connectionId);
      expect(await deliveredTo()).toEqual(expected.sort());
    }
  }, 60_000);

  it('dead-letters as too_many_groups an event whose topic has more groups than a page can carry the choices of', async () => {
    const rows = Array.from({ length: MAX_GROUPS_PER_TOPIC + 1 }, (_, index) => ({ topicKey: 'g#cliques', connectionId: `cl-${index}`, group: `g${index}`, expiresAt: inAnHour() }));
    for (let start = 0; start < rows.length; start += 25) {
      await stack.db.send(new BatchWriteCommand({ RequestItems: { [stack.subscriptionsTableName]: rows.slice(start, start + 25).map((Item) => ({ PutRequest: { Item } })) } }));
    }

    await enqueue(stack.sqs, publish.url, JSON.stringify({ topic: 'cliques', event: event('x') }));
    expect(await drain(stack, publish, topicFanOut)).toMatchObject({ processed: 1, failedMessageIds: [] });

    expect(await deliveredTo()).toEqual([]);
    const deadLetters = await takeAll(stack.sqs, publish.deadLetterUrl);
    expect(deadLetters.map((m) => m.MessageAttributes?.['ErrorCode']?.StringValue)).toEqual(['too_many_groups']);
  });

  it('ignores a page cursor ("after") on a Publish message, as any unknown field: every subscriber and the group get the event', async () => {
    await subscribeAll('cursor');

    // Were "after" read, the fan-out would start after cursor-h-2 and skip the groups.
    await enqueue(stack.sqs, publish.url, JSON.stringify({ topic: 'cursor', event: event('x'), after: 'cursor-h-2' }));
    const result = await drain(stack, publish, topicFanOut);

    expect(result).toMatchObject({ processed: 1, failedMessageIds: [] });
    expect(await deliveredTo()).toEqual(['cursor-h-1', 'cursor-h-2', 'cursor-h-3', 'cursor-member']);
    expect(await continuations()).toEqual([]);
  });

  it("continues from a cursor on the fan-out's own queue only: the subscribers after it, and no groups", async () => {
    await subscribeAll('paged');

    await enqueue(stack.sqs, topicPages.url, JSON.stringify({ topic: 'paged', event: { ...event('x'), wsnpublisher: 'backend' }, after: 'paged-h-2' }));
    const result = await drain(stack, topicPages, topicFanOut);

    expect(result).toMatchObject({ processed: 1, failedMessageIds: [] });
    expect(await deliveredTo()).toEqual(['paged-h-3']);
  });

  it("takes a stamped page with no cursor on the fan-out's own queue as the event's first: every subscriber and the group; one with only a groups cursor, the group's members alone", async () => {
    await subscribeAll('stamped');

    await enqueue(stack.sqs, topicPages.url, JSON.stringify({ topic: 'stamped', event: { ...event('x'), wsnpublisher: 'user:alice' } }));
    expect(await drain(stack, topicPages, topicFanOut)).toMatchObject({ processed: 1, failedMessageIds: [] });
    expect(await deliveredTo()).toEqual(['stamped-h-1', 'stamped-h-2', 'stamped-h-3', 'stamped-member']);

    // The plain subscribers were reached on earlier pages: only the groups go on.
    await enqueue(stack.sqs, topicPages.url, JSON.stringify({ topic: 'stamped', event: { ...event('y'), wsnpublisher: 'backend' }, groups: { chosen: [] } }));
    expect(await drain(stack, topicPages, topicFanOut)).toMatchObject({ processed: 1, failedMessageIds: [] });
    expect(await deliveredTo()).toEqual(['stamped-member']);
    expect(await continuations()).toEqual([]);
  });

  it("stamps a Publish message's event as a backend's, and dead-letters at once, as reserved_source, one that claims to come from the server", async () => {
    await subscribed({ connectionId: 'stamp-1', topic: 'stamp', expiresAt: inAnHour() });
    clients.connect('stamp-1');
    const spoofedSource = JSON.stringify({ topic: 'stamp', event: { ...event('x'), source: 'ws-notify:user:alice' } });
    const spoofedPublisher = JSON.stringify({ topic: 'stamp', event: { ...event('x'), wsnpublisher: 'user:alice' } });
    const honest = event('x');

    await enqueue(stack.sqs, publish.url, spoofedSource, spoofedPublisher, JSON.stringify({ topic: 'stamp', event: honest }));
    const result = await drain(stack, publish, topicFanOut);
    await drain(stack, stack.notifyConnection, notifyConnection);

    expect(result).toMatchObject({ processed: 3, failedMessageIds: [] });
    expect(clients.framesOf('stamp-1')).toEqual([{ type: 'event', topic: 'stamp', event: { ...honest, wsnpublisher: 'backend' } }]);
    const deadLetters = await takeAll(stack.sqs, publish.deadLetterUrl);
    expect(deadLetters.map((m) => [m.Body, m.MessageAttributes?.['ErrorCode']?.StringValue]).sort()).toEqual(
      [[spoofedSource, 'reserved_source'], [spoofedPublisher, 'reserved_source']].sort(),
    );
  });

  it("delivers a client's publish with the publisher the server stamped: the user, on the fan-out's own queue", async () => {
    await subscribed({ connectionId: 'stamp-2', topic: 'chat', expiresAt: inAnHour() });
    clients.connect('stamp-2');
    const alice: TopicCaller = { connectionId: 'c-alice', userId: 'alice', connectedAt: Date.now(), grants: { subscribe: [], publish: ['chat'], groups: [] } };

    const reply = JSON.parse(await publishFromClient('{"action":"publish","topic":"chat","event":{"type":"said"}}', alice, { sqs: stack.sqs, topicPagesQueueUrl }));
    await drain(stack, topicPages, topicFanOut);
    await drain(stack, stack.notifyConnection, notifyConnection);

    expect(clients.framesOf('stamp-2')).toEqual([
      { type: 'event', topic: 'chat', event: expect.objectContaining({ id: reply.eventId, source: 'ws-notify:user:alice', wsnpublisher: 'user:alice' }) },
    ]);
  });

  it("dead-letters a message on the fan-out's own queue whose event has no publisher", async () => {
    await enqueue(stack.sqs, topicPages.url, JSON.stringify({ topic: 'stamp', event: event('x') }));
    expect(await drain(stack, topicPages, topicFanOut)).toMatchObject({ processed: 1, failedMessageIds: [] });

    const deadLetters = await takeAll(stack.sqs, publish.deadLetterUrl);
    expect(deadLetters.map((m) => m.MessageAttributes?.['ErrorCode']?.StringValue)).toEqual(['invalid_message']);
  });

  it('dead-letters a Publish message nested 20,000 deep at once as too_deep, and fans out its sibling', async () => {
    await subscribeAll('deep');
    const deep = `{"topic":"deep","event":{"specversion":"1.0","id":"d","source":"/s","type":"t","data":${'['.repeat(20_000) + ']'.repeat(20_000)}}}`;

    await enqueue(stack.sqs, publish.url, deep, JSON.stringify({ topic: 'deep', event: event('x') }));
    const result = await drain(stack, publish, topicFanOut);

    expect(result).toMatchObject({ processed: 2, failedMessageIds: [] });
    expect(await deliveredTo()).toHaveLength(4);
    const deadLetters = await takeAll(stack.sqs, publish.deadLetterUrl);
    expect(deadLetters.map((m) => [m.Body, m.MessageAttributes?.['ErrorCode']?.StringValue])).toEqual([[deep, 'too_deep']]);
  });

  it('delivers an event whose data and extension attributes hold __proto__ keys exactly as sent', async () => {
    await subscribed({ connectionId: 'proto-1', topic: 'proto', expiresAt: inAnHour() });
    clients.connect('proto-1');
    const data = '{"__proto__":{"isAdmin":true},"items":[{"__proto__":null}]}';
    const extension = '{"__proto__":"x"}';

    await enqueue(stack.sqs, publish.url, `{"topic":"proto","event":{"specversion":"1.0","id":"p","source":"/s","type":"t","data":${data},"ext":${extension}}}`);
    await drain(stack, publish, topicFanOut);
    await drain(stack, stack.notifyConnection, notifyConnection);

    const [frame, ...others] = clients.framesOf('proto-1') as { event: Record<string, unknown> }[];
    expect(others).toEqual([]);
    expect(JSON.stringify(frame?.event['data'])).toBe(data);
    expect(JSON.stringify(frame?.event['ext'])).toBe(extension);
  });
});

describe('JSON nested too deep from clients and the events ingress', () => {
  const deep = (levels: number) => '['.repeat(levels) + ']'.repeat(levels);
  const caller: TopicCaller = { connectionId: 'c-deep', userId: 'u-deep', connectedAt: Date.now(), grants: { subscribe: ['*'], publish: ['*'], groups: [] } };

  it('answers a publish or subscribe frame nested 20,000 deep with a too_deep error frame, and enqueues nothing', async () => {
    const publishing = await publishFromClient(`{"action":"publish","id":7,"topic":"t","event":{"type":"x","data":${deep(20_000)}}}`, caller, { sqs: stack.sqs, topicPagesQueueUrl });
    const subscribing = await subscribe(`{"action":"subscribe","topic":"t","events":${deep(20_000)}}`, caller, { subscriptions, maxSubscriptionsPerConnection: 10 });

    expect(JSON.parse(publishing)).toEqual({ type: 'error', code: 'too_deep', message: 'the frame nests objects and arrays more than 64 deep', id: 7 });
    expect(JSON.parse(subscribing)).toMatchObject({ type: 'error', code: 'too_deep' });
    expect(await takeAll(stack.sqs, topicPagesQueueUrl)).toEqual([]);
  });

  it('refuses with 400 too_deep a body nested 20,000 deep, and an event whose frame would nest deeper than 64, enqueueing nothing', async () => {
    const post = (event: string) =>
      acceptEvents('t', { headers: { 'content-type': 'application/cloudevents+json' }, body: event }, { kind: 'iam' }, { sqs: stack.sqs, topicPagesQueueUrl });
    const attributes = '"specversion":"1.0","id":"1","source":"/s","type":"t"';

    const tooDeep = await post(`{${attributes},"data":${deep(20_000)}}`);
    // {"type":"event","event":{…,"data":…}}: data 63 deep makes a frame 65 deep.
    const frameTooDeep = await post(`{${attributes},"data":${deep(63)}}`);
    const deepest = await post(`{${attributes},"data":${deep(62)}}`);

    expect([tooDeep.statusCode, JSON.parse(tooDeep.body).error]).toEqual([400, 'too_deep']);
    expect([frameTooDeep.statusCode, JSON.parse(frameTooDeep.body).error]).toEqual([400, 'too_deep']);
    expect(deepest.statusCode).toBe(202);
    expect(await takeAll(stack.sqs, topicPagesQueueUrl)).toHaveLength(1);
  });
});

