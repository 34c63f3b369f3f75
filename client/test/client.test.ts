import { createClient, type ClientOptions, type Notification, type TopicEvent, type WsNotifyClient, WsNotifyError } from '../src';
import type { Gap } from '../src/streams';
import { type ScriptedNodeSocket, type ScriptedSocket, scriptedServer } from './scripted-socket';

const URL = 'wss://example.test/live';

/** An unsigned JWT for user `sub` that expires `ttlSeconds` from now (fake) time: the client only reads `exp`. */
function token(ttlSeconds: number, sub = 'alice'): string {
  const part = (value: object) => Buffer.from(JSON.stringify(value)).toString('base64url');
  return `${part({ alg: 'none' })}.${part({ sub, exp: Math.floor(Date.now() / 1000) + ttlSeconds })}.sig`;
}

const notification = (seq: number, extra: object = {}) => ({ type: 'notification', id: `n-${seq}`, time: '2026-01-01T00:00:00Z', data: { seq }, stream: 'user', seq, epoch: 'e1', ...extra });
const event = (topic: string, seq: number, extra: object = {}) => ({
  type: 'event',
  topic,
  event: { specversion: '1.0', id: `ev-${seq}`, source: 'test', type: 'order.created', wsnpublisher: 'backend' },
  stream: `topic:${topic}`,
  seq,
  epoch: 'e1',
  ...extra,
});

let client: WsNotifyClient | undefined;

beforeEach(() => {
  // Microtasks stay real: a scripted socket completes its close handshake in one, as a real one does later.
  jest.useFakeTimers({ now: Date.parse('2026-01-01T00:00:00Z'), doNotFake: ['queueMicrotask'] });
});

afterEach(async () => {
  const closing = client?.close();
  await jest.runOnlyPendingTimersAsync();
  await closing;
  client = undefined;
  jest.useRealTimers();
});

/** Lets the client's promises (the token function, replies) run, without moving time. */
const settle = () => jest.advanceTimersByTimeAsync(0);

interface Recorded {
  notifications: Notification[];
  events: TopicEvent[];
  states: string[];
  gaps: Gap[];
  recovered: unknown[];
  errors: WsNotifyError[];
}

async function start(options: Partial<ClientOptions> & { kind?: 'browser' | 'node' } = {}) {
  const { kind, ...rest } = options;
  const server = scriptedServer<ScriptedNodeSocket>(kind);
  const recorded: Recorded = { notifications: [], events: [], states: [], gaps: [], recovered: [], errors: [] };
  const credential = rest.token === undefined && rest.apiKey === undefined && rest.anonymous === undefined ? { token: async () => token(3600) } : {};
  client = createClient({ url: URL, WebSocket: server.WebSocket, random: () => 1, ...credential, ...rest });
  client.on('notification', (n) => recorded.notifications.push(n));
  client.on('event', (e) => recorded.events.push(e));
  client.on('state', (s) => recorded.states.push(s));
  client.on('gap', (g) => recorded.gaps.push(g));
  client.on('recovered', (r) => recorded.recovered.push(r));
  client.on('error', (e) => recorded.errors.push(e));
  await settle();
  return { client, server, recorded };
}

/** Opens the latest socket and answers the session's subscribes and resumes. */
function openAndAnswer(socket: ScriptedSocket, resumed: Record<string, object> = {}): void {
  socket.accept();
  for (const frame of socket.sentOf('subscribe')) socket.reply(frame, { type: 'subscribed', topic: frame.topic, events: frame.events ?? null, group: frame.group ?? null });
  for (const frame of socket.sentOf('resume')) {
    for (const stream of Object.keys(frame.streams)) socket.reply(frame, { type: 'resumed', stream, recovered: true, ...resumed[stream] });
  }
}

describe('connecting', () => {
  it('offers a JWT as the bearer subprotocol in a browser, and an API key in the query', async () => {
    const { server, recorded } = await start({ token: async () => 'a.b.c' });
    expect(server.latest.protocols).toEqual(['ws-notify.v1', 'bearer.a.b.c']);
    server.latest.accept();
    expect(recorded.states).toEqual(['open']);
    expect(client?.state).toBe('open');

    const byKey = await start({ apiKey: 'wsn_k_s+/' });
    expect(byKey.server.latest.url).toBe(`${URL}?apikey=wsn_k_s%2B%2F`);
    expect(byKey.server.latest.protocols).toEqual(['ws-notify.v1']);
  });

  it('sends the credential in headers with ws (Node), never in the URL', async () => {
    const { server } = await start({ kind: 'node', apiKey: 'wsn_k_s' });
    expect(server.latest.url).toBe(URL);
    expect(server.latest.headers).toEqual({ 'x-api-key': 'wsn_k_s' });
    const byToken = await start({ kind: 'node', token: 'a.b.c' });
    expect(byToken.server.latest.headers).toEqual({ Authorization: 'Bearer a.b.c' });
  });

  it('refuses options that name no credential, or two', () => {
    expect(() => createClient({ url: URL, WebSocket: scriptedServer().WebSocket })).toThrow('exactly one of token, apiKey or anonymous');
    expect(() => createClient({ url: URL, WebSocket: scriptedServer().WebSocket, apiKey: 'k', anonymous: true })).toThrow('exactly one');
  });
});

describe('reconnecting', () => {
  it('reconnects after a drop with exponential backoff and full jitter, capped, and resets it after a stable period', async () => {
    const { server, recorded } = await start({ reconnect: { baseDelayMs: 100, maxDelayMs: 350, stableAfterMs: 10_000 } });
    server.latest.accept();
    const delays: number[] = [];
    for (let attempt = 0; attempt < 4; attempt += 1) {
      const before = server.sockets.length;
      server.latest.drop();
      const droppedAt = Date.now();
      while (server.sockets.length === before) await jest.advanceTimersByTimeAsync(1);
      delays.push(Date.now() - droppedAt);
    }
    // random() = 1: the top of each window, 100·2^n capped at 350.
    expect(delays).toEqual([100, 200, 350, 350]);
    expect(recorded.states).toEqual(['open', 'reconnecting']);

    server.latest.accept();
    await jest.advanceTimersByTimeAsync(10_000);
    server.latest.drop();
    await jest.advanceTimersByTimeAsync(99);
    const count = server.sockets.length;
    await jest.advanceTimersByTimeAsync(1);
    expect(server.sockets.length).toBe(count + 1);
    expect(recorded.states).toEqual(['open', 'reconnecting', 'open', 'reconnecting']);
  });

  it('draws each delay uniformly below the window (full jitter)', async () => {
    const { server } = await start({ random: () => 0.5, reconnect: { baseDelayMs: 1_000 } });
    server.latest.accept();
    server.latest.drop();
    await jest.advanceTimersByTimeAsync(499);
    expect(server.sockets).toHaveLength(1);
    await jest.advanceTimersByTimeAsync(1);
    expect(server.sockets).toHaveLength(2);
  });

  it('subscribes again on every new connection, with the same filters and group', async () => {
    const { client, server } = await start();
    const orders = client.subscribe('orders', { events: ['order.*'], group: 'workers' });
    const confirmations: unknown[] = [];
    orders.on('subscribed', (frame) => confirmations.push(frame));
    openAndAnswer(server.latest);
    await settle();
    server.latest.drop();
    await jest.advanceTimersByTimeAsync(500);
    openAndAnswer(server.latest);
    await settle();

    expect(server.sockets.map((socket) => socket.sentOf('subscribe').map(({ id: _id, ...frame }) => frame))).toEqual([
      [{ action: 'subscribe', topic: 'orders', events: ['order.*'], group: 'workers' }],
      [{ action: 'subscribe', topic: 'orders', events: ['order.*'], group: 'workers' }],
    ]);
    expect(confirmations).toHaveLength(2);
  });

  it('stops for good after credential_revoked, failing the outbox, and says why', async () => {
    const { client, server, recorded } = await start({ apiKey: 'wsn_k_s' });
    server.latest.accept();
    server.latest.push({ type: 'error', code: 'credential_revoked', message: 'the API key was revoked' });
    server.latest.drop(1000);
    await jest.advanceTimersByTimeAsync(60_000);

    expect(server.sockets).toHaveLength(1);
    expect(recorded.states).toEqual(['open', 'closed']);
    expect(recorded.errors).toEqual([expect.objectContaining({ code: 'credential_revoked', fatal: true })]);
    await expect(client.publish('orders', { type: 'x' })).rejects.toMatchObject({ code: 'client_closed' });
  });

  it('stops for good when the upgrade of an API key is refused with 403, and retries a 429 or a 5xx', async () => {
    const { server, recorded } = await start({ kind: 'node', apiKey: 'wsn_k_s' });
    server.latest.refuse(429);
    await jest.advanceTimersByTimeAsync(500);
    server.latest.refuse(503);
    await jest.advanceTimersByTimeAsync(1_000);
    server.latest.refuse(403);
    await jest.advanceTimersByTimeAsync(60_000);

    expect(server.sockets).toHaveLength(3);
    expect(recorded.states).toEqual(['reconnecting', 'closed']);
    expect(recorded.errors).toEqual([expect.objectContaining({ code: 'upgrade_refused', fatal: true, message: expect.stringContaining('403') })]);
  });

  it('asks the token function again at once when a cached token is refused (403), and stops if a fresh one is refused too', async () => {
    let issued = 0;
    const { server, recorded } = await start({ kind: 'node', token: async () => `${token(3600)}${++issued}` });
    server.latest.accept();
    server.latest.drop();
    await jest.advanceTimersByTimeAsync(500);
    // The reconnect reused the cached token; its refusal is answered with a fresh one, with no backoff.
    server.latest.refuse(403);
    await settle();
    expect(server.sockets).toHaveLength(3);
    expect(server.latest.headers?.['Authorization']).toMatch(/2$/);
    server.latest.refuse(403);
    await jest.advanceTimersByTimeAsync(60_000);
    expect(server.sockets).toHaveLength(3);
    expect(recorded.errors).toEqual([expect.objectContaining({ code: 'upgrade_refused', fatal: true })]);
  });
});

describe('the token', () => {
  it('is refreshed through authenticate before exp, with a token from the function called again', async () => {
    const tokens: string[] = [];
    const { server } = await start({ token: async () => (tokens.push(token(40)), tokens.at(-1) as string) });
    server.latest.accept();
    // A quarter of its 40 s life before exp, 10 s, at most a minute.
    await jest.advanceTimersByTimeAsync(29_999);
    expect(server.latest.sentOf('authenticate')).toEqual([]);
    await jest.advanceTimersByTimeAsync(1);
    const [authenticate] = server.latest.sentOf('authenticate');
    expect(authenticate).toEqual({ action: 'authenticate', token: tokens[1], id: expect.any(String) });
    server.latest.reply(authenticate, { type: 'authenticated', expiresAt: new Date(Date.now() + 40_000).toISOString() });
    await jest.advanceTimersByTimeAsync(30_000);
    expect(server.latest.sentOf('authenticate')).toHaveLength(2);
    expect(server.sockets).toHaveLength(1);
  });

  it('after credential_expired, reconnects at once with a fresh token', async () => {
    let issued = 0;
    const { server, recorded } = await start({ token: async () => `${token(3600)}${++issued}` });
    server.latest.accept();
    server.latest.push({ type: 'error', code: 'credential_expired', message: 'expired' });
    server.latest.drop(1000);
    await settle();
    expect(server.sockets).toHaveLength(2);
    expect(server.latest.protocols[1]).toMatch(/2$/);
    expect(recorded.errors).toEqual([]);
  });

  it('reports a refused refresh and keeps the connection', async () => {
    const { server, recorded } = await start({ token: async () => token(40) });
    server.latest.accept();
    await jest.advanceTimersByTimeAsync(30_000);
    server.latest.reply(server.latest.sentOf('authenticate')[0], { type: 'error', code: 'user_mismatch', message: 'another user' });
    await settle();
    expect(recorded.errors).toEqual([expect.objectContaining({ code: 'user_mismatch', fatal: false })]);
    expect(server.sockets).toHaveLength(1);
    // Tried again a little later, while the token still holds.
    await jest.advanceTimersByTimeAsync(5_000);
    expect(server.latest.sentOf('authenticate')).toHaveLength(2);
  });
});

describe('the heartbeat', () => {
  it('pings only after the idle period, and not while frames flow both ways', async () => {
    const { client, server } = await start({ heartbeat: { idleMs: 60_000, timeoutMs: 5_000 } });
    server.latest.accept();
    for (let second = 0; second < 120; second += 10) {
      await jest.advanceTimersByTimeAsync(10_000);
      void client.publish('t', { type: 'x' }).catch(() => undefined);
      server.latest.push({ type: 'keepalive' });
    }
    expect(server.latest.sentOf('ping')).toEqual([]);
    await jest.advanceTimersByTimeAsync(60_000);
    expect(server.latest.sentOf('ping')).toHaveLength(1);
  });

  it('pings a connection that only receives, since only client frames keep API Gateway from closing it', async () => {
    const { server } = await start({ heartbeat: { idleMs: 60_000, timeoutMs: 5_000 } });
    server.latest.accept();
    for (let second = 0; second < 60; second += 10) {
      await jest.advanceTimersByTimeAsync(10_000);
      server.latest.push(notification(second / 10 + 1, { stream: undefined, seq: undefined, epoch: undefined }));
    }
    expect(server.latest.sentOf('ping')).toHaveLength(1);
  });

  it('takes a socket that does not answer a ping for dead, and connects again', async () => {
    const { server, recorded } = await start({ heartbeat: { idleMs: 60_000, timeoutMs: 5_000 } });
    server.latest.accept();
    await jest.advanceTimersByTimeAsync(60_000);
    const [ping] = server.latest.sentOf('ping');
    expect(ping).toBeDefined();
    await jest.advanceTimersByTimeAsync(4_999);
    expect(server.sockets).toHaveLength(1);
    await jest.advanceTimersByTimeAsync(1);
    expect(server.sockets[0]?.closed).toBe(true);
    await jest.advanceTimersByTimeAsync(500);
    expect(server.sockets).toHaveLength(2);
    expect(recorded.states).toEqual(['open', 'reconnecting']);
  });
});

describe('streams', () => {
  it('hands each seq to the application once, in order, across a short reordering', async () => {
    const { server, recorded } = await start();
    server.latest.accept();
    for (const seq of [1, 2, 4, 3, 3, 2, 5]) server.latest.push(notification(seq));
    expect(recorded.notifications.map((n) => n.seq)).toEqual([1, 2, 3, 4, 5]);
    expect(recorded.notifications[0]).toEqual({ id: 'n-1', time: '2026-01-01T00:00:00Z', data: { seq: 1 }, stream: 'user', seq: 1 });
  });

  it('asks for a resume when a hole does not fill within the reorder window, and delivers the replay in order', async () => {
    const { server, recorded } = await start({ reorderWindowMs: 1_000 });
    server.latest.accept();
    server.latest.push(notification(1));
    server.latest.push(notification(3));
    await jest.advanceTimersByTimeAsync(999);
    expect(server.latest.sentOf('resume')).toEqual([]);
    await jest.advanceTimersByTimeAsync(1);
    const [resume] = server.latest.sentOf('resume');
    expect(resume.streams).toEqual({ user: { epoch: 'e1', seq: 1 } });
    server.latest.push(notification(2, { replay: true }));
    server.latest.push(notification(3, { replay: true }));
    server.latest.reply(resume, { type: 'resumed', stream: 'user', recovered: true, from: 2, to: 3 });
    expect(recorded.notifications.map((n) => [n.seq, n.replay ?? false])).toEqual([
      [1, false],
      [2, true],
      [3, false],
    ]);
    expect(recorded.recovered).toEqual([{ stream: 'user', from: 2, to: 3 }]);
    expect(recorded.gaps).toEqual([]);
  });

  it('after a reconnect resumes the user stream from the last seq received, and topics through subscribe with since', async () => {
    const { client, server, recorded } = await start();
    client.subscribe('orders');
    openAndAnswer(server.latest);
    server.latest.push(notification(1));
    server.latest.push(notification(2));
    server.latest.push(event('orders', 7));
    server.latest.drop();
    await jest.advanceTimersByTimeAsync(500);
    server.latest.accept();
    const [resume] = server.latest.sentOf('resume');
    expect(resume.streams).toEqual({ user: { epoch: 'e1', seq: 2 } });
    const [subscribe] = server.latest.sentOf('subscribe');
    expect(subscribe).toEqual({ action: 'subscribe', topic: 'orders', since: { epoch: 'e1', seq: 7 }, id: expect.any(String) });
    server.latest.reply(subscribe, { type: 'subscribed', topic: 'orders', events: null, group: null });
    // Replay and live frames overlap: each seq reaches the application once. Each reply follows its replay.
    for (const frame of [notification(3, { replay: true }), notification(2), notification(3)]) server.latest.push(frame);
    server.latest.reply(resume, { type: 'resumed', stream: 'user', recovered: true, from: 3, to: 3 });
    server.latest.push(notification(4));
    server.latest.push({ type: 'resumed', stream: 'topic:orders', recovered: true, from: 8, to: 7 });
    expect(recorded.notifications.map((n) => n.seq)).toEqual([1, 2, 3, 4]);
    expect(recorded.recovered).toEqual([
      { stream: 'user', from: 3, to: 3 },
      { stream: 'topic:orders', from: 8, to: 7 },
    ]);
    expect(client.positions()).toEqual({ user: { epoch: 'e1', seq: 4 }, 'topic:orders': { epoch: 'e1', seq: 7 } });
  });

  it('reports a gap the server cannot replay, with what is missing, and carries on from the next frame', async () => {
    const { server, recorded } = await start({ reorderWindowMs: 100 });
    server.latest.accept();
    server.latest.push(notification(1));
    server.latest.drop();
    await jest.advanceTimersByTimeAsync(500);
    server.latest.accept();
    server.latest.reply(server.latest.sentOf('resume')[0], { type: 'resumed', stream: 'user', recovered: false, reason: 'retention' });
    server.latest.push(notification(40));
    server.latest.push(notification(41));
    expect(recorded.gaps).toEqual([{ stream: 'user', reason: 'retention', lastSeq: 1, from: 2 }]);
    expect(recorded.notifications.map((n) => n.seq)).toEqual([1, 40, 41]);
  });

  it('starts over on a new epoch, reporting the gap', async () => {
    const { server, recorded } = await start();
    server.latest.accept();
    server.latest.push(notification(5));
    server.latest.push(notification(1, { epoch: 'e2' }));
    server.latest.push(notification(2, { epoch: 'e2' }));
    expect(recorded.notifications.map((n) => n.seq)).toEqual([5, 1, 2]);
    expect(recorded.gaps).toEqual([{ stream: 'user', reason: 'epoch_changed', lastSeq: 5, from: 6 }]);
  });

  it('resumes from positions kept by an earlier run, and drops what it already had', async () => {
    const { server, recorded } = await start({ positions: { user: { epoch: 'e1', seq: 10 } } });
    server.latest.accept();
    expect(server.latest.sentOf('resume').map((frame) => frame.streams)).toEqual([{ user: { epoch: 'e1', seq: 10 } }]);
    for (const seq of [9, 10, 11]) server.latest.push(notification(seq, { replay: true }));
    expect(recorded.notifications.map((n) => n.seq)).toEqual([11]);
  });

  it('acks the user stream cumulatively every N messages, after T ms, and on close; never a topic stream', async () => {
    const { client, server } = await start({ ack: { every: 3, afterMs: 1_000 } });
    server.latest.accept();
    for (const seq of [1, 2, 3, 4]) server.latest.push(notification(seq));
    expect(server.latest.sentOf('ack')).toEqual([{ action: 'ack', stream: 'user', seq: 3 }]);
    await jest.advanceTimersByTimeAsync(1_000);
    expect(server.latest.sentOf('ack')).toEqual([
      { action: 'ack', stream: 'user', seq: 3 },
      { action: 'ack', stream: 'user', seq: 4 },
    ]);
    server.latest.push(notification(5));
    server.latest.push(event('orders', 1));
    const socket = server.latest;
    await client.close();
    expect(socket.sentOf('ack').slice(2)).toEqual([{ action: 'ack', stream: 'user', seq: 5 }]);
  });

  it('on a stack without history (no seq) delivers every frame, drops exact repeats by id, and sends no ack or resume', async () => {
    const { client, server, recorded } = await start({ ack: { every: 1 } });
    client.subscribe('orders');
    openAndAnswer(server.latest);
    const plain = { stream: undefined, seq: undefined, epoch: undefined };
    for (const seq of [1, 2, 2, 3]) server.latest.push(notification(seq, plain));
    server.latest.push(event('orders', 1, plain));
    server.latest.push(event('orders', 1, plain));
    server.latest.drop();
    await jest.advanceTimersByTimeAsync(500);
    openAndAnswer(server.latest);

    expect(recorded.notifications.map((n) => n.id)).toEqual(['n-1', 'n-2', 'n-3']);
    expect(recorded.notifications[0]).toEqual({ id: 'n-1', time: '2026-01-01T00:00:00Z', data: { seq: 1 } });
    expect(recorded.events).toHaveLength(1);
    expect(server.sockets.flatMap((socket) => [...socket.sentOf('ack'), ...socket.sentOf('resume')])).toEqual([]);
    expect(server.latest.sentOf('subscribe')[0]).not.toHaveProperty('since');
  });
});

describe('subscriptions', () => {
  it('hands a topic event to its subscription and to the client', async () => {
    const { client, server, recorded } = await start();
    const received: TopicEvent[] = [];
    client.subscribe('orders').on('event', (e) => received.push(e));
    openAndAnswer(server.latest);
    server.latest.push(event('orders', 1));
    expect(received).toEqual([{ topic: 'orders', event: expect.objectContaining({ id: 'ev-1' }), stream: 'topic:orders', seq: 1 }]);
    expect(recorded.events).toEqual(received);
  });

  it('ends a subscription the server refuses or revokes, and does not subscribe to it again', async () => {
    const { client, server } = await start();
    const errors: WsNotifyError[] = [];
    client.subscribe('secret').on('error', (error) => errors.push(error));
    client.subscribe('orders').on('error', (error) => errors.push(error));
    server.latest.accept();
    const [secret, orders] = server.latest.sentOf('subscribe');
    server.latest.reply(secret, { type: 'error', code: 'forbidden_topic', message: 'no' });
    server.latest.reply(orders, { type: 'subscribed', topic: 'orders', events: null, group: null });
    server.latest.push({ type: 'unsubscribed', topic: 'orders', reason: 'grant_revoked' });
    await settle();
    server.latest.drop();
    await jest.advanceTimersByTimeAsync(500);
    server.latest.accept();

    expect(errors.map((error) => error.code).sort()).toEqual(['forbidden_topic', 'grant_revoked']);
    expect(server.latest.sentOf('subscribe')).toEqual([]);
  });

  it('subscribes again on the next connection when the server answers that the connection is closing (connection_closed)', async () => {
    const { client, server, recorded } = await start();
    const subscribed: unknown[] = [];
    client.subscribe('orders').on('subscribed', (reply) => subscribed.push(reply));
    server.latest.accept();
    const [racing] = server.latest.sentOf('subscribe');
    server.latest.reply(racing, { type: 'error', code: 'connection_closed', message: 'this connection is closing' });
    await settle();
    server.latest.drop();
    await jest.advanceTimersByTimeAsync(500);
    openAndAnswer(server.latest);
    await settle();

    expect(server.latest.sentOf('subscribe')).toEqual([expect.objectContaining({ action: 'subscribe', topic: 'orders' })]);
    expect(subscribed).toEqual([expect.objectContaining({ type: 'subscribed', topic: 'orders' })]);
    expect(recorded.errors).toEqual([]);
  });

  it('unsubscribes: the server is told, and the topic is not subscribed again', async () => {
    const { client, server } = await start();
    const orders = client.subscribe('orders');
    openAndAnswer(server.latest);
    const done = orders.unsubscribe();
    const [unsubscribe] = server.latest.sentOf('unsubscribe');
    expect(unsubscribe).toMatchObject({ topic: 'orders' });
    server.latest.reply(unsubscribe, { type: 'unsubscribed', topic: 'orders' });
    await expect(done).resolves.toBeUndefined();
  });
});

describe('publishing', () => {
  it("resolves with the server's reply, and rejects with its error", async () => {
    const { client, server } = await start();
    server.latest.accept();
    const published = client.publish('orders', { type: 'order.created', data: { n: 1 } });
    const refused = client.publish('secret', { type: 'x' });
    const [first, second] = server.latest.sentOf('publish');
    expect(first).toEqual({ action: 'publish', topic: 'orders', event: { type: 'order.created', data: { n: 1 }, id: expect.any(String) }, id: expect.any(String) });
    server.latest.reply(first, { type: 'published', topic: 'orders', eventId: first.event.id });
    server.latest.reply(second, { type: 'error', code: 'forbidden_topic', message: 'may not publish' });
    await expect(published).resolves.toEqual({ type: 'published', topic: 'orders', eventId: first.event.id, id: first.id });
    await expect(refused).rejects.toEqual(new WsNotifyError('forbidden_topic', 'may not publish'));
  });

  it('keeps publishes made while disconnected in a bounded outbox, and sends them in order after the reconnect', async () => {
    const { client, server } = await start({ outboxSize: 2 });
    const first = client.publish('t', { type: 'a' });
    const second = client.publish('t', { type: 'b' });
    await expect(client.publish('t', { type: 'c' })).rejects.toMatchObject({ code: 'outbox_full' });
    server.latest.accept();
    const sent = server.latest.sentOf('publish');
    expect(sent.map((frame) => frame.event.type)).toEqual(['a', 'b']);
    for (const frame of sent) server.latest.reply(frame, { type: 'published', topic: 't', eventId: frame.event.id });
    await expect(Promise.all([first, second])).resolves.toHaveLength(2);
  });

  it('sends a publish the connection lost before its reply again after the reconnect, with the same event id', async () => {
    const { client, server } = await start();
    server.latest.accept();
    const published = client.publish('t', { type: 'a' });
    const [lost] = server.latest.sentOf('publish');
    server.latest.drop();
    await jest.advanceTimersByTimeAsync(500);
    server.latest.accept();
    const [again] = server.latest.sentOf('publish');
    expect(again.event).toEqual(lost.event);
    server.latest.reply(again, { type: 'published', topic: 't', eventId: again.event.id });
    await expect(published).resolves.toMatchObject({ eventId: lost.event.id });
  });
});

describe('the connection lifetime', () => {
  it('opens the next connection before the cap, resumes on it, then closes the old one: no gap, no duplicate', async () => {
    const { client, server, recorded } = await start({ maxConnectionMs: 100_000 });
    client.subscribe('orders');
    openAndAnswer(server.latest);
    server.latest.push(notification(1));
    const old = server.latest;
    // A tenth of the lifetime (at most a minute) before the cap.
    await jest.advanceTimersByTimeAsync(89_999);
    expect(server.sockets).toHaveLength(1);
    await jest.advanceTimersByTimeAsync(1);
    expect(server.sockets).toHaveLength(2);
    const next = server.latest;
    next.accept();
    expect(next.sentOf('resume').map((frame) => frame.streams)).toEqual([{ user: { epoch: 'e1', seq: 1 } }]);
    // Both connections receive while they overlap.
    old.push(notification(2));
    next.push(notification(2, { replay: true }));
    next.push(notification(3));
    old.push(notification(3));
    expect(old.closedByClient).toBeUndefined();
    next.reply(next.sentOf('subscribe')[0], { type: 'subscribed', topic: 'orders', events: null, group: null });
    next.reply(next.sentOf('resume')[0], { type: 'resumed', stream: 'user', recovered: true, from: 2, to: 2 });
    await settle();

    expect(old.closedByClient).toBe(1000);
    expect(recorded.notifications.map((n) => n.seq)).toEqual([1, 2, 3]);
    expect(recorded.states).toEqual(['open']);
    // Requests go to the new connection.
    const published = client.publish('t', { type: 'x' });
    const [publish] = next.sentOf('publish');
    next.reply(publish, { type: 'published', topic: 't', eventId: publish.event.id });
    await expect(published).resolves.toMatchObject({ type: 'published' });
    expect(old.sentOf('publish')).toEqual([]);
  });
});

describe('the connection lifetime, continued', () => {
  it('subscribes on the new connection too when the application subscribes during a handover', async () => {
    const { client, server } = await start({ maxConnectionMs: 100_000 });
    openAndAnswer(server.latest);
    await jest.advanceTimersByTimeAsync(90_000);
    const [old, next] = server.sockets;
    if (old === undefined || next === undefined) throw new Error('no handover began');
    next.accept();
    client.subscribe('news');
    expect(old.sentOf('subscribe').map((frame) => frame.topic)).toEqual(['news']);
    expect(next.sentOf('subscribe').map((frame) => frame.topic)).toEqual(['news']);
  });
});

describe('close()', () => {
  it('resolves once the socket closed and leaves no timer behind', async () => {
    const { client, server, recorded } = await start();
    client.subscribe('orders');
    openAndAnswer(server.latest);
    const pending = client.publish('t', { type: 'x' });
    await Promise.all([client.close(), expect(pending).rejects.toMatchObject({ code: 'client_closed' })]);
    expect(server.latest.closedByClient).toBe(1000);
    expect(recorded.states).toEqual(['open', 'closed']);
    expect(jest.getTimerCount()).toBe(0);
  });

  it('stops reconnecting when closed while disconnected', async () => {
    const { client, server } = await start();
    server.latest.accept();
    server.latest.drop();
    await client.close();
    await jest.advanceTimersByTimeAsync(60_000);
    expect(server.sockets).toHaveLength(1);
    expect(jest.getTimerCount()).toBe(0);
  });
});

describe('streams a subscription receives part of', () => {
  it('hands over the events of a filtered or grouped subscription as they come, each seq once, and resumes from the highest', async () => {
    const { client, server, recorded } = await start({ reorderWindowMs: 100 });
    client.subscribe('orders', { events: ['order.*'] });
    openAndAnswer(server.latest);
    for (const seq of [3, 9, 7, 9, 3]) server.latest.push(event('orders', seq));
    await jest.advanceTimersByTimeAsync(1_000);

    expect(recorded.events.map((e) => e.seq)).toEqual([3, 9, 7]);
    expect(server.latest.sentOf('resume')).toEqual([]);
    expect(recorded.gaps).toEqual([]);
    server.latest.drop();
    await jest.advanceTimersByTimeAsync(500);
    server.latest.accept();
    expect(server.latest.sentOf('subscribe')[0]).toMatchObject({ events: ['order.*'], since: { epoch: 'e1', seq: 9 } });
  });

  it('takes a recovered resume as covering every seq up to its `to`, so a hole the replay did not fill is not waited for again', async () => {
    const { server, recorded } = await start({ reorderWindowMs: 100 });
    server.latest.accept();
    server.latest.push(notification(1));
    server.latest.push(notification(4));
    await jest.advanceTimersByTimeAsync(100);
    const [resume] = server.latest.sentOf('resume');
    server.latest.push(notification(3, { replay: true }));
    server.latest.reply(resume, { type: 'resumed', stream: 'user', recovered: true, from: 2, to: 4 });
    await jest.advanceTimersByTimeAsync(1_000);

    expect(recorded.notifications.map((n) => n.seq)).toEqual([1, 3, 4]);
    expect(server.latest.sentOf('resume')).toHaveLength(1);
    expect(recorded.gaps).toEqual([]);
  });
});
