import { mkdirSync } from 'node:fs';
import * as path from 'node:path';
import { DeleteConnectionCommand } from '@aws-sdk/client-apigatewaymanagementapi';
import { type Browser, type BrowserContext, chromium, type Page } from 'playwright-core';
import { PROJECT_DIR, type RuntimeUnderTest, startRuntimeUnderTest } from '../support/local-runtime';

// Debian's Chromium (.ci/run installs it): Playwright's own browser download needs a network.
const CHROMIUM = '/usr/bin/chromium';
// The machine has no network: Chromium must not try to reach Google's services in the background.
const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];
const SCREENSHOT = path.join(PROJECT_DIR, 'test', 'artifacts', 'test-page.png');
/** NotifyUser queue → notify-user → the socket (a queue hop and an invocation). */
const NOTIFICATION_TIMEOUT_MS = 20_000;

let runtime: RuntimeUnderTest;
let browser: Browser;
let context: BrowserContext;
let page: Page;
let pageErrors: Error[];

beforeAll(async () => {
  browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
  runtime = await startRuntimeUnderTest();
}, 300_000);

afterAll(async () => {
  try {
    await browser?.close();
  } finally {
    await runtime?.stop();
  }
});

beforeEach(async () => {
  context = await browser.newContext({ viewport: { width: 1280, height: 860 } });
  // Fail within jest's test timeout, with Playwright's message saying what it waited for.
  context.setDefaultTimeout(10_000);
  page = await context.newPage();
  pageErrors = [];
  page.on('pageerror', (error) => pageErrors.push(error));
  await page.goto(`${runtime.runtime.url}/`);
});

afterEach(async () => {
  await context?.close();
  expect(pageErrors).toEqual([]);
});

async function connectAs(userId: string): Promise<void> {
  await page.getByLabel('User id').fill(userId);
  await page.getByRole('button', { name: 'Connect', exact: true }).click();
  await connectionState('open');
}

/** The connection status line once it reaches `state`, and its text. */
async function connectionState(state: 'open' | 'closed' | 'refused'): Promise<string> {
  const status = page.locator(`#connection-status[data-state="${state}"]`);
  await status.waitFor();
  return (await status.textContent()) ?? '';
}

/** The newest frame of `type` that went in `direction`, parsed from the log, waiting for it to appear. */
async function loggedFrame(direction: 'in' | 'out', type: string, timeout?: number): Promise<unknown> {
  const entry = page
    .getByRole('log', { name: 'Frames' })
    .locator(`li[data-direction="${direction}"][data-type="${type}"]`)
    .first();
  await entry.waitFor({ timeout });
  return JSON.parse((await entry.locator('pre').textContent()) ?? '');
}

describe('the local test page, in headless Chromium', () => {
  it('connects as the user in the field, and shows the open connection and its ws-notify.v1 subprotocol', async () => {
    await page.getByLabel('User id').fill('alice');
    await page.getByRole('button', { name: 'Connect', exact: true }).click();

    expect(await connectionState('open')).toBe('Open as alice');
    expect(await page.locator('#protocol').textContent()).toBe('ws-notify.v1');
    expect(await page.locator('#endpoint').textContent()).toBe(runtime.outputs['WebSocketUrl']);
  });

  it('logs the ping it sends and the pong that answers it, with the same id', async () => {
    await connectAs('bob');

    await page.getByRole('button', { name: 'Ping' }).click();

    expect(await loggedFrame('out', 'ping')).toEqual({ action: 'ping', id: 1 });
    expect(await loggedFrame('in', 'pong')).toEqual({ type: 'pong', id: 1, time: expect.any(String) });
  });

  it('notifies the connected user through the NotifyUser queue, and logs the notification frame with the data', async () => {
    await connectAs('carol');
    const data = { text: 'Hello from the browser test', unread: 3 };

    await page.getByLabel('Notification data (JSON)').fill(JSON.stringify(data));
    await page.getByRole('button', { name: 'Notify me' }).click();

    const notification = await loggedFrame('in', 'notification', NOTIFICATION_TIMEOUT_MS);
    expect(notification).toEqual({ type: 'notification', id: expect.any(String), time: expect.any(String), data, stream: 'user', seq: expect.any(Number), epoch: expect.any(String) });
    expect(await page.locator('#notify-result').textContent()).toMatch(/^Queued for carol as message \S+\.$/);
    // The Metrics card polls /_local/metrics every 2 s: the post is counted there.
    await page.locator('[data-counter="DeliveriesPosted"]').filter({ hasText: /^[1-9]/ }).waitFor({ timeout: 5_000 });
    mkdirSync(path.dirname(SCREENSHOT), { recursive: true });
    await page.screenshot({ path: SCREENSHOT, fullPage: true });
  });

  it('refuses to notify with data that is not JSON, and says why', async () => {
    await page.getByLabel('Notification data (JSON)').fill('{"text": unquoted}');
    await page.getByRole('button', { name: 'Notify me' }).click();

    expect(await page.getByRole('alert').textContent()).toMatch(/^The data is not valid JSON: /);
    expect(await page.getByLabel('Notification data (JSON)').getAttribute('aria-invalid')).toBe('true');
  });

  it('sends a raw frame as typed, and logs the invalid_json error frame that answers text that is not JSON', async () => {
    await connectAs('dave');

    await page.getByLabel('Raw frame', { exact: true }).fill('hello, server');
    await page.getByRole('button', { name: 'Send frame' }).click();

    expect(await loggedFrame('in', 'error')).toEqual({ type: 'error', code: 'invalid_json', message: expect.any(String) });
    expect(await page.locator('li[data-direction="out"][data-type="text"] pre').textContent()).toBe('hello, server');
  });

  it('subscribes to a topic, publishes to it, and logs the event frame that comes back', async () => {
    await connectAs('fay');

    await page.getByLabel('Topic', { exact: true }).fill('news');
    await page.getByLabel('Event types (optional)').fill('news.*');
    await page.getByRole('button', { name: 'Subscribe', exact: true }).click();
    expect(await loggedFrame('in', 'subscribed')).toEqual({ type: 'subscribed', topic: 'news', events: ['news.*'], group: null, id: expect.any(String) });

    await page.getByLabel('Event type', { exact: true }).fill('news.published');
    await page.getByLabel('Event data (JSON)').fill('{"headline":"From the browser"}');
    await page.getByRole('button', { name: 'Publish' }).click();

    expect(await loggedFrame('in', 'published')).toMatchObject({ type: 'published', topic: 'news', id: expect.any(String) });
    expect(await loggedFrame('in', 'event', NOTIFICATION_TIMEOUT_MS)).toMatchObject({
      type: 'event',
      topic: 'news',
      event: { type: 'news.published', source: 'ws-notify:user:fay', data: { headline: 'From the browser' } },
    });
    expect(await page.locator('li[data-direction="in"][data-type="event"] .seq').first().textContent()).toMatch(/^topic:news #\d+$/);
    await page.getByRole('button', { name: 'Unsubscribe' }).click();
    expect(await loggedFrame('in', 'unsubscribed')).toEqual({ type: 'unsubscribed', topic: 'news', id: expect.any(String) });
  });

  it('reconnects through the client SDK when the connection is deleted, and subscribes to its topic again', async () => {
    await connectAs('gil');
    await page.getByLabel('Topic', { exact: true }).fill('news');
    await page.getByRole('button', { name: 'Subscribe', exact: true }).click();
    await loggedFrame('in', 'subscribed');
    const [connectionId] = await runtime.connectionIdsOf('gil', 1);

    await runtime.managementApi.send(new DeleteConnectionCommand({ ConnectionId: connectionId }));

    await page.locator('li[data-direction="in"][data-type="subscribed"]').nth(1).waitFor();
    expect(await connectionState('open')).toBe('Open as gil');
    expect(await runtime.connectionIdsOf('gil', 1)).not.toEqual([connectionId]);
  });

  it('shows each seq once across "Drop connection", and the resume that recovered what was sent while it reconnected', async () => {
    await connectAs('hana');
    const notify = async (text: string) => {
      const response = await fetch(`${runtime.runtime.url}/_local/notify`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ userId: 'hana', data: { text } }) });
      expect(response.status).toBe(202);
    };
    const delivered = page.getByRole('log', { name: 'Frames' }).locator('li[data-type="notification"][data-delivered]');
    await notify('one');
    await notify('two');
    await delivered.nth(1).waitFor({ timeout: NOTIFICATION_TIMEOUT_MS });
    expect(await page.locator('li[data-type="notification"] .seq').first().textContent()).toMatch(/^user #\d+$/);
    const [connectionId] = await runtime.connectionIdsOf('hana', 1);

    await page.getByRole('button', { name: 'Drop connection' }).click();
    expect(await page.locator('#drop-result').filter({ hasText: /\S/ }).textContent()).toBe(`Dropped connection ${connectionId}.`);
    await Promise.all(['three', 'four', 'five'].map(notify));

    await delivered.nth(4).waitFor({ timeout: NOTIFICATION_TIMEOUT_MS });
    const outcome = page.getByRole('list', { name: 'Resume outcomes' }).locator('li[data-outcome="recovered"]');
    expect(await outcome.first().textContent({ timeout: NOTIFICATION_TIMEOUT_MS })).toMatch(/^user: (recovered seq \d+ to \d+|resumed, nothing missed \(up to seq 2\))$/);
    expect(await page.locator('li[data-outcome="gap"]').count()).toBe(0);
    expect(await connectionState('open')).toBe('Open as hana');
    // Every frame with a seq was handed over once, or struck through as a copy: none is left pending.
    // The log is in order of arrival, which a reconnect may shuffle (the SDK holds a frame ahead of a hole).
    const seqs = (await delivered.locator('.seq').allTextContents()).map((text) => Number(/^user #(\d+)/.exec(text)?.[1]));
    expect(seqs.sort((a, b) => a - b)).toEqual([1, 2, 3, 4, 5]);
    expect(await page.locator('li[data-type="notification"]:not([data-delivered]):not([data-duplicate])').count()).toBe(0);
    expect(await page.locator('li[data-type="acked"][data-duplicate]').count()).toBe(0);
    expect(await page.locator('#stream-positions').textContent()).toBe('user5');
    expect(await runtime.connectionIdsOf('hana', 1)).not.toEqual([connectionId]);
  }, 60_000);

  it('shows the close code and reason after Disconnect', async () => {
    await connectAs('erin');

    await page.getByRole('button', { name: 'Disconnect' }).click();

    // The reason is whatever the server's close frame carries; the page shows it after the code.
    expect(await connectionState('closed')).toMatch(/^Closed: 1000 \S/);
    expect(await page.getByRole('button', { name: 'Ping' }).isDisabled()).toBe(true);
  });

  it('shows a refused connection when the upgrade is refused for a bad token', async () => {
    await page.route('**/_local/token', (route) => route.fulfill({ json: { token: 'not-a-jwt' } }));

    await page.getByRole('button', { name: 'Connect', exact: true }).click();

    expect(await connectionState('refused')).toMatch(/^Refused: /);
  });
});

describe("the client SDK's browser bundle (GET /_local/client.js), in headless Chromium", () => {
  /** What the page's client told it, kept on the page's globalThis. */
  interface Seen {
    states: string[];
    notifications: unknown[];
  }
  const seen = () => page.evaluate(() => (globalThis as unknown as { seen: Seen }).seen);
  const until = async (condition: (seen: Seen) => boolean, what: string) => {
    const deadline = Date.now() + NOTIFICATION_TIMEOUT_MS;
    while (!condition(await seen())) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; the page saw ${JSON.stringify(await seen())}`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  };
  const notify = (data: unknown) =>
    fetch(`${runtime.runtime.url}/_local/notify`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ userId: 'sdk-page', data }) });

  it('connects with the token as its subprotocol, and after the management API deletes the connection reconnects and receives what is sent next', async () => {
    await page.addScriptTag({ url: '/_local/client.js' });
    await page.evaluate(async () => {
      const post = { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ userId: 'sdk-page' }) };
      const { token } = (await (await fetch('/_local/token', post)).json()) as { token: string };
      const { WebSocketUrl } = (await (await fetch('/_local/outputs')).json()) as { WebSocketUrl: string };
      const page = globalThis as unknown as { seen: Seen; WsNotify: typeof import('../../client/src'); client: unknown };
      page.seen = { states: [], notifications: [] };
      const client = page.WsNotify.createClient({ url: WebSocketUrl, token: () => token });
      client.on('state', (state) => page.seen.states.push(state));
      client.on('notification', (notification) => page.seen.notifications.push(notification.data));
      page.client = client;
    });
    await until((page) => page.states.includes('open'), 'the connection');
    const [first] = await runtime.connectionIdsOf('sdk-page', 1);
    await notify('before');
    await until((page) => page.notifications.length === 1, 'the first notification');

    await runtime.managementApi.send(new DeleteConnectionCommand({ ConnectionId: first }));
    await until((page) => page.states.length === 3, 'the reconnect');
    const [second] = await runtime.connectionIdsOf('sdk-page', 1);
    await notify('after');
    await until((page) => page.notifications.length === 2, 'the second notification');

    expect(second).not.toBe(first);
    expect(await seen()).toEqual({ states: ['open', 'reconnecting', 'open'], notifications: ['before', 'after'] });
    await page.evaluate(() => (globalThis as unknown as { client: { close(): Promise<void> } }).client.close());
  }, 60_000);
});
