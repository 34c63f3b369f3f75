import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { BatchWriteCommand, DynamoDBDocumentClient, PutCommand } from '@aws-sdk/lib-dynamodb';
import { ConnectionTable } from '../../lambdas/core/connections';
import type { TopicCaller } from '../../lambdas/core/identity';
import { DEFAULT_REPLAY_BUDGET } from '../../lambdas/core/replay-budget';
import { history, resume, type StreamReadDeps } from '../../lambdas/core/stream-frames';
import { StreamTable, userStreamKey } from '../../lambdas/core/streams';
import { SubscriptionTable } from '../../lambdas/core/subscriptions';
import type { WebSocketEvent, WebSocketResult } from '../../lambdas/transport/events';
import { messageEventWith } from '../support/events';
import { loadHandler } from '../support/load-handler';
import { type ManagementApiServer, RecordingConnections, startManagementApi } from '../support/management-api-server';
import { type StackUnderTest, startStackUnderTest, streamsEnvironment } from '../support/stack-under-test';

// A stream of 1,000 entries near the size limit (about 120 KB each: 120 MB in all) stays recoverable
// (issue 21, item 2): `history` and `resume` read a page at a time, stop once the reply (or the
// replay's budget) is full, and never hold the stream. They used to read all 120 MB (29,445 read
// units) to answer one item, and ended in `Internal server error` on AWS.

type WebSocketHandler = (event: WebSocketEvent) => Promise<WebSocketResult>;

let stack: StackUnderTest;
let managementApi: ManagementApiServer;
const clients = new RecordingConnections();
const USER = 'hoarder';
const CONNECTION = 'conn-hoarder';
const EPOCH = 'large-epoch';
const ENTRIES = 1000;
const TEXT_BYTES = 120 * 1024;

beforeAll(async () => {
  stack = await startStackUnderTest();
  managementApi = await startManagementApi(clients, 'live');
  const now = Date.now();
  // As appends store them, 25 to a write (3 MB a request).
  for (let start = 1; start <= ENTRIES; start += 25) {
    const items = Array.from({ length: Math.min(25, ENTRIES - start + 1) }, (_, i) => ({
      stream: userStreamKey(USER, undefined),
      seq: start + i,
      epoch: EPOCH,
      epochStart: 1,
      expiresAt: Math.floor(now / 1000) + 3600,
      appendedAt: now,
      messageId: `m${start + i}`,
      content: JSON.stringify({ id: `n${start + i}`, time: new Date(now).toISOString(), data: { text: String(start + i).padEnd(TEXT_BYTES, '.') } }),
    }));
    await stack.db.send(new BatchWriteCommand({ RequestItems: { [stack.streamsTableName]: items.map((Item) => ({ PutRequest: { Item } })) } }));
  }
  await stack.db.send(new PutCommand({ TableName: stack.tableName, Item: { connectionId: CONNECTION, userId: USER, connectedAt: now, expiresAt: Math.floor(now / 1000) + 7200 } }));
  clients.connect(CONNECTION);
}, 120_000);

afterAll(async () => {
  await managementApi?.stop();
  await stack?.stop();
});

/** A real client that counts the stream entries its Queries return. */
function countingClient() {
  const read = { items: 0 };
  const db = DynamoDBDocumentClient.from(new DynamoDBClient({}));
  db.middlewareStack.add(
    (next, context) => async (args) => {
      const result = await next(args);
      if (context.commandName === 'QueryCommand') read.items += (result.output as { Count?: number }).Count ?? 0;
      return result;
    },
    { step: 'initialize' },
  );
  return { db, read };
}

const caller: TopicCaller = { connectionId: CONNECTION, userId: USER, connectedAt: Date.now(), grants: { subscribe: [], publish: [], groups: [] } };
const seqOf = (frame: unknown) => (frame as { seq: number }).seq;

function readsWith(db: DynamoDBDocumentClient, budget = DEFAULT_REPLAY_BUDGET): StreamReadDeps {
  return {
    streams: new StreamTable(db, stack.streamsTableName, { ttlSeconds: 86_400, maxEntries: 1000 }),
    replayLimit: 1000,
    replayBudget: { settings: budget, buckets: new ConnectionTable(db, stack.tableName) },
    subscriptions: new SubscriptionTable(db, stack.subscriptionsTableName),
    post: async (frame) => {
      clients.frames.set(CONNECTION, [...clients.framesOf(CONNECTION), JSON.parse(frame)]);
    },
  };
}

describe('a stream of 1,000 entries of 120 KB', () => {
  it('answers a history page of limit 1000 with the one entry that fits its 128 KB, reading one page, not the stream', async () => {
    const { db, read } = countingClient();

    const page = JSON.parse(await history(JSON.stringify({ action: 'history', stream: 'user', limit: 1000 }), caller, readsWith(db)));

    expect(page.items.map(seqOf)).toEqual([1000]);
    expect(page.next).toBe(1000);
    // The newest entry, then one page: DynamoDB stops at the entry that takes it past 1 MB (9 of 120 KB).
    expect(read.items).toBeLessThanOrEqual(1 + 9);
    db.destroy();
  });

  it('pages on backwards and forwards, one entry a page', async () => {
    const { db } = countingClient();
    const deps = readsWith(db);

    const older = JSON.parse(await history(JSON.stringify({ action: 'history', stream: 'user', before: 500 }), caller, deps));
    const oldest = JSON.parse(await history(JSON.stringify({ action: 'history', stream: 'user', after: 0 }), caller, deps));

    expect([older.items.map(seqOf), older.next]).toEqual([[499], 499]);
    expect([oldest.items.map(seqOf), oldest.next]).toEqual([[1], 1]);
    db.destroy();
  });

  it('resumes from 0 within the budget: the newest entries that fit (4 messages each) in order, then replay_limit, reading each at most twice', async () => {
    // A budget of 100 messages a frame (1,000 by default) keeps the test short: DynamoDB Local takes
    // about half a second a page of such entries, AWS milliseconds.
    const { db, read } = countingClient();
    clients.frames.delete(CONNECTION);

    const reply = JSON.parse(await resume(JSON.stringify({ action: 'resume', streams: { user: { seq: 0 } } }), caller, readsWith(db, { ...DEFAULT_REPLAY_BUDGET, perFrame: 100 })));

    expect(clients.framesOf(CONNECTION).map(seqOf)).toEqual(Array.from({ length: 25 }, (_, i) => 976 + i));
    expect(reply).toEqual({ type: 'resumed', stream: 'user', recovered: false, reason: 'replay_limit', from: 976, to: 1000 });
    // The newest entry; the replay found newest first (and up to a page past it), then read again to post oldest first.
    expect(read.items).toBeLessThanOrEqual(1 + (25 + 9) + 25);
    db.destroy();
  }, 60_000);

  it('answers history and resume through their handlers', async () => {
    const env = {
      CONNECTIONS_TABLE_NAME: stack.tableName,
      SUBSCRIPTIONS_TABLE_NAME: stack.subscriptionsTableName,
      MANAGEMENT_API_ENDPOINT: managementApi.endpoint,
      ...streamsEnvironment(stack),
    };
    const frameOf = (body: object): WebSocketEvent => {
      const event = messageEventWith(JSON.stringify(body), String((body as { action: string }).action));
      event.requestContext.connectionId = 'conn-hoarder-2';
      event.requestContext.authorizer = { principalId: USER, userId: USER, topics: '[]' };
      return event;
    };
    await stack.db.send(new PutCommand({ TableName: stack.tableName, Item: { connectionId: 'conn-hoarder-2', userId: USER, connectedAt: Date.now(), expiresAt: Math.floor(Date.now() / 1000) + 7200 } }));
    clients.connect('conn-hoarder-2');

    const page = await loadHandler<WebSocketHandler>('history', env)(frameOf({ action: 'history', stream: 'user' }));
    const resumed = await loadHandler<WebSocketHandler>('resume', env)(frameOf({ action: 'resume', streams: { user: { epoch: EPOCH, seq: 990 } } }));

    expect(JSON.parse(page.body ?? '')).toMatchObject({ type: 'history', items: [{ seq: 1000 }], next: 1000 });
    expect(clients.framesOf('conn-hoarder-2').map(seqOf)).toEqual([991, 992, 993, 994, 995, 996, 997, 998, 999, 1000]);
    expect(JSON.parse(resumed.body ?? '')).toEqual({ type: 'resumed', stream: 'user', recovered: true, from: 991, to: 1000 });
  }, 60_000);
});
