import { SendMessageCommand } from '@aws-sdk/client-sqs';
import { DeleteCommand, GetCommand } from '@aws-sdk/lib-dynamodb';
import type { Context, SQSBatchResponse, SQSEvent } from 'aws-lambda';
import * as z from 'zod/mini';
import { REQUEST_TIMEOUTS } from '../../lambdas/wiring/clients';
import { ConnectionTable, keyOwner, removeConnection, userOwner } from '../../lambdas/core/connections';
import { DeadLetterQueue } from '../../lambdas/core/dead-letter';
import { SubscriptionTable } from '../../lambdas/core/subscriptions';
import { DIRECT_DELIVERY_MAX_CONNECTIONS } from '../../lambdas/core/fan-out';
import type { WebSocketEvent, WebSocketResult } from '../../lambdas/transport/events';
import { logger } from '../../lambdas/wiring/logger';
import { sqsBatchHandler } from '../../lambdas/transport/sqs-batch';
import { connectEventFor, disconnectEventFor } from '../support/events';
import { type ManagementApiServer, RecordingConnections, startManagementApi } from '../support/management-api-server';
import { loadHandler } from '../support/load-handler';
import {
  afterVisibilityTimeout,
  CONNECTION_LIMITS_ENV,
  createQueuePair,
  drain,
  enqueue,
  receiveAll,
  type StackUnderTest,
  startStackUnderTest,
} from '../support/stack-under-test';
import { RecordedMetrics } from '../support/recorded-metrics';
import { StallingProxy } from '../support/stalling-proxy';

type WebSocketHandler = (event: WebSocketEvent) => Promise<WebSocketResult>;
type SqsHandler = (event: SQSEvent, context: Context) => Promise<SQSBatchResponse>;

let stack: StackUnderTest;
let managementApi: ManagementApiServer;
const clients = new RecordingConnections();
let connect: WebSocketHandler;
let disconnect: WebSocketHandler;
let notifyUser: SqsHandler;
let notifyConnection: SqsHandler;

beforeAll(async () => {
  stack = await startStackUnderTest();
  managementApi = await startManagementApi(clients, 'live');
  const table = { CONNECTIONS_TABLE_NAME: stack.tableName, CONNECTION_COUNTS_TABLE_NAME: stack.connectionCountsTableName };
  connect = loadHandler('connect', { ...table, SUBSCRIPTIONS_TABLE_NAME: stack.subscriptionsTableName, ...CONNECTION_LIMITS_ENV });
  const subscriptions = { SUBSCRIPTIONS_TABLE_NAME: stack.subscriptionsTableName };
  disconnect = loadHandler('disconnect', { ...table, ...subscriptions });
  notifyUser = loadHandler('notify-user', {
    ...table,
    ...subscriptions,
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

async function connectAs(userId: string, connectionId: string, open = true): Promise<void> {
  const result = await connect(connectEventFor(connectionId, userId));
  expect(result.statusCode).toBe(200);
  if (open) clients.connect(connectionId);
}

async function row(connectionId: string): Promise<Record<string, unknown> | undefined> {
  const { Item } = await stack.db.send(new GetCommand({ TableName: stack.tableName, Key: { connectionId } }));
  return Item;
}

/** NotifyUser queue → notify-user → management API, or (many connections, failed posts) → NotifyConnection queue → notify-connection → management API. */
async function runPipeline() {
  const userStage = await drain(stack, stack.notifyUser, notifyUser);
  const connectionStage = await drain(stack, stack.notifyConnection, notifyConnection);
  return { userStage, connectionStage };
}

describe('$connect and $disconnect', () => {
  it("stores the authorizer's userId with the connection, and a TTL two hours out", async () => {
    const before = Math.floor(Date.now() / 1000);
    await connectAs('carol', 'conn-carol-1');

    const stored = await row('conn-carol-1');
    expect(stored).toMatchObject({ connectionId: 'conn-carol-1', userId: 'carol' });
    expect(stored?.['expiresAt']).toBeGreaterThanOrEqual(before + 2 * 60 * 60);
    expect(stored?.['expiresAt']).toBeLessThanOrEqual(before + 2 * 60 * 60 + 2);
  });

  it('ignores any userId the client sent in the query string or headers', async () => {
    const event = connectEventFor('conn-mallory', 'mallory', { 'x-user-id': 'alice' });
    event.queryStringParameters = { userId: 'alice' };
    await connect(event);

    expect(await row('conn-mallory')).toMatchObject({ userId: 'mallory' });
  });

  it('refuses a $connect that reached it without an authorizer userId', async () => {
    const event = connectEventFor('conn-nobody', 'x');
    delete event.requestContext.authorizer;

    await expect(connect(event)).rejects.toThrow(/authorizer userId/);
    expect(await row('conn-nobody')).toBeUndefined();
  });

  it('selects the ws-notify.v1 subprotocol when the client offers it', async () => {
    const offered = await connect(
      connectEventFor('conn-browser', 'dave', { 'Sec-WebSocket-Protocol': 'ws-notify.v1, bearer.eyJhbGciOi' }),
    );
    const plain = await connect(connectEventFor('conn-cli', 'dave'));

    expect(offered.headers).toEqual({ 'Sec-WebSocket-Protocol': 'ws-notify.v1' });
    expect(plain.headers).toBeUndefined();
  });

  it('deletes the row on $disconnect', async () => {
    await connectAs('erin', 'conn-erin-1');
    await disconnect(disconnectEventFor('conn-erin-1'));

    expect(await row('conn-erin-1')).toBeUndefined();
  });
});

describe('the open connections a user and an API key may hold (maxConnectionsPerUser, maxConnectionsPerApiKey)', () => {
  let limitedConnect: WebSocketHandler;
  const countsTable = () => ({
    CONNECTIONS_TABLE_NAME: stack.tableName,
    CONNECTION_COUNTS_TABLE_NAME: stack.connectionCountsTableName,
    SUBSCRIPTIONS_TABLE_NAME: stack.subscriptionsTableName,
    MAX_SUBSCRIPTIONS_PER_CONNECTION: '100',
  });
  const withKey = (event: WebSocketEvent, keyId: string, tenant?: string) => {
    event.requestContext.authorizer = { ...event.requestContext.authorizer, keyId, ...(tenant !== undefined && { tenant }) };
    return event;
  };
  const statusesOf = (results: { statusCode: number }[]) => results.map((result) => result.statusCode).sort();
  const counted = async (owner: string) => {
    const { Item } = await stack.db.send(new GetCommand({ TableName: stack.connectionCountsTableName, Key: { owner }, ConsistentRead: true }));
    return (Item?.['connectionIds'] as Set<string> | undefined)?.size ?? 0;
  };

  beforeAll(() => {
    limitedConnect = loadHandler('connect', { ...countsTable(), MAX_CONNECTIONS_PER_USER: '25', MAX_CONNECTIONS_PER_API_KEY: '3' });
  });

  it('accepts exactly 25 of 40 connections a user opens at once, and refuses the rest with 429 too_many_connections, storing nothing for them', async () => {
    const results = await Promise.all(Array.from({ length: 40 }, (_, i) => limitedConnect(connectEventFor(`conn-flood-${i}`, 'flood'))));

    expect(statusesOf(results)).toEqual([...Array(25).fill(200), ...Array(15).fill(429)]);
    const refused = results.find((result) => result.statusCode === 429);
    expect(JSON.parse(refused?.body ?? '{}')).toEqual({ error: 'too_many_connections', message: 'the user holds its limit of 25 open connections' });
    const stored = await Promise.all(Array.from({ length: 40 }, (_, i) => row(`conn-flood-${i}`)));
    expect(stored.filter((item) => item !== undefined)).toHaveLength(25);
    expect(await counted(userOwner('flood', undefined))).toBe(25);
    // Another user, and the same user id in a tenant, have limits of their own.
    expect((await limitedConnect(connectEventFor('conn-flood-other', 'flood-other'))).statusCode).toBe(200);
    const tenantEvent = connectEventFor('conn-flood-acme', 'flood');
    tenantEvent.requestContext.authorizer = { ...tenantEvent.requestContext.authorizer, tenant: 'acme' };
    expect((await limitedConnect(tenantEvent)).statusCode).toBe(200);
  });

  it('takes a connection back on $disconnect, a 410 and the sweep alike, once each however often it is removed: the count never drifts', async () => {
    const ids = Array.from({ length: 25 }, (_, i) => `conn-drift-${i}`);
    for (const id of ids) expect((await limitedConnect(connectEventFor(id, 'drifter'))).statusCode).toBe(200);
    const connections = new ConnectionTable(stack.db, stack.tableName, stack.connectionCountsTableName);
    const subscriptions = new SubscriptionTable(stack.db, stack.subscriptionsTableName);

    // Removed by $disconnect (twice, as API Gateway may), and by the path a 410 or the sweep takes, concurrently.
    await Promise.all([
      ...ids.slice(0, 10).flatMap((id) => [disconnect(disconnectEventFor(id)), disconnect(disconnectEventFor(id))]),
      ...ids.slice(10, 20).flatMap((id) => [removeConnection(id, { connections, subscriptions }), disconnect(disconnectEventFor(id))]),
    ]);
    expect(await counted(userOwner('drifter', undefined))).toBe(5);

    const again = await Promise.all(Array.from({ length: 21 }, (_, i) => limitedConnect(connectEventFor(`conn-drift-again-${i}`, 'drifter'))));
    expect(statusesOf(again)).toEqual([...Array(20).fill(200), 429]);
  });

  it("does not count a connection whose $disconnect never came: at the limit, ids whose row is gone are dropped and the connection accepted", async () => {
    const ids = Array.from({ length: 25 }, (_, i) => `conn-lost-${i}`);
    for (const id of ids) expect((await limitedConnect(connectEventFor(id, 'lost'))).statusCode).toBe(200);
    // API Gateway lost two $disconnects; TTL deleted the rows.
    for (const id of ids.slice(0, 2)) await stack.db.send(new DeleteCommand({ TableName: stack.tableName, Key: { connectionId: id } }));

    expect((await limitedConnect(connectEventFor('conn-lost-new-1', 'lost'))).statusCode).toBe(200);
    expect((await limitedConnect(connectEventFor('conn-lost-new-2', 'lost'))).statusCode).toBe(200);
    expect((await limitedConnect(connectEventFor('conn-lost-new-3', 'lost'))).statusCode).toBe(429);
    expect(await counted(userOwner('lost', undefined))).toBe(25);
  });

  it("refuses an API key's connection beyond its own limit, while the user's other credentials still connect", async () => {
    const results = await Promise.all(Array.from({ length: 6 }, (_, i) => limitedConnect(withKey(connectEventFor(`conn-key-${i}`, 'keyholder'), 'k-limited'))));

    expect(statusesOf(results)).toEqual([200, 200, 200, 429, 429, 429]);
    expect(JSON.parse(results.find((result) => result.statusCode === 429)?.body ?? '{}')).toMatchObject({ message: 'the API key holds its limit of 3 open connections' });
    expect(await counted(keyOwner('k-limited'))).toBe(3);
    // The refused ones were not counted against the user either.
    expect(await counted(userOwner('keyholder', undefined))).toBe(3);
    expect((await limitedConnect(connectEventFor('conn-keyholder-jwt', 'keyholder'))).statusCode).toBe(200);
    expect((await limitedConnect(withKey(connectEventFor('conn-key-other', 'keyholder'), 'k-other'))).statusCode).toBe(200);
  });

  it('does not count anonymous connections, each its own user', async () => {
    const event = connectEventFor('conn-anon-1', 'anonymous:conn-anon-1');
    event.requestContext.authorizer = { ...event.requestContext.authorizer, anonymous: 'true' };

    expect((await limitedConnect(event)).statusCode).toBe(200);
    expect(await counted(userOwner('anonymous:conn-anon-1', undefined))).toBe(0);
  });
});

describe('NotifyUser fan-out', () => {
  it("delivers to every one of a user's 25 connections and to none of another user's", async () => {
    const aliceConnections = Array.from({ length: 25 }, (_, i) => `conn-alice-${i}`);
    for (const id of aliceConnections) await connectAs('alice', id);
    await connectAs('bob', 'conn-bob-1');

    await enqueue(stack.sqs, stack.notifyUser.url, JSON.stringify({ userId: 'alice', data: { text: 'hi' }, id: 'n-1' }));
    const { userStage, connectionStage } = await runPipeline();

    expect(userStage.failedMessageIds).toEqual([]);
    expect(connectionStage).toMatchObject({ processed: 25, failedMessageIds: [] });
    expect(connectionStage.batches).toBeGreaterThanOrEqual(3);
    for (const id of aliceConnections) {
      expect(clients.framesOf(id)).toEqual([
        { type: 'notification', id: 'n-1', time: expect.stringMatching(/^\d{4}-\d\d-\d\dT/), data: { text: 'hi' } },
      ]);
    }
    expect(clients.framesOf('conn-bob-1')).toEqual([]);
  });

  it('gives every connection the same notification id and time, defaulting the id to the queue message id', async () => {
    await connectAs('frank', 'conn-frank-1');
    await connectAs('frank', 'conn-frank-2');

    await enqueue(stack.sqs, stack.notifyUser.url, JSON.stringify({ userId: 'frank', data: 42 }));
    await runPipeline();

    const [first] = clients.framesOf('conn-frank-1') as { id: string; time: string }[];
    expect(first?.id).toMatch(/^[0-9a-f-]{36}$/);
    expect(clients.framesOf('conn-frank-2')).toEqual([{ type: 'notification', id: first?.id, time: first?.time, data: 42 }]);
  });

  it(`posts to up to ${DIRECT_DELIVERY_MAX_CONNECTIONS} connections itself, without the NotifyConnection queue`, async () => {
    const ids = Array.from({ length: DIRECT_DELIVERY_MAX_CONNECTIONS }, (_, i) => `conn-lena-${i}`);
    for (const id of ids) await connectAs('lena', id);

    await enqueue(stack.sqs, stack.notifyUser.url, JSON.stringify({ userId: 'lena', data: 'direct' }));
    const { userStage, connectionStage } = await runPipeline();

    expect(userStage).toMatchObject({ processed: 1, failedMessageIds: [] });
    expect(connectionStage.processed).toBe(0);
    for (const id of ids) expect(clients.framesOf(id)).toEqual([expect.objectContaining({ data: 'direct' })]);
  });

  it('hands a post still throttled after the SDK retries to the NotifyConnection queue, and posts to its siblings once', async () => {
    await connectAs('owen', 'conn-owen-1');
    await connectAs('owen', 'conn-owen-2');
    // The SDK makes 3 attempts; all of them are throttled.
    clients.throttle('conn-owen-1', 3);

    await enqueue(stack.sqs, stack.notifyUser.url, JSON.stringify({ userId: 'owen', data: 'retry me', id: 'n-owen' }));
    const { userStage, connectionStage } = await runPipeline();

    expect(userStage.failedMessageIds).toEqual([]);
    expect(connectionStage).toMatchObject({ processed: 1, failedMessageIds: [] });
    const [retried] = clients.framesOf('conn-owen-1');
    expect(retried).toEqual({ type: 'notification', id: 'n-owen', time: expect.any(String), data: 'retry me' });
    expect(clients.framesOf('conn-owen-2')).toEqual([retried]);
  });

  it('splits large notifications to many connections into SendMessageBatch calls within the 256 KiB batch limit', async () => {
    const ids = Array.from({ length: DIRECT_DELIVERY_MAX_CONNECTIONS + 2 }, (_, i) => `conn-gina-${i}`);
    for (const id of ids) await connectAs('gina', id);
    const data = 'x'.repeat(100 * 1024);

    await enqueue(stack.sqs, stack.notifyUser.url, JSON.stringify({ userId: 'gina', data }));
    const { userStage, connectionStage } = await runPipeline();

    expect(userStage.failedMessageIds).toEqual([]);
    expect(connectionStage.processed).toBe(ids.length);
    for (const id of ids) expect(clients.framesOf(id)).toEqual([expect.objectContaining({ data })]);
  });

  it('delivers emoji and other characters beyond the BMP through both queues, which SQS accepts', async () => {
    const ids = Array.from({ length: DIRECT_DELIVERY_MAX_CONNECTIONS + 1 }, (_, i) => `conn-emma-${i}`);
    for (const id of ids) await connectAs('emma', id);
    const data = { text: 'shipped 🎉📦 𝄞 ✓ 中文' };

    await enqueue(stack.sqs, stack.notifyUser.url, JSON.stringify({ userId: 'emma', data, id: 'n-emoji' }));
    const { userStage, connectionStage } = await runPipeline();

    expect(userStage.failedMessageIds).toEqual([]);
    expect(connectionStage).toMatchObject({ processed: ids.length, failedMessageIds: [] });
    for (const id of ids) expect(clients.framesOf(id)).toEqual([expect.objectContaining({ id: 'n-emoji', data })]);
  });

  it('cannot be queued with characters SQS refuses (a control character, a lone surrogate)', async () => {
    for (const body of ['{"userId":"emma","data":"bell \u0007"}', '{"userId":"emma","data":"half an emoji \uD83C"}']) {
      await expect(enqueue(stack.sqs, stack.notifyUser.url, body)).rejects.toThrow(/^Invalid characters found/);
    }
  });

  it('reaches nobody, and fails nothing, for a user with no connections', async () => {
    await enqueue(stack.sqs, stack.notifyUser.url, JSON.stringify({ userId: 'nobody-home', data: {} }));
    const { userStage, connectionStage } = await runPipeline();

    expect(userStage).toMatchObject({ processed: 1, failedMessageIds: [] });
    expect(connectionStage.processed).toBe(0);
  });
});

describe('a NotifyUser record whose fan-out cannot complete', () => {
  it('is reported as a batch item failure, kept in the queue, and does not fail its siblings', async () => {
    await connectAs('nina', 'conn-nina-1');
    // Its post fails, and so does handing it to a NotifyConnection queue that does not exist.
    clients.throttle('conn-nina-1', 3);
    const brokenNotifyUser = loadHandler<SqsHandler>('notify-user', {
      CONNECTIONS_TABLE_NAME: stack.tableName, CONNECTION_COUNTS_TABLE_NAME: stack.connectionCountsTableName,
      SUBSCRIPTIONS_TABLE_NAME: stack.subscriptionsTableName,
      MANAGEMENT_API_ENDPOINT: managementApi.endpoint,
      NOTIFY_CONNECTION_QUEUE_URL: `${stack.notifyConnection.url}-does-not-exist`,
      DEAD_LETTER_QUEUE_URL: stack.notifyUser.deadLetterUrl,
    });

    await enqueue(
      stack.sqs,
      stack.notifyUser.url,
      JSON.stringify({ userId: 'nina', data: 'cannot fan out' }),
      JSON.stringify({ userId: 'nobody-connected', data: 'nothing to do' }),
    );
    const result = await drain(stack, stack.notifyUser, brokenNotifyUser);

    expect(result).toMatchObject({ processed: 2 });
    expect(result.failedMessageIds).toHaveLength(1);
    expect(await receiveAll(stack.sqs, stack.notifyUser.deadLetterUrl)).toEqual([]);
    // After its visibility timeout the record is back, and a working consumer delivers it.
    await afterVisibilityTimeout();
    const retried = await runPipeline();
    expect(retried.userStage.failedMessageIds).toEqual([]);
    expect(clients.framesOf('conn-nina-1')).toEqual([expect.objectContaining({ data: 'cannot fan out' })]);
  });
});

describe('delivery to a connection', () => {
  it("deletes a gone connection's row (410) and still delivers to its siblings", async () => {
    await connectAs('hank', 'conn-hank-live');
    await connectAs('hank', 'conn-hank-gone', false);

    await enqueue(stack.sqs, stack.notifyUser.url, JSON.stringify({ userId: 'hank', data: 'ping' }));
    const { connectionStage } = await runPipeline();

    expect(connectionStage.failedMessageIds).toEqual([]);
    expect(await row('conn-hank-gone')).toBeUndefined();
    expect(await row('conn-hank-live')).toBeDefined();
    expect(clients.framesOf('conn-hank-live')).toHaveLength(1);
  });

  it('deletes the row of a connection gone when its NotifyConnection message arrives, and fails nothing', async () => {
    await connectAs('pia', 'conn-pia-gone', false);

    await enqueue(stack.sqs, stack.notifyConnection.url, JSON.stringify({ connectionId: 'conn-pia-gone', data: 'too late' }));
    const result = await drain(stack, stack.notifyConnection, notifyConnection);

    expect(result).toMatchObject({ processed: 1, failedMessageIds: [] });
    expect(await row('conn-pia-gone')).toBeUndefined();
  });

  it('reaches exactly one connection with NotifyConnection, using its own message id', async () => {
    await connectAs('ivy', 'conn-ivy-1');
    await connectAs('ivy', 'conn-ivy-2');

    await enqueue(stack.sqs, stack.notifyConnection.url, JSON.stringify({ connectionId: 'conn-ivy-2', data: 'just you' }));
    await drain(stack, stack.notifyConnection, notifyConnection);

    expect(clients.framesOf('conn-ivy-1')).toEqual([]);
    expect(clients.framesOf('conn-ivy-2')).toEqual([
      { type: 'notification', id: expect.any(String), time: expect.any(String), data: 'just you' },
    ]);
  });

  it('rides out throttling (429) through SDK retries and then delivers', async () => {
    await connectAs('jack', 'conn-jack-1');
    clients.throttle('conn-jack-1', 2);

    await enqueue(stack.sqs, stack.notifyConnection.url, JSON.stringify({ connectionId: 'conn-jack-1', data: 'late' }));
    const result = await drain(stack, stack.notifyConnection, notifyConnection);

    expect(result.failedMessageIds).toEqual([]);
    expect(clients.framesOf('conn-jack-1')).toEqual([expect.objectContaining({ data: 'late' })]);
  });

  it('reports a record still throttled after the SDK retries as a batch item failure, and delivers its siblings', async () => {
    await connectAs('kate', 'conn-kate-1');
    await connectAs('kate', 'conn-kate-2');
    // The SDK makes 3 attempts; all of them are throttled.
    clients.throttle('conn-kate-1', 3);

    await enqueue(
      stack.sqs,
      stack.notifyConnection.url,
      JSON.stringify({ connectionId: 'conn-kate-1', data: 'a' }),
      JSON.stringify({ connectionId: 'conn-kate-2', data: 'b' }),
    );
    const result = await drain(stack, stack.notifyConnection, notifyConnection);

    expect(result).toMatchObject({ batches: 1, processed: 2 });
    expect(result.failedMessageIds).toHaveLength(1);
    expect(clients.framesOf('conn-kate-1')).toEqual([]);
    expect(clients.framesOf('conn-kate-2')).toHaveLength(1);
    expect(await row('conn-kate-1')).toBeDefined();
    // Retried after the visibility timeout, it is delivered.
    await afterVisibilityTimeout();
    const retry = await drain(stack, stack.notifyConnection, notifyConnection);
    expect(retry.failedMessageIds).toEqual([]);
    expect(clients.framesOf('conn-kate-1')).toEqual([expect.objectContaining({ data: 'a' })]);
  });
});

describe('bad queue messages', () => {
  const oversize = 'x'.repeat(128 * 1024);

  it('sends each kind of bad NotifyUser message to the DLQ with its reason, and fans out its valid sibling', async () => {
    await connectAs('liam', 'conn-liam-1');
    const bad = {
      'not json': 'invalid_json',
      [JSON.stringify({ data: 1 })]: 'invalid_message',
      [JSON.stringify({ userId: 42, data: 1 })]: 'invalid_message',
      [JSON.stringify({ userId: 'liam' })]: 'invalid_message',
      [JSON.stringify({ userId: 'liam', data: oversize })]: 'payload_too_large',
      [JSON.stringify({ userId: 'anonymous:L0SM9cOFvHcCIhw=', data: 1 })]: 'invalid_message',
      [JSON.stringify({ userId: 'liam', data: 1, tenant: 'acme' })]: 'invalid_message',
    };

    await enqueue(stack.sqs, stack.notifyUser.url, ...Object.keys(bad), JSON.stringify({ userId: 'liam', data: 'ok' }));
    const { userStage } = await runPipeline();

    expect(userStage).toMatchObject({ processed: 8, failedMessageIds: [] });
    expect(clients.framesOf('conn-liam-1')).toEqual([expect.objectContaining({ data: 'ok' })]);
    const deadLetters = await receiveAll(stack.sqs, stack.notifyUser.deadLetterUrl);
    expect(Object.fromEntries(deadLetters.map((m) => [m.Body, m.MessageAttributes?.['ErrorCode']?.StringValue]))).toEqual(bad);
    for (const message of deadLetters) {
      expect(message.MessageAttributes?.['ErrorMessage']?.StringValue).toBeTruthy();
      expect(message.MessageAttributes?.['SourceQueueArn']?.StringValue).toBe(stack.notifyUser.arn);
    }
  });

  it('sends each kind of bad NotifyConnection message to the DLQ with its reason, and delivers its valid sibling', async () => {
    await connectAs('mia', 'conn-mia-1');
    const bad = {
      '{"connectionId":': 'invalid_json',
      [JSON.stringify({ connectionId: 'conn-mia-1' })]: 'invalid_message',
      [JSON.stringify({ connectionId: ['conn-mia-1'], data: 1 })]: 'invalid_message',
      [JSON.stringify({ connectionId: 'conn-mia-1', data: 1, time: 'yesterday' })]: 'invalid_message',
      [JSON.stringify({ connectionId: 'conn-mia-1', data: oversize })]: 'payload_too_large',
    };

    await enqueue(stack.sqs, stack.notifyConnection.url, ...Object.keys(bad), JSON.stringify({ connectionId: 'conn-mia-1', data: 'ok' }));
    const result = await drain(stack, stack.notifyConnection, notifyConnection);

    expect(result.failedMessageIds).toEqual([]);
    expect(clients.framesOf('conn-mia-1')).toEqual([expect.objectContaining({ data: 'ok' })]);
    const deadLetters = await receiveAll(stack.sqs, stack.notifyConnection.deadLetterUrl);
    expect(Object.fromEntries(deadLetters.map((m) => [m.Body, m.MessageAttributes?.['ErrorCode']?.StringValue]))).toEqual(bad);
  });
});

describe('in a multi-tenant stack (tenantClaim)', () => {
  let multiTenantNotifyUser: SqsHandler;

  beforeAll(() => {
    multiTenantNotifyUser = loadHandler('notify-user', {
      CONNECTIONS_TABLE_NAME: stack.tableName, CONNECTION_COUNTS_TABLE_NAME: stack.connectionCountsTableName,
      SUBSCRIPTIONS_TABLE_NAME: stack.subscriptionsTableName,
      MANAGEMENT_API_ENDPOINT: managementApi.endpoint,
      NOTIFY_CONNECTION_QUEUE_URL: stack.notifyConnection.url,
      DEAD_LETTER_QUEUE_URL: stack.notifyUser.deadLetterUrl,
      TENANT_CLAIM: 'org',
    });
  });

  async function connectInTenant(userId: string, tenant: string, connectionId: string): Promise<void> {
    const event = connectEventFor(connectionId, userId);
    event.requestContext.authorizer = { ...event.requestContext.authorizer, tenant };
    await connect(event);
    clients.connect(connectionId);
  }

  it('stores the tenant the authorizer named with the connection', async () => {
    await connectInTenant('olga', 'acme', 'conn-olga-acme');
    expect(await row('conn-olga-acme')).toMatchObject({ userId: 'olga', tenant: 'acme' });
  });

  it("reaches only the named tenant's connections of the user", async () => {
    await connectInTenant('tara', 'acme', 'conn-tara-acme');
    await connectInTenant('tara', 'globex', 'conn-tara-globex');

    await enqueue(stack.sqs, stack.notifyUser.url, JSON.stringify({ userId: 'tara', tenant: 'acme', data: 'acme only' }));
    await drain(stack, stack.notifyUser, multiTenantNotifyUser);
    await drain(stack, stack.notifyConnection, notifyConnection);

    expect(clients.framesOf('conn-tara-acme')).toEqual([expect.objectContaining({ data: 'acme only' })]);
    expect(clients.framesOf('conn-tara-globex')).toEqual([]);
  });

  it('dead-letters a NotifyUser message that names no tenant: a user id alone never crosses tenants', async () => {
    await connectInTenant('uma', 'acme', 'conn-uma-acme');

    await enqueue(stack.sqs, stack.notifyUser.url, JSON.stringify({ userId: 'uma', data: 'whose?' }));
    const result = await drain(stack, stack.notifyUser, multiTenantNotifyUser);

    expect(result.failedMessageIds).toEqual([]);
    const [deadLetter] = await receiveAll(stack.sqs, stack.notifyUser.deadLetterUrl);
    expect(deadLetter?.MessageAttributes?.['ErrorCode']?.StringValue).toBe('invalid_message');
    expect(deadLetter?.MessageAttributes?.['ErrorMessage']?.StringValue).toMatch(/multi-tenant .*name the user's tenant/);
    await drain(stack, stack.notifyConnection, notifyConnection);
    expect(clients.framesOf('conn-uma-acme')).toEqual([]);
  });
});

/** 40 KB of JSON nested 20,000 deep: it overflows the stack of any recursive validator or JSON.stringify. */
const DEEP = '['.repeat(20_000) + ']'.repeat(20_000);

describe('a message nested 20,000 deep', () => {
  it('is dead-lettered at once as too_deep from NotifyUser, and fails nothing', async () => {
    await connectAs('rita', 'conn-rita-1');
    const deep = `{"userId":"rita","data":${DEEP}}`;

    await enqueue(stack.sqs, stack.notifyUser.url, deep, JSON.stringify({ userId: 'rita', data: 'shallow' }));
    const { userStage } = await runPipeline();

    expect(userStage).toMatchObject({ processed: 2, failedMessageIds: [] });
    expect(clients.framesOf('conn-rita-1')).toEqual([expect.objectContaining({ data: 'shallow' })]);
    const [deadLetter, ...others] = await receiveAll(stack.sqs, stack.notifyUser.deadLetterUrl);
    expect(others).toEqual([]);
    expect(deadLetter?.Body).toBe(deep);
    expect(deadLetter?.MessageAttributes?.['ErrorCode']?.StringValue).toBe('too_deep');
    expect(deadLetter?.MessageAttributes?.['ErrorMessage']?.StringValue).toBe('the message body nests objects and arrays more than 64 deep');
  });

  it('is dead-lettered at once as too_deep from NotifyConnection, a notification or an event delivery, and fails nothing', async () => {
    await connectAs('sven', 'conn-sven-1');
    const event = { specversion: '1.0', id: 'e-deep', source: '/s', type: 't' };
    const deep = [`{"connectionId":"conn-sven-1","data":${DEEP}}`, `{"connectionId":"conn-sven-1","topic":"t","event":${JSON.stringify(event).replace('}', `,"data":${DEEP}}`)}}`];

    await enqueue(stack.sqs, stack.notifyConnection.url, ...deep, JSON.stringify({ connectionId: 'conn-sven-1', data: 'shallow' }));
    const result = await drain(stack, stack.notifyConnection, notifyConnection);

    expect(result).toMatchObject({ processed: 3, failedMessageIds: [] });
    expect(clients.framesOf('conn-sven-1')).toEqual([expect.objectContaining({ data: 'shallow' })]);
    const deadLetters = await receiveAll(stack.sqs, stack.notifyConnection.deadLetterUrl);
    expect(deadLetters.map((m) => m.MessageAttributes?.['ErrorCode']?.StringValue)).toEqual(['too_deep', 'too_deep']);
    expect(deadLetters.map((m) => m.Body).sort()).toEqual([...deep].sort());
  });

  it('is delivered when its frame nests 64 deep, and dead-lettered as too_deep at 65', async () => {
    await connectAs('tove', 'conn-tove-1');
    // The frame {"type":"notification",…,"data":…} adds one level to the data.
    const data = (levels: number) => '['.repeat(levels) + ']'.repeat(levels);

    await enqueue(stack.sqs, stack.notifyConnection.url, `{"connectionId":"conn-tove-1","data":${data(63)}}`, `{"connectionId":"conn-tove-1","data":${data(64)}}`);
    const result = await drain(stack, stack.notifyConnection, notifyConnection);

    expect(result.failedMessageIds).toEqual([]);
    expect(clients.framesOf('conn-tove-1')).toEqual([expect.objectContaining({ data: JSON.parse(data(63)) })]);
    const deadLetters = await receiveAll(stack.sqs, stack.notifyConnection.deadLetterUrl);
    expect(deadLetters.map((m) => [m.Body, m.MessageAttributes?.['ErrorCode']?.StringValue])).toEqual([
      [`{"connectionId":"conn-tove-1","data":${data(64)}}`, 'too_deep'],
    ]);
  });
});

describe('which failures are retried', () => {
  it('dead-letters at once a record whose reading throws, even a RangeError; retries one whose I/O fails; its siblings are unaffected', async () => {
    const queue = await createQueuePair(stack.sqs, 'RetryRule');
    // Imported before the stack set POWERTOOLS_LOG_LEVEL, unlike the handlers loaded after it.
    logger.setLogLevel('SILENT');
    const handler = sqsBatchHandler(
      // A validator that recurses, as zod's z.json() does: it overflows on deep JSON.
      (record) => z.json().parse(JSON.parse(record.body)),
      async (json) => {
        // I/O that fails: a queue that does not exist.
        if (json === 'unreachable') await stack.sqs.send(new SendMessageCommand({ QueueUrl: `${queue.url}-missing`, MessageBody: 'x' }));
      },
      new DeadLetterQueue(stack.sqs, queue.deadLetterUrl, new RecordedMetrics()),
    );

    await enqueue(stack.sqs, queue.url, DEEP, '"unreachable"', '"fine"');
    const result = await drain(stack, queue, handler);

    expect(result.processed).toBe(3);
    expect(result.failedMessageIds).toHaveLength(1);
    const [deadLetter, ...others] = await receiveAll(stack.sqs, queue.deadLetterUrl);
    expect(others).toEqual([]);
    expect(deadLetter?.Body).toBe(DEEP);
    expect(deadLetter?.MessageAttributes?.['ErrorCode']?.StringValue).toBe('invalid_message');
    expect(deadLetter?.MessageAttributes?.['ErrorMessage']?.StringValue).toMatch(/^the message could not be read: RangeError: Maximum call stack size exceeded/);
    // The record whose I/O failed is back after its visibility timeout, for another try.
    await afterVisibilityTimeout();
    const [retried] = await receiveAll(stack.sqs, queue.url);
    expect(retried?.Body).toBe('"unreachable"');
  });
});

describe('data with __proto__ keys', () => {
  // JSON.parse keeps "__proto__" as an own property; a copy made by assignment loses it.
  const data = '{"__proto__":{"isAdmin":true},"items":[{"__proto__":null,"id":1}],"n":1}';

  it('arrives exactly as sent, by NotifyUser (direct and queued delivery) and NotifyConnection', async () => {
    await connectAs('ursula', 'conn-ursula-1');
    const many = Array.from({ length: DIRECT_DELIVERY_MAX_CONNECTIONS + 1 }, (_, i) => `conn-viktor-${i}`);
    for (const id of many) await connectAs('viktor', id);

    await enqueue(
      stack.sqs,
      stack.notifyUser.url,
      `{"userId":"ursula","id":"p-1","data":${data}}`,
      `{"userId":"viktor","id":"p-2","data":${data}}`,
    );
    await enqueue(stack.sqs, stack.notifyConnection.url, `{"connectionId":"conn-ursula-1","id":"p-3","data":${data}}`);
    await runPipeline();

    const received = [...clients.framesOf('conn-ursula-1'), ...many.flatMap((id) => clients.framesOf(id))] as { data: unknown }[];
    expect(received).toHaveLength(2 + many.length);
    for (const frame of received) expect(JSON.stringify(frame.data)).toBe(data);
  });
});

describe('a DynamoDB that stalls', () => {
  it('fails only the records that need it, within the SDK timeouts, and they are delivered once it is back', async () => {
    await connectAs('wanda', 'conn-wanda-live');
    await connectAs('wanda', 'conn-wanda-gone-1', false);
    await connectAs('wanda', 'conn-wanda-gone-2', false);
    const realEndpoint = process.env['AWS_ENDPOINT_URL_DYNAMODB'] as string;
    const proxy = await StallingProxy.start(realEndpoint);
    // The clients resolve their endpoint at their first call, which is made through the proxy.
    process.env['AWS_ENDPOINT_URL_DYNAMODB'] = proxy.endpoint;
    try {
      const stalling = loadHandler<SqsHandler>('notify-connection', {
        CONNECTIONS_TABLE_NAME: stack.tableName, CONNECTION_COUNTS_TABLE_NAME: stack.connectionCountsTableName,
        SUBSCRIPTIONS_TABLE_NAME: stack.subscriptionsTableName,
        MANAGEMENT_API_ENDPOINT: managementApi.endpoint,
        DEAD_LETTER_QUEUE_URL: stack.notifyConnection.deadLetterUrl,
      });
      // Through the proxy, a gone connection's row is removed as usual.
      await enqueue(stack.sqs, stack.notifyConnection.url, JSON.stringify({ connectionId: 'conn-wanda-gone-1', data: 'before' }));
      expect(await drain(stack, stack.notifyConnection, stalling)).toMatchObject({ processed: 1, failedMessageIds: [] });
      expect(await row('conn-wanda-gone-1')).toBeUndefined();

      proxy.pause();
      // One batch: the live connection needs no table, the gone one must delete its row.
      await enqueue(
        stack.sqs,
        stack.notifyConnection.url,
        JSON.stringify({ connectionId: 'conn-wanda-live', data: 'during' }),
        JSON.stringify({ connectionId: 'conn-wanda-gone-2', data: 'during' }),
      );
      const started = Date.now();
      const stalled = await drain(stack, stack.notifyConnection, stalling);
      const elapsed = Date.now() - started;

      expect(stalled).toMatchObject({ batches: 1, processed: 2 });
      expect(stalled.failedMessageIds).toHaveLength(1);
      expect(clients.framesOf('conn-wanda-live')).toEqual([expect.objectContaining({ data: 'during' })]);
      // The SDK's 3 attempts, each cut off at its request timeout: far within the function's 30 s.
      expect(elapsed).toBeGreaterThanOrEqual(REQUEST_TIMEOUTS.requestTimeout);
      expect(elapsed).toBeLessThan(3 * REQUEST_TIMEOUTS.requestTimeout + 3_000);

      proxy.resume();
      await afterVisibilityTimeout();
      expect(await drain(stack, stack.notifyConnection, stalling)).toMatchObject({ processed: 1, failedMessageIds: [] });
      expect(await row('conn-wanda-gone-2')).toBeUndefined();
      expect(await row('conn-wanda-live')).toBeDefined();
    } finally {
      process.env['AWS_ENDPOINT_URL_DYNAMODB'] = realEndpoint;
      await proxy.stop();
    }
  });
});

