import { loadavg } from 'node:os';
import { ApiGatewayManagementApiClient, DeleteConnectionCommand } from '@aws-sdk/client-apigatewaymanagementapi';
import { SendMessageBatchCommand } from '@aws-sdk/client-sqs';
import WebSocket from 'ws';
import { createClient } from '../../client/src';
import { ConnectionTable } from '../../lambdas/core/connections';
import { StreamTable, userStreamKey } from '../../lambdas/core/streams';
import type { AwsCallMeter } from '../measurements/aws-calls';
import type { Progress } from '../runner/progress';
import type { RuntimeUnderBench } from '../runner/runtime-under-bench';
import { median, round } from '../runner/stats';

export interface StreamsResult {
  /** When it ran and how loaded the machine was (it may be merged into a report of another run). */
  measuredAt: string;
  loadAverageAtStart: number[];
  /** 1,000 notifications sent to a user with no connection, then a raw `ws` client connects and resumes from 0. */
  resume: {
    missed: number;
    /** From `resume` sent to the `resumed` frame; every replayed frame arrived before it. */
    resumeMs: number;
    replayed: number;
    /** Replayed entries per second to the one client, over `resumeMs`. */
    entriesPerSec: number;
    recovered: boolean;
    /** The resume function's DynamoDB Queries for this one stream (target: ≤ 1). */
    queries: number | null;
  };
  /** The client SDK: its connection deleted through the management API, until its `recovered` event. */
  sdkReconnect: {
    runs: number;
    /** From the DeleteConnection request to `recovered`: close seen, backoff, upgrade, `resume`, `resumed`. */
    p50Ms: number;
    maxMs: number;
    /** Of which, from the new socket's open to `recovered`: the resume round trip. */
    openToRecoveredP50Ms: number;
    /** The first reconnect's backoff, which the SDK jitters between 0 and this. */
    backoffBaseMs: number;
  };
}

const MISSED = 1000;
const SDK_RUNS = 10;
const BACKOFF_BASE_MS = 500;

/**
 * Streams on the local runtime, over loopback, bounded: the time to resume 1,000 missed notifications
 * (and the replay's rate), and the client SDK's reconnect-to-resumed time after its connection is
 * deleted from the server's side.
 */
export async function measureStreams(underBench: RuntimeUnderBench, meter: AwsCallMeter, progress: Progress): Promise<StreamsResult> {
  const measuredAt = new Date().toISOString();
  const loadAverageAtStart = loadavg().map((load) => Math.round(load * 100) / 100);
  const { outputs } = underBench;
  const url = outputs['WebSocketUrl'] as string;
  const bearer = async (userId: string) => `Bearer ${await underBench.runtime.issuer.mint({ userId })}`;
  const streams = new StreamTable(underBench.db, outputs['StreamsTableName'] as string, { ttlSeconds: 86_400, maxEntries: MISSED });

  progress.step(`streams: ${MISSED} notifications to a user with no connection, then one resume from 0`);
  const userId = `streams-offline-${Date.now()}`;
  await notify(underBench, userId, MISSED);
  await within(120_000, `all ${MISSED} appended`, async () => ((await streams.newest(userStreamKey(userId, undefined)))?.seq ?? 0) >= MISSED);
  const socket = await open(url, await bearer(userId));
  let resume: StreamsResult['resume'];
  try {
    let replayed = 0;
    const window = meter.window();
    const started = performance.now();
    const resumed = await new Promise<{ recovered: boolean }>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no resumed frame within 60 s (${replayed} replayed)`)), 60_000);
      socket.on('message', (data) => {
        const frame = JSON.parse(String(data)) as { type: string; replay?: boolean; recovered?: boolean };
        if (frame.type === 'notification' && frame.replay) replayed += 1;
        if (frame.type === 'resumed') {
          clearTimeout(timer);
          resolve({ recovered: frame.recovered === true });
        }
        if (frame.type === 'error') reject(new Error(`resume refused: ${String(data)}`));
      });
      socket.send(JSON.stringify({ action: 'resume', id: 'bench', streams: { user: { seq: 0 } } }));
    });
    const resumeMs = performance.now() - started;
    const usage = window.end();
    const resumeFunction = Object.entries(usage.functions).find(([name]) => underBench.shortNames.get(name) === 'resume');
    resume = {
      missed: MISSED,
      resumeMs: round(resumeMs, 1),
      replayed,
      entriesPerSec: Math.round((replayed / resumeMs) * 1000),
      recovered: resumed.recovered,
      queries: resumeFunction ? (resumeFunction[1].commands['DynamoDB.Query'] ?? 0) / resumeFunction[1].invocations : null,
    };
  } finally {
    socket.terminate();
  }
  progress.note(`resumed ${resume.replayed} in ${resume.resumeMs} ms (${resume.entriesPerSec} entries/s), recovered ${resume.recovered}, ${resume.queries} Query`);

  progress.step(`streams: the client SDK's reconnect to recovered, ${SDK_RUNS} times`);
  const sdkReconnect = await measureSdkReconnect(underBench, url);
  progress.note(`SDK reconnect to recovered: p50 ${sdkReconnect.p50Ms} ms, max ${sdkReconnect.maxMs} ms (open to recovered p50 ${sdkReconnect.openToRecoveredP50Ms} ms)`);
  return { measuredAt, loadAverageAtStart, resume, sdkReconnect };
}

async function measureSdkReconnect(underBench: RuntimeUnderBench, url: string): Promise<StreamsResult['sdkReconnect']> {
  const { outputs } = underBench;
  const userId = `streams-sdk-${Date.now()}`;
  const managementApi = new ApiGatewayManagementApiClient({
    endpoint: outputs['ManagementApiEndpoint'] as string,
    region: outputs.Region,
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
  });
  const connections = new ConnectionTable(underBench.db, outputs['ConnectionsTableName'] as string);
  // stableAfterMs 0: every run is a first reconnect, not one further along the backoff.
  const client = createClient({
    url,
    token: () => underBench.runtime.issuer.mint({ userId }),
    WebSocket,
    reconnect: { baseDelayMs: BACKOFF_BASE_MS, stableAfterMs: 0 },
  });
  let notifications = 0;
  let recovered = 0;
  let openedAt = 0;
  let recoveredAt = 0;
  client.on('notification', () => (notifications += 1));
  client.on('state', (state) => state === 'open' && (openedAt = performance.now()));
  client.on('recovered', () => {
    recovered += 1;
    recoveredAt = performance.now();
  });
  try {
    // A position in the user stream, so that every reconnect resumes it.
    await within(30_000, 'the SDK connected', async () => client.state === 'open');
    const connectionIdNow = async () => {
      const ids: string[] = [];
      for await (const page of connections.connectionIdsOf(userId)) ids.push(...page);
      return ids.length === 1 ? ids[0] : undefined;
    };
    await within(30_000, 'its connection row', async () => (await connectionIdNow()) !== undefined);
    await notify(underBench, userId, 1);
    await within(30_000, 'a first notification', async () => notifications === 1);
    const totals: number[] = [];
    const openToRecovered: number[] = [];
    for (let run = 0; run < SDK_RUNS; run += 1) {
      const connectionId = await connectionIdNow();
      const before = recovered;
      const deleted = performance.now();
      await managementApi.send(new DeleteConnectionCommand({ ConnectionId: connectionId }));
      await within(30_000, `recovered after reconnect ${run + 1}`, async () => recovered > before, 2);
      totals.push(recoveredAt - deleted);
      openToRecovered.push(recoveredAt - openedAt);
      // The old row goes with its $disconnect; the next run deletes the new connection.
      await within(30_000, 'one connection row', async () => (await connectionIdNow()) !== undefined && (await connectionIdNow()) !== connectionId);
    }
    return {
      runs: SDK_RUNS,
      p50Ms: round(median(totals) ?? 0, 1),
      maxMs: round(Math.max(...totals), 1),
      openToRecoveredP50Ms: round(median(openToRecovered) ?? 0, 1),
      backoffBaseMs: BACKOFF_BASE_MS,
    };
  } finally {
    await client.close();
    managementApi.destroy();
  }
}

/** `count` NotifyUser messages to `userId`, in batches of 10. */
async function notify(underBench: RuntimeUnderBench, userId: string, count: number): Promise<void> {
  const queueUrl = underBench.outputs['NotifyUserQueueUrl'] as string;
  for (let first = 0; first < count; first += 10) {
    const entries = Array.from({ length: Math.min(10, count - first) }, (_, i) => ({
      Id: String(i),
      MessageBody: JSON.stringify({ userId, id: `${userId}-${first + i + 1}`, data: { n: first + i + 1 } }),
    }));
    const { Failed = [] } = await underBench.sqs.send(new SendMessageBatchCommand({ QueueUrl: queueUrl, Entries: entries }));
    if (Failed.length > 0) throw new Error(`SendMessageBatch refused ${Failed.length} of ${entries.length}`);
  }
}

async function open(url: string, authorization: string): Promise<WebSocket> {
  const socket = new WebSocket(url, { headers: { Authorization: authorization } });
  await new Promise<void>((resolve, reject) => {
    socket.once('open', () => resolve());
    socket.once('error', reject);
    socket.once('unexpected-response', (_request, response) => reject(new Error(`upgrade refused: ${response.statusCode}`)));
  });
  return socket;
}

/** Polls `check` until it holds, every `everyMs`, or fails after `timeoutMs`. */
async function within(timeoutMs: number, what: string, check: () => Promise<boolean>, everyMs = 50): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs / 1000} s`);
    await new Promise((resolve) => setTimeout(resolve, everyMs));
  }
}
