import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { GetQueueAttributesCommand, GetQueueUrlCommand, SendMessageBatchCommand, SendMessageCommand } from '@aws-sdk/client-sqs';
import { GetCommand, ScanCommand } from '@aws-sdk/lib-dynamodb';
import { ApiKeyTable } from '../../lambdas/core/api-keys';
import { StreamTable, userStreamKey } from '../../lambdas/core/streams';
import { receiveAll } from '../support/stack-under-test';
import { eventually, PROJECT_DIR, type RuntimeUnderTest, startRuntimeUnderTest, TestClient, UpgradeRefusedError } from '../support/local-runtime';

/**
 * The stack as `npm start -- -c allowAnonymous=true -c tenantClaim=org -c publicTopics=status,lobby -c publicGroups=lobby#viewers -c historyTtl=3 --max-connection-duration 30`
 * runs it: streams keep 3 seconds of history, so that a test can resume beyond it, and API
 * Gateway's 2-hour close comes after 30 seconds.
 */
let stack: RuntimeUnderTest;
let apiKeys: ApiKeyTable;
const clients: TestClient[] = [];

beforeAll(async () => {
  stack = await startRuntimeUnderTest({
    context: { allowAnonymous: 'true', tenantClaim: 'org', publicTopics: 'status,lobby', publicGroups: 'lobby#viewers', historyTtl: '3' },
    maxConnectionSeconds: 30,
  });
  apiKeys = new ApiKeyTable(stack.db, stack.outputs['ApiKeysTableName'] as string);
}, 300_000);

afterAll(async () => {
  for (const client of clients) client.socket.terminate();
  await stack?.stop();
}, 30_000);

async function connect(options: Parameters<typeof TestClient.connect>[1] = {}, query = ''): Promise<TestClient> {
  const client = await TestClient.connect(`${stack.outputs['WebSocketUrl']}${query}`, options);
  clients.push(client);
  return client;
}

async function connectAs(userId: string, tenant: string, query = ''): Promise<TestClient> {
  const token = await stack.runtime.issuer.mint({ userId, claims: { org: tenant } });
  return connect({ headers: { Authorization: `Bearer ${token}` } }, query);
}

async function send(output: 'NotifyUserQueueUrl' | 'NotifyConnectionQueueUrl' | 'PublishQueueUrl', body: unknown): Promise<void> {
  await stack.sqs.send(new SendMessageCommand({ QueueUrl: stack.outputs[output], MessageBody: JSON.stringify(body) }));
}

/** The anonymous connections' rows (a Scan, which only a test may use: nothing in the stack can find them by user). */
async function anonymousRows(count: number): Promise<Record<string, unknown>[]> {
  return eventually(async () => {
    const { Items = [] } = await stack.db.send(
      new ScanCommand({
        TableName: stack.outputs['ConnectionsTableName'],
        FilterExpression: 'begins_with(userId, :anonymous)',
        ExpressionAttributeValues: { ':anonymous': 'anonymous:' },
      }),
    );
    return Items.length === count ? Items : undefined;
  }, `${count} anonymous connection(s)`);
}

/** Dead-lettered NotifyUser messages, by body, with their ErrorMessage. */
async function deadLetteredNotifyUser(count: number): Promise<Map<string, string | undefined>> {
  const { QueueUrl } = await stack.sqs.send(new GetQueueUrlCommand({ QueueName: await deadLetterQueueNameOf('NotifyUserQueueUrl') }));
  const found = new Map<string, string | undefined>();
  return eventually(async () => {
    for (const message of await receiveAll(stack.sqs, QueueUrl as string)) {
      found.set(message.Body as string, message.MessageAttributes?.['ErrorMessage']?.StringValue);
    }
    return found.size >= count ? found : undefined;
  }, `${count} dead-lettered message(s)`);
}

/** Proves that no notification reached the client: a pong sent afterwards arrives with none before it. */
async function expectNoNotification(client: TestClient): Promise<void> {
  const id = `after-${Date.now()}`;
  client.send({ action: 'ping', id });
  await client.frame((frame) => frame.id === id);
  expect(client.frames.filter((frame: any) => frame.type === 'notification')).toEqual([]);
}

describe('streams beyond their retention (historyTtl 3 s by context)', () => {
  it('answers a resume from a position whose history expired recovered:false (epoch_changed), and a fresh one from 0 that it missed nothing', async () => {
    const streams = new StreamTable(stack.db, stack.outputs['StreamsTableName'] as string, { ttlSeconds: 3, maxEntries: 1000 });
    const stream = userStreamKey('ret-rita', 'acme');
    for (let n = 1; n <= 3; n++) await send('NotifyUserQueueUrl', { userId: 'ret-rita', tenant: 'acme', data: { n } });
    const newest = await eventually(async () => {
      const entry = await streams.newest(stream);
      return entry !== undefined && entry.seq === 3 ? entry : undefined;
    }, 'three entries appended');
    // Past the newest entry's expiry, every entry of the stream is gone for readers.
    await eventually(async () => (Date.now() / 1000 > newest.expiresAt ? true : undefined), 'the history to expire');
    const client = await connectAs('ret-rita', 'acme');

    client.send({ action: 'resume', id: 'old', streams: { user: { epoch: newest.epoch, seq: 1 } } });
    client.send({ action: 'resume', id: 'fresh', streams: { user: { seq: 0 } } });

    expect(await client.frame((frame) => frame.id === 'old')).toEqual({ type: 'resumed', stream: 'user', recovered: false, reason: 'epoch_changed', id: 'old' });
    expect(await client.frame((frame) => frame.id === 'fresh')).toMatchObject({ type: 'resumed', recovered: true, from: 4, to: 3 });
    expect(client.frames.filter((frame: any) => frame.type === 'notification')).toEqual([]);
  }, 60_000);
});

describe("a stream across API Gateway's forced close (2 hours, 30 s here)", () => {
  it('loses nothing of a stream of 500 when the connection is closed midway: a resume from the last contiguous seq fills in exactly the rest', async () => {
    const notify = async (from: number, count: number) => {
      for (let start = from; start < from + count; start += 10) {
        const entries = Array.from({ length: 10 }, (_, i) => ({ Id: String(i), MessageBody: JSON.stringify({ userId: 'long-lou', tenant: 'acme', data: { n: start + i } }) }));
        await stack.sqs.send(new SendMessageBatchCommand({ QueueUrl: stack.outputs['NotifyUserQueueUrl'], Entries: entries }));
      }
    };
    const seqsOf = (client: TestClient) => client.frames.filter((frame: any) => frame.type === 'notification').map((frame: any) => frame.seq as number);
    const first = await connectAs('long-lou', 'acme');
    await notify(1, 250);
    await eventually(async () => (seqsOf(first).length === 250 ? true : undefined), '250 live notifications', 60_000);

    // The rest is sent while the runtime closes the connection at its 30 s (1001, as API Gateway does at 2 hours).
    const rest = notify(251, 250);
    expect((await first.closedWith(60_000)).code).toBe(1001);
    await rest;
    const received = new Set(seqsOf(first));
    let contiguous = 0;
    while (received.has(contiguous + 1)) contiguous += 1;
    const { epoch } = first.frames.find((frame: any) => frame.type === 'notification') as { epoch: string };
    const second = await connectAs('long-lou', 'acme');
    second.send({ action: 'resume', id: 'after-close', streams: { user: { epoch, seq: contiguous } } });
    const resumed = await second.frame((frame) => frame.id === 'after-close', 30_000);
    await eventually(async () => (new Set([...received, ...seqsOf(second)]).size >= 500 ? true : undefined), 'all 500', 60_000);

    const replayed = second.frames.filter((frame: any) => frame.replay === true).map((frame: any) => frame.seq);
    expect(resumed).toMatchObject({ type: 'resumed', recovered: true, from: contiguous + 1 });
    expect(replayed).toEqual(Array.from({ length: replayed.length }, (_, i) => contiguous + 1 + i));
    expect([...new Set([...received, ...seqsOf(second)])].sort((a, b) => a - b)).toEqual(Array.from({ length: 500 }, (_, i) => i + 1));
  }, 180_000);
});

describe('anonymous access (allowAnonymous)', () => {
  it('connects a client without a credential as the anonymous user of its connection, reached by NotifyConnection', async () => {
    const client = await connect();
    const [row] = await anonymousRows(1);
    const connectionId = row?.['connectionId'] as string;

    expect(row?.['userId']).toBe(`anonymous:${connectionId}`);
    await send('NotifyConnectionQueueUrl', { connectionId, data: 'hello, stranger' });
    expect(await client.frame((frame) => frame.type === 'notification')).toMatchObject({ data: 'hello, stranger' });
  });

  it('never reaches an anonymous connection by NotifyUser: the message is dead-lettered with the reason', async () => {
    const before = new Set((await anonymousRows(1)).map((row) => row['userId']));
    const client = await connect();
    const userId = (await anonymousRows(2)).map((row) => row['userId'] as string).find((id) => !before.has(id));

    await send('NotifyUserQueueUrl', { userId, data: 'fan-out to a stranger' });
    const deadLetters = await deadLetteredNotifyUser(1);

    expect([...deadLetters.values()]).toContain('anonymous connections receive NotifyConnection messages only');
    await expectNoNotification(client);
  });

  it.each([
    ['a token that does not verify', { Authorization: 'Bearer not.a.jwt' }],
    ['a Basic header whose password is not an API key', { Authorization: 'Basic YWxpY2U6c2VjcmV0' }],
    ['an API key that is not one', { 'x-api-key': 'wsn_garbage' }],
    ['an empty x-api-key header', { 'x-api-key': '' }],
  ])('still refuses %s (403), rather than connecting it anonymously', async (_, headers) => {
    await expect(connect({ headers })).rejects.toEqual(new UpgradeRefusedError(403));
  });

  it('still refuses a revoked API key (403), rather than connecting it anonymously', async () => {
    const { apiKey, record } = await apiKeys.create({ userId: 'olga', tenant: 'acme', scope: 'connect' });
    await apiKeys.revoke(record.keyId);

    await expect(connect({ headers: { 'x-api-key': apiKey } })).rejects.toEqual(new UpgradeRefusedError(403));
  });
});

describe('refreshing a credential across users or tenants', () => {
  it("cannot turn an anonymous connection into a user's with authenticate (user_mismatch)", async () => {
    const client = await connect();
    client.send({ action: 'authenticate', token: await stack.runtime.issuer.mint({ userId: 'zoe', claims: { org: 'acme' } }), id: 'up' });

    expect(await client.frame((frame) => frame.id === 'up')).toMatchObject({ type: 'error', code: 'user_mismatch' });
  });

  it("refuses a fresh token for the same user in another tenant (user_mismatch)", async () => {
    const client = await connectAs('ada', 'acme');
    client.send({ action: 'authenticate', token: await stack.runtime.issuer.mint({ userId: 'ada', claims: { org: 'globex' } }), id: 'hop' });

    expect(await client.frame((frame) => frame.id === 'hop')).toMatchObject({ type: 'error', code: 'user_mismatch' });
  });
});

describe('tenants (tenantClaim "org")', () => {
  it("stores the token's tenant, whatever the client claims in the query string", async () => {
    await connectAs('vera', 'acme', '?tenant=globex&org=globex');
    const [connectionId] = await stack.connectionIdsOf('vera', 1);

    const { Item } = await stack.db.send(new GetCommand({ TableName: stack.outputs['ConnectionsTableName'], Key: { connectionId } }));
    expect(Item).toMatchObject({ userId: 'vera', tenant: 'acme' });
  });

  it('refuses a token without the tenant claim (403)', async () => {
    const token = await stack.runtime.issuer.mint({ userId: 'walt' });
    await expect(connect({ headers: { Authorization: `Bearer ${token}` } })).rejects.toEqual(new UpgradeRefusedError(403));
  });

  it("delivers a NotifyUser message only to the named tenant's connections of the user", async () => {
    const [acme, globex] = await Promise.all([connectAs('xena', 'acme'), connectAs('xena', 'globex')]);
    await stack.connectionIdsOf('xena', 2);

    await send('NotifyUserQueueUrl', { userId: 'xena', tenant: 'acme', data: 'for acme' });

    expect(await acme.frame((frame) => frame.type === 'notification')).toMatchObject({ data: 'for acme' });
    await expectNoNotification(globex);
  });

  it('dead-letters a NotifyUser message that names no tenant, reaching nobody', async () => {
    const client = await connectAs('yuri', 'acme');
    await stack.connectionIdsOf('yuri', 1);

    await send('NotifyUserQueueUrl', { userId: 'yuri', data: 'whose tenant?' });
    const deadLetters = await deadLetteredNotifyUser(1);

    expect(deadLetters.get(JSON.stringify({ userId: 'yuri', data: 'whose tenant?' }))).toMatch(/multi-tenant/);
    await expectNoNotification(client);
  });
});

describe('API keys in a multi-tenant stack', () => {
  it("connect into the key's tenant only: ?tenant= naming another moves nothing, and the other tenant's NotifyUser does not reach it", async () => {
    const { apiKey } = await apiKeys.create({ userId: 'zara', tenant: 'globex', scope: 'connect' });
    const keyed = await connect({ headers: { 'x-api-key': apiKey } }, '?tenant=acme&org=acme');
    const [connectionId] = await stack.connectionIdsOf('zara', 1);

    const { Item } = await stack.db.send(new GetCommand({ TableName: stack.outputs['ConnectionsTableName'], Key: { connectionId } }));
    expect(Item).toMatchObject({ userId: 'zara', tenant: 'globex' });

    // zara in acme gets acme's notification: that fan-out is done, having planned its recipients once.
    const inAcme = await connectAs('zara', 'acme');
    await stack.connectionIdsOf('zara', 2);
    await send('NotifyUserQueueUrl', { userId: 'zara', tenant: 'acme', data: 'for acme' });
    await inAcme.frame((frame) => frame.type === 'notification');
    await send('NotifyUserQueueUrl', { userId: 'zara', tenant: 'globex', data: 'for globex' });
    await keyed.frame((frame) => frame.type === 'notification');

    expect(keyed.frames.filter((frame: any) => frame.type === 'notification')).toEqual([expect.objectContaining({ data: 'for globex' })]);
  });

  it('refuse a key that names no tenant (403)', async () => {
    const { apiKey } = await apiKeys.create({ userId: 'zeke', scope: 'connect' });

    await expect(connect({ headers: { 'x-api-key': apiKey } })).rejects.toEqual(new UpgradeRefusedError(403));
  });
});

describe('topics in a multi-tenant stack', () => {
  async function request(client: TestClient, frame: Record<string, unknown>): Promise<any> {
    const id = `req-${Date.now()}-${Math.random()}`;
    client.send({ ...frame, id });
    return client.frame((reply) => reply.id === id);
  }

  async function connectWithTopics(userId: string, tenant: string): Promise<TestClient> {
    const token = await stack.runtime.issuer.mint({ userId, claims: { org: tenant, topics: ['news'], publishTopics: ['news'] } });
    return connect({ headers: { Authorization: `Bearer ${token}` } });
  }

  it("live inside each tenant: a tenant's event, from a backend or a client, reaches only that tenant's subscribers", async () => {
    const [acme, globex] = await Promise.all([connectWithTopics('tia', 'acme'), connectWithTopics('tia', 'globex')]);
    for (const client of [acme, globex]) expect(await request(client, { action: 'subscribe', topic: 'news' })).toMatchObject({ type: 'subscribed' });

    const event = { specversion: '1.0', id: 'acme-1', source: 'https://acme.example', type: 'news.posted' };
    await send('PublishQueueUrl', { topic: 'news', tenant: 'acme', event });
    expect((await acme.frame((frame) => frame.type === 'event')).event).toMatchObject({ id: 'acme-1' });
    expect(await request(globex, { action: 'publish', topic: 'news', event: { type: 'news.posted', id: 'globex-1' } })).toMatchObject({ type: 'published' });
    expect((await globex.frame((frame) => frame.type === 'event')).event).toMatchObject({ id: 'globex-1' });

    // Each side's events were fanned out once, having planned their subscribers then.
    expect(acme.frames.filter((frame: any) => frame.type === 'event').map((frame: any) => frame.event.id)).toEqual(['acme-1']);
    expect(globex.frames.filter((frame: any) => frame.type === 'event').map((frame: any) => frame.event.id)).toEqual(['globex-1']);
  });

  it('dead-letter a Publish message that names no tenant', async () => {
    const event = { specversion: '1.0', id: 'nobody-1', source: 'https://acme.example', type: 'news.posted' };
    await send('PublishQueueUrl', { topic: 'news', event });

    const { QueueUrl } = await stack.sqs.send(new GetQueueUrlCommand({ QueueName: await deadLetterQueueNameOf('PublishQueueUrl') }));
    const messages = await eventually(async () => {
      const received = await receiveAll(stack.sqs, QueueUrl as string);
      return received.length > 0 ? received : undefined;
    }, 'the dead-lettered Publish message');
    expect(messages[0]?.MessageAttributes?.['ErrorMessage']?.StringValue).toMatch(/multi-tenant/);
  });

  it('refuse an anonymous connection any topic that is not public', async () => {
    const client = await connect();

    expect(await request(client, { action: 'subscribe', topic: 'news' })).toMatchObject({ type: 'error', code: 'forbidden_topic' });
  });

  it("deliver a public topic's events to anonymous subscribers: those that name no tenant, never a tenant's own", async () => {
    const anonymous = await connect();
    const token = await stack.runtime.issuer.mint({ userId: 'ava', claims: { org: 'acme' } });
    const acme = await connect({ headers: { Authorization: `Bearer ${token}` } });
    for (const client of [anonymous, acme]) expect(await request(client, { action: 'subscribe', topic: 'status' })).toMatchObject({ type: 'subscribed' });

    const event = (id: string) => ({ specversion: '1.0', id, source: 'https://status.example', type: 'status.changed' });
    await send('PublishQueueUrl', { topic: 'status', tenant: 'acme', event: event('acme-status') });
    expect((await acme.frame((frame) => frame.type === 'event')).event).toMatchObject({ id: 'acme-status' });
    await send('PublishQueueUrl', { topic: 'status', event: event('public-status') });
    expect((await anonymous.frame((frame) => frame.type === 'event')).event).toMatchObject({ id: 'public-status', wsnpublisher: 'backend' });

    // Each was fanned out once, having planned its subscribers then: the other side got nothing.
    expect(anonymous.frames.filter((frame: any) => frame.type === 'event').map((frame: any) => frame.event.id)).toEqual(['public-status']);
    expect(acme.frames.filter((frame: any) => frame.type === 'event').map((frame: any) => frame.event.id)).toEqual(['acme-status']);
  });

  it('refuse an anonymous connection a group on a public topic (forbidden_group), unless the stack names the group in publicGroups', async () => {
    const client = await connect();

    expect(await request(client, { action: 'subscribe', topic: 'status', group: 'pollers' })).toMatchObject({ type: 'error', code: 'forbidden_group' });
    expect(await request(client, { action: 'subscribe', topic: 'lobby', group: 'others' })).toMatchObject({ type: 'error', code: 'forbidden_group' });
    expect(await request(client, { action: 'subscribe', topic: 'lobby', group: 'viewers' })).toMatchObject({ type: 'subscribed', group: 'viewers' });
  });
});

describe('the ws-notify CLI on a multi-tenant stack', () => {
  /** `ws-notify …` run by the bin file package.json declares, against this runtime's outputs.json. */
  function cli(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
    const { bin } = JSON.parse(readFileSync(path.join(PROJECT_DIR, 'package.json'), 'utf8')) as { bin: Record<string, string> };
    const argv = [path.join(PROJECT_DIR, bin['ws-notify'] as string), ...args, '--outputs', stack.runtime.outputsFile];
    return new Promise((resolve) => {
      execFile(process.execPath, argv, { cwd: PROJECT_DIR, timeout: 20_000 }, (error, stdout, stderr) =>
        resolve({ code: error ? Number(error.code ?? 1) : 0, stdout, stderr }),
      );
    });
  }

  it('refuses publish and send --user without --tenant with exit code 2, printing no message id (it would be dead-lettered)', async () => {
    const runs = await Promise.all([cli('publish', '--topic', 'news', '--type', 'news.posted'), cli('send', '--user', 'tia', '--data', '1')]);

    expect(runs).toEqual([
      { code: 2, stdout: '', stderr: expect.stringContaining('the stack is multi-tenant (tenant claim "org"): name the tenant with --tenant') },
      { code: 2, stdout: '', stderr: expect.stringContaining('the stack is multi-tenant (tenant claim "org"): name the tenant with --tenant') },
    ]);
  }, 30_000);

  it('publishes with --tenant, printing the event id', async () => {
    const { code, stdout } = await cli('publish', '--topic', 'cli-news', '--type', 'news.posted', '--tenant', 'acme');

    expect([code, stdout.trim()]).toEqual([0, expect.stringMatching(/^[0-9a-f-]{36}$/)]);
  }, 30_000);
});

async function deadLetterQueueNameOf(output: string): Promise<string> {
  const { Attributes } = await stack.sqs.send(new GetQueueAttributesCommand({ QueueUrl: stack.outputs[output], AttributeNames: ['RedrivePolicy'] }));
  const { deadLetterTargetArn } = JSON.parse(Attributes?.RedrivePolicy ?? '{}') as { deadLetterTargetArn: string };
  return deadLetterTargetArn.split(':').pop() as string;
}
