import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { BatchWriteCommand, DynamoDBDocumentClient, GetCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import { ConnectionTable } from '../../lambdas/core/connections';
import { DEFAULT_REPLAY_BUDGET } from '../../lambdas/core/replay-budget';
import { resume as resumeFrame } from '../../lambdas/core/stream-frames';
import { StreamTable, topicStreamKey, userStreamKey } from '../../lambdas/core/streams';
import { DEFAULT_MAX_SUBSCRIPTIONS_PER_CONNECTION, SubscriptionTable } from '../../lambdas/core/subscriptions';
import type { WebSocketEvent, WebSocketResult } from '../../lambdas/transport/events';
import { messageEventWith } from '../support/events';
import { loadHandler } from '../support/load-handler';
import { type ManagementApiServer, RecordingConnections, startManagementApi } from '../support/management-api-server';
import { type StackUnderTest, startStackUnderTest, streamsEnvironment } from '../support/stack-under-test';

// What one frame, and one connection, can make the stack post by replaying streams (issue 21, item 1),
// at the construct's default budget: 1,000 messages a frame, a bucket of 2,000 refilled at 2,000 a
// minute, 100 for an anonymous connection. Entries are written straight into the streams table.

type WebSocketHandler = (event: WebSocketEvent) => Promise<WebSocketResult>;

let stack: StackUnderTest;
let managementApi: ManagementApiServer;
const clients = new RecordingConnections();
let resume: WebSocketHandler;
let subscribe: WebSocketHandler;
const EPOCH = 'budget-epoch';

beforeAll(async () => {
  stack = await startStackUnderTest();
  managementApi = await startManagementApi(clients, 'live');
  const env = {
    CONNECTIONS_TABLE_NAME: stack.tableName,
    SUBSCRIPTIONS_TABLE_NAME: stack.subscriptionsTableName,
    MAX_SUBSCRIPTIONS_PER_CONNECTION: String(DEFAULT_MAX_SUBSCRIPTIONS_PER_CONNECTION),
    MANAGEMENT_API_ENDPOINT: managementApi.endpoint,
    PUBLIC_TOPICS: JSON.stringify(['lobby']),
    ...streamsEnvironment(stack),
  };
  resume = loadHandler('resume', env);
  subscribe = loadHandler('subscribe', env);
}, 60_000);

afterAll(async () => {
  await managementApi?.stop();
  await stack?.stop();
});

/** Entries 1..count of a stream, as appends store them, 25 to a write. */
async function fillStream(key: string, count: number, contentOf: (seq: number) => object): Promise<void> {
  const now = Date.now();
  const items = Array.from({ length: count }, (_, i) => ({
    stream: key,
    seq: i + 1,
    epoch: EPOCH,
    epochStart: 1,
    expiresAt: Math.floor(now / 1000) + 3600,
    appendedAt: now,
    messageId: `m${i + 1}`,
    content: JSON.stringify(contentOf(i + 1)),
  }));
  for (let start = 0; start < items.length; start += 25) {
    await stack.db.send(new BatchWriteCommand({ RequestItems: { [stack.streamsTableName]: items.slice(start, start + 25).map((Item) => ({ PutRequest: { Item } })) } }));
  }
}

const notification = (seq: number) => ({ id: `n${seq}`, time: new Date(0).toISOString(), data: { seq } });
const topicEvent = (topic: string) => (seq: number) => ({ topic, event: { specversion: '1.0', id: `e${seq}`, source: 'test', type: 'tick', data: { seq } } });

async function openConnection(connectionId: string, userId: string): Promise<void> {
  await stack.db.send(new PutCommand({ TableName: stack.tableName, Item: { connectionId, userId, connectedAt: Date.now(), expiresAt: Math.floor(Date.now() / 1000) + 7200 } }));
  clients.connect(connectionId);
}

function frameFrom(connectionId: string, userId: string, body: object, topics: string[] = []): WebSocketEvent {
  const event = messageEventWith(JSON.stringify(body), String((body as { action: string }).action));
  event.requestContext.connectionId = connectionId;
  event.requestContext.connectedAt = Date.now();
  event.requestContext.authorizer = { principalId: userId, userId, topics: JSON.stringify(topics) };
  return event;
}

const replayedFrames = (connectionId: string) => clients.framesOf(connectionId).filter((frame) => (frame as { replay?: boolean }).replay === true);
const resumedFrames = (frames: unknown[]) => frames.filter((frame) => (frame as { type?: string }).type === 'resumed') as Record<string, unknown>[];

describe('a replay budget per frame and per connection', () => {
  it('posts at most 1,000 messages for a resume naming 101 streams from seq 0 (100 resumed answers, 900 entries), answering the streams it cut replay_limit; the third such resume is refused rate_limited', async () => {
    // The user stream and 100 subscribed topics, 31 entries each: 3,131 entries, all of which a resume used to post.
    await openConnection('conn-wide', 'wide');
    await fillStream(userStreamKey('wide', undefined), 31, notification);
    const topics = Array.from({ length: 100 }, (_, n) => `wide-${n}`);
    for (const topic of topics) {
      await fillStream(topicStreamKey(topic, undefined), 31, topicEvent(topic));
      const reply = await subscribe(frameFrom('conn-wide', 'wide', { action: 'subscribe', topic }, ['wide-*']));
      expect(JSON.parse(reply.body ?? '')).toMatchObject({ type: 'subscribed' });
    }
    const streams = Object.fromEntries([['user', { seq: 0 }], ...topics.map((topic) => [`topic:${topic}`, { seq: 0 }])]);
    const frame = frameFrom('conn-wide', 'wide', { action: 'resume', streams, id: 'wide' }, ['wide-*']);

    // The bucket refills with time: the clock stands still while the frames run.
    jest.useFakeTimers({ doNotFake: ['nextTick', 'setImmediate', 'clearImmediate', 'setTimeout', 'clearTimeout', 'setInterval', 'clearInterval', 'queueMicrotask', 'hrtime', 'performance'] });
    const posted: unknown[][] = [];
    const replies: Record<string, unknown>[] = [];
    try {
      for (let n = 0; n < 3; n += 1) {
        clients.frames.delete('conn-wide');
        replies.push(JSON.parse((await resume(frame)).body ?? ''));
        posted.push(clients.framesOf('conn-wide'));
      }
    } finally {
      jest.useRealTimers();
    }

    const [first, second, third] = posted as [unknown[], unknown[], unknown[]];
    const resumed = [...resumedFrames(first), replies[0]!];
    expect(first.length - 100).toBe(900);
    expect(resumed).toHaveLength(101);
    // 29 streams carried whole (899 entries), the 30th its newest entry, every later one nothing: page on with history.
    expect(resumed.slice(0, 29).every((answer) => answer['recovered'] === true)).toBe(true);
    expect(resumed[29]).toEqual({ type: 'resumed', stream: 'topic:wide-28', recovered: false, reason: 'replay_limit', from: 31, to: 31, id: 'wide' });
    expect(resumed.slice(30)).toEqual(topics.slice(29).map((topic) => ({ type: 'resumed', stream: `topic:${topic}`, recovered: false, reason: 'replay_limit', id: 'wide' })));
    expect(second).toHaveLength(1000);
    expect(third).toEqual([]);
    expect(replies[2]).toEqual({ type: 'error', code: 'rate_limited', message: expect.stringMatching(/replay budget/), id: 'wide' });
  }, 60_000);

  it("posts at most the connection's bucket (2,000) for five resumes of 1,000 entries sent at once", async () => {
    await openConnection('conn-eager', 'eager');
    await fillStream(userStreamKey('eager', undefined), 1000, notification);
    const frame = frameFrom('conn-eager', 'eager', { action: 'resume', streams: { user: { seq: 0 } } });

    // The bucket refills with time: the clock stands still while the five frames run, so that none is refilled.
    jest.useFakeTimers({ doNotFake: ['nextTick', 'setImmediate', 'clearImmediate', 'setTimeout', 'clearTimeout', 'setInterval', 'clearInterval', 'queueMicrotask', 'hrtime', 'performance'] });
    const replies = await Promise.all(Array.from({ length: 5 }, () => resume(frame))).finally(() => jest.useRealTimers());

    const answers = replies.map((reply) => JSON.parse(reply.body ?? '') as Record<string, unknown>);
    expect(replayedFrames('conn-eager')).toHaveLength(2000);
    expect(answers.filter((answer) => answer['recovered'] === true)).toHaveLength(2);
    expect(answers.filter((answer) => answer['reason'] === 'replay_limit')).toEqual(Array(3).fill({ type: 'resumed', stream: 'user', recovered: false, reason: 'replay_limit' }));
  }, 60_000);

  it('posts at most 100 replayed messages to an anonymous connection subscribing with rewind: 10000', async () => {
    await openConnection('conn-anonymous', 'anonymous:conn-anonymous');
    await fillStream(topicStreamKey('lobby', undefined), 300, topicEvent('lobby'));

    const reply = await subscribe(frameFrom('conn-anonymous', 'anonymous:conn-anonymous', { action: 'subscribe', topic: 'lobby', rewind: 10_000 }));

    expect(replayedFrames('conn-anonymous').map((frame) => (frame as { seq: number }).seq)).toEqual(Array.from({ length: 100 }, (_, i) => 201 + i));
    expect(JSON.parse(reply.body ?? '')).toEqual({ type: 'resumed', stream: 'topic:lobby', recovered: false, reason: 'replay_limit', from: 201, to: 300 });
  }, 60_000);

  it('counts an entry over 32 KB as the messages API Gateway bills it as', async () => {
    await openConnection('conn-large', 'large');
    // About 40 KB a frame: two messages each, so a frame's budget carries 500 of them.
    await fillStream(userStreamKey('large', undefined), 600, (seq) => ({ ...notification(seq), data: { seq, text: 'x'.repeat(40 * 1024) } }));

    const reply = await resume(frameFrom('conn-large', 'large', { action: 'resume', streams: { user: { seq: 0 } } }));

    expect(replayedFrames('conn-large')).toHaveLength(500);
    expect(JSON.parse(reply.body ?? '')).toEqual({ type: 'resumed', stream: 'user', recovered: false, reason: 'replay_limit', from: 101, to: 600 });
  }, 60_000);

  it('replays 1,000 small entries missed whole with one Query, one GetItem and one UpdateItem (the bucket)', async () => {
    await openConnection('conn-cheap', 'cheap');
    await fillStream(userStreamKey('cheap', undefined), 1000, notification);
    const calls: Record<string, number> = {};
    const db = DynamoDBDocumentClient.from(new DynamoDBClient({}));
    db.middlewareStack.add(
      (next, context) => async (args) => {
        const name = String(context.commandName).replace(/Command$/, '');
        calls[name] = (calls[name] ?? 0) + 1;
        return next(args);
      },
      { step: 'initialize' },
    );
    const deps = {
      streams: new StreamTable(db, stack.streamsTableName, { ttlSeconds: 86_400, maxEntries: 1000 }),
      replayLimit: 1000,
      replayBudget: { settings: DEFAULT_REPLAY_BUDGET, buckets: new ConnectionTable(db, stack.tableName) },
      subscriptions: new SubscriptionTable(db, stack.subscriptionsTableName),
      post: async () => undefined,
    };
    const caller = { connectionId: 'conn-cheap', userId: 'cheap', connectedAt: Date.now(), grants: { subscribe: [], publish: [], groups: [] } };

    const reply = JSON.parse(await resumeFrame(JSON.stringify({ action: 'resume', streams: { user: { seq: 0 } } }), caller, deps));

    expect(reply).toEqual({ type: 'resumed', stream: 'user', recovered: true, from: 1, to: 1000 });
    expect(calls).toEqual({ Query: 1, GetItem: 1, UpdateItem: 1 });
    db.destroy();
  });

  it('replays nothing, and stores no row, for a connection whose row is gone', async () => {
    clients.connect('conn-gone');
    await fillStream(userStreamKey('gone', undefined), 5, notification);

    const reply = await resume(frameFrom('conn-gone', 'gone', { action: 'resume', streams: { user: { seq: 0 } } }));

    expect(replayedFrames('conn-gone')).toEqual([]);
    expect(JSON.parse(reply.body ?? '')).toEqual({ type: 'resumed', stream: 'user', recovered: false, reason: 'replay_limit' });
    expect((await stack.db.send(new GetCommand({ TableName: stack.tableName, Key: { connectionId: 'conn-gone' } }))).Item).toBeUndefined();
  });
});
