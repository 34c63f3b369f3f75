// Issue 15's proof: zero loss under churn, through the client SDK and the durable streams (frames
// with stream/seq/epoch, `resume`, `subscribe` with `since`). A runtime of its own: connections
// live 15 s and the expiry sweep runs every 2 s.
import { DeleteConnectionCommand, GoneException } from '@aws-sdk/client-apigatewaymanagementapi';
import { SendMessageBatchCommand } from '@aws-sdk/client-sqs';
import WebSocket from 'ws';
import { createClient, type Gap, type WsNotifyClient } from '../../client/src';
import { ConnectionTable } from '../../lambdas/core/connections';
import { eventually, type RuntimeUnderTest, startRuntimeUnderTest } from '../support/local-runtime';

const USER = 'churn-user';
const TOPIC = 'churn';
const RUN_MS = 60_000;
const NOTIFICATIONS = 2_000;
const EVENTS = 500;

let stack: RuntimeUnderTest;
let client: WsNotifyClient | undefined;

beforeAll(async () => {
  // Connections live 15 s; the expiry sweep runs every 2 s, so a 20-second token is closed on time.
  stack = await startRuntimeUnderTest({ scheduleEverySeconds: 2, maxConnectionSeconds: 15 });
}, 300_000);

afterAll(async () => {
  await client?.close();
  await stack?.stop();
}, 30_000);

/** Sends `count` messages, ten a batch, spread evenly over `durationMs`; `body(n)` is the n-th (0-based). */
async function produce(queueOutput: string, count: number, durationMs: number, body: (n: number) => object): Promise<void> {
  const batches = Math.ceil(count / 10);
  const started = Date.now();
  for (let batch = 0; batch < batches; batch += 1) {
    const entries = Array.from({ length: Math.min(10, count - batch * 10) }, (_, index) => ({ Id: String(index), MessageBody: JSON.stringify(body(batch * 10 + index)) }));
    await stack.sqs.send(new SendMessageBatchCommand({ QueueUrl: stack.outputs[queueOutput], Entries: entries }));
    const due = started + ((batch + 1) * durationMs) / batches;
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, due - Date.now())));
  }
}

/** Deletes every connection of the user through the management API, every `everyMs`, until `until`. */
async function churn(everyMs: number, until: number): Promise<number> {
  const table = new ConnectionTable(stack.db, stack.outputs['ConnectionsTableName'] as string);
  let deleted = 0;
  while (Date.now() + everyMs < until) {
    await new Promise((resolve) => setTimeout(resolve, everyMs));
    for await (const page of table.connectionIdsOf(USER)) {
      for (const connectionId of page) {
        try {
          await stack.managementApi.send(new DeleteConnectionCommand({ ConnectionId: connectionId }));
          deleted += 1;
        } catch (error) {
          if (!(error instanceof GoneException)) throw error;
        }
      }
    }
  }
  return deleted;
}

it(
  `hands the application all ${NOTIFICATIONS} notifications and ${EVENTS} topic events exactly once, in seq order, while its connection is deleted every 5 s, lives 15 s and its token 20 s`,
  async () => {
    const notifications: { seq?: number; n: number }[] = [];
    const events: { seq?: number; n: number }[] = [];
    const gaps: Gap[] = [];
    let tokens = 0;
    client = createClient({
      url: stack.outputs['WebSocketUrl'] as string,
      WebSocket,
      token: () => ((tokens += 1), stack.runtime.issuer.mint({ userId: USER, ttlSeconds: 20, claims: { topics: [TOPIC] } })),
      // A new user and a new topic: everything from their first seq on is the application's.
      positions: { user: { seq: 0 }, [`topic:${TOPIC}`]: { seq: 0 } },
      maxConnectionMs: 15_000,
      reconnect: { baseDelayMs: 100, maxDelayMs: 1_000 },
    });
    client.on('notification', ({ seq, data }) => notifications.push({ ...(seq !== undefined && { seq }), n: (data as { n: number }).n }));
    client.on('gap', (gap) => gaps.push(gap));
    let subscribed = false;
    const subscription = client.subscribe(TOPIC);
    subscription.on('subscribed', () => (subscribed = true));
    subscription.on('event', ({ seq, event }) => events.push({ ...(seq !== undefined && { seq }), n: (event.data as { n: number }).n }));
    await eventually(async () => (subscribed ? true : undefined), 'the subscription');

    const until = Date.now() + RUN_MS;
    const [deleted] = await Promise.all([
      churn(5_000, until),
      produce('NotifyUserQueueUrl', NOTIFICATIONS, RUN_MS, (n) => ({ userId: USER, data: { n }, id: `churn-${n}` })),
      produce('PublishQueueUrl', EVENTS, RUN_MS, (n) => ({
        topic: TOPIC,
        event: { specversion: '1.0', id: `churn-event-${n}`, source: 'churn-test', type: 'churn.tick', data: { n } },
      })),
    ]);
    await eventually(async () => (notifications.length >= NOTIFICATIONS && events.length >= EVENTS ? true : undefined), 'every message', 60_000).catch((error: Error) => {
      const missing = (got: { n: number }[], count: number) => {
        const seen = new Set(got.map(({ n }) => n));
        return Array.from({ length: count }, (_, n) => n).filter((n) => !seen.has(n));
      };
      throw new Error(
        `${error.message}: ${notifications.length} notifications (missing n ${missing(notifications, NOTIFICATIONS).slice(0, 20).join(',')}), ` +
          `${events.length} events (missing n ${missing(events, EVENTS).slice(0, 20).join(',')}), gaps ${JSON.stringify(gaps).slice(0, 500)}, state ${client?.state}`,
      );
    });

    const range = (count: number) => Array.from({ length: count }, (_, index) => index);
    // seq order is the order the streams appended them, which concurrent consumers may make differ from n.
    expect(notifications.map(({ seq }) => seq)).toEqual(range(NOTIFICATIONS).map((index) => index + 1));
    expect(events.map(({ seq }) => seq)).toEqual(range(EVENTS).map((index) => index + 1));
    expect(notifications.map(({ n }) => n).sort((a, b) => a - b)).toEqual(range(NOTIFICATIONS));
    expect(events.map(({ n }) => n).sort((a, b) => a - b)).toEqual(range(EVENTS));
    expect(gaps).toEqual([]);
    expect(deleted).toBeGreaterThanOrEqual(10);
    // 60 s of 20-second tokens: refreshed (or reconnected with) at least twice more.
    expect(tokens).toBeGreaterThanOrEqual(3);
  },
  240_000,
);
