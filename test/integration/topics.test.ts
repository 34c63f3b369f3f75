import { CreateQueueCommand } from '@aws-sdk/client-sqs';
import { QueryCommand } from '@aws-sdk/lib-dynamodb';
import { InvalidMessageError } from '../../lambdas/core/messages';
import { chooseMember, CONNECTION_INDEX, SubscriptionTable } from '../../lambdas/core/subscriptions';
import { fanOutToTopic, type TopicFanOutDeps } from '../../lambdas/core/topic-fan-out';
import { subscribe, type TopicCaller } from '../../lambdas/core/topic-frames';
import type { CloudEvent, PublishMessage } from '../../lambdas/core/topics';
import { RecordedMetrics } from '../support/recorded-metrics';
import { receiveAll, type StackUnderTest, startStackUnderTest } from '../support/stack-under-test';

let stack: StackUnderTest;
let subscriptions: SubscriptionTable;
let publishQueueUrl: string;
const inAnHour = () => Math.floor(Date.now() / 1000) + 3600;

beforeAll(async () => {
  stack = await startStackUnderTest();
  subscriptions = new SubscriptionTable(stack.db, stack.subscriptionsTableName);
  ({ QueueUrl: publishQueueUrl = '' } = await stack.sqs.send(new CreateQueueCommand({ QueueName: 'Publish' })));
}, 60_000);

afterAll(async () => {
  await stack?.stop();
});

function deps(overrides: Partial<TopicFanOutDeps> = {}): TopicFanOutDeps {
  return { subscriptions, sqs: stack.sqs, notifyConnectionQueueUrl: stack.notifyConnection.url, publishQueueUrl, metrics: new RecordedMetrics(), ...overrides };
}

function event(type: string, id = `e-${Math.random().toString(36).slice(2)}`): CloudEvent {
  return { specversion: '1.0', id, source: 'https://test.example', type };
}

/** The deliveries the fan-out enqueued, by connection id. */
async function deliveredTo(): Promise<string[]> {
  const messages = await receiveAll(stack.sqs, stack.notifyConnection.url);
  return messages.map((message) => (JSON.parse(message.Body as string) as { connectionId: string }).connectionId).sort();
}

async function continuations(): Promise<PublishMessage[]> {
  return (await receiveAll(stack.sqs, publishQueueUrl)).map((message) => JSON.parse(message.Body as string) as PublishMessage);
}

async function topicRows(topicKey: string): Promise<string[]> {
  const { Items = [] } = await stack.db.send(
    new QueryCommand({ TableName: stack.subscriptionsTableName, KeyConditionExpression: 'topicKey = :k', ExpressionAttributeValues: { ':k': topicKey } }),
  );
  return Items.map((item) => item['connectionId'] as string);
}

describe('the subscription table', () => {
  it('keeps one subscription per connection and topic: a grouped one replaces a plain one and back', async () => {
    await subscriptions.subscribe({ connectionId: 'c-1', topic: 'swap', expiresAt: inAnHour() });
    await subscriptions.subscribe({ connectionId: 'c-1', topic: 'swap', group: 'g', expiresAt: inAnHour() });

    expect(await topicRows('s#swap')).toEqual([]);
    expect(await topicRows('g#swap')).toEqual(['c-1']);

    await subscriptions.unsubscribe('c-1', 'swap', undefined);
    expect(await topicRows('g#swap')).toEqual([]);
  });

  it("keeps tenants' topics apart", async () => {
    await subscriptions.subscribe({ connectionId: 'c-acme', topic: 'news', tenant: 'acme', expiresAt: inAnHour() });

    expect((await subscriptions.plainSubscribers('news', 'acme', { limit: 10 })).subscribers).toEqual([{ connectionId: 'c-acme' }]);
    expect((await subscriptions.plainSubscribers('news', 'globex', { limit: 10 })).subscribers).toEqual([]);
    expect((await subscriptions.plainSubscribers('news', undefined, { limit: 10 })).subscribers).toEqual([]);
  });

  it('skips subscriptions past their expiry, which TTL removes lazily', async () => {
    await subscriptions.subscribe({ connectionId: 'c-stale', topic: 'stale', expiresAt: Math.floor(Date.now() / 1000) - 1 });

    expect((await subscriptions.plainSubscribers('stale', undefined, { limit: 10 })).subscribers).toEqual([]);
  });

  it("removes all of a connection's subscriptions, in batches of 25", async () => {
    for (let index = 0; index < 30; index++) {
      await subscriptions.subscribe({ connectionId: 'c-many', topic: `t${index}`, ...(index % 2 === 0 && { group: 'g' }), expiresAt: inAnHour() });
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

describe("a connection's subscription limit", () => {
  const limited = () => ({ subscriptions, maxSubscriptionsPerConnection: 3 });
  const caller = (connectionId: string, tenant?: string): TopicCaller => ({
    connectionId,
    userId: 'u-limit',
    ...(tenant !== undefined && { tenant }),
    connectedAt: Date.now(),
    grants: { subscribe: ['*'], publish: [] },
  });
  const ask = (connectionId: string, frame: object, tenant?: string) =>
    subscribe(JSON.stringify({ action: 'subscribe', ...frame }), caller(connectionId, tenant), limited()).then((reply) => JSON.parse(reply));

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
  it('pages a large topic: one page per message, the rest enqueued as a continuation, groups on the first page only, one TopicEvents', async () => {
    for (let index = 0; index < 7; index++) {
      await subscriptions.subscribe({ connectionId: `p-${index}`, topic: 'big', expiresAt: inAnHour() });
    }
    await subscriptions.subscribe({ connectionId: 'p-group-member', topic: 'big', group: 'g', expiresAt: inAnHour() });
    const message: PublishMessage = { topic: 'big', event: event('x') };

    const all: string[] = [];
    const metrics = new RecordedMetrics();
    let next: PublishMessage | undefined = message;
    let pages = 0;
    while (next !== undefined) {
      const outcome = await fanOutToTopic(next, deps({ pageSize: 3, metrics }));
      pages += 1;
      all.push(...(await deliveredTo()));
      const pending = await continuations();
      expect(pending.length).toBe(outcome.continued ? 1 : 0);
      next = pending[0];
    }

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

  it('refuses, before enqueueing anything, an event whose frame API Gateway could not deliver', async () => {
    await subscriptions.subscribe({ connectionId: 'c-huge', topic: 'huge', expiresAt: inAnHour() });

    const huge = { ...event('x'), data: 'x'.repeat(130 * 1024) };
    await expect(fanOutToTopic({ topic: 'huge', event: huge }, deps())).rejects.toMatchObject({ reason: 'payload_too_large' });
    expect(await deliveredTo()).toEqual([]);
  });
});
