import { randomUUID } from 'node:crypto';
import { PurgeQueueCommand, SendMessageBatchCommand, SendMessageCommand, type SQSClient } from '@aws-sdk/client-sqs';
import type { ClientFleet } from '../clients/fleet';
import type { Progress } from '../runner/progress';
import type { RawFanOutServer } from '../runner/raw-ws';
import { type LatencySummary, round, summarizeLatencies } from '../runner/stats';

/** The `data` of every benchmark notification: which run and message it is, and when it was handed over. */
export interface BenchData {
  run: string;
  seq: number;
  /** Epoch ms (sub-ms precision) at the moment of hand-off: the SQS send, or the raw server's write. */
  sentAt: number;
  pad: string;
}

export interface Notification {
  userId: string;
  /** Built at the moment of hand-off, so that `sentAt` is. */
  data: () => BenchData;
}

/** A design under test, as a backend sees it: where a notification for a user is handed over. */
export interface NotificationTarget {
  notify(notification: Notification): Promise<void>;
  /** Up to 10 at once (one SendMessageBatch for the queue-fed designs). */
  notifyBatch(notifications: Notification[]): Promise<void>;
  /** Drops what is still queued, after a bounded run that did not finish. */
  discardBacklog(): Promise<void>;
}

export const now = (): number => performance.timeOrigin + performance.now();
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** ws-notify and the naive design: NotifyUser messages on an SQS queue, as a backend sends them. */
export class QueueTarget implements NotificationTarget {
  constructor(
    private readonly sqs: SQSClient,
    private readonly notifyUserQueueUrl: string,
    /** Every queue on the way to the clients, emptied by `discardBacklog`. */
    private readonly queueUrls: string[],
  ) {}

  async notify({ userId, data }: Notification): Promise<void> {
    await this.sqs.send(new SendMessageCommand({ QueueUrl: this.notifyUserQueueUrl, MessageBody: JSON.stringify({ userId, data: data() }) }));
  }

  async notifyBatch(notifications: Notification[]): Promise<void> {
    const entries = notifications.map(({ userId, data }, index) => ({ Id: String(index), MessageBody: JSON.stringify({ userId, data: data() }) }));
    const { Failed = [] } = await this.sqs.send(new SendMessageBatchCommand({ QueueUrl: this.notifyUserQueueUrl, Entries: entries }));
    if (Failed.length > 0) throw new Error(`${Failed.length} NotifyUser message(s) refused: ${Failed[0]?.Code}`);
  }

  async discardBacklog(): Promise<void> {
    await Promise.all(this.queueUrls.map((QueueUrl) => this.sqs.send(new PurgeQueueCommand({ QueueUrl }))));
  }
}

/** The raw `ws` ceiling: the notification is written to the sockets on the spot. */
export class RawTarget implements NotificationTarget {
  constructor(private readonly server: RawFanOutServer) {}

  async notify({ userId, data }: Notification): Promise<void> {
    this.server.notify(userId, data());
  }

  async notifyBatch(notifications: Notification[]): Promise<void> {
    for (const notification of notifications) this.server.notify(notification.userId, notification.data());
  }

  async discardBacklog(): Promise<void> {
    // Nothing is queued outside the sockets' own buffers.
  }
}

export interface RunContext {
  target: NotificationTarget;
  fleet: ClientFleet;
  progress: Progress;
  drainSeconds: number;
  padBytes: number;
}

export interface PhaseResult {
  notifications: number;
  expectedDeliveries: number;
  deliveries: number;
  duplicates: number;
  /** NotifyUser messages offered per second (fixed-rate phase), or handed over per second (saturation). */
  offeredPerSec: number;
  /** Deliveries per second, from the first hand-off to the last frame (or to the time limit). */
  throughputPerSec: number;
  /** Every expected delivery arrived before the deadline. */
  completed: boolean;
  latency: LatencySummary;
  meanFrameBytes: number;
}

function benchData(run: string, seq: number, padBytes: number): () => BenchData {
  return () => ({ run, seq, sentAt: now(), pad: 'x'.repeat(padBytes) });
}

/** Waits until `expected` deliveries of the run arrived, or the deadline passed; true if they all did. */
async function awaitDeliveries(context: RunContext, runId: string, expected: number, deadline: number, what: string): Promise<boolean> {
  for (;;) {
    const { deliveries } = await context.fleet.status(runId);
    context.progress.update(`${what}: ${deliveries}/${expected} delivered`);
    if (deliveries >= expected) return true;
    if (now() > deadline) return false;
    await sleep(100);
  }
}

/** After a backlog is discarded, waits for what is already on its way to arrive (or stop arriving). */
async function awaitQuiet(context: RunContext, runId: string): Promise<void> {
  const deadline = now() + 15_000;
  let last = -1;
  let quietSince = now();
  while (now() < deadline) {
    const { deliveries } = await context.fleet.status(runId);
    if (deliveries !== last) quietSince = now();
    else if (now() - quietSince >= 1_000) return;
    last = deliveries;
    await sleep(250);
  }
}

async function result(
  context: RunContext,
  runId: string,
  notifications: number,
  expected: number,
  startedAt: number,
  offeredPerSec: number,
  completed: boolean,
  cappedThroughput?: number,
): Promise<PhaseResult> {
  const record = await context.fleet.take(runId);
  const seconds = (record.lastAt - startedAt) / 1000;
  return {
    notifications,
    expectedDeliveries: expected,
    deliveries: record.deliveries,
    duplicates: record.duplicates,
    offeredPerSec: round(offeredPerSec, 1),
    throughputPerSec: round(cappedThroughput ?? (seconds > 0 ? record.deliveries / seconds : 0), 1),
    completed,
    latency: summarizeLatencies(record.latenciesMs, expected),
    meanFrameBytes: record.deliveries > 0 ? Math.round(record.frameBytes / record.deliveries) : 0,
  };
}

/**
 * Latency at a fixed offered rate: one notification every 1/rate s (round-robin over the users),
 * each handed over on schedule whatever the previous ones are doing (an open loop, so that a slow
 * system is not given time to catch up), then up to `drainSeconds` for the last to arrive.
 */
export async function runFixedRate(context: RunContext, users: string[], connectionsPerUser: number, rate: number, seconds: number): Promise<PhaseResult> {
  const runId = `fixed-${randomUUID()}`;
  await context.fleet.track(runId);
  const total = Math.round(rate * seconds);
  const expected = total * connectionsPerUser;
  const inFlight = new Set<Promise<void>>();
  const failures: Error[] = [];
  const startedAt = now();
  for (let seq = 0; seq < total; seq++) {
    const wait = startedAt + (seq * 1000) / rate - now();
    if (wait > 1) await sleep(wait);
    const handOff = context.target
      .notify({ userId: users[seq % users.length] as string, data: benchData(runId, seq, context.padBytes) })
      .catch((error: Error) => void failures.push(error));
    inFlight.add(handOff);
    void handOff.finally(() => inFlight.delete(handOff));
    // Hand-offs themselves stalling is a result too, but not an unbounded pile of them.
    if (inFlight.size >= 256) await Promise.race(inFlight);
    if (seq % 25 === 0) context.progress.update(`${rate} msg/s: sent ${seq}/${total}`);
  }
  await Promise.all(inFlight);
  if (failures.length > 0) throw new Error(`${failures.length} notification(s) could not be handed over: ${failures[0]?.message}`);
  const offered = total / ((now() - startedAt) / 1000);
  const completed = await awaitDeliveries(context, runId, expected, now() + context.drainSeconds * 1000, `${rate} msg/s`);
  if (!completed) {
    await context.target.discardBacklog();
    await awaitQuiet(context, runId);
  }
  return result(context, runId, total, expected, startedAt, offered, completed);
}

/**
 * Saturation: hands over enough notifications for `deliveries` deliveries as fast as the design
 * takes them (batches of 10, four at a time) and counts what arrives until the last, or until
 * `maxSeconds`, when the rest is discarded.
 */
export async function runSaturation(context: RunContext, users: string[], connectionsPerUser: number, deliveries: number, maxSeconds: number): Promise<PhaseResult> {
  const runId = `saturation-${randomUUID()}`;
  await context.fleet.track(runId);
  const total = Math.max(1, Math.ceil(deliveries / connectionsPerUser));
  const startedAt = now();
  const deadline = startedAt + maxSeconds * 1000;
  let next = 0;
  const sender = async () => {
    while (next < total && now() < deadline) {
      const from = next;
      next = Math.min(total, next + 10);
      const batch = Array.from({ length: next - from }, (_, index) => ({
        userId: users[(from + index) % users.length] as string,
        data: benchData(runId, from + index, context.padBytes),
      }));
      await context.target.notifyBatch(batch);
      if (from % 100 === 0) context.progress.update(`saturation: sent ${next}/${total}`);
    }
  };
  await Promise.all(Array.from({ length: 4 }, sender));
  const handedOverSeconds = (now() - startedAt) / 1000;
  const sent = next;
  const expected = sent * connectionsPerUser;
  const completed = await awaitDeliveries(context, runId, expected, deadline, 'saturation');
  let capped: number | undefined;
  if (!completed) {
    capped = (await context.fleet.status(runId)).deliveries / maxSeconds;
    await context.target.discardBacklog();
    await awaitQuiet(context, runId);
  }
  return result(context, runId, sent, expected, startedAt, sent / Math.max(handedOverSeconds, 0.001), completed, capped);
}

/** Untimed traffic that starts every execution environment and warms the code paths before anything is measured. */
export async function warmUp(context: RunContext, users: string[], connectionsPerUser: number, notifications: number): Promise<void> {
  const runId = `warm-up-${randomUUID()}`;
  await context.fleet.track(runId);
  for (let from = 0; from < notifications; from += 10) {
    const batch = Array.from({ length: Math.min(10, notifications - from) }, (_, index) => ({
      userId: users[(from + index) % users.length] as string,
      data: benchData(runId, from + index, context.padBytes),
    }));
    await context.target.notifyBatch(batch);
  }
  // Bounded: a design that takes longer than this to warm up is slow enough that its numbers will say so.
  const done = await awaitDeliveries(context, runId, notifications * connectionsPerUser, now() + 20_000, 'warm-up');
  if (!done) {
    await context.target.discardBacklog();
    await awaitQuiet(context, runId);
  }
  await context.fleet.take(runId);
}
