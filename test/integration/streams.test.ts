import { ConditionalCheckFailedException, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, QueryCommand } from '@aws-sdk/lib-dynamodb';
import type { Context, SQSBatchResponse, SQSEvent } from 'aws-lambda';
import { type StreamEntry, StreamTable, topicStreamKey, userStreamKey } from '../../lambdas/core/streams';
import { DEFAULT_MAX_SUBSCRIPTIONS_PER_CONNECTION, SubscriptionTable } from '../../lambdas/core/subscriptions';
import type { WebSocketEvent, WebSocketResult } from '../../lambdas/transport/events';
import { connectEventFor, messageEventWith } from '../support/events';
import { loadHandler } from '../support/load-handler';
import { type ManagementApiServer, RecordingConnections, startManagementApi } from '../support/management-api-server';
import { CONNECTION_LIMITS_ENV, drain, enqueue, type StackUnderTest, startStackUnderTest, streamsEnvironment } from '../support/stack-under-test';

type WebSocketHandler = (event: WebSocketEvent) => Promise<WebSocketResult>;
type SqsHandler = (event: SQSEvent, context: Context) => Promise<SQSBatchResponse>;

let stack: StackUnderTest;
let managementApi: ManagementApiServer;
const clients = new RecordingConnections();
let connect: WebSocketHandler;
let notifyUser: SqsHandler;
let notifyConnection: SqsHandler;

const DAY = 24 * 60 * 60;
const settings = { ttlSeconds: DAY, maxEntries: 1000 };
const origin = (messageId: string, retried = false) => ({ messageId, sentAt: Date.now(), retried });

beforeAll(async () => {
  stack = await startStackUnderTest();
  managementApi = await startManagementApi(clients, 'live');
  const table = { CONNECTIONS_TABLE_NAME: stack.tableName, CONNECTION_COUNTS_TABLE_NAME: stack.connectionCountsTableName };
  const subscriptions = { SUBSCRIPTIONS_TABLE_NAME: stack.subscriptionsTableName };
  connect = loadHandler('connect', { ...table, ...subscriptions, ...CONNECTION_LIMITS_ENV });
  notifyUser = loadHandler('notify-user', {
    ...table,
    ...subscriptions,
    ...streamsEnvironment(stack),
    MANAGEMENT_API_ENDPOINT: managementApi.endpoint,
    NOTIFY_CONNECTION_QUEUE_URL: stack.notifyConnection.url,
    DEAD_LETTER_QUEUE_URL: stack.notifyUser.deadLetterUrl,
  });
  notifyConnection = loadHandler('notify-connection', {
    ...table,
    ...subscriptions,
    MANAGEMENT_API_ENDPOINT: managementApi.endpoint,
    DEAD_LETTER_QUEUE_URL: stack.notifyConnection.deadLetterUrl,
  });
}, 60_000);

afterAll(async () => {
  await managementApi?.stop();
  await stack?.stop();
});

async function storedEntries(stream: string): Promise<StreamEntry[]> {
  const { Items = [] } = await stack.db.send(
    new QueryCommand({ TableName: stack.streamsTableName, KeyConditionExpression: '#s = :s', ExpressionAttributeNames: { '#s': 'stream' }, ExpressionAttributeValues: { ':s': stream }, ConsistentRead: true }),
  );
  return Items as StreamEntry[];
}

async function connectAs(userId: string, connectionId: string): Promise<void> {
  expect((await connect(connectEventFor(connectionId, userId))).statusCode).toBe(200);
  clients.connect(connectionId);
}

/** A real client that counts the DynamoDB calls it sends, and those refused by their condition. */
function countingClient() {
  const calls = { Query: 0, PutItem: 0, conditionFailed: 0 };
  const db = DynamoDBDocumentClient.from(new DynamoDBClient({}));
  db.middlewareStack.add(
    (next, context) => async (args) => {
      const name = context.commandName?.replace(/Command$/, '') as keyof typeof calls;
      if (name in calls) calls[name] += 1;
      try {
        return await next(args);
      } catch (error) {
        if (error instanceof ConditionalCheckFailedException) calls.conditionFailed += 1;
        throw error;
      }
    },
    { step: 'initialize' },
  );
  return { db, calls };
}

describe('appending to a stream', () => {
  it('costs one consistent Query of one item and one PutItem per append when nobody else appends', async () => {
    const { db, calls } = countingClient();
    const table = new StreamTable(db, stack.streamsTableName, settings);

    for (let n = 0; n < 20; n += 1) await table.append(userStreamKey('alone', undefined), { n }, origin(`alone-${n}`));

    expect(calls).toEqual({ Query: 20, PutItem: 20, conditionFailed: 0 });
    db.destroy();
  });

  it('numbers 1,000 entries appended by 10 concurrent appenders 1..1000 exactly, in one epoch, with one item per entry', async () => {
    const stream = userStreamKey('concurrent', undefined);
    // Ten appenders, as ten Lambda invocations would be: each its own table client state.
    const counted = countingClient();
    const appenders = Array.from({ length: 10 }, () => new StreamTable(counted.db, stack.streamsTableName, settings));

    const positions = (
      await Promise.all(
        appenders.map(async (appender, a) => {
          const mine = [];
          for (let i = 0; i < 100; i += 1) mine.push(await appender.append(stream, { n: `${a}-${i}` }, origin(`m-${a}-${i}`)));
          return mine;
        }),
      )
    ).flat();

    expect(positions.map((p) => p.seq).sort((x, y) => x - y)).toEqual(Array.from({ length: 1000 }, (_, i) => i + 1));
    expect(new Set(positions.map((p) => p.epoch)).size).toBe(1);
    const stored = await storedEntries(stream);
    expect(stored).toHaveLength(1000);
    expect(new Set(stored.map((entry) => JSON.parse(entry.content).n)).size).toBe(1000);
    // What contention costs: every lost race is a refused PutItem (a write unit) and one more Query.
    process.stdout.write(`10 appenders x 100: ${JSON.stringify(counted.calls)} for 1000 entries\n`);
    counted.db.destroy();
  }, 180_000);

  it('keeps the epoch while the stream holds a live entry, and starts a new one (at the next seq) once its newest entry expired', async () => {
    let now = Date.now();
    const table = new StreamTable(stack.db, stack.streamsTableName, { ttlSeconds: 60, maxEntries: 1000 }, () => now);
    const stream = userStreamKey('epochs', undefined);

    const first = await table.append(stream, { n: 1 }, origin('e-1'));
    const second = await table.append(stream, { n: 2 }, origin('e-2'));
    now += 61_000;
    const third = await table.append(stream, { n: 3 }, origin('e-3'));
    const fourth = await table.append(stream, { n: 4 }, origin('e-4'));

    expect([first.seq, second.seq, third.seq, fourth.seq]).toEqual([1, 2, 3, 4]);
    expect(second.epoch).toBe(first.epoch);
    expect(third.epoch).not.toBe(first.epoch);
    expect(fourth.epoch).toBe(third.epoch);
    expect((await table.newest(stream))?.epochStart).toBe(3);
  });

  it('starts at seq 1 with a new epoch when every entry of the stream is gone', async () => {
    const table = new StreamTable(stack.db, stack.streamsTableName, settings);
    const a = await table.append(userStreamKey('fresh-a', undefined), { n: 1 }, origin('f-1'));
    const b = await table.append(userStreamKey('fresh-b', undefined), { n: 1 }, origin('f-2'));

    expect([a.seq, b.seq]).toEqual([1, 1]);
    expect(a.epoch).not.toBe(b.epoch);
  });

  it('returns the entry a retried message appended before, instead of appending it again', async () => {
    const table = new StreamTable(stack.db, stack.streamsTableName, settings);
    const stream = userStreamKey('retried', undefined);
    const sent = Date.now();
    const appended = await table.append(stream, { n: 1 }, { messageId: 'r-1', sentAt: sent, retried: false });
    await table.append(stream, { n: 2 }, origin('r-2'));

    const again = await table.append(stream, { n: 1 }, { messageId: 'r-1', sentAt: sent, retried: true });
    const unseen = await table.append(stream, { n: 3 }, { messageId: 'r-3', sentAt: sent, retried: true });

    expect(again).toEqual(appended);
    expect(unseen.seq).toBe(3);
    expect(await storedEntries(stream)).toHaveLength(3);
  });

  it('keeps a user per tenant apart: the same user id in two tenants has two streams', async () => {
    expect(userStreamKey('u', 'a:b')).not.toBe(userStreamKey('u:b', 'a'));
    expect(userStreamKey('u', undefined)).not.toBe(userStreamKey('u', ''.padEnd(1, 'x')));
  });
});

describe('notify-user with streams on', () => {
  it('appends every notification to the user stream, also with no connection, and sends frames with stream, seq and epoch', async () => {
    await enqueue(stack.sqs, stack.notifyUser.url, JSON.stringify({ userId: 'offline', data: { n: 1 } }), JSON.stringify({ userId: 'offline', data: { n: 2 } }));
    await drain(stack, stack.notifyUser, notifyUser);
    await connectAs('online', 'conn-online-1');
    await connectAs('online', 'conn-online-2');
    await enqueue(stack.sqs, stack.notifyUser.url, JSON.stringify({ userId: 'online', id: 'n-1', data: { hello: 1 } }));
    await drain(stack, stack.notifyUser, notifyUser);

    const offline = await storedEntries(userStreamKey('offline', undefined));
    expect(offline.map((entry) => entry.seq)).toEqual([1, 2]);
    // One batch's records are fanned out at once: either may take seq 1.
    expect(offline.map((entry) => JSON.parse(entry.content).data).sort((a, b) => a.n - b.n)).toEqual([{ n: 1 }, { n: 2 }]);
    const [entry] = await storedEntries(userStreamKey('online', undefined));
    for (const connectionId of ['conn-online-1', 'conn-online-2']) {
      expect(clients.framesOf(connectionId)).toEqual([
        { type: 'notification', id: 'n-1', time: expect.any(String), data: { hello: 1 }, stream: 'user', seq: 1, epoch: entry?.epoch },
      ]);
    }
    expect(JSON.parse(entry?.content ?? '')).toEqual({ id: 'n-1', time: expect.any(String), data: { hello: 1 } });
  });

  it('carries seq and epoch through the NotifyConnection queue to a user with many connections', async () => {
    const ids = Array.from({ length: 12 }, (_, i) => `conn-many-${i}`);
    for (const id of ids) await connectAs('many', id);
    await enqueue(stack.sqs, stack.notifyUser.url, JSON.stringify({ userId: 'many', data: 'a' }), JSON.stringify({ userId: 'many', data: 'b' }));

    await drain(stack, stack.notifyUser, notifyUser);
    await drain(stack, stack.notifyConnection, notifyConnection);

    const [first] = await storedEntries(userStreamKey('many', undefined));
    for (const id of ids) {
      const frames = clients.framesOf(id) as { seq: number; epoch: string; stream: string; data: string }[];
      expect(frames.map((frame) => [frame.data, frame.seq]).sort()).toEqual([['a', 1], ['b', 2]].sort());
      expect(frames.every((frame) => frame.stream === 'user' && frame.epoch === first?.epoch)).toBe(true);
    }
  });

  it('sends a backend NotifyConnection message with no stream fields', async () => {
    await connectAs('direct', 'conn-direct');
    await enqueue(stack.sqs, stack.notifyConnection.url, JSON.stringify({ connectionId: 'conn-direct', data: 'just this one' }));

    await drain(stack, stack.notifyConnection, notifyConnection);

    expect(clients.framesOf('conn-direct')).toEqual([{ type: 'notification', id: expect.any(String), time: expect.any(String), data: 'just this one' }]);
  });

  it('appends nothing and sends no stream fields on a stack without history', async () => {
    const withoutHistory = loadHandler<SqsHandler>('notify-user', {
      CONNECTIONS_TABLE_NAME: stack.tableName,
      CONNECTION_COUNTS_TABLE_NAME: stack.connectionCountsTableName,
      SUBSCRIPTIONS_TABLE_NAME: stack.subscriptionsTableName,
      MANAGEMENT_API_ENDPOINT: managementApi.endpoint,
      NOTIFY_CONNECTION_QUEUE_URL: stack.notifyConnection.url,
      DEAD_LETTER_QUEUE_URL: stack.notifyUser.deadLetterUrl,
    });
    await connectAs('plain', 'conn-plain');
    await enqueue(stack.sqs, stack.notifyUser.url, JSON.stringify({ userId: 'plain', id: 'p-1', data: 1 }));

    await drain(stack, stack.notifyUser, withoutHistory);

    expect(clients.framesOf('conn-plain')).toEqual([{ type: 'notification', id: 'p-1', time: expect.any(String), data: 1 }]);
    expect(await storedEntries(userStreamKey('plain', undefined))).toEqual([]);
  });
});

describe('resume, history and subscribe from a position', () => {
  const envFor = (overrides: Record<string, string> = {}) => ({
    CONNECTIONS_TABLE_NAME: stack.tableName,
    SUBSCRIPTIONS_TABLE_NAME: stack.subscriptionsTableName,
    MAX_SUBSCRIPTIONS_PER_CONNECTION: String(DEFAULT_MAX_SUBSCRIPTIONS_PER_CONNECTION),
    MANAGEMENT_API_ENDPOINT: managementApi.endpoint,
    ...streamsEnvironment(stack, overrides),
  });
  const route = (name: string, overrides?: Record<string, string>) => loadHandler<WebSocketHandler>(name, envFor(overrides));
  const table = () => new StreamTable(stack.db, stack.streamsTableName, settings);

  /** A frame from a connection of `userId` that may subscribe to `topics`. */
  function frameFrom(connectionId: string, userId: string, body: object, topics: string[] = []): WebSocketEvent {
    const event = messageEventWith(JSON.stringify(body), String((body as { action: string }).action));
    event.requestContext.connectionId = connectionId;
    event.requestContext.connectedAt = Date.now();
    event.requestContext.authorizer = { principalId: userId, userId, topics: JSON.stringify(topics) };
    return event;
  }

  /** What the connection was posted, then the reply: in the order the client receives them. */
  async function ask(handler: WebSocketHandler, connectionId: string, userId: string, body: object, topics?: string[]) {
    clients.frames.delete(connectionId);
    const reply = await handler(frameFrom(connectionId, userId, body, topics));
    return [...clients.framesOf(connectionId), JSON.parse(reply.body ?? 'null')] as Record<string, unknown>[];
  }

  async function notifyOffline(userId: string, count: number): Promise<string> {
    const appender = table();
    let epoch = '';
    for (let n = 1; n <= count; n += 1) {
      ({ epoch } = await appender.append(userStreamKey(userId, undefined), { id: `${userId}-${n}`, time: new Date().toISOString(), data: { n } }, origin(`${userId}-m${n}`)));
    }
    return epoch;
  }

  it('replays everything to a client resuming from 0, in seq order and marked replay, then answers resumed recovered from 1 to n', async () => {
    const epoch = await notifyOffline('resumer', 5);
    clients.connect('conn-resumer');

    const frames = await ask(route('resume'), 'conn-resumer', 'resumer', { action: 'resume', id: 'r1', streams: { user: { seq: 0 } } });

    expect(frames.slice(0, 5)).toEqual(
      [1, 2, 3, 4, 5].map((n) => ({ type: 'notification', id: `resumer-${n}`, time: expect.any(String), data: { n }, stream: 'user', seq: n, epoch, replay: true })),
    );
    expect(frames[5]).toEqual({ type: 'resumed', stream: 'user', recovered: true, from: 1, to: 5, id: 'r1' });
  });

  it('replays exactly what follows a position, and nothing (from = to + 1) to a client that missed nothing', async () => {
    const epoch = await notifyOffline('partial', 6);
    clients.connect('conn-partial');
    const resume = route('resume');

    const missed = await ask(resume, 'conn-partial', 'partial', { action: 'resume', streams: { user: { epoch, seq: 4 } } });
    const none = await ask(resume, 'conn-partial', 'partial', { action: 'resume', streams: { user: { epoch, seq: 6 } } });

    expect(missed.map((frame) => frame['seq'] ?? frame['type'])).toEqual([5, 6, 'resumed']);
    expect(missed[2]).toMatchObject({ recovered: true, from: 5, to: 6 });
    expect(none).toEqual([{ type: 'resumed', stream: 'user', recovered: true, from: 7, to: 6 }]);
  });

  it('answers recovered:false epoch_changed, replaying nothing, to a position of another epoch', async () => {
    await notifyOffline('epochal', 3);
    clients.connect('conn-epochal');

    const frames = await ask(route('resume'), 'conn-epochal', 'epochal', { action: 'resume', streams: { user: { epoch: 'not-this-one', seq: 1 } } });

    expect(frames).toEqual([{ type: 'resumed', stream: 'user', recovered: false, reason: 'epoch_changed' }]);
  });

  it('answers recovered:false retention, replaying what is still kept, when entries after the position expired', async () => {
    const stream = userStreamKey('expiring', undefined);
    const appendedAgo = (seconds: number) => new StreamTable(stack.db, stack.streamsTableName, { ttlSeconds: 60, maxEntries: 1000 }, () => Date.now() - seconds * 1000);
    // Entry 1 expired 10 s ago (TTL has not reaped it); entry 2, appended while 1 was live, is kept 40 s more.
    const { epoch } = await appendedAgo(70).append(stream, { id: 'x-1', time: 't', data: 1 }, origin('exp-1'));
    await appendedAgo(20).append(stream, { id: 'x-2', time: 't', data: 2 }, origin('exp-2'));
    clients.connect('conn-expiring');

    const frames = await ask(route('resume'), 'conn-expiring', 'expiring', { action: 'resume', streams: { user: { seq: 0 } } });

    expect(frames).toEqual([expect.objectContaining({ seq: 2, epoch, replay: true }), { type: 'resumed', stream: 'user', recovered: false, reason: 'retention', from: 2, to: 2 }]);
  });

  it('starts a new epoch where the history was lost: from 0 replays the new epoch, a position in the old one is answered epoch_changed', async () => {
    const stream = userStreamKey('retention', undefined);
    // Two entries appended two days ago (expired: TTL has not reaped them yet), three now.
    const old = new StreamTable(stack.db, stack.streamsTableName, settings, () => Date.now() - 2 * DAY * 1000);
    await old.append(stream, { id: 'old-1', time: 't', data: 1 }, origin('ret-1'));
    const { epoch } = await old.append(stream, { id: 'old-2', time: 't', data: 2 }, origin('ret-2'));
    const { epoch: now } = await table().append(stream, { id: 'new-3', time: 't', data: 3 }, origin('ret-3'));
    clients.connect('conn-retention');

    const frames = await ask(route('resume'), 'conn-retention', 'retention', { action: 'resume', streams: { user: { seq: 0 } } });
    const stale = await ask(route('resume'), 'conn-retention', 'retention', { action: 'resume', streams: { user: { epoch, seq: 1 } } });

    // The history was lost before entry 3: a new epoch began there, and from 0 means from its start.
    expect(now).not.toBe(epoch);
    expect(frames).toEqual([expect.objectContaining({ seq: 3, replay: true }), { type: 'resumed', stream: 'user', recovered: true, from: 3, to: 3 }]);
    expect(stale).toEqual([{ type: 'resumed', stream: 'user', recovered: false, reason: 'epoch_changed' }]);
  });

  it('reads only the newest historyMaxEntries, and answers retention for a gap that reaches beyond them', async () => {
    const epoch = await notifyOffline('windowed', 8);
    clients.connect('conn-windowed');

    const frames = await ask(route('resume', { HISTORY_MAX_ENTRIES: '5' }), 'conn-windowed', 'windowed', { action: 'resume', streams: { user: { epoch, seq: 1 } } });

    expect(frames.map((frame) => frame['seq'] ?? frame['type'])).toEqual([4, 5, 6, 7, 8, 'resumed']);
    expect(frames[5]).toEqual({ type: 'resumed', stream: 'user', recovered: false, reason: 'retention', from: 4, to: 8 });
  });

  it('answers replay_limit, replaying the newest replayLimit entries, for a larger gap: never a partial replay claimed as recovered', async () => {
    const epoch = await notifyOffline('limited', 6);
    clients.connect('conn-limited');

    const frames = await ask(route('resume', { REPLAY_LIMIT: '3' }), 'conn-limited', 'limited', { action: 'resume', streams: { user: { epoch, seq: 1 } } });

    expect(frames.map((frame) => frame['seq'] ?? frame['type'])).toEqual([4, 5, 6, 'resumed']);
    expect(frames[3]).toEqual({ type: 'resumed', stream: 'user', recovered: false, reason: 'replay_limit', from: 4, to: 6 });
  });

  it("resumes a topic only for a connection subscribed to it, replaying the events its filters pass; else not_subscribed or forbidden_topic", async () => {
    const subscriptions = new SubscriptionTable(stack.db, stack.subscriptionsTableName, stack.tableName);
    await connectAs('reader', 'conn-reader');
    await subscriptions.subscribe({ connectionId: 'conn-reader', topic: 'orders', events: ['order.created'], expiresAt: Math.floor(Date.now() / 1000) + 3600 }, 100);
    const appender = table();
    let epoch = '';
    for (const [n, type] of ['order.created', 'order.shipped', 'order.created'].entries()) {
      const event = { specversion: '1.0', id: `o-${n}`, source: 's', type, wsnpublisher: 'backend' };
      ({ epoch } = await appender.append(topicStreamKey('orders', undefined), { topic: 'orders', event }, origin(`orders-${n}`)));
    }
    const resume = route('resume');

    const frames = await ask(resume, 'conn-reader', 'reader', { action: 'resume', streams: { 'topic:orders': { seq: 0 } } }, ['orders', 'news']);
    const unsubscribed = await ask(resume, 'conn-reader', 'reader', { action: 'resume', streams: { 'topic:news': { seq: 0 } } }, ['orders', 'news']);
    const forbidden = await ask(resume, 'conn-reader', 'reader', { action: 'resume', streams: { user: { seq: 0 }, 'topic:orders': { seq: 0 } } }, []);

    expect(frames).toEqual([
      { type: 'event', topic: 'orders', event: expect.objectContaining({ id: 'o-0' }), stream: 'topic:orders', seq: 1, epoch, replay: true },
      { type: 'event', topic: 'orders', event: expect.objectContaining({ id: 'o-2' }), stream: 'topic:orders', seq: 3, epoch, replay: true },
      { type: 'resumed', stream: 'topic:orders', recovered: true, from: 1, to: 3 },
    ]);
    expect(unsubscribed).toEqual([expect.objectContaining({ type: 'error', code: 'not_subscribed' })]);
    expect(forbidden).toEqual([expect.objectContaining({ type: 'error', code: 'forbidden_topic' })]);
  });

  it("resumes a group member's topic too, replaying every event after its position that its filters pass (those the group gave other members included: at least once within the group)", async () => {
    const subscriptions = new SubscriptionTable(stack.db, stack.subscriptionsTableName, stack.tableName);
    await connectAs('worker', 'conn-worker');
    await subscriptions.subscribe({ connectionId: 'conn-worker', topic: 'jobs', group: 'workers', expiresAt: Math.floor(Date.now() / 1000) + 3600 }, 100);
    const appender = table();
    let epoch = '';
    for (const n of [0, 1, 2]) {
      const event = { specversion: '1.0', id: `j-${n}`, source: 's', type: 'job.queued', wsnpublisher: 'backend' };
      ({ epoch } = await appender.append(topicStreamKey('jobs', undefined), { topic: 'jobs', event }, origin(`jobs-${n}`)));
    }

    const frames = await ask(route('resume'), 'conn-worker', 'worker', { action: 'resume', streams: { 'topic:jobs': { epoch, seq: 1 } } }, ['jobs']);

    expect(frames).toEqual([
      { type: 'event', topic: 'jobs', event: expect.objectContaining({ id: 'j-1' }), stream: 'topic:jobs', seq: 2, epoch, replay: true },
      { type: 'event', topic: 'jobs', event: expect.objectContaining({ id: 'j-2' }), stream: 'topic:jobs', seq: 3, epoch, replay: true },
      { type: 'resumed', stream: 'topic:jobs', recovered: true, from: 2, to: 3 },
    ]);
  });

  it('refuses a malformed resume (a position after 0 without its epoch, an unknown stream) with invalid_resume', async () => {
    const resume = route('resume');
    for (const streams of [{ user: { seq: 3 } }, { 'queue:x': { seq: 0 } }, {}]) {
      expect(await ask(resume, 'conn-x', 'x', { action: 'resume', streams })).toEqual([expect.objectContaining({ type: 'error', code: 'invalid_resume' })]);
    }
  });

  it('pages through history: the newest first page, older pages by before, newer by after, each oldest first', async () => {
    const epoch = await notifyOffline('historian', 7);
    const history = route('history');

    const [newest] = await ask(history, 'conn-historian', 'historian', { action: 'history', stream: 'user', limit: 3, id: 7 });
    const [older] = await ask(history, 'conn-historian', 'historian', { action: 'history', stream: 'user', limit: 3, before: newest?.['next'] });
    const [forwards] = await ask(history, 'conn-historian', 'historian', { action: 'history', stream: 'user', after: 5 });

    expect(newest).toEqual({ type: 'history', stream: 'user', epoch, id: 7, next: 5, items: [5, 6, 7].map((n) => ({ seq: n, id: `historian-${n}`, time: expect.any(String), data: { n } })) });
    expect((older?.['items'] as { seq: number }[]).map((item) => item.seq)).toEqual([2, 3, 4]);
    expect(older?.['next']).toBe(2);
    expect((forwards?.['items'] as { seq: number }[]).map((item) => item.seq)).toEqual([6, 7]);
    expect(forwards).not.toHaveProperty('next');
  });

  it('subscribes from rewind or since: the subscribed reply, the replay, then resumed', async () => {
    await connectAs('rewinder', 'conn-rewinder');
    const appender = table();
    let epoch = '';
    for (let n = 1; n <= 4; n += 1) {
      ({ epoch } = await appender.append(topicStreamKey('scores', undefined), { topic: 'scores', event: { specversion: '1.0', id: `s-${n}`, source: 's', type: 't' } }, origin(`scores-${n}`)));
    }
    const subscribe = route('subscribe');

    const rewound = await ask(subscribe, 'conn-rewinder', 'rewinder', { action: 'subscribe', topic: 'scores', rewind: 2 }, ['scores']);
    const since = await ask(subscribe, 'conn-rewinder', 'rewinder', { action: 'subscribe', topic: 'scores', since: { epoch, seq: 1 } }, ['scores']);
    const plain = await ask(subscribe, 'conn-rewinder', 'rewinder', { action: 'subscribe', topic: 'scores' }, ['scores']);

    expect(rewound.map((frame) => frame['seq'] ?? frame['type'])).toEqual(['subscribed', 3, 4, 'resumed']);
    expect(rewound[3]).toEqual({ type: 'resumed', stream: 'topic:scores', recovered: true, from: 3, to: 4 });
    expect(since.map((frame) => frame['seq'] ?? frame['type'])).toEqual(['subscribed', 2, 3, 4, 'resumed']);
    expect(plain).toEqual([{ type: 'subscribed', topic: 'scores', events: null, group: null }]);
  });
});
