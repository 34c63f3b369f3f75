import { createHash } from 'node:crypto';
import { type ApiGatewayManagementApiClient, GoneException, PostToConnectionCommand } from '@aws-sdk/client-apigatewaymanagementapi';
import { type ConnectionTable, removeConnection } from './connections';
import type { SubscriptionTable } from './subscriptions';

/**
 * A keepalive connection is sent a frame every this many minutes. API Gateway closes a connection
 * after 10 minutes without traffic in either direction; 8 leaves room for a scheduled run that
 * starts late (EventBridge promises the minute, not the second) and for the run's own posting time.
 */
export const KEEPALIVE_PERIOD_MINUTES = 8;
/**
 * Each minute's slot is split into this many index partitions: a burst of connections in one
 * minute spreads its index writes, and the sweep Queries them side by side.
 */
export const KEEPALIVE_SHARDS = 10;
export const KEEPALIVE_FRAME = JSON.stringify({ type: 'keepalive' });

/** Posts in flight at once: what one run can send per minute, and its share of the account's API Gateway quota. */
const KEEPALIVE_CONCURRENCY = 25;
/** No post is started later than this before the run's deadline. */
export const KEEPALIVE_RESERVE_MS = 5_000;

/**
 * The connection's keepalive slot, `<minute>.<shard>`: the minute of the period it connected in, so
 * that its keepalives come every period from then, and a shard by its id.
 */
export function keepaliveSlot(connectionId: string, connectedAtMs: number): string {
  const minute = Math.floor(connectedAtMs / 60_000) % KEEPALIVE_PERIOD_MINUTES;
  const shard = createHash('sha256').update(connectionId).digest().readUInt32BE(0) % KEEPALIVE_SHARDS;
  return `${minute}.${shard}`;
}

/** The slots whose connections are due at `timeMs`: every shard of its minute of the period. */
export function slotsDue(timeMs: number): string[] {
  const minute = Math.floor(timeMs / 60_000) % KEEPALIVE_PERIOD_MINUTES;
  return Array.from({ length: KEEPALIVE_SHARDS }, (_, shard) => `${minute}.${shard}`);
}

export interface KeepaliveDeps {
  connections: ConnectionTable;
  subscriptions: SubscriptionTable;
  managementApi: ApiGatewayManagementApiClient;
  /** Epoch milliseconds by which the run must be done: the Lambda's remaining time. */
  deadline: number;
  now?: () => number;
}

/**
 * Per connection: sent; gone (410: its row and subscriptions removed, as delivery does); failed
 * (another error: its next keepalive is a period later); deferred (not reached before the deadline).
 */
export interface KeepaliveReport {
  sent: number;
  gone: number;
  failed: number;
  deferred: number;
  /** The first few failures, for the log. */
  failures: { connectionId: string; error: string }[];
}

/**
 * One run of the keepalive sweep (every minute): posts `{"type":"keepalive"}` to each live
 * connection of the slots due at `scheduledAt` (the run's scheduled minute, so that a run started
 * a few seconds late still serves its own minute), a bounded number at a time, until the deadline.
 */
export async function sendKeepalives(scheduledAt: number, deps: KeepaliveDeps): Promise<KeepaliveReport> {
  const now = deps.now ?? Date.now;
  const due: string[] = [];
  await Promise.all(
    slotsDue(scheduledAt).map(async (slot) => {
      for await (const page of deps.connections.connectionIdsInKeepaliveSlot(slot, { now: now() })) due.push(...page);
    }),
  );
  const report: KeepaliveReport = { sent: 0, gone: 0, failed: 0, deferred: 0, failures: [] };
  let next = 0;
  const worker = async () => {
    for (let connectionId = due[next++]; connectionId !== undefined; connectionId = due[next++]) {
      if (now() > deps.deadline - KEEPALIVE_RESERVE_MS) {
        report.deferred += 1;
        continue;
      }
      try {
        report[await keepAlive(connectionId, deps)] += 1;
      } catch (error) {
        report.failed += 1;
        if (report.failures.length < 10) report.failures.push({ connectionId, error: error instanceof Error ? `${error.name}: ${error.message}` : String(error) });
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(KEEPALIVE_CONCURRENCY, due.length) }, worker));
  return report;
}

async function keepAlive(connectionId: string, deps: KeepaliveDeps): Promise<'sent' | 'gone'> {
  try {
    await deps.managementApi.send(new PostToConnectionCommand({ ConnectionId: connectionId, Data: KEEPALIVE_FRAME }));
    return 'sent';
  } catch (error) {
    if (!(error instanceof GoneException)) throw error;
    await removeConnection(connectionId, deps);
    return 'gone';
  }
}
