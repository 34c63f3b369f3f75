import { SendMessageCommand } from '@aws-sdk/client-sqs';
import { QueryCommand } from '@aws-sdk/lib-dynamodb';
import type { JWTPayload } from 'jose';
import { ApiKeyTable } from '../../lambdas/core/api-keys';
import { CONNECTION_INDEX, DEFAULT_MAX_SUBSCRIPTIONS_PER_CONNECTION } from '../../lambdas/core/subscriptions';
import { eventually, type RuntimeUnderTest, startRuntimeUnderTest, TestClient, UpgradeRefusedError } from '../support/local-runtime';

/** The stack as `npm start -- -c publicTopics=news` runs it. */
let stack: RuntimeUnderTest;
const clients: TestClient[] = [];

beforeAll(async () => {
  stack = await startRuntimeUnderTest({ context: { publicTopics: 'news' } });
}, 300_000);

afterAll(async () => {
  for (const client of clients) client.socket.terminate();
  await stack?.stop();
}, 60_000);

async function connectAs(userId: string, claims: JWTPayload = {}, query = ''): Promise<TestClient> {
  const token = await stack.runtime.issuer.mint({ userId, claims });
  const client = await TestClient.connect(`${stack.outputs['WebSocketUrl'] as string}${query}`, { headers: { Authorization: `Bearer ${token}` } });
  clients.push(client);
  return client;
}

let nextFrameId = 0;

/** Sends the frame with a fresh id and returns the reply to it. */
async function request(client: TestClient, frame: Record<string, unknown>): Promise<any> {
  const id = `req-${nextFrameId++}`;
  client.send({ ...frame, id });
  return client.frame((reply) => reply.id === id);
}

async function subscribe(client: TestClient, subscription: Record<string, unknown>): Promise<void> {
  expect(await request(client, { action: 'subscribe', ...subscription })).toMatchObject({ type: 'subscribed' });
}

let nextEventId = 0;

/** A backend's publish: a CloudEvent on the Publish queue. */
async function publish(topic: string, type: string, data: unknown = {}): Promise<string> {
  const id = `evt-${nextEventId++}`;
  const event = { specversion: '1.0', id, source: 'https://shop.example/orders', type, data };
  await stack.sqs.send(new SendMessageCommand({ QueueUrl: stack.outputs['PublishQueueUrl'], MessageBody: JSON.stringify({ topic, event }) }));
  return id;
}

function eventsOf(client: TestClient): any[] {
  return client.frames.filter((frame: any) => frame.type === 'event');
}

describe('subscribing', () => {
  it('answers subscribed, echoing the topic, filters and group; unsubscribe answers unsubscribed', async () => {
    const client = await connectAs('sub-ann', { topics: ['orders.*'], groups: ['orders.eu#billing'] });

    expect(await request(client, { action: 'subscribe', topic: 'orders.eu', events: ['order.*'], group: 'billing' })).toEqual({
      type: 'subscribed',
      topic: 'orders.eu',
      events: ['order.*'],
      group: 'billing',
      id: expect.any(String),
    });
    expect(await request(client, { action: 'unsubscribe', topic: 'orders.eu' })).toEqual({ type: 'unsubscribed', topic: 'orders.eu', id: expect.any(String) });
  });

  it('refuses a topic outside the token grant and the public topics with forbidden_topic', async () => {
    const client = await connectAs('sub-ben', { topics: ['orders.*'] });

    expect(await request(client, { action: 'subscribe', topic: 'payroll' })).toMatchObject({ type: 'error', code: 'forbidden_topic' });
    expect(await request(client, { action: 'subscribe', topic: 'orders' })).toMatchObject({ type: 'error', code: 'forbidden_topic' });
  });

  it('lets any connection subscribe to a public topic, with no grant', async () => {
    const client = await connectAs('sub-cat');

    await subscribe(client, { topic: 'news' });
    const id = await publish('news', 'news.published', { headline: 'hi' });

    expect(await client.frame((frame) => frame.type === 'event')).toEqual({
      type: 'event',
      topic: 'news',
      event: { specversion: '1.0', id, source: 'https://shop.example/orders', type: 'news.published', data: { headline: 'hi' }, wsnpublisher: 'backend' },
      stream: 'topic:news',
      seq: expect.any(Number),
      epoch: expect.any(String),
    });
  });

  it("takes an API key's grants as a token's", async () => {
    const keys = new ApiKeyTable(stack.db, stack.outputs['ApiKeysTableName'] as string);
    const { apiKey } = await keys.create({ userId: 'sub-key', scope: 'connect', topics: ['vault.*'], publishTopics: ['vault.audit'] });
    const client = await TestClient.connect(stack.outputs['WebSocketUrl'] as string, { headers: { 'x-api-key': apiKey } });
    clients.push(client);

    await subscribe(client, { topic: 'vault.audit' });
    expect(await request(client, { action: 'subscribe', topic: 'payroll' })).toMatchObject({ code: 'forbidden_topic' });
    expect(await request(client, { action: 'publish', topic: 'vault.audit', event: { type: 'door.opened' } })).toMatchObject({ type: 'published' });
    expect((await client.frame((frame) => frame.type === 'event')).event).toMatchObject({ type: 'door.opened', source: 'ws-notify:user:sub-key' });
  });

  it('refuses a 101st subscription with too_many_subscriptions, and takes it after an unsubscribe', async () => {
    const client = await connectAs('sub-many', { topics: ['many.*'] });
    for (let index = 0; index < DEFAULT_MAX_SUBSCRIPTIONS_PER_CONNECTION; index++) await subscribe(client, { topic: `many.t${index}` });

    expect(await request(client, { action: 'subscribe', topic: 'many.extra' })).toMatchObject({ type: 'error', code: 'too_many_subscriptions' });
    await request(client, { action: 'unsubscribe', topic: 'many.t0' });
    await subscribe(client, { topic: 'many.extra' });
  }, 60_000);

  it.each([
    ['no topic', { action: 'subscribe' }],
    ['a topic with a space', { action: 'subscribe', topic: 'a b' }],
    ['events that are not a list', { action: 'subscribe', topic: 'news', events: 'order.*' }],
    ['an empty events list', { action: 'subscribe', topic: 'news', events: [] }],
    ['a group with a space', { action: 'subscribe', topic: 'news', group: 'a b' }],
  ])('refuses %s with invalid_subscription', async (_what, frame) => {
    const client = await connectAs('sub-dan');

    expect(await request(client, frame)).toMatchObject({ type: 'error', code: 'invalid_subscription' });
  });
});

describe("a topic's stream (issue 14)", () => {
  /** Publishes `count` events and returns their ids, once a subscriber of everything has them all (so they are appended). */
  async function publishSeen(topic: string, count: number, watcher: TestClient): Promise<string[]> {
    const ids: string[] = [];
    for (let n = 0; n < count; n++) ids.push(await publish(topic, 'score.changed', { n }));
    await eventually(async () => (ids.every((id) => eventsOf(watcher).some((frame) => frame.event.id === id)) ? true : undefined), `${count} events at the watcher`);
    return ids;
  }

  /** Sends the frame with a fresh id and returns the `resumed` frame that ends its replay. */
  async function resumedBy(client: TestClient, frame: Record<string, unknown>): Promise<any> {
    const id = `req-${nextFrameId++}`;
    client.send({ ...frame, id });
    return client.frame((reply) => reply.id === id && reply.type !== 'subscribed');
  }

  it('starts a subscription from a position (since) or the newest N (rewind): subscribed, the replay in seq order, then resumed', async () => {
    const watcher = await connectAs('stream-watcher', { topics: ['scores'] });
    await subscribe(watcher, { topic: 'scores' });
    await publishSeen('scores', 5, watcher);
    const seqs = eventsOf(watcher).map((frame) => frame.seq as number).sort((a, b) => a - b);
    const { epoch } = eventsOf(watcher)[0];
    const [late, later] = await Promise.all([connectAs('stream-late', { topics: ['scores'] }), connectAs('stream-later', { topics: ['scores'] })]);

    const since = await resumedBy(late, { action: 'subscribe', topic: 'scores', since: { epoch, seq: seqs[1] } });
    const rewound = await resumedBy(later, { action: 'subscribe', topic: 'scores', rewind: 2 });

    expect(seqs).toHaveLength(5);
    expect(late.frames.map((frame: any) => frame.seq ?? frame.type)).toEqual(['subscribed', ...seqs.slice(2), 'resumed']);
    expect(since).toMatchObject({ type: 'resumed', stream: 'topic:scores', recovered: true, from: seqs[2], to: seqs[4] });
    expect(eventsOf(late).every((frame) => frame.replay === true && frame.stream === 'topic:scores' && frame.epoch === epoch)).toBe(true);
    expect(later.frames.map((frame: any) => frame.seq ?? frame.type)).toEqual(['subscribed', ...seqs.slice(3), 'resumed']);
    expect(rewound).toMatchObject({ recovered: true, from: seqs[3], to: seqs[4] });

    // Subscribed now: the next event arrives live, with the next seq.
    const [next] = await publishSeen('scores', 1, watcher);
    expect(await late.frame((frame) => frame.event?.id === next)).toMatchObject({ seq: seqs[4]! + 1, epoch });
  });

  it('resumes a subscribed topic with what the connection missed, and refuses one it is not subscribed to', async () => {
    const watcher = await connectAs('resume-watcher', { topics: ['games'] });
    await subscribe(watcher, { topic: 'games' });
    await publishSeen('games', 3, watcher);
    const { epoch, seq } = eventsOf(watcher).reduce((newest, frame) => (frame.seq > newest.seq ? frame : newest));
    const client = await connectAs('resume-topic', { topics: ['games'] });

    expect(await request(client, { action: 'resume', streams: { 'topic:games': { epoch, seq: seq - 2 } } })).toMatchObject({ type: 'error', code: 'not_subscribed' });
    await subscribe(client, { topic: 'games' });
    const resumed = await request(client, { action: 'resume', streams: { 'topic:games': { epoch, seq: seq - 2 } } });

    expect(eventsOf(client).map((frame) => frame.seq)).toEqual([seq - 1, seq]);
    expect(resumed).toMatchObject({ type: 'resumed', stream: 'topic:games', recovered: true, from: seq - 1, to: seq });
  });
});

describe('event-type filters', () => {
  it('deliver every type without a filter, the listed types with one, and a prefix with type.*', async () => {
    const grants = { topics: ['shop'] };
    const [exact, prefix, all] = await Promise.all([connectAs('f-exact', grants), connectAs('f-prefix', grants), connectAs('f-all', grants)]);
    await subscribe(exact, { topic: 'shop', events: ['order.created'] });
    await subscribe(prefix, { topic: 'shop', events: ['order.*'] });
    await subscribe(all, { topic: 'shop' });

    const created = await publish('shop', 'order.created');
    const shipped = await publish('shop', 'order.shipped');
    const paid = await publish('shop', 'invoice.paid');
    const ordering = await publish('shop', 'order');
    await eventually(async () => (eventsOf(all).length === 4 ? true : undefined), 'all four events at the unfiltered subscriber');
    // The filtered subscribers' deliveries were planned by the same fan-outs, and are done or close behind.
    await eventually(async () => (eventsOf(prefix).length >= 2 && eventsOf(exact).length >= 1 ? true : undefined), 'the filtered subscribers');

    expect(eventsOf(exact).map((frame) => frame.event.id)).toEqual([created]);
    expect(eventsOf(prefix).map((frame) => frame.event.id).sort()).toEqual([created, shipped].sort());
    expect(eventsOf(all).map((frame) => frame.event.id).sort()).toEqual([created, shipped, paid, ordering].sort());
  });
});

describe('shared groups', () => {
  it('deliver each event to exactly one member of a group, and every event to a subscriber outside it', async () => {
    const grants = { topics: ['jobs'], groups: ['jobs#workers'] };
    const members = await Promise.all(['g-1', 'g-2', 'g-3'].map((user) => connectAs(user, grants)));
    const watcher = await connectAs('g-watcher', { topics: ['jobs'] });
    for (const member of members) await subscribe(member, { topic: 'jobs', group: 'workers' });
    await subscribe(watcher, { topic: 'jobs' });

    const ids: string[] = [];
    for (let index = 0; index < 30; index++) ids.push(await publish('jobs', 'job.queued', { index }));
    await eventually(async () => (eventsOf(watcher).length === 30 ? true : undefined), 'every event at the watcher', 30_000);
    await eventually(
      async () => (members.reduce((sum, member) => sum + eventsOf(member).length, 0) >= 30 ? true : undefined),
      'every event at the group',
      30_000,
    );

    const received = members.flatMap((member) => eventsOf(member).map((frame) => frame.event.id));
    expect(received.sort()).toEqual([...ids].sort());
    // Rendezvous hashing spreads 30 events over 3 members: each gets some.
    expect(members.map((member) => eventsOf(member).length).every((count) => count > 0)).toBe(true);
  }, 60_000);

  it("refuse a connection that may read the topic but holds no grant for the group (forbidden_group): it takes none of the group's events", async () => {
    const member = await connectAs('hijack-member', { topics: ['payouts'], groups: ['payouts#settlement'] });
    const attacker = await connectAs('hijack-attacker', { topics: ['payouts'], groups: ['payouts#other'] });
    await subscribe(member, { topic: 'payouts', group: 'settlement' });

    expect(await request(attacker, { action: 'subscribe', topic: 'payouts', group: 'settlement' })).toMatchObject({ type: 'error', code: 'forbidden_group' });
    const ids: string[] = [];
    for (let index = 0; index < 10; index++) ids.push(await publish('payouts', 'payout.due', { index }));

    await eventually(async () => (eventsOf(member).length === 10 ? true : undefined), 'every event at the one member', 30_000);
    expect(eventsOf(member).map((frame) => frame.event.id).sort()).toEqual([...ids].sort());
    expect(eventsOf(attacker)).toEqual([]);
  }, 60_000);
});

describe('publishing from a client', () => {
  it('reaches subscribers as a CloudEvent whose source names the publishing user, when the token grants publishTopics', async () => {
    const reader = await connectAs('pub-reader', { topics: ['chat.*'] });
    const writer = await connectAs('pub-writer', { publishTopics: ['chat.*'] });
    await subscribe(reader, { topic: 'chat.lobby' });

    const reply = await request(writer, { action: 'publish', topic: 'chat.lobby', event: { type: 'message.posted', data: { text: 'hello' } } });

    expect(reply).toEqual({ type: 'published', topic: 'chat.lobby', eventId: expect.any(String), id: expect.any(String) });
    expect((await reader.frame((frame) => frame.type === 'event')).event).toEqual({
      specversion: '1.0',
      id: reply.eventId,
      source: 'ws-notify:user:pub-writer',
      type: 'message.posted',
      time: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
      data: { text: 'hello' },
      wsnpublisher: 'user:pub-writer',
    });
  });

  it('refuses a topic outside publishTopics (subscribe grants and public topics included) with forbidden_topic', async () => {
    const client = await connectAs('pub-nope', { topics: ['chat.*'], publishTopics: ['alerts'] });

    expect(await request(client, { action: 'publish', topic: 'chat.lobby', event: { type: 't' } })).toMatchObject({ code: 'forbidden_topic' });
    expect(await request(client, { action: 'publish', topic: 'news', event: { type: 't' } })).toMatchObject({ code: 'forbidden_topic' });
  });

  it('refuses an event without a type, or one that sets source, with invalid_event', async () => {
    const client = await connectAs('pub-bad', { publishTopics: ['*'] });

    expect(await request(client, { action: 'publish', topic: 'x', event: { data: 1 } })).toMatchObject({ code: 'invalid_event' });
    expect(await request(client, { action: 'publish', topic: 'x', event: { type: 't', source: 'https://bank.example' } })).toMatchObject({
      code: 'invalid_event',
    });
  });
});

describe('subscriptions and their connection', () => {
  async function subscriptionsOf(connectionId: string): Promise<number> {
    const { Count } = await stack.db.send(
      new QueryCommand({
        TableName: stack.outputs['SubscriptionsTableName'],
        IndexName: CONNECTION_INDEX,
        KeyConditionExpression: 'connectionId = :id',
        ExpressionAttributeValues: { ':id': connectionId },
        Select: 'COUNT',
      }),
    );
    return Count ?? 0;
  }

  it('stores exactly 100 of 150 subscribe frames sent at once over one connection, and answers the rest too_many_subscriptions', async () => {
    const client = await connectAs('sub-burst', { topics: ['burst.*'] });
    const [connectionId] = await stack.connectionIdsOf('sub-burst', 1);

    const ids = Array.from({ length: 150 }, (_, index) => `burst-${index}`);
    for (const [index, id] of ids.entries()) client.send({ action: 'subscribe', topic: `burst.t${index}`, id });
    // A burst takes the local gateway a few seconds on a busy machine: each frame is a function invocation.
    const replies = await Promise.all(ids.map((id) => client.frame((reply) => reply.id === id, 30_000)));

    expect(replies.filter((reply) => reply.type === 'subscribed')).toHaveLength(DEFAULT_MAX_SUBSCRIPTIONS_PER_CONNECTION);
    expect(replies.filter((reply) => reply.code === 'too_many_subscriptions')).toHaveLength(150 - DEFAULT_MAX_SUBSCRIPTIONS_PER_CONNECTION);
    expect(await subscriptionsOf(connectionId as string)).toBe(DEFAULT_MAX_SUBSCRIPTIONS_PER_CONNECTION);
  }, 60_000);

  it('vanish when the connection closes ($disconnect)', async () => {
    const client = await connectAs('clean-up', { topics: ['*'], groups: ['*'] });
    const [connectionId] = await stack.connectionIdsOf('clean-up', 1);
    await subscribe(client, { topic: 'a' });
    await subscribe(client, { topic: 'b', group: 'g' });
    expect(await subscriptionsOf(connectionId as string)).toBe(2);

    client.close();

    await eventually(async () => ((await subscriptionsOf(connectionId as string)) === 0 ? true : undefined), 'the subscriptions to be removed');
  });
});

describe('subscribing at connect', () => {
  it('delivers an event published as soon as the upgrade resolves to a client that connected with ?subscribe= and sent nothing', async () => {
    const client = await connectAs('at-connect', { topics: ['orders'] }, '?subscribe=orders,news&events=order.*');

    const id = await publish('orders', 'order.created');

    expect((await client.frame((frame) => frame.type === 'event')).event).toMatchObject({ id, type: 'order.created' });
  });

  it("subscribes a token's autoSubscribe topics at every connect", async () => {
    const client = await connectAs('auto-sub', { topics: ['alerts'], autoSubscribe: ['alerts'] });

    const id = await publish('alerts', 'alert.raised');

    expect((await client.frame((frame) => frame.type === 'event')).event).toMatchObject({ id });
  });

  it('refuses the upgrade with 403 for a topic the token does not grant, storing no connection', async () => {
    await expect(connectAs('at-connect-denied', { topics: ['orders'] }, '?subscribe=payroll')).rejects.toEqual(new UpgradeRefusedError(403));
    expect(await stack.connectionIdsOf('at-connect-denied', 0)).toEqual([]);
  });
});

describe('a refresh (authenticate) replaces the grants', () => {
  it('ends each subscription no longer granted with unsubscribed (grant_revoked), and checks later frames against the new grants', async () => {
    const client = await connectAs('regrant', { topics: ['vault.*'], publishTopics: ['vault.*'], groups: ['vault.jobs#workers'] });
    await subscribe(client, { topic: 'vault.public' });
    await subscribe(client, { topic: 'vault.secret' });
    await subscribe(client, { topic: 'vault.jobs', group: 'workers' });

    const token = await stack.runtime.issuer.mint({ userId: 'regrant', claims: { topics: ['vault.public', 'vault.jobs'], publishTopics: [] } });
    expect(await request(client, { action: 'authenticate', token })).toMatchObject({ type: 'authenticated' });

    const ended = client.frames.filter((frame: any) => frame.type === 'unsubscribed' && frame.reason === 'grant_revoked');
    expect(ended.map((frame: any) => frame.topic).sort()).toEqual(['vault.jobs', 'vault.secret']);
    expect(await request(client, { action: 'subscribe', topic: 'vault.secret' })).toMatchObject({ code: 'forbidden_topic' });
    expect(await request(client, { action: 'subscribe', topic: 'vault.jobs', group: 'workers' })).toMatchObject({ code: 'forbidden_group' });
    expect(await request(client, { action: 'publish', topic: 'vault.public', event: { type: 't' } })).toMatchObject({ code: 'forbidden_topic' });

    // The secret topic's next event reaches it no more; the public one's still does.
    const secret = await publish('vault.secret', 'leak');
    const kept = await publish('vault.public', 'ok');
    await client.frame((frame) => frame.type === 'event' && frame.event.id === kept);
    expect(eventsOf(client).map((frame) => frame.event.id)).not.toContain(secret);
  });
});

describe('a large topic', () => {
  it('serves 1,000 subscribers with one event', async () => {
    const crowd: TestClient[] = [];
    // 40 users of 25 connections each: a user may hold 25 (maxConnectionsPerUser).
    for (let start = 0; start < 1000; start += 25) {
      const token = await stack.runtime.issuer.mint({ userId: `crowd-${start}`, claims: { topics: ['stadium'] } });
      const batch = await Promise.all(
        Array.from({ length: 25 }, () => TestClient.connect(stack.outputs['WebSocketUrl'] as string, { headers: { Authorization: `Bearer ${token}` } })),
      );
      clients.push(...batch);
      crowd.push(...batch);
      await Promise.all(batch.map((client) => subscribe(client, { topic: 'stadium' })));
    }

    const id = await publish('stadium', 'goal.scored');

    await eventually(
      async () => (crowd.every((client) => eventsOf(client).some((frame) => frame.event.id === id)) ? true : undefined),
      'the event at all 1,000 subscribers',
      90_000,
    );
  }, 240_000);
});
