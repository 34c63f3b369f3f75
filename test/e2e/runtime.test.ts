import {
  DeleteConnectionCommand,
  GetConnectionCommand,
  GoneException,
  PostToConnectionCommand,
} from '@aws-sdk/client-apigatewaymanagementapi';
import { GetQueueAttributesCommand, GetQueueUrlCommand, ListQueuesCommand, SendMessageBatchCommand, SendMessageCommand } from '@aws-sdk/client-sqs';
import { GetCommand, PutCommand, ScanCommand } from '@aws-sdk/lib-dynamodb';
import { request as httpRequest } from 'node:http';
import WebSocket from 'ws';
import { type ClientOptions, createClient, type Notification, type TopicEvent, type WsNotifyClient, type WsNotifyError } from '../../client/src';
import { ApiKeyTable } from '../../lambdas/core/api-keys';
import { StreamTable, userStreamKey } from '../../lambdas/core/streams';
import { withFlippedSignatureByte } from '../support/attacks';
import { receiveAll, takeAll } from '../support/stack-under-test';
import type { LocalMetricsSnapshot } from '../../local/dev-endpoints/metrics';
import { startLocalRuntime } from '../../local/runtime';
import { eventually, PROJECT_DIR, type RuntimeUnderTest, startRuntimeUnderTest, TestClient, UpgradeRefusedError } from '../support/local-runtime';

let stack: RuntimeUnderTest;
const clients: TestClient[] = [];
// Embedded-metric lines the functions wrote: CloudWatch Logs ingests them on AWS, so the function log gets them too.
let emfLinesLogged = 0;
/** Every other line the functions wrote. */
const functionLines: string[] = [];

beforeAll(async () => {
  // The expiry sweep runs every 2 s instead of every minute, so that expiry is seen within a test.
  stack = await startRuntimeUnderTest({
    scheduleEverySeconds: 2,
    // A short ackTimeout, so that the offline fallback is seen within a test.
    context: { ackTimeout: '3' },
    functionLog: (_, line) => {
      if (line.includes('"_aws"')) emfLinesLogged += 1;
      else functionLines.push(line);
    },
  });
}, 300_000);

afterAll(async () => {
  for (const client of clients) client.socket.terminate();
  await stack?.stop();
}, 30_000);

const url = () => stack.outputs['WebSocketUrl'] as string;

async function connectAs(userId: string): Promise<TestClient> {
  const client = await TestClient.connect(url(), { headers: { Authorization: `Bearer ${await stack.tokenFor(userId)}` } });
  clients.push(client);
  return client;
}

/** How many rows the connection table holds (a Scan, which only a test may use). */
async function storedConnections(): Promise<number> {
  const { Count } = await stack.db.send(new ScanCommand({ TableName: stack.outputs['ConnectionsTableName'], Select: 'COUNT' }));
  return Count ?? 0;
}

async function row(connectionId: string) {
  const { Item } = await stack.db.send(new GetCommand({ TableName: stack.outputs['ConnectionsTableName'], Key: { connectionId } }));
  return Item;
}

async function sendToQueue(output: 'NotifyUserQueueUrl' | 'NotifyConnectionQueueUrl', body: unknown): Promise<void> {
  await stack.sqs.send(new SendMessageCommand({ QueueUrl: stack.outputs[output], MessageBody: JSON.stringify(body) }));
}

describe('connecting', () => {
  it('refuses an upgrade without a token with 401, and stores nothing', async () => {
    const before = await storedConnections();
    await expect(TestClient.connect(url())).rejects.toEqual(new UpgradeRefusedError(401));
    expect(await storedConnections()).toBe(before);
  });

  it('refuses an upgrade with a token that does not verify with 403, and stores nothing', async () => {
    const before = await storedConnections();
    const refused = TestClient.connect(url(), { headers: { Authorization: 'Bearer not.a.jwt' } });
    await expect(refused).rejects.toEqual(new UpgradeRefusedError(403));
    expect(await storedConnections()).toBe(before);
  });

  it('refuses an expired token with 403', async () => {
    const expired = await stack.runtime.issuer.mint({ userId: 'alice', ttlSeconds: -60 });
    await expect(TestClient.connect(url(), { headers: { Authorization: `Bearer ${expired}` } })).rejects.toEqual(new UpgradeRefusedError(403));
  });

  it('stores an accepted connection under the user the token names', async () => {
    await connectAs('ivy-c');
    expect(await stack.connectionIdsOf('ivy-c', 1)).toHaveLength(1);
  });

  it('accepts the browser form (subprotocols) and selects ws-notify.v1', async () => {
    const token = await stack.tokenFor('dana');
    const client = await TestClient.connect(url(), { protocols: ['ws-notify.v1', `bearer.${token}`] });
    clients.push(client);

    expect(client.socket.protocol).toBe('ws-notify.v1');
  });

  it('refuses a path other than the stage with 403', async () => {
    const token = await stack.tokenFor('alice');
    const wrongStage = url().replace(/\/live$/, '/prod');
    await expect(TestClient.connect(wrongStage, { headers: { Authorization: `Bearer ${token}` } })).rejects.toEqual(
      new UpgradeRefusedError(403),
    );
  });

  it('answers a plain GET on the WebSocket URL with 426 Upgrade Required, as API Gateway does', async () => {
    const response = await fetch(url().replace(/^wss?:/, 'http:'));
    await response.text();

    expect([response.status, response.headers.get('upgrade')]).toEqual([426, 'websocket']);
  });
});

describe('frames from the client', () => {
  it('answers ping with pong through the route response, echoing the id', async () => {
    const client = await connectAs('alice');
    client.send({ action: 'ping', id: 7 });

    const pong = await client.frame((frame) => frame.type === 'pong');
    expect(pong).toEqual({ type: 'pong', time: expect.any(String), id: 7 });
  });

  it('answers a frame that is not JSON with an invalid_json error frame', async () => {
    const client = await connectAs('alice');
    client.send('hello?');

    expect(await client.frame((frame) => frame.type === 'error')).toMatchObject({ code: 'invalid_json' });
  });

  it('routes an unknown action to $default, which names the supported ones', async () => {
    const client = await connectAs('alice');
    client.send({ action: 'shout', id: 'a1' });

    expect(await client.frame((frame) => frame.type === 'error')).toMatchObject({ code: 'unknown_action', id: 'a1', message: expect.stringContaining('subscribe, unsubscribe, publish') });
  });

  it('never lets a client invoke a $-route by naming it as the action', async () => {
    const client = await connectAs('alice');
    client.send({ action: '$disconnect' });

    expect(await client.frame((frame) => frame.type === 'error')).toMatchObject({ code: 'unknown_action' });
    expect(client.closed).toBeUndefined();
  });

  it('closes with 1009 on a frame over 32 KB, as API Gateway does', async () => {
    const client = await connectAs('alice');
    client.send(JSON.stringify({ action: 'ping', pad: 'x'.repeat(33 * 1024) }));

    expect((await client.closedWith()).code).toBe(1009);
  });

  it('accepts a message of several frames each within 32 KB', async () => {
    const client = await connectAs('alice');
    const body = JSON.stringify({ action: 'ping', id: 'big', pad: 'x'.repeat(60 * 1024) });
    const half = Math.ceil(body.length / 3);
    for (const [index, part] of [body.slice(0, half), body.slice(half, 2 * half), body.slice(2 * half)].entries()) {
      client.socket.send(part, { fin: index === 2 });
    }

    expect(await client.frame((frame) => frame.type === 'pong' && frame.id === 'big')).toBeDefined();
  });

  it('closes with 1009 on a message over 128 KB, even in small frames', async () => {
    const client = await connectAs('alice');
    const chunk = 'x'.repeat(30 * 1024);
    for (let index = 0; index < 5; index++) client.socket.send(chunk, { fin: index === 4 });

    expect((await client.closedWith()).code).toBe(1009);
  });

  it('closes with 1003 on a binary frame, which API Gateway does not accept', async () => {
    const client = await connectAs('alice');
    client.socket.send(Buffer.from([1, 2, 3]), { binary: true });

    expect((await client.closedWith()).code).toBe(1003);
  });
});

describe('notifications', () => {
  it("NotifyUser reaches both of alice's connections and none of bob's", async () => {
    const [alice1, alice2, bob] = await Promise.all([connectAs('alice-n'), connectAs('alice-n'), connectAs('bob-n')]);
    await sendToQueue('NotifyUserQueueUrl', { userId: 'alice-n', data: { text: 'shipped' }, id: 'n-1' });

    const expected = { type: 'notification', id: 'n-1', time: expect.any(String), data: { text: 'shipped' }, stream: 'user', seq: 1, epoch: expect.any(String) };
    expect(await alice1.frame((frame) => frame.type === 'notification')).toEqual(expected);
    expect(await alice2.frame((frame) => frame.type === 'notification')).toEqual(expected);
    bob.send({ action: 'ping', id: 'after' });
    await bob.frame((frame) => frame.id === 'after');
    expect(bob.frames.filter((frame: any) => frame.type === 'notification')).toEqual([]);
  });

  it('delivers a notification with emoji, which SQS accepts, end to end', async () => {
    const client = await connectAs('emma-n');
    await sendToQueue('NotifyUserQueueUrl', { userId: 'emma-n', data: { text: 'shipped 🎉📦' }, id: 'n-emoji' });

    expect(await client.frame((frame) => frame.type === 'notification')).toMatchObject({ id: 'n-emoji', data: { text: 'shipped 🎉📦' } });
  });

  it('NotifyConnection reaches exactly one connection', async () => {
    const [target, sibling] = await Promise.all([connectAs('carol-n'), connectAs('carol-n')]);
    const connectionId = await stack.connectionIdsOf('carol-n', 2).then((ids) => ids[0] as string);
    const targetClient = await whichClientIs(connectionId, [target, sibling]);
    await sendToQueue('NotifyConnectionQueueUrl', { connectionId, data: 'just you', id: 'c-1' });

    expect(await targetClient.frame((frame) => frame.type === 'notification')).toMatchObject({ id: 'c-1', data: 'just you' });
    const other = targetClient === target ? sibling : target;
    other.send({ action: 'ping', id: 'after' });
    await other.frame((frame) => frame.id === 'after');
    expect(other.frames.filter((frame: any) => frame.type === 'notification')).toEqual([]);
  });

  it("removes the row of a connection that is gone when a notification is posted to it (410)", async () => {
    const table = stack.outputs['ConnectionsTableName'];
    const now = Date.now();
    await stack.db.send(
      new PutCommand({ TableName: table, Item: { connectionId: 'ghost=', userId: 'erin-n', connectedAt: now, expiresAt: Math.floor(now / 1000) + 3600 } }),
    );
    const live = await connectAs('erin-n');
    await sendToQueue('NotifyUserQueueUrl', { userId: 'erin-n', data: 1 });

    await live.frame((frame) => frame.type === 'notification');
    await eventually(async () => ((await row('ghost=')) === undefined ? true : undefined), 'the gone row to be deleted');
  });

  it('dead-letters a malformed NotifyUser message with its reason while its batch siblings are delivered', async () => {
    const client = await connectAs('frank-n');
    await stack.sqs.send(
      new SendMessageBatchCommand({
        QueueUrl: stack.outputs['NotifyUserQueueUrl'],
        Entries: [
          { Id: 'good', MessageBody: JSON.stringify({ userId: 'frank-n', data: 'ok', id: 'good-1' }) },
          { Id: 'bad', MessageBody: JSON.stringify({ user: 'frank-n' }) },
          { Id: 'worse', MessageBody: '{not json' },
        ],
      }),
    );

    expect(await client.frame((frame) => frame.type === 'notification')).toMatchObject({ id: 'good-1' });
    const deadLetterUrl = await deadLetterQueueOf(stack.outputs['NotifyUserQueueUrl'] as string);
    const dead = await eventually(async () => {
      const messages = await receiveAll(stack.sqs, deadLetterUrl);
      return messages.length >= 2 ? messages : undefined;
    }, 'two dead-lettered messages');
    expect(dead.map((message) => message.MessageAttributes?.['ErrorCode']?.StringValue).sort()).toEqual(['invalid_json', 'invalid_message']);
  });
});

describe('the management API', () => {
  it('reports a connection (GetConnection), posts to it, and DeleteConnection closes it and runs $disconnect', async () => {
    const client = await connectAs('gina-m');
    const [connectionId] = await stack.connectionIdsOf('gina-m', 1);

    const info = await stack.managementApi.send(new GetConnectionCommand({ ConnectionId: connectionId }));
    expect(info.ConnectedAt).toBeInstanceOf(Date);
    expect(info.Identity?.SourceIp).toBe('127.0.0.1');

    await stack.managementApi.send(new PostToConnectionCommand({ ConnectionId: connectionId, Data: '{"direct":true}' }));
    expect(await client.frame((frame) => frame.direct === true)).toEqual({ direct: true });

    await stack.managementApi.send(new DeleteConnectionCommand({ ConnectionId: connectionId }));
    expect((await client.closedWith()).code).toBe(1000);
    await eventually(async () => ((await row(connectionId as string)) === undefined ? true : undefined), '$disconnect to delete the row');
  });

  it('answers GoneException for a connection that does not exist', async () => {
    await expect(stack.managementApi.send(new PostToConnectionCommand({ ConnectionId: 'nobody=', Data: 'x' }))).rejects.toBeInstanceOf(GoneException);
  });
});

describe('credential expiry and refresh', () => {
  async function connectWithTokenFor(userId: string, ttlSeconds: number): Promise<{ client: TestClient; exp: number }> {
    const exp = Math.floor(Date.now() / 1000) + ttlSeconds;
    const client = await TestClient.connect(url(), { headers: { Authorization: `Bearer ${await stack.tokenFor(userId, ttlSeconds)}` } });
    clients.push(client);
    return { client, exp };
  }

  it("closes a connection within 60 s of its token's exp, after a credential_expired frame, and deletes its row", async () => {
    const { client, exp } = await connectWithTokenFor('kim-x', 3);
    const [connectionId] = await stack.connectionIdsOf('kim-x', 1);

    expect(await client.frame((frame) => frame.type === 'error', 20_000)).toMatchObject({ code: 'credential_expired' });
    expect((await client.closedWith(20_000)).code).toBe(1000);
    expect(Date.now()).toBeLessThan(exp * 1000 + 60_000);
    await eventually(async () => ((await row(connectionId as string)) === undefined ? true : undefined), 'the row to be deleted');
  }, 30_000);

  it('keeps a connection open past its first exp once the client authenticates with a fresh token', async () => {
    const { client, exp } = await connectWithTokenFor('lou-x', 3);
    client.send({ action: 'authenticate', token: await stack.tokenFor('lou-x', 3600), id: 'refresh' });

    const authenticated = await client.frame((frame) => frame.id === 'refresh');
    expect(authenticated).toEqual({ type: 'authenticated', expiresAt: expect.any(String), id: 'refresh' });
    expect(Date.parse(authenticated.expiresAt)).toBeGreaterThan(Date.now() + 3_500_000);
    // Past the first exp, several sweeps later: an absence can only be shown over time.
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, exp * 1000 - Date.now()) + 5_000));
    client.send({ action: 'ping', id: 'still-here' });
    expect(await client.frame((frame) => frame.id === 'still-here')).toMatchObject({ type: 'pong' });
    expect(client.frames.filter((frame: any) => frame.code === 'credential_expired')).toEqual([]);
  }, 30_000);

  it("refuses a refresh with another user's token (user_mismatch) or a token that does not verify (invalid_credential), telling the client no verifier detail", async () => {
    const { client } = await connectWithTokenFor('max-x', 3600);
    client.send({ action: 'authenticate', token: await stack.tokenFor('someone-else', 3600), id: 'a' });
    client.send({ action: 'authenticate', token: 'not.a.jwt', id: 'b' });
    client.send({ action: 'authenticate', token: withFlippedSignatureByte(await stack.tokenFor('max-x', 3600)), id: 'c' });
    client.send({ action: 'authenticate', id: 'd' });

    expect(await client.frame((frame) => frame.id === 'a')).toMatchObject({ type: 'error', code: 'user_mismatch' });
    const doesNotVerify = { type: 'error', code: 'invalid_credential', message: 'the token does not verify' };
    expect(await client.frame((frame) => frame.id === 'b')).toEqual({ ...doesNotVerify, id: 'b' });
    expect(await client.frame((frame) => frame.id === 'c')).toEqual({ ...doesNotVerify, id: 'c' });
    expect(await client.frame((frame) => frame.id === 'd')).toMatchObject({ type: 'error', code: 'invalid_credential' });
  });
});

describe('API key revocation and expiry', () => {
  const apiKeys = () => new ApiKeyTable(stack.db, stack.outputs['ApiKeysTableName'] as string);

  async function connectWithKey(apiKey: string): Promise<TestClient> {
    const client = await TestClient.connect(url(), { headers: { 'x-api-key': apiKey } });
    clients.push(client);
    return client;
  }

  it('closes every connection of a revoked key within 60 s, after a credential_revoked frame, and spares its other keys', async () => {
    const revoked = await apiKeys().create({ userId: 'nia-x', scope: 'connect' });
    const kept = await apiKeys().create({ userId: 'nia-x', scope: 'connect' });
    const [first, second, other] = await Promise.all([connectWithKey(revoked.apiKey), connectWithKey(revoked.apiKey), connectWithKey(kept.apiKey)]);
    await stack.connectionIdsOf('nia-x', 3);

    const revokedAt = Date.now();
    await apiKeys().revoke(revoked.record.keyId);

    for (const client of [first, second]) {
      expect(await client.frame((frame) => frame.type === 'error', 20_000)).toMatchObject({ code: 'credential_revoked' });
      expect((await client.closedWith(20_000)).code).toBe(1000);
    }
    expect(Date.now()).toBeLessThan(revokedAt + 60_000);
    await expect(connectWithKey(revoked.apiKey)).rejects.toEqual(new UpgradeRefusedError(403));
    other.send({ action: 'ping', id: 'kept' });
    expect(await other.frame((frame) => frame.id === 'kept')).toMatchObject({ type: 'pong' });
    expect(other.frames.filter((frame: any) => frame.type === 'error')).toEqual([]);
  }, 45_000);

  it("closes a key's connection within 60 s of the key's expiry, after a credential_expired frame", async () => {
    const expiresAt = Math.floor(Date.now() / 1000) + 3;
    const { apiKey } = await apiKeys().create({ userId: 'oz-x', scope: 'connect', expiresAt });
    const client = await connectWithKey(apiKey);

    expect(await client.frame((frame) => frame.type === 'error', 20_000)).toMatchObject({ code: 'credential_expired' });
    expect((await client.closedWith(20_000)).code).toBe(1000);
    expect(Date.now()).toBeGreaterThanOrEqual(expiresAt * 1000);
    expect(Date.now()).toBeLessThan(expiresAt * 1000 + 60_000);
    await expect(connectWithKey(apiKey)).rejects.toEqual(new UpgradeRefusedError(403));
  }, 30_000);
});

describe('the client SDK (@ws-notify/client) on real sockets', () => {
  const sdkClients: WsNotifyClient[] = [];
  afterAll(() => Promise.all(sdkClients.map((client) => client.close())));

  /** A client over `ws` (headers), recording what it tells the application; `opened` counts its sockets. */
  function sdkClient(options: Partial<ClientOptions>) {
    const seen = { states: [] as string[], notifications: [] as Notification[], events: [] as TopicEvent[], errors: [] as WsNotifyError[], opened: 0 };
    class CountedWebSocket extends WebSocket {
      constructor(...args: ConstructorParameters<typeof WebSocket>) {
        super(...args);
        seen.opened += 1;
      }
    }
    const client = createClient({ url: url(), WebSocket: CountedWebSocket, ...options });
    sdkClients.push(client);
    client.on('state', (state) => seen.states.push(state));
    client.on('notification', (notification) => seen.notifications.push(notification));
    client.on('event', (event) => seen.events.push(event));
    client.on('error', (error) => seen.errors.push(error));
    return { client, seen };
  }

  const until = (condition: () => boolean, what: string, timeoutMs = 10_000) => eventually(async () => (condition() ? true : undefined), what, timeoutMs);
  const deleteConnectionOf = async (userId: string) => {
    const [connectionId] = await stack.connectionIdsOf(userId, 1);
    await stack.managementApi.send(new DeleteConnectionCommand({ ConnectionId: connectionId }));
  };

  it('reconnects after the management API deletes its connection, subscribes again, and receives what is sent next', async () => {
    const token = () => stack.runtime.issuer.mint({ userId: 'sdk-ann', claims: { topics: ['sdk.orders'], publishTopics: ['sdk.orders'] } });
    const { client, seen } = sdkClient({ token });
    let subscribed = 0;
    client.subscribe('sdk.orders').on('subscribed', () => (subscribed += 1));
    await until(() => subscribed === 1, 'the subscription');

    await deleteConnectionOf('sdk-ann');
    await until(() => subscribed === 2, 'the subscription on the new connection');
    expect(seen.states).toEqual(['open', 'reconnecting', 'open']);
    await sendToQueue('NotifyUserQueueUrl', { userId: 'sdk-ann', data: { after: 'reconnect' }, id: 'sdk-n-1' });
    const published = await client.publish('sdk.orders', { type: 'order.created', data: { n: 1 } });

    await until(() => seen.notifications.length === 1 && seen.events.length === 1, 'the notification and the event');
    expect(seen.notifications).toEqual([expect.objectContaining({ id: 'sdk-n-1', data: { after: 'reconnect' } })]);
    expect(seen.events[0]?.event).toMatchObject({ id: published.eventId, type: 'order.created', wsnpublisher: 'user:sdk-ann' });
    expect(seen.errors).toEqual([]);
  }, 30_000);

  it('keeps a publish made while reconnecting in its outbox and sends it once connected again', async () => {
    const token = () => stack.runtime.issuer.mint({ userId: 'sdk-bo', claims: { topics: ['sdk.outbox'], publishTopics: ['sdk.outbox'] } });
    const { client, seen } = sdkClient({ token });
    let subscribed = 0;
    client.subscribe('sdk.outbox').on('subscribed', () => (subscribed += 1));
    await until(() => subscribed === 1, 'the subscription');

    let queued: Promise<unknown> | undefined;
    client.on('state', (state) => {
      if (state === 'reconnecting' && queued === undefined) queued = client.publish('sdk.outbox', { type: 'queued', id: 'sdk-outbox-1' });
    });
    await deleteConnectionOf('sdk-bo');

    await until(() => queued !== undefined, 'the reconnect');
    await expect(queued).resolves.toMatchObject({ type: 'published', eventId: 'sdk-outbox-1' });
    await until(() => seen.events.length === 1, 'the event published from the outbox');
    expect(seen.events[0]?.event).toMatchObject({ id: 'sdk-outbox-1', type: 'queued' });
    expect(seen.states).toEqual(['open', 'reconnecting', 'open']);
  }, 30_000);

  it('refreshes a short-lived token through authenticate before its exp: the connection is never dropped', async () => {
    let issued = 0;
    const firstExp = Math.floor(Date.now() / 1000) + 10;
    const { seen } = sdkClient({ token: () => ((issued += 1), stack.tokenFor('sdk-cy', 10)) });
    await until(() => seen.states.includes('open'), 'the connection');
    const [connectionId] = await stack.connectionIdsOf('sdk-cy', 1);

    // Past the first token's exp by two expiry sweeps (every 2 s here), after one refresh.
    await until(() => issued >= 2 && Date.now() > firstExp * 1000 + 4_000, 'a refresh and two sweeps past exp', 20_000);
    await sendToQueue('NotifyUserQueueUrl', { userId: 'sdk-cy', data: 'still here', id: 'sdk-n-2' });
    await until(() => seen.notifications.length === 1, 'the notification');

    expect(await stack.connectionIdsOf('sdk-cy', 1)).toEqual([connectionId]);
    expect(seen.states).toEqual(['open']);
    expect(seen.errors).toEqual([]);
  }, 40_000);

  it('stops for good when its API key is revoked, with a credential_revoked error, and never reconnects', async () => {
    const { apiKey, record } = await new ApiKeyTable(stack.db, stack.outputs['ApiKeysTableName'] as string).create({ userId: 'sdk-dee', scope: 'connect' });
    const { client, seen } = sdkClient({ apiKey });
    await until(() => seen.states.includes('open'), 'the connection');

    await new ApiKeyTable(stack.db, stack.outputs['ApiKeysTableName'] as string).revoke(record.keyId);
    await until(() => client.state === 'closed', 'the client to stop', 20_000);
    expect(seen.errors).toEqual([expect.objectContaining({ code: 'credential_revoked', fatal: true })]);
    await expect(client.publish('anything', { type: 'x' })).rejects.toMatchObject({ code: 'client_closed' });
    // An absence can only be shown over time: several backoff windows pass without a new socket.
    await new Promise((resolve) => setTimeout(resolve, 3_000));
    expect(seen.opened).toBe(1);
    expect(seen.states).toEqual(['open', 'closed']);
  }, 30_000);
});

describe('starting', () => {
  it('says what to do when its port is taken', async () => {
    const port = Number(new URL(stack.runtime.url).port);
    await expect(startLocalRuntime({ port, projectDir: PROJECT_DIR, stateDir: stack.stateDir })).rejects.toThrow(
      `port ${port} on 127.0.0.1 is in use (another npm start?): stop it, or pass --port 0 for a free port`,
    );
  });
});

describe('fault injection (/_local/faults)', () => {
  const setFaults = async (method: 'GET' | 'PUT' | 'POST' | 'DELETE', spec?: unknown) => {
    const response = await fetch(`${stack.runtime.url}/_local/faults`, {
      method,
      headers: { 'content-type': 'application/json' },
      ...(spec !== undefined && { body: JSON.stringify(spec) }),
    });
    return { status: response.status, body: (await response.json()) as any };
  };
  afterEach(() => setFaults('DELETE'));

  it('retries a notification throttled (429) past the SDK\'s retries through the NotifyConnection queue, which delivers it once the fault ends', async () => {
    const client = await connectAs('fay-f');
    const [connectionId] = await stack.connectionIdsOf('fay-f', 1);
    // The fan-out's post takes 3 attempts (the SDK's retries): all 3 fail, the NotifyConnection consumer's succeeds.
    await setFaults('PUT', { managementApi: [{ status: 429, connectionIds: [connectionId], methods: ['POST'], times: 3 }] });

    await sendToQueue('NotifyUserQueueUrl', { userId: 'fay-f', data: 'after a throttle', id: 'f-429' });

    expect(await client.frame((frame) => frame.id === 'f-429', 30_000)).toMatchObject({ type: 'notification', data: 'after a throttle' });
    expect((await setFaults('GET')).body.failed.managementApi).toEqual([3]);
    expect(functionLines.some((line) => line.includes('the NotifyConnection queue retries it') && line.includes(connectionId as string))).toBe(true);
    expect(client.frames.filter((frame: any) => frame.id === 'f-429')).toHaveLength(1);
  }, 40_000);

  it('retries a post the management API fails with 500', async () => {
    const client = await connectAs('gil-f');
    const [connectionId] = await stack.connectionIdsOf('gil-f', 1);
    await setFaults('PUT', { managementApi: [{ status: 500, connectionIds: [connectionId], times: 2 }] });

    await sendToQueue('NotifyConnectionQueueUrl', { connectionId, data: 'after a 500', id: 'f-500' });

    expect(await client.frame((frame) => frame.id === 'f-500', 20_000)).toMatchObject({ data: 'after a 500' });
    expect((await setFaults('GET')).body.failed.managementApi).toEqual([2]);
  });

  it('removes the row of a connection the management API calls gone (410)', async () => {
    const client = await connectAs('hal-f');
    const [connectionId] = await stack.connectionIdsOf('hal-f', 1);
    await setFaults('PUT', { managementApi: [{ status: 410, connectionIds: [connectionId] }] });

    await sendToQueue('NotifyConnectionQueueUrl', { connectionId, data: 'never seen', id: 'f-410' });

    await eventually(async () => ((await row(connectionId as string)) === undefined ? true : undefined), 'the row of the "gone" connection to be deleted');
    expect(client.frames.filter((frame: any) => frame.id === 'f-410')).toEqual([]);
  });

  it("drops a user's connections without a close frame, and their $disconnect removes them", async () => {
    const client = await connectAs('ivy-f');
    const [connectionId] = await stack.connectionIdsOf('ivy-f', 1);

    const { body } = await setFaults('POST', { dropConnections: { principalIds: ['ivy-f'] } });

    expect(body.dropped).toEqual([connectionId]);
    expect(await client.closedWith()).toEqual({ code: 1006, reason: '' });
    await eventually(async () => ((await row(connectionId as string)) === undefined ? true : undefined), "the dropped connection's row to be deleted");
  });

  it('refuses the functions every request to a paused table as throttled, so a $connect fails (502) until it resumes', async () => {
    await setFaults('PUT', { pausedTables: [stack.outputs['ConnectionsTableName']] });
    await expect(connectAs('joy-f')).rejects.toEqual(new UpgradeRefusedError(502));
    expect((await setFaults('GET')).body.failed.tableRequests).toBeGreaterThan(0);

    await setFaults('DELETE');
    await connectAs('joy-f');
    await stack.connectionIdsOf('joy-f', 1);
  }, 20_000);

  it("delays a queue's deliveries to its function", async () => {
    const client = await connectAs('kai-f');
    await setFaults('PUT', { queueDelays: { NotifyUserQueue: 2_000 } });

    const sent = Date.now();
    await sendToQueue('NotifyUserQueueUrl', { userId: 'kai-f', data: 'late', id: 'f-late' });

    await client.frame((frame) => frame.id === 'f-late');
    expect(Date.now() - sent).toBeGreaterThanOrEqual(2_000);
  });

  it('refuses a spec it does not know with 400 and the field named, and keeps the faults in force', async () => {
    await setFaults('PUT', { queueDelays: { NotifyUserQueue: 1 } });
    const refused = await setFaults('POST', { managementApi: [{ status: 503 }] });
    expect(refused).toEqual({ status: 400, body: { message: 'managementApi[0].status is one of 410, 429, 500, got 503' } });
    expect((await setFaults('GET')).body.faults).toEqual({ queueDelays: { NotifyUserQueue: 1 } });
  });
});

describe("the runtime's development endpoints", () => {
  it('refuses a /_local/notify body without a userId or data, or that is not JSON, with 400', async () => {
    for (const body of ['{"data":1}', '{"userId":"a"}', 'not json']) {
      const response = await fetch(`${stack.runtime.url}/_local/notify`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
      expect(response.status).toBe(400);
    }
  });

  it("adds up the functions' embedded metrics at /_local/metrics, and passes their lines on to the function log", async () => {
    const metrics = async () => (await (await fetch(`${stack.runtime.url}/_local/metrics`)).json()) as LocalMetricsSnapshot;
    const before = await metrics();
    const client = await connectAs('gus-m');

    await sendToQueue('NotifyUserQueueUrl', { userId: 'gus-m', data: 'counted' });
    await client.frame((frame) => frame.type === 'notification');

    const after = await eventually(async () => {
      const now = await metrics();
      return (now.counters['DeliveriesPosted'] ?? 0) > (before.counters['DeliveriesPosted'] ?? 0) ? now : undefined;
    }, 'the delivery to be counted');
    expect(after.namespace).toBe('WsNotify');
    expect(after.counters['NotificationsReceived']).toBeGreaterThan(before.counters['NotificationsReceived'] ?? 0);
    expect(after.fanOutSize?.count).toBeGreaterThan(before.fanOutSize?.count ?? 0);
    expect(after.deliveryLatencyMs?.max).toBeGreaterThanOrEqual(0);
    expect(emfLinesLogged).toBeGreaterThan(0);
  });

  it('serves the issuer keys the authorizer verifies against', async () => {
    const response = await fetch(`${stack.runtime.url}/issuer/.well-known/jwks.json`);
    const { keys } = (await response.json()) as { keys: { kty: string; kid: string; d?: string }[] };

    expect(keys).toEqual([expect.objectContaining({ kty: 'RSA', kid: expect.any(String), alg: 'RS256' })]);
    expect(keys[0]).not.toHaveProperty('d');
  });
});

describe('web pages: DNS rebinding and requests from other origins (docs/security.md, "The local runtime")', () => {
  const port = () => Number(new URL(stack.runtime.url).port);
  // What an SDK sends: the signature is not checked locally, its presence is.
  const signed = { authorization: 'AWS4-HMAC-SHA256 Credential=local/20260101/us-east-1/lambda/aws4_request, SignedHeaders=host, Signature=0' };
  const json = { 'content-type': 'application/json' };
  const tokenRequest = JSON.stringify({ userId: 'mallory', topics: ['*'] });
  const invocations = () => `/2015-03-31/functions/${encodeURIComponent(stack.runtime.stackName)}-nothing/invocations`;
  /** Every kind of endpoint the runtime's port serves, as a client of each would call it. */
  const endpoints = (): RawRequest[] => [
    { method: 'GET', path: '/' },
    { method: 'GET', path: '/_local/outputs' },
    { method: 'POST', path: '/_local/token', headers: json, body: tokenRequest },
    { method: 'POST', path: '/_local/notify', headers: json, body: '{"userId":"victim","data":{}}' },
    { method: 'GET', path: '/issuer/.well-known/jwks.json' },
    { method: 'DELETE', path: '/live/@connections/someone%3D', headers: signed },
    { method: 'POST', path: invocations(), headers: signed, body: '{}' },
  ];

  it('refuses a request to any endpoint whose Host is not a loopback name with its port: 403', async () => {
    const hosts = [`attacker.example:${port()}`, 'attacker.example', `127.0.0.1.attacker.example:${port()}`, `127.0.0.1:${port() + 1}`, `localhost`];
    for (const host of hosts) {
      for (const endpoint of endpoints()) {
        const reply = await rawRequest(port(), { ...endpoint, headers: { ...endpoint.headers, host } });
        const { message } = JSON.parse(reply.body) as { message: string };
        expect([host, endpoint.path, reply.status, message]).toEqual([host, endpoint.path, 403, expect.stringContaining(`Host "${host}" is refused`)]);
      }
    }
  });

  it("refuses a request to the engines' endpoints in outputs.json (DynamoDB, SQS) whose Host is not a loopback name: 403", async () => {
    const signedFor = (service: string) => `AWS4-HMAC-SHA256 Credential=local/20260101/us-east-1/${service}/aws4_request, SignedHeaders=host, Signature=0`;
    const engines = [
      { endpoint: stack.outputs.DynamoDbEndpoint, target: 'DynamoDB_20120810.ListTables', service: 'dynamodb' },
      { endpoint: stack.outputs.SqsEndpoint, target: 'AmazonSQS.ListQueues', service: 'sqs' },
    ];
    for (const { endpoint, target, service } of engines) {
      const enginePort = Number(new URL(endpoint).port);
      const headers = { 'content-type': 'application/x-amz-json-1.0', 'x-amz-target': target, authorization: signedFor(service) };
      for (const host of [`attacker.example:${enginePort}`, `127.0.0.1.attacker.example:${port()}`]) {
        const reply = await rawRequest(enginePort, { method: 'POST', path: '/', headers: { ...headers, host }, body: '{}' });
        expect([endpoint, host, reply.status, reply.body]).toEqual([endpoint, host, 403, expect.stringContaining('is refused')]);
      }
      const served = await rawRequest(enginePort, { method: 'POST', path: '/', headers: { ...headers, host: `localhost:${enginePort}` }, body: '{}' });
      expect([endpoint, served.status]).toEqual([endpoint, 200]);
    }
  });

  it("sends the test page with frame-ancestors 'self' and X-Frame-Options, so no other site can frame it", async () => {
    const reply = await rawRequest(port(), { method: 'GET', path: '/' });
    expect([reply.status, reply.headers['content-security-policy'], reply.headers['x-frame-options']]).toEqual([200, "frame-ancestors 'self'", 'SAMEORIGIN']);
  });

  it('serves 127.0.0.1, localhost and [::1] with its port', async () => {
    for (const host of [`127.0.0.1:${port()}`, `localhost:${port()}`, `[::1]:${port()}`, `LOCALHOST:${port()}`]) {
      const reply = await rawRequest(port(), { method: 'POST', path: '/_local/token', headers: { ...json, host }, body: tokenRequest });
      expect([host, reply.status]).toEqual([host, 200]);
    }
  });

  it('refuses a request to any endpoint from a page of another origin: 403, and mints nothing', async () => {
    const origins = ['https://attacker.example', 'null', `http://localhost:${port() + 1}`, `http://127.0.0.1:${port()}.attacker.example`];
    for (const origin of origins) {
      for (const endpoint of endpoints()) {
        const reply = await rawRequest(port(), { ...endpoint, headers: { ...endpoint.headers, origin } });
        const { message } = JSON.parse(reply.body) as { message: string };
        expect([origin, endpoint.path, reply.status, message]).toEqual([origin, endpoint.path, 403, expect.stringContaining(`Origin ${origin} is refused`)]);
      }
    }
  });

  it("serves requests of its own origin, as the test page's are", async () => {
    for (const origin of [`http://127.0.0.1:${port()}`, `http://localhost:${port()}`]) {
      const reply = await rawRequest(port(), { method: 'POST', path: '/_local/token', headers: { ...json, origin }, body: tokenRequest });
      expect([origin, reply.status, JSON.parse(reply.body)]).toEqual([origin, 200, { token: expect.any(String) }]);
    }
  });

  it('refuses /_local/token, /_local/notify and /_local/faults bodies not declared JSON (text/plain, a form, multipart, none): 415', async () => {
    const contentTypes = ['text/plain', 'text/plain;charset=UTF-8', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x', undefined];
    for (const path of ['/_local/token', '/_local/notify', '/_local/faults']) {
      for (const contentType of contentTypes) {
        const headers: Record<string, string> = contentType === undefined ? {} : { 'content-type': contentType };
        const reply = await rawRequest(port(), { method: 'POST', path, headers, body: '{"userId":"victim","data":{}}' });
        expect([path, contentType, reply.status]).toEqual([path, contentType, 415]);
      }
    }
  });

  it('refuses unsigned management API and Invoke API requests as AWS does (403 MissingAuthenticationTokenException): the connection stays open', async () => {
    const client = await connectAs('rita-u');
    const [connectionId] = await stack.connectionIdsOf('rita-u', 1);
    const connection = `/live/@connections/${encodeURIComponent(connectionId as string)}`;

    for (const endpoint of [{ method: 'DELETE', path: connection }, { method: 'POST', path: connection, body: '{"forged":true}' }, { method: 'POST', path: invocations(), body: '{}' }]) {
      const reply = await rawRequest(port(), endpoint);
      expect([endpoint.method, endpoint.path, reply.status, reply.headers['x-amzn-errortype']]).toEqual([
        endpoint.method,
        endpoint.path,
        403,
        'MissingAuthenticationTokenException',
      ]);
    }
    await stack.managementApi.send(new PostToConnectionCommand({ ConnectionId: connectionId, Data: '{"signed":true}' }));
    await client.frame((frame) => frame.signed === true);
    expect(client.frames.some((frame: any) => frame.forged)).toBe(false);
    expect(client.closed).toBeUndefined();
  });

  it('refuses a WebSocket upgrade whose Host is not a loopback name with its port (403), and stores nothing', async () => {
    const before = await storedConnections();
    const token = await stack.tokenFor('mallory');
    const refused = TestClient.connect(url(), { headers: { Authorization: `Bearer ${token}`, Host: `attacker.example:${port()}` } });
    await expect(refused).rejects.toEqual(new UpgradeRefusedError(403));
    expect(await storedConnections()).toBe(before);
  });

  it('lets a page of another origin open a WebSocket as API Gateway does: its credential decides (401 without one)', async () => {
    const origin = { Origin: 'https://app.example' };
    await expect(TestClient.connect(url(), { headers: origin })).rejects.toEqual(new UpgradeRefusedError(401));
    const client = await TestClient.connect(url(), { headers: { ...origin, Authorization: `Bearer ${await stack.tokenFor('olga-o')}` } });
    clients.push(client);
    expect(await stack.connectionIdsOf('olga-o', 1)).toHaveLength(1);
  });
});

describe('$disconnect', () => {
  it("deletes a closed connection's row", async () => {
    const client = await connectAs('hank-d');
    const [connectionId] = await stack.connectionIdsOf('hank-d', 1);
    client.close();

    await eventually(async () => ((await row(connectionId as string)) === undefined ? true : undefined), 'the row to be deleted');
  });
});


describe('durable streams (issue 14)', () => {
  const streams = () => new StreamTable(stack.db, stack.outputs['StreamsTableName'] as string, { ttlSeconds: 86_400, maxEntries: 1000 });

  /** Sends `count` notifications to the user, ten per SendMessageBatch, their data numbered from `first`. */
  async function notifyMany(userId: string, count: number, first = 1): Promise<void> {
    for (let start = 0; start < count; start += 10) {
      const entries = Array.from({ length: Math.min(10, count - start) }, (_, i) => ({
        Id: String(i),
        MessageBody: JSON.stringify({ userId, id: `${userId}-${first + start + i}`, data: { n: first + start + i } }),
      }));
      await stack.sqs.send(new SendMessageBatchCommand({ QueueUrl: stack.outputs['NotifyUserQueueUrl'], Entries: entries }));
    }
  }

  /** Resolves once the user's stream holds entry `seq`: every notification sent so far was appended. */
  async function appended(userId: string, seq: number, timeoutMs = 60_000): Promise<string> {
    const newest = await eventually(async () => {
      const entry = await streams().newest(userStreamKey(userId, undefined));
      return entry !== undefined && entry.seq >= seq ? entry : undefined;
    }, `entry ${seq} of ${userId}'s stream`, timeoutMs);
    return newest.epoch;
  }

  const notificationsOf = (client: TestClient) => client.frames.filter((frame: any) => frame.type === 'notification') as any[];

  /** Sends `resume` and returns the replayed frames and the `resumed` reply. */
  async function resume(client: TestClient, position: Record<string, unknown>, id: string) {
    client.send({ action: 'resume', id, streams: { user: position } });
    const resumed = await client.frame((frame) => frame.type === 'resumed' && frame.id === id, 30_000);
    return { replayed: notificationsOf(client).filter((frame) => frame.replay === true), resumed };
  }

  it('replays to a user who had no connection exactly the 100 notifications sent meanwhile, in seq order, recovered', async () => {
    await notifyMany('st-offline', 100);
    const epoch = await appended('st-offline', 100);
    const client = await connectAs('st-offline');

    const { replayed, resumed } = await resume(client, { seq: 0 }, 'from-0');

    expect(replayed.map((frame) => frame.seq)).toEqual(Array.from({ length: 100 }, (_, i) => i + 1));
    expect(new Set(replayed.map((frame) => frame.id))).toEqual(new Set(Array.from({ length: 100 }, (_, i) => `st-offline-${i + 1}`)));
    expect(replayed.every((frame) => frame.stream === 'user' && frame.epoch === epoch)).toBe(true);
    expect(resumed).toEqual({ type: 'resumed', stream: 'user', recovered: true, from: 1, to: 100, id: 'from-0' });
  }, 120_000);

  it('replays after a cut-off connection exactly the 100 it missed, in order, with none it had', async () => {
    const first = await connectAs('st-cut');
    const [connectionId] = await stack.connectionIdsOf('st-cut', 1);
    await notifyMany('st-cut', 50);
    await eventually(async () => (notificationsOf(first).length === 50 ? true : undefined), '50 live notifications', 60_000);
    const seen = notificationsOf(first).map((frame) => frame.seq as number);
    expect([...seen].sort((a, b) => a - b)).toEqual(Array.from({ length: 50 }, (_, i) => i + 1));

    await stack.managementApi.send(new DeleteConnectionCommand({ ConnectionId: connectionId }));
    await first.closedWith();
    await notifyMany('st-cut', 100, 51);
    await appended('st-cut', 150);
    const again = await connectAs('st-cut');
    const { replayed, resumed } = await resume(again, { epoch: notificationsOf(first)[0].epoch, seq: 50 }, 'after-50');

    expect(replayed.map((frame) => frame.seq)).toEqual(Array.from({ length: 100 }, (_, i) => i + 51));
    expect(new Set(replayed.map((frame) => frame.id)).size).toBe(100);
    expect(replayed.filter((frame) => notificationsOf(first).some((had) => had.id === frame.id))).toEqual([]);
    expect(resumed).toMatchObject({ recovered: true, from: 51, to: 150 });
  }, 180_000);

  it('numbers 1,000 notifications from 10 concurrent producers 1..1000 on each of the user\'s 3 connections: no hole, no duplicate', async () => {
    const connections = await Promise.all([connectAs('st-busy'), connectAs('st-busy'), connectAs('st-busy')]);
    await stack.connectionIdsOf('st-busy', 3);

    await Promise.all(Array.from({ length: 10 }, (_, producer) => notifyMany('st-busy', 100, producer * 100 + 1)));

    for (const client of connections) {
      await eventually(async () => (notificationsOf(client).length >= 1000 ? true : undefined), '1,000 notifications', 240_000);
      const seqs = notificationsOf(client).map((frame) => frame.seq as number);
      expect(seqs).toHaveLength(1000);
      expect(new Set(seqs)).toEqual(new Set(Array.from({ length: 1000 }, (_, i) => i + 1)));
      // Live frames may overtake each other: how many arrived after a higher seq (docs/guarantees.md states it).
      let highest = 0;
      const overtaken = seqs.filter((seq) => (seq < highest ? true : ((highest = seq), false))).length;
      const displacement = Math.max(...seqs.map((seq, index) => Math.abs(seq - (index + 1))));
      process.stdout.write(`st-busy connection: ${overtaken} of 1000 frames arrived after a higher seq; largest displacement ${displacement}\n`);
    }
  }, 300_000);
});

interface RawRequest {
  method: string;
  path: string;
  headers?: Record<string, string>;
  body?: string;
}

/** A request through node:http, which sends the Host and Origin it is given (fetch would not). */
function rawRequest(port: number, { method, path, headers = {}, body }: RawRequest) {
  return new Promise<{ status: number; headers: Record<string, unknown>; body: string }>((resolve, reject) => {
    const outgoing = httpRequest({ host: '127.0.0.1', port, method, path, headers }, (response) => {
      const chunks: Buffer[] = [];
      response.on('data', (chunk: Buffer) => chunks.push(chunk));
      response.on('end', () => resolve({ status: response.statusCode ?? 0, headers: response.headers, body: Buffer.concat(chunks).toString('utf8') }));
    });
    outgoing.on('error', reject);
    outgoing.end(body);
  });
}

/** The queue's dead-letter queue, from its redrive policy. */
async function deadLetterQueueOf(queueUrl: string): Promise<string> {
  const { Attributes } = await stack.sqs.send(new GetQueueAttributesCommand({ QueueUrl: queueUrl, AttributeNames: ['RedrivePolicy'] }));
  const { deadLetterTargetArn } = JSON.parse(Attributes?.RedrivePolicy ?? '{}') as { deadLetterTargetArn: string };
  const { QueueUrl } = await stack.sqs.send(new GetQueueUrlCommand({ QueueName: deadLetterTargetArn.split(':').pop() }));
  return QueueUrl as string;
}

/** Finds which client a connection id belongs to by posting a marker to it. */
async function whichClientIs(connectionId: string, candidates: TestClient[]): Promise<TestClient> {
  const marker = `marker-${connectionId}`;
  await stack.managementApi.send(new PostToConnectionCommand({ ConnectionId: connectionId, Data: JSON.stringify({ marker }) }));
  return eventually(async () => candidates.find((client) => client.frames.some((frame: any) => frame.marker === marker)), 'the marker');
}

describe('acks and the offline fallback (ackTimeout: 3 s by context)', () => {
  it('sends the notification no connection acked to the Undelivered queue once, with user, seq, epoch and the notification, and never the acked one', async () => {
    const [phone, laptop] = await Promise.all([connectAs('uma'), connectAs('uma')]);
    await stack.connectionIdsOf('uma', 2);
    await sendToQueue('NotifyUserQueueUrl', { userId: 'uma', id: 'read', data: { text: 'seen' } });
    const read = (await phone.frame((frame) => frame.type === 'notification' && frame.id === 'read')) as { seq: number; epoch: string };
    // One connection acks for the user: the other never does.
    phone.send({ action: 'ack', stream: 'user', seq: read.seq, id: 'ack-1' });
    expect(await phone.frame((frame) => frame.id === 'ack-1')).toEqual({ type: 'acked', stream: 'user', seq: read.seq, id: 'ack-1' });
    await sendToQueue('NotifyUserQueueUrl', { userId: 'uma', id: 'unread', data: { text: 'missed' } });
    const unread = (await laptop.frame((frame) => frame.type === 'notification' && frame.id === 'unread')) as { seq: number; epoch: string };

    const { QueueUrls = [] } = await stack.sqs.send(new ListQueuesCommand({}));
    const ackCheckUrl = QueueUrls.find((queueUrl) => /AckCheckQueue/.test(queueUrl) && !/DeadLetter/.test(queueUrl)) as string;
    const pending = async () => {
      const { Attributes = {} } = await stack.sqs.send(
        new GetQueueAttributesCommand({ QueueUrl: ackCheckUrl, AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible', 'ApproximateNumberOfMessagesDelayed'] }),
      );
      return Object.values(Attributes).reduce((sum, count) => sum + Number(count), 0);
    };
    const undelivered: any[] = [];
    // Every check of uma's has come out and been handled once the AckCheck queue is empty and the unread one arrived.
    await eventually(async () => {
      undelivered.push(...(await takeAll(stack.sqs, stack.outputs['UndeliveredQueueUrl'] as string)).map((message) => JSON.parse(message.Body as string)));
      return undelivered.some((message) => message.userId === 'uma') && (await pending()) === 0 ? true : undefined;
    }, 'the unacked notification on the Undelivered queue', 20_000);

    expect(undelivered.filter((message) => message.userId === 'uma')).toEqual([
      { userId: 'uma', stream: 'user', seq: unread.seq, epoch: unread.epoch, notification: { id: 'unread', time: expect.any(String), data: { text: 'missed' } } },
    ]);
  }, 30_000);
});
