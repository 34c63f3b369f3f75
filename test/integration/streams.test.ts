import { QueryCommand } from '@aws-sdk/lib-dynamodb';
import type { Context, SQSBatchResponse, SQSEvent } from 'aws-lambda';
import { type StreamEntry, StreamTable, userStreamKey } from '../../lambdas/core/streams';
import type { WebSocketEvent, WebSocketResult } from '../../lambdas/events';
import { connectEventFor } from '../support/events';
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
  connect = loadHandler('connect', { ...table, ...CONNECTION_LIMITS_ENV });
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

describe('appending to a stream', () => {
  it('numbers 1,000 entries appended by 10 concurrent appenders 1..1000 exactly, in one epoch, with one item per entry', async () => {
    const stream = userStreamKey('concurrent', undefined);
    // Ten appenders, as ten Lambda invocations would be: each its own table client state.
    const appenders = Array.from({ length: 10 }, () => new StreamTable(stack.db, stack.streamsTableName, settings));

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
  }, 120_000);

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
