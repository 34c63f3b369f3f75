import { CreateQueueCommand } from '@aws-sdk/client-sqs';
import type { Context, SQSBatchResponse, SQSEvent } from 'aws-lambda';
import { AwsCallMeter } from '../../bench/measurements/aws-calls';
import type { WebSocketEvent, WebSocketResult } from '../../lambdas/transport/events';
import { connectEventFor, messageEventWith } from '../support/events';
import { loadHandler } from '../support/load-handler';
import { type ManagementApiServer, RecordingConnections, startManagementApi } from '../support/management-api-server';
import {
  CONNECTION_LIMITS_ENV,
  createAcksTable,
  createQueuePair,
  drain,
  enqueue,
  type QueuePair,
  type StackUnderTest,
  startStackUnderTest,
  streamsEnvironment,
  takeAll,
} from '../support/stack-under-test';

/**
 * What streams, acks and the offline fallback cost in AWS calls, counted as the handlers send them
 * (every SDK command this process sends, through the bench's meter), at 2 connections per user:
 * the figures docs/performance.md gives, held to the budget of ≤ 2 write units per notification.
 */
type WebSocketHandler = (event: WebSocketEvent) => Promise<WebSocketResult>;
type SqsHandler = (event: SQSEvent, context: Context) => Promise<SQSBatchResponse>;

const NOTIFICATIONS = 20;
const CONNECTIONS_PER_USER = 2;
const WRITES = ['DynamoDB.PutItem', 'DynamoDB.UpdateItem', 'DynamoDB.DeleteItem', 'DynamoDB.BatchWriteItem', 'DynamoDB.TransactWriteItems'];

let stack: StackUnderTest;
let managementApi: ManagementApiServer;
const clients = new RecordingConnections();
const meter = new AwsCallMeter();
let ackChecks: QueuePair;
let undeliveredUrl: string;
let env: Record<string, string>;

beforeAll(async () => {
  stack = await startStackUnderTest();
  managementApi = await startManagementApi(clients, 'live');
  await createAcksTable(stack.db, 'Acks');
  ackChecks = await createQueuePair(stack.sqs, 'AckCheck');
  undeliveredUrl = (await stack.sqs.send(new CreateQueueCommand({ QueueName: 'Undelivered.fifo', Attributes: { FifoQueue: 'true' } }))).QueueUrl as string;
  env = {
    CONNECTIONS_TABLE_NAME: stack.tableName,
    CONNECTION_COUNTS_TABLE_NAME: stack.connectionCountsTableName,
    SUBSCRIPTIONS_TABLE_NAME: stack.subscriptionsTableName,
    MANAGEMENT_API_ENDPOINT: managementApi.endpoint,
    NOTIFY_CONNECTION_QUEUE_URL: stack.notifyConnection.url,
    DEAD_LETTER_QUEUE_URL: stack.notifyUser.deadLetterUrl,
  };
  const connect = loadHandler<WebSocketHandler>('connect', { ...env, ...CONNECTION_LIMITS_ENV });
  // One user per notification: a burst to one user makes its batch's appends race (measured apart).
  for (const userId of ['off', 'on', 'timeout'].flatMap((design) => Array.from({ length: NOTIFICATIONS }, (_, n) => `${design}-${n}`)).concat('burst')) {
    for (let c = 0; c < CONNECTIONS_PER_USER; c += 1) {
      const connectionId = `${userId}-c${c}`;
      expect((await connect(connectEventFor(connectionId, userId))).statusCode).toBe(200);
      clients.connect(connectionId);
    }
  }
}, 60_000);

afterAll(async () => {
  meter.close();
  await managementApi?.stop();
  await stack?.stop();
});

/** The event-source mapping's own requests on AWS (the drain makes them here): counted apart by the bench. */
const EVENT_SOURCE_REQUESTS = ['SQS.ReceiveMessage', 'SQS.DeleteMessageBatch'];

/** The SDK commands the handlers sent while `act` ran, per notification. */
async function measured(act: () => Promise<void>): Promise<Record<string, number>> {
  const window = meter.window();
  await act();
  const { local } = window.end();
  return Object.fromEntries(
    Object.entries(local)
      .filter(([command]) => !EVENT_SOURCE_REQUESTS.includes(command))
      .map(([command, count]) => [command, count / NOTIFICATIONS]),
  );
}

/** Drains until all `NOTIFICATIONS` messages were handled (the emulator may show a message a moment after its send). */
async function drainAll(queue: QueuePair, handler: SqsHandler): Promise<void> {
  const deadline = Date.now() + 10_000;
  let processed = 0;
  while (processed < NOTIFICATIONS) {
    if (Date.now() > deadline) throw new Error(`only ${processed} of ${NOTIFICATIONS} messages handled`);
    const result = await drain(stack, queue, handler);
    expect(result.failedMessageIds).toEqual([]);
    processed += result.processed;
  }
}

const writesOf = (commands: Record<string, number>) => WRITES.reduce((total, command) => total + (commands[command] ?? 0), 0);

/** `NOTIFICATIONS` notifications, one to each user `<design>-<n>` (or all to `burst`), handled by NotifyUser configured with `extra`. */
async function notified(design: string, extra: Record<string, string>): Promise<Record<string, number>> {
  const notifyUser = loadHandler<SqsHandler>('notify-user', { ...env, ...extra });
  const users = Array.from({ length: NOTIFICATIONS }, (_, n) => (design === 'burst' ? 'burst' : `${design}-${n}`));
  const posted = () => [...new Set(users)].reduce((total, user) => total + (clients.frames.get(`${user}-c1`)?.length ?? 0), 0);
  const before = posted();
  await enqueue(stack.sqs, stack.notifyUser.url, ...users.map((userId, n) => JSON.stringify({ userId, data: { n } })));
  const commands = await measured(() => drainAll(stack.notifyUser, notifyUser));
  expect(posted() - before).toBe(NOTIFICATIONS);
  return commands;
}

describe('AWS calls per notification, at 2 connections per user', () => {
  it('streams off: one Query for the connections, no write; streams on: one more consistent Query and one PutItem (1 write unit)', async () => {
    const off = await notified('off', {});
    const on = await notified('on', streamsEnvironment(stack));

    expect(off).toEqual({ 'DynamoDB.Query': 1 });
    expect(writesOf(off)).toBe(0);
    expect(on).toEqual({ 'DynamoDB.Query': 2, 'DynamoDB.PutItem': 1 });
    expect(writesOf(on)).toBeLessThanOrEqual(2);
    // A burst to one user: a function's appends to one stream take turns, so its batches do not race themselves.
    const burst = await notified('burst', streamsEnvironment(stack));
    expect(burst).toEqual({ 'DynamoDB.Query': 2, 'DynamoDB.PutItem': 1 });
    console.log(JSON.stringify({ perNotification: { streamsOff: off, streamsOn: on, streamsOnBurstToOneUser: burst } }));
  });

  it('ackTimeout on: one SendMessage (the check) per notification; the check costs one GetItem, and an unacked one two UpdateItems and a share of one SendMessageBatch', async () => {
    const withChecks = await notified('timeout', { ...streamsEnvironment(stack), ACK_CHECK_QUEUE_URL: ackChecks.url });
    expect(withChecks).toEqual({ 'DynamoDB.Query': 2, 'DynamoDB.PutItem': 1, 'SQS.SendMessage': 1 });

    const ackCheck = loadHandler<SqsHandler>('ack-check', {
      ...streamsEnvironment(stack),
      ACKS_TABLE_NAME: 'Acks',
      UNDELIVERED_QUEUE_URL: undeliveredUrl,
      DEAD_LETTER_QUEUE_URL: ackChecks.deadLetterUrl,
    });
    const checks = await measured(() => drainAll(ackChecks, ackCheck));
    // None acked: every check reads the ack, claims, sends in a batch, marks.
    expect(checks['DynamoDB.GetItem']).toBe(1);
    expect(checks['DynamoDB.UpdateItem']).toBe(2);
    expect(checks['SQS.SendMessageBatch']).toBeLessThanOrEqual(0.5);
    expect((await takeAll(stack.sqs, undeliveredUrl)).length).toBe(NOTIFICATIONS);
    console.log(JSON.stringify({ perNotification: { ackTimeoutNotifyUser: withChecks, ackCheckUnacked: checks } }));
  });

  it('an ack frame: one consistent Query (the epoch) and one UpdateItem', async () => {
    const ack = loadHandler<WebSocketHandler>('ack', { ...streamsEnvironment(stack), ACKS_TABLE_NAME: 'Acks' });
    const event = messageEventWith(JSON.stringify({ action: 'ack', stream: 'user', seq: 1 }), 'ack');
    event.requestContext.authorizer = { principalId: 'on-0', userId: 'on-0' };
    const perAck = await measured(async () => {
      for (let n = 0; n < NOTIFICATIONS; n += 1) expect(JSON.parse((await ack(event)).body as string)).toMatchObject({ type: 'acked' });
    });
    expect(perAck).toEqual({ 'DynamoDB.Query': 1, 'DynamoDB.UpdateItem': 1 });
  });
});
