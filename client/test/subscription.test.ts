import { createClient, type WsNotifyClient } from '../src';
import { TopicSubscription } from '../src/subscription';
import { type ScriptedSocket, scriptedServer } from './scripted-socket';

const URL = 'wss://example.test/live';
let client: WsNotifyClient | undefined;

beforeEach(() => jest.useFakeTimers({ now: Date.parse('2026-01-01T00:00:00Z'), doNotFake: ['queueMicrotask'] }));

afterEach(async () => {
  const closing = client?.close();
  await jest.runOnlyPendingTimersAsync();
  await closing;
  client = undefined;
  jest.useRealTimers();
});

async function openClient() {
  const server = scriptedServer();
  client = createClient({ url: URL, WebSocket: server.WebSocket, anonymous: true, random: () => 1 });
  await jest.advanceTimersByTimeAsync(0);
  server.latest.accept();
  return { client, server, socket: server.latest };
}

const subscribed = (socket: ScriptedSocket, frame: { id?: unknown; topic: string }) => socket.reply(frame, { type: 'subscribed', topic: frame.topic, events: null, group: null });

describe("a subscription's own machine", () => {
  const end = () => Promise.resolve();

  it('is subscribing until the server confirms it, and subscribing again on the next subscribe', () => {
    const subscription = new TopicSubscription('orders', {}, end);
    expect(subscription.state).toBe('subscribing');
    expect(subscription.to('subscribed')).toBe(true);
    expect(subscription.state).toBe('subscribed');
    expect(subscription.to('subscribing')).toBe(true);
    expect(subscription.state).toBe('subscribing');
  });

  it('never leaves unsubscribed', () => {
    const subscription = new TopicSubscription('orders', {}, end);
    expect(subscription.to('unsubscribed')).toBe(true);
    expect(subscription.to('unsubscribed')).toBe(false);
    expect(subscription.to('subscribed')).toBe(false);
    expect(subscription.state).toBe('unsubscribed');
  });
});

describe('subscriptions on the client', () => {
  it("does not tell 'subscribed' for a reply that arrives after the application unsubscribed", async () => {
    const { client, socket } = await openClient();
    const orders = client.subscribe('orders');
    const told: unknown[] = [];
    orders.on('subscribed', (reply) => told.push(reply));
    const [subscribe] = socket.sentOf('subscribe');
    const done = orders.unsubscribe();
    subscribed(socket, subscribe);
    socket.reply(socket.sentOf('unsubscribe')[0], { type: 'unsubscribed', topic: 'orders' });
    await done;
    expect(told).toEqual([]);
  });

  it('sends nothing for a subscription that already ended, and subscribing to its topic again makes a new one', async () => {
    const { client, socket } = await openClient();
    const first = client.subscribe('orders');
    subscribed(socket, socket.sentOf('subscribe')[0]);
    const done = first.unsubscribe();
    socket.reply(socket.sentOf('unsubscribe')[0], { type: 'unsubscribed', topic: 'orders' });
    await done;
    await first.unsubscribe();
    expect(socket.sentOf('unsubscribe')).toHaveLength(1);

    const second = client.subscribe('orders', { events: ['order.*'] });
    expect(second).not.toBe(first);
    expect(socket.sentOf('subscribe').at(-1)).toMatchObject({ topic: 'orders', events: ['order.*'] });
  });

  it('sends a subscribe with the new options when the application subscribes to a topic again, on the same subscription', async () => {
    const { client, socket } = await openClient();
    const first = client.subscribe('orders');
    subscribed(socket, socket.sentOf('subscribe')[0]);
    const again = client.subscribe('orders', { group: 'workers' });
    expect(again).toBe(first);
    expect(socket.sentOf('subscribe').map(({ id: _id, ...frame }) => frame)).toEqual([
      { action: 'subscribe', topic: 'orders' },
      { action: 'subscribe', topic: 'orders', group: 'workers' },
    ]);
  });
});
