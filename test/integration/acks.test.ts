import { CreateQueueCommand, SendMessageCommand } from '@aws-sdk/client-sqs';
import { GetCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import type { Context, SQSBatchResponse, SQSEvent } from 'aws-lambda';
import { AckTable } from '../../lambdas/core/acks';
import { StreamTable, userStreamKey } from '../../lambdas/core/streams';
import { type UndeliveredMessage, undeliveredIds } from '../../lambdas/core/undelivered';
import type { WebSocketEvent, WebSocketResult } from '../../lambdas/transport/events';
import { messageEventWith } from '../support/events';
import { loadHandler } from '../support/load-handler';
import { type ManagementApiServer, RecordingConnections, startManagementApi } from '../support/management-api-server';
import {
  createAcksTable,
  createQueuePair,
  drain,
  enqueue,
  type QueuePair,
  receiveAll,
  type StackUnderTest,
  startStackUnderTest,
  streamsEnvironment,
  takeAll,
} from '../support/stack-under-test';

type WebSocketHandler = (event: WebSocketEvent) => Promise<WebSocketResult>;
type SqsHandler = (event: SQSEvent, context: Context) => Promise<SQSBatchResponse>;

const ACKS_TABLE = 'Acks';
let stack: StackUnderTest;
let managementApi: ManagementApiServer;
let ack: WebSocketHandler;
let notifyUser: SqsHandler;
let ackCheck: SqsHandler;
let ackChecks: QueuePair;
let undeliveredUrl: string;
let streams: StreamTable;

beforeAll(async () => {
  stack = await startStackUnderTest();
  managementApi = await startManagementApi(new RecordingConnections(), 'live');
  await createAcksTable(stack.db, ACKS_TABLE);
  // No delivery delay here: the tests decide when a check comes out by draining the queue.
  ackChecks = await createQueuePair(stack.sqs, 'AckCheck');
  // FIFO with per-group deduplication, as the stack makes it.
  undeliveredUrl = (
    await stack.sqs.send(new CreateQueueCommand({ QueueName: 'Undelivered.fifo', Attributes: { FifoQueue: 'true', DeduplicationScope: 'messageGroup', FifoThroughputLimit: 'perMessageGroupId' } }))
  ).QueueUrl as string;
  streams = new StreamTable(stack.db, stack.streamsTableName, { ttlSeconds: 86_400, maxEntries: 1000 });
  const acks = { ...streamsEnvironment(stack), ACKS_TABLE_NAME: ACKS_TABLE };
  ack = loadHandler('ack', acks);
  notifyUser = loadHandler('notify-user', {
    CONNECTIONS_TABLE_NAME: stack.tableName,
    CONNECTION_COUNTS_TABLE_NAME: stack.connectionCountsTableName,
    SUBSCRIPTIONS_TABLE_NAME: stack.subscriptionsTableName,
    ...streamsEnvironment(stack),
    MANAGEMENT_API_ENDPOINT: managementApi.endpoint,
    NOTIFY_CONNECTION_QUEUE_URL: stack.notifyConnection.url,
    DEAD_LETTER_QUEUE_URL: stack.notifyUser.deadLetterUrl,
    ACK_CHECK_QUEUE_URL: ackChecks.url,
  });
  ackCheck = loadHandler('ack-check', { ...acks, UNDELIVERED_QUEUE_URL: undeliveredUrl, DEAD_LETTER_QUEUE_URL: ackChecks.deadLetterUrl });
}, 60_000);

afterAll(async () => {
  await managementApi?.stop();
  await stack?.stop();
});

/** An `ack` frame as API Gateway hands it over, from a connection of `userId`. */
function ackFrom(userId: string, frame: object, tenant?: string): WebSocketEvent {
  const event = messageEventWith(JSON.stringify(frame), 'ack');
  event.requestContext.authorizer = { principalId: userId, userId, ...(tenant && { tenant }) };
  return event;
}

async function sendAck(userId: string, frame: object, tenant?: string): Promise<Record<string, unknown>> {
  const result = await ack(ackFrom(userId, frame, tenant));
  expect(result.statusCode).toBe(200);
  return JSON.parse(result.body as string) as Record<string, unknown>;
}

async function storedAck(userId: string, tenant?: string): Promise<Record<string, unknown> | undefined> {
  const { Item } = await stack.db.send(new GetCommand({ TableName: ACKS_TABLE, Key: { stream: userStreamKey(userId, tenant) }, ConsistentRead: true }));
  return Item;
}

async function appendTo(userId: string, count: number, tenant?: string): Promise<{ seq: number; epoch: string }[]> {
  const positions = [];
  for (let i = 0; i < count; i += 1) {
    positions.push(await streams.append(userStreamKey(userId, tenant), { id: `${userId}-${i}`, time: new Date().toISOString(), data: { i } }, { messageId: `${userId}-m${i}`, sentAt: Date.now(), retried: false }));
  }
  return positions;
}

describe('ack', () => {
  it('stores the acked seq with the stream epoch, answers acked with the frame id, and moves only forward', async () => {
    const [, , third] = await appendTo('ann', 3);

    expect(await sendAck('ann', { action: 'ack', stream: 'user', seq: 2, id: 'a1' })).toEqual({ type: 'acked', stream: 'user', seq: 2, id: 'a1' });
    expect(await storedAck('ann')).toMatchObject({ ackedSeq: 2, epoch: third!.epoch, ackedAt: expect.any(Number), expiresAt: expect.any(Number) });

    // Cumulative and forward only: an older ack is answered but changes nothing.
    expect(await sendAck('ann', { action: 'ack', stream: 'user', seq: 1 })).toEqual({ type: 'acked', stream: 'user', seq: 1 });
    expect(await storedAck('ann')).toMatchObject({ ackedSeq: 2 });
    await sendAck('ann', { action: 'ack', stream: 'user', seq: 3 });
    expect(await storedAck('ann')).toMatchObject({ ackedSeq: 3 });
  });

  it('keeps each tenant apart: the same user id in two tenants has two acked positions', async () => {
    await appendTo('bo', 2, 'acme');
    await appendTo('bo', 2, 'globex');
    await sendAck('bo', { action: 'ack', stream: 'user', seq: 2 }, 'acme');
    expect(await storedAck('bo', 'acme')).toMatchObject({ ackedSeq: 2 });
    expect(await storedAck('bo', 'globex')).toBeUndefined();
  });

  it('refuses, storing nothing, a seq beyond the newest entry, a topic stream, an unknown stream, a bad seq, and an anonymous connection', async () => {
    await appendTo('cy', 1);
    const refusals = [
      ['cy', { action: 'ack', stream: 'user', seq: 2, id: 7 }, /beyond the stream's newest entry \(1\)/],
      ['cy', { action: 'ack', stream: 'topic:orders', seq: 1 }, /topic streams are not acked/],
      ['cy', { action: 'ack', stream: 'inbox', seq: 1 }, /there is no stream "inbox"/],
      ['cy', { action: 'ack', stream: 'user', seq: 0 }, /whole number ≥ 1/],
      ['cy', { action: 'ack', stream: 'user', seq: '1' }, /whole number ≥ 1/],
      ['anonymous:c-1', { action: 'ack', stream: 'user', seq: 1 }, /anonymous connection has no user stream/],
      ['nobody', { action: 'ack', stream: 'user', seq: 1 }, /beyond the stream's newest entry \(0\)/],
    ] as const;
    for (const [userId, frame, message] of refusals) {
      expect(await sendAck(userId, frame)).toEqual({ type: 'error', code: 'invalid_ack', message: expect.stringMatching(message), ...('id' in frame && { id: frame.id }) });
    }
    expect(await storedAck('cy')).toBeUndefined();
  });

  it('acks nothing of a later epoch: a position stored in an old epoch does not cover the new one', async () => {
    const table = new AckTable(stack.db, ACKS_TABLE, 86_400);
    const stream = userStreamKey('dee', undefined);
    expect(await table.ack(stream, { seq: 5, epoch: 'old' })).toBe(true);
    expect(await table.ack(stream, { seq: 5, epoch: 'old' })).toBe(false);
    expect(await table.ack(stream, { seq: 1, epoch: 'new' })).toBe(true);
    expect(await table.position(stream)).toMatchObject({ ackedSeq: 1, epoch: 'new' });
  });
});

describe('the ack check (ackTimeout)', () => {
  const notify = (userId: string, n: number) => enqueue(stack.sqs, stack.notifyUser.url, ...Array.from({ length: n }, (_, i) => JSON.stringify({ userId, id: `${userId}-n${i}`, data: { n: i } })));
  /** Every Undelivered message: a FIFO queue hands out a group's next message only once the one before is deleted. */
  const undelivered = async () => {
    const messages = [];
    for (let taken = await takeAll(stack.sqs, undeliveredUrl); taken.length > 0; taken = await takeAll(stack.sqs, undeliveredUrl)) messages.push(...taken);
    return messages.map((message) => JSON.parse(message.Body as string) as UndeliveredMessage);
  };

  it('sends each notification that no connection acked to Undelivered exactly once, with user, seq, epoch and the notification; none for acked ones', async () => {
    await notify('eve', 3);
    await drain(stack, stack.notifyUser, notifyUser);
    await sendAck('eve', { action: 'ack', stream: 'user', seq: 1 });

    const checks = await receiveAll(stack.sqs, ackChecks.url);
    expect(checks.map((message) => JSON.parse(message.Body as string))).toEqual(
      expect.arrayContaining([1, 2, 3].map((seq) => ({ userId: 'eve', seq, epoch: expect.any(String) }))),
    );
    // SQS delivers at least once: every check arrives a second time too, here in the same batches.
    await enqueue(stack.sqs, ackChecks.url, ...checks.map((message) => message.Body as string));
    await new Promise((resolve) => setTimeout(resolve, 1_100)); // the received checks' visibility timeout (1 s) lapses
    // A twin that finds the claim of the other is retried, and then finds it sent.
    const first = await drain(stack, ackChecks, ackCheck);
    await new Promise((resolve) => setTimeout(resolve, 1_100));
    const retries = await drain(stack, ackChecks, ackCheck);
    expect(retries).toMatchObject({ processed: first.failedMessageIds.length, failedMessageIds: [] });

    const sent = await undelivered();
    expect(sent.map((message) => message.seq).sort()).toEqual([2, 3]);
    const entries = await streams.oldestAfter(userStreamKey('eve', undefined), 0, 10);
    for (const message of sent) {
      const entry = entries.find((candidate) => candidate.seq === message.seq)!;
      expect(message).toEqual({ userId: 'eve', stream: 'user', seq: entry.seq, epoch: entry.epoch, notification: JSON.parse(entry.content) });
    }
    expect(sent[0]!.notification).toEqual({ id: expect.stringMatching(/^eve-n[0-2]$/), time: expect.any(String), data: { n: expect.any(Number) } });
  });

  it('carries the tenant of a multi-tenant user stream', async () => {
    const [position] = await appendTo('fay', 1, 'acme');
    await enqueue(stack.sqs, ackChecks.url, JSON.stringify({ userId: 'fay', tenant: 'acme', ...position }));
    await drain(stack, ackChecks, ackCheck);
    expect(await undelivered()).toEqual([expect.objectContaining({ userId: 'fay', tenant: 'acme', seq: 1 })]);
  });

  it('retries a check while another holds the claim, and sends once the claim has lapsed (its holder died)', async () => {
    const [position] = await appendTo('gus', 1);
    const key = { stream: userStreamKey('gus', undefined), seq: position!.seq };
    const claimAt = async (at: number) =>
      stack.db.send(new UpdateCommand({ TableName: stack.streamsTableName, Key: key, UpdateExpression: 'SET undeliveredClaimedAt = :at', ExpressionAttributeValues: { ':at': at } }));
    await claimAt(Date.now());
    await enqueue(stack.sqs, ackChecks.url, JSON.stringify({ userId: 'gus', ...position }));

    expect((await drain(stack, ackChecks, ackCheck)).failedMessageIds).toHaveLength(1);
    expect(await undelivered()).toEqual([]);

    await claimAt(Date.now() - 61_000);
    await new Promise((resolve) => setTimeout(resolve, 1_100)); // the failed check's visibility timeout lapses
    expect(await drain(stack, ackChecks, ackCheck)).toMatchObject({ processed: 1, failedMessageIds: [] });
    expect(await undelivered()).toEqual([expect.objectContaining({ userId: 'gus', seq: 1 })]);
  });

  it("sends once when a check's holder died between its send and its mark: the retry sends again, and the FIFO queue drops the repeat", async () => {
    const [position] = await appendTo('ida', 1);
    const stream = userStreamKey('ida', undefined);
    const entry = (await streams.oldestAfter(stream, 0, 1))[0]!;
    // What the holder sent before it died (its claim then lapses, with no mark).
    const message: UndeliveredMessage = { userId: 'ida', stream: 'user', seq: entry.seq, epoch: entry.epoch, notification: JSON.parse(entry.content) };
    const { groupId, deduplicationId } = undeliveredIds(stream, position!);
    await stack.sqs.send(new SendMessageCommand({ QueueUrl: undeliveredUrl, MessageBody: JSON.stringify(message), MessageGroupId: groupId, MessageDeduplicationId: deduplicationId }));
    await stack.db.send(
      new UpdateCommand({ TableName: stack.streamsTableName, Key: { stream, seq: entry.seq }, UpdateExpression: 'SET undeliveredClaimedAt = :at', ExpressionAttributeValues: { ':at': Date.now() - 61_000 } }),
    );
    await enqueue(stack.sqs, ackChecks.url, JSON.stringify({ userId: 'ida', ...position }));

    expect(await drain(stack, ackChecks, ackCheck)).toMatchObject({ processed: 1, failedMessageIds: [] });

    expect(await undelivered()).toEqual([message]);
  });

  it('dead-letters, as entry_gone, a check whose entry is no longer in its stream', async () => {
    await enqueue(stack.sqs, ackChecks.url, JSON.stringify({ userId: 'hal', seq: 9, epoch: 'gone' }));
    expect(await drain(stack, ackChecks, ackCheck)).toMatchObject({ processed: 1, failedMessageIds: [] });
    const [deadLetter] = await takeAll(stack.sqs, ackChecks.deadLetterUrl);
    expect(deadLetter?.MessageAttributes?.['ErrorCode']?.StringValue).toBe('entry_gone');
    expect(await undelivered()).toEqual([]);
  });

  it('dead-letters a check that is not one, as invalid_message', async () => {
    await stack.sqs.send(new SendMessageCommand({ QueueUrl: ackChecks.url, MessageBody: JSON.stringify({ userId: 'ivy', seq: -1 }) }));
    await drain(stack, ackChecks, ackCheck);
    const [deadLetter] = await takeAll(stack.sqs, ackChecks.deadLetterUrl);
    expect(deadLetter?.MessageAttributes?.['ErrorCode']?.StringValue).toBe('invalid_message');
  });
});
