import type { BrowserBundleSize } from '../../client/bundle';
import type { BundleMeasurement } from '../measurements/bundles';
import type { DevLoopResult } from '../measurements/dev-loop';
import {
  backendEnqueuePerMillionUsd,
  type ConnectionLookup,
  connectionMinutesPerMonthUsd,
  type CostBreakdown,
  costPerMillionNotifications,
  dynamoDbItemBytes,
  type KeepaliveCost,
  keepaliveCost,
  logIngestionPerMillionUsd,
  type MeasuredDeliveryPath,
  type Prices,
  STREAM_APPEND_PER_NOTIFICATION,
  streamsOffAndOn,
} from '../cost/cost-model';
import { KEEPALIVE_PERIOD_MINUTES, KEEPALIVE_SHARDS } from '../../lambdas/core/keepalive';
import type { AwsCallSummary, ConfigResult, MatrixResult, MeasuredPhase } from '../runner/matrix';
import type { BenchSettings } from '../runner/options';
import type { ScaleResult } from '../workloads/scale';
import type { StreamsResult } from '../workloads/streams';

/** One design's section of latest.json: the reference configuration's numbers, then every configuration. */
export interface DesignSection {
  /** Deliveries per second at saturation, reference configuration. */
  throughputPerSec: number | null;
  /** Latency at the fixed offered rate, reference configuration (null: not measured, or beyond the wait). */
  p50Ms: number | null;
  p95Ms: number | null;
  p99Ms: number | null;
  saturationP50Ms: number | null;
  saturationP99Ms: number | null;
  /** Latency at the light load (the pipeline's own, without queueing). */
  lightLoad: { perSecond: number; p50Ms: number | null; p99Ms: number | null } | null;
  reference: { users: number; connectionsPerUser: number };
  configs: ConfigResult[];
  connectFailures: number;
  /** The delivery-path functions' memory setting (runtime designs). */
  functionMemoryMb?: number;
}

export interface DesignTableFacts {
  rows: number;
  meanItemBytes: number;
  /** What one GSI entry of the user index holds (ws-notify). */
  indexEntryBytes?: number;
  /** DynamoDB Local's own capacity figures for the lookups, a cross-check of the formulas. */
  reportedQuery?: { readUnits: number | null; calls: number; items: number };
  reportedScan?: { readUnits: number | null; calls: number; items: number };
}

export interface CostSection {
  /** Dollars per million NotifyUser messages, at 1k, 10k and 100k users with 2 connections each. */
  n1k: number;
  n10k: number;
  n100k: number;
  breakdown: Record<'n1k' | 'n10k' | 'n100k', CostBreakdown>;
  /** The measurement the model was fed. */
  measured: MeasuredDeliveryPath & { from: string };
  lookup: ConnectionLookup;
  /** CloudWatch Logs ingestion of the functions' own log lines, per 1M notifications: not in the totals. */
  logIngestionPerMillionUsd: number;
}

export const SCENARIOS = { n1k: 1_000, n10k: 10_000, n100k: 100_000 } as const;
export const SCENARIO_CONNECTIONS_PER_USER = 2;

export function designSection(matrix: MatrixResult, settings: BenchSettings): DesignSection {
  const reference = referenceConfig(matrix, settings);
  return {
    throughputPerSec: reference?.saturation.throughputPerSec ?? null,
    p50Ms: reference?.fixedRate.latency.p50Ms ?? null,
    p95Ms: reference?.fixedRate.latency.p95Ms ?? null,
    p99Ms: reference?.fixedRate.latency.p99Ms ?? null,
    saturationP50Ms: reference?.saturation.latency.p50Ms ?? null,
    saturationP99Ms: reference?.saturation.latency.p99Ms ?? null,
    lightLoad: reference?.lightRate
      ? { perSecond: settings.lightRate.perSecond, p50Ms: reference.lightRate.latency.p50Ms, p99Ms: reference.lightRate.latency.p99Ms }
      : null,
    reference: settings.reference,
    configs: matrix.configs,
    connectFailures: matrix.connectFailures,
  };
}

export function referenceConfig(matrix: Pick<MatrixResult, 'configs'>, settings: BenchSettings): ConfigResult | undefined {
  return matrix.configs.find(
    (config) => config.users === settings.reference.users && config.connectionsPerUser === settings.reference.connectionsPerUser,
  );
}

/**
 * The phase whose calls stand for the design: saturation (full batches) if every delivery arrived;
 * otherwise the fixed-rate phase if that one completed, since a capped run's purged messages leave
 * calls behind with no delivery; otherwise saturation, flagged.
 */
export function referencePhase(config: ConfigResult): { phase: MeasuredPhase; name: string } {
  if (config.saturation.completed) return { phase: config.saturation, name: 'saturation' };
  if (config.fixedRate.completed) return { phase: config.fixedRate, name: 'fixed rate (saturation was capped)' };
  return { phase: config.saturation, name: 'saturation, capped (the time limit cut it short)' };
}

/** The cost model's input from one measured window. */
export function measuredPath(config: ConfigResult, memoryMb: number, label: string): MeasuredDeliveryPath & { from: string } {
  const { phase, name } = referencePhase(config);
  const aws = phase.aws as AwsCallSummary;
  const path = aws.counts.deliveryPath;
  return {
    from: `${label}, ${config.users} users × ${config.connectionsPerUser} connections, ${name}`,
    // Notifications the path processed: a capped run hands over more than it delivers.
    notifications: phase.deliveries / config.connectionsPerUser,
    deliveries: phase.deliveries,
    frameBytes: phase.meanFrameBytes,
    functionCommands: path.commands,
    eventSourceRequests: aws.counts.eventSourceRequests,
    invocations: path.invocations,
    billedMs: path.billedMs,
    memoryMb,
    scanWaitMs: path.scanWaitMs,
    logBytes: aws.counts.logBytes,
    // Every PutItem of the delivery path is a stream append, which follows one consistent Query.
    consistentQueries: path.commands['DynamoDB.PutItem'] ?? 0,
  };
}

/** Streams off and on, per 1M notifications at 10k users × 2 connections, from one measured path. */
export interface StreamsCostSection {
  off: CostBreakdown;
  on: CostBreakdown;
  /** The append's calls per notification added for `on` (test/integration/stream-costs.test.ts). */
  appendPerNotification: { consistentQueries: number; putItems: number };
  from: string;
}

export function streamsCostSection(path: MeasuredDeliveryPath & { from: string }, lookup: ConnectionLookup, prices: Prices): StreamsCostSection {
  const { off, on } = streamsOffAndOn(path);
  const scenario = { users: SCENARIOS.n10k, connectionsPerUser: SCENARIO_CONNECTIONS_PER_USER };
  return {
    off: costPerMillionNotifications(off, lookup, scenario, prices),
    on: costPerMillionNotifications(on, lookup, scenario, prices),
    appendPerNotification: { ...STREAM_APPEND_PER_NOTIFICATION },
    from: path.from,
  };
}

export function costSection(path: MeasuredDeliveryPath & { from: string }, lookup: ConnectionLookup, prices: Prices): CostSection {
  const breakdown = Object.fromEntries(
    Object.entries(SCENARIOS).map(([key, users]) => [
      key,
      costPerMillionNotifications(path, lookup, { users, connectionsPerUser: SCENARIO_CONNECTIONS_PER_USER }, prices),
    ]),
  ) as CostSection['breakdown'];
  return {
    n1k: breakdown.n1k.totalUsd,
    n10k: breakdown.n10k.totalUsd,
    n100k: breakdown.n100k.totalUsd,
    breakdown,
    measured: path,
    lookup,
    logIngestionPerMillionUsd: logIngestionPerMillionUsd(path, prices),
  };
}

/**
 * Server keepalives, modeled rather than measured: one post per period per connection; a post holds
 * the sweep for a management-API round trip (taken as 30 ms in-region) shared by its 25 posts in
 * flight; an index entry as `dynamoDbItemBytes` sizes it; an idle run (ten Queries side by side)
 * taken as 40 ms.
 */
export const KEEPALIVE_MODEL = {
  periodMinutes: KEEPALIVE_PERIOD_MINUTES,
  postMs: 30 / 25,
  memoryMb: 256,
  indexEntryBytes: dynamoDbItemBytes({ connectionId: 'AbCdEfGhIjKlMnO=', keepaliveSlot: '7.9', expiresAt: 1_795_776_789 }),
  queriesPerRun: KEEPALIVE_SHARDS,
  idleRunMs: 40,
};

export function sharedCosts(prices: Prices): {
  backendEnqueuePerMillionUsd: number;
  connectionMinutesPerMonthUsd: Record<string, number>;
  keepalive: KeepaliveCost;
} {
  return {
    backendEnqueuePerMillionUsd: backendEnqueuePerMillionUsd(prices),
    keepalive: keepaliveCost(KEEPALIVE_MODEL, prices),
    connectionMinutesPerMonthUsd: Object.fromEntries(
      Object.entries(SCENARIOS).map(([key, users]) => [key, connectionMinutesPerMonthUsd({ users, connectionsPerUser: SCENARIO_CONNECTIONS_PER_USER }, prices)]),
    ),
  };
}

export interface TargetCheck {
  id: string;
  description: string;
  target: string;
  actual: string;
  /** null: not measured in this run. */
  met: boolean | null;
}

export const BUNDLE_LIMIT_BYTES = 400 * 1024;
export const IMPORT_LIMIT_MS = 45;
/** Issue 15's budget for the client SDK's browser bundle, min+gzip. */
export const CLIENT_BUNDLE_LIMIT_BYTES = 6 * 1024;

export function checkTargets(results: {
  e2e?: DesignSection;
  /** The reference saturation run of ws-notify hit the time limit. */
  e2eCapped?: boolean;
  naive?: DesignSection;
  awsCallsPerDelivery?: { total: number };
  cost?: { wsNotify?: CostSection; naive?: CostSection; streams?: StreamsCostSection };
  bundles?: Record<string, BundleMeasurement>;
  clientBundle?: BrowserBundleSize;
  connections?: ScaleResult;
  devLoop?: DevLoopResult;
  streams?: StreamsResult;
}): TargetCheck[] {
  const checks: TargetCheck[] = [];
  const add = (id: string, description: string, target: string, actual: string | undefined, met: boolean | null | undefined) =>
    checks.push({ id, description, target, actual: actual ?? 'not measured', met: actual === undefined ? null : (met ?? null) });
  const calls = results.awsCallsPerDelivery?.total;
  add('awsCalls', 'AWS calls per delivery (function SDK commands, reference configuration)', '≤ 1.6', calls?.toString(), calls !== undefined && calls <= 1.6);
  const ws = results.cost?.wsNotify;
  const naive = results.cost?.naive;
  add('cost', 'Modeled cost per 1M notifications, 10k users × 2 connections', '≤ $2.75', ws && `$${ws.n10k}`, ws && ws.n10k <= 2.75);
  const ratio = ws && naive ? naive.n10k / ws.n10k : undefined;
  add('costVsNaive', 'Cost below the naive design at 10k users', '≥ 8×', ratio?.toFixed(1) && `${ratio.toFixed(1)}×`, ratio !== undefined && ratio >= 8);
  add(
    'costFlat',
    'ws-notify cost not growing with N (1k → 100k users)',
    'n100k ≤ n1k',
    ws && `$${ws.n1k} → $${ws.n100k}`,
    ws && ws.n100k <= ws.n1k * 1.001,
  );
  const streams = results.cost?.streams;
  add(
    'streamWrites',
    'DynamoDB write units per notification with streams on (not per delivery), 2 connections per user',
    '≤ 2',
    streams && `${streams.on.perNotification.writeRequestUnits} (off: ${streams.off.perNotification.writeRequestUnits})`,
    streams && streams.on.perNotification.writeRequestUnits <= 2,
  );
  add(
    'streamCost',
    'Modeled cost per 1M notifications with streams on, 10k users × 2 connections',
    '≤ $2.95',
    streams && `$${streams.on.totalUsd} (off: $${streams.off.totalUsd})`,
    streams && streams.on.totalUsd <= 2.95,
  );
  const resumeQueries = results.streams?.resume.queries ?? undefined;
  add('resumeQueries', 'DynamoDB Queries per stream a `resume` reads (1,000 missed entries)', '≤ 1', resumeQueries?.toString(), resumeQueries !== undefined && resumeQueries <= 1);
  const e2e = results.e2e?.throughputPerSec ?? undefined;
  const naiveThroughput = results.naive?.throughputPerSec ?? undefined;
  const speedup = e2e !== undefined && naiveThroughput !== undefined && naiveThroughput > 0 ? e2e / naiveThroughput : undefined;
  add(
    'throughput',
    'End-to-end throughput over the naive design (saturation)',
    '≥ 10×',
    speedup?.toFixed(1) && `${speedup.toFixed(1)}× (${e2e} vs ${naiveThroughput} /s${results.e2eCapped ? '; ws-notify capped by the time limit: a lower bound' : ''})`,
    speedup !== undefined && speedup >= 10,
  );
  const latency = (value: number | null | undefined) => (value === null ? 'beyond the wait deadline' : value === undefined ? undefined : `${value} ms`);
  const p50 = results.e2e?.p50Ms;
  const p99 = results.e2e?.p99Ms;
  add('p50', 'End-to-end p50 at 100 msg/s', '≤ 50 ms', results.e2e ? latency(p50) : undefined, typeof p50 === 'number' && p50 <= 50);
  add('p99', 'End-to-end p99 at 100 msg/s', '≤ 250 ms', results.e2e ? latency(p99) : undefined, typeof p99 === 'number' && p99 <= 250);
  const bundles = Object.entries(results.bundles ?? {});
  const largest = bundles.sort((a, b) => b[1].bytes - a[1].bytes)[0];
  add(
    'bundleSize',
    'Every function bundle',
    '≤ 400 KB',
    largest && `largest ${largest[0]} ${(largest[1].bytes / 1024).toFixed(0)} KB`,
    largest && bundles.every(([, bundle]) => bundle.bytes <= BUNDLE_LIMIT_BYTES),
  );
  const slowest = [...bundles].sort((a, b) => b[1].importMs - a[1].importMs)[0];
  add(
    'importTime',
    'Every bundle’s cold import',
    '≤ 45 ms',
    slowest && `slowest ${slowest[0]} ${slowest[1].importMs} ms`,
    slowest && bundles.every(([, bundle]) => bundle.importMs <= IMPORT_LIMIT_MS),
  );
  const client = results.clientBundle;
  add(
    'clientBundle',
    'The client SDK’s browser bundle, min+gzip',
    '≤ 6 KB',
    client && `${(client.gzippedBytes / 1024).toFixed(1)} KB (${(client.minifiedBytes / 1024).toFixed(1)} KB minified)`,
    client && client.gzippedBytes <= CLIENT_BUNDLE_LIMIT_BYTES,
  );
  const scale = results.connections;
  const attempted10k = scale !== undefined && scale.target >= 10_000;
  add(
    'connections',
    '10k connections held, runtime under 1 GB',
    '10,000 held, < 1024 MB',
    scale && `${scale.held} held, ${scale.rssMb} MB${attempted10k ? '' : ` (${scale.target} attempted: not judged)`}`,
    attempted10k ? scale.held >= 10_000 && scale.rssMb < 1024 : null,
  );
  const devLoop = results.devLoop;
  const warm = devLoop?.warmStart;
  add(
    'warmStart',
    '`npm start` ready when the app has not changed since the last start (synth reused)',
    '≤ 8 s',
    warm && `${seconds(warm.totalMs)}${warm.synthesized ? ' (it synthesized)' : ''}`,
    warm && !warm.synthesized && warm.totalMs <= 8_000,
  );
  const handler = devLoop?.handlerEdit;
  add(
    'handlerEdit',
    'A handler-only edit live (bundles rebuilt, no synth)',
    '≤ 3 s',
    handler && `${seconds(handler.ms)} (${handler.path})`,
    handler && handler.path === 'rebuild' && handler.ms <= 3_000,
  );
  return checks;
}

function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(1)} s`;
}

/** latest.json. */
export interface BenchResults {
  schema: 1;
  mode: BenchSettings['mode'];
  startedAt: string;
  finishedAt?: string;
  durationSeconds?: number;
  machine: { cpus: number; cpuModel: string; memoryGb: number; node: string; loadAverageAtStart: number[] };
  settings: BenchSettings;
  e2e?: DesignSection & { tables?: DesignTableFacts };
  naive?: DesignSection & { tables?: DesignTableFacts };
  rawWs?: DesignSection;
  awsCallsPerDelivery?: {
    total: number;
    byApi: Record<string, number>;
    eventSource: { ReceiveMessage: number; DeleteMessageBatch: number };
    withEventSource: number;
    measuredIn: string;
    naive?: { total: number; byApi: Record<string, number>; withEventSource: number; measuredIn: string };
  };
  costPerMillionUsd?: {
    wsNotify?: CostSection;
    naive?: CostSection;
    naiveOverWsNotify?: Record<string, number>;
    /** ws-notify's measured path with streams off and on (absent in results analysed before streams existed). */
    streams?: StreamsCostSection;
    backendEnqueuePerMillionUsd: number;
    connectionMinutesPerMonthUsd: Record<string, number>;
    /** Absent in results analysed before keepalives existed. */
    keepalive?: KeepaliveCost;
    prices: { lookedUp: string; file: string };
  };
  bundles?: Record<string, BundleMeasurement>;
  /** The client SDK's browser bundle (client/bundle.ts). */
  clientBundle?: BrowserBundleSize;
  connections?: ScaleResult;
  devLoop?: DevLoopResult;
  /** Resume and replay on the local runtime, and the client SDK's reconnect (`--only streams`). */
  streams?: StreamsResult;
  targets?: TargetCheck[];
  errors: string[];
}

/**
 * Derives everything that is computed rather than measured (calls per delivery, the cost model, the
 * targets) from the measurements in `results`; bench/report/render.ts runs it again on a saved latest.json.
 */
export function analyse(results: BenchResults, prices: Prices & { lookedUp: string }): void {
  const { settings } = results;
  const wsReference = results.e2e && referenceConfig(results.e2e, settings);
  const naiveReference = results.naive && referenceConfig(results.naive, settings);
  const wsPhase = wsReference && referencePhase(wsReference);
  const naivePhase = naiveReference && referencePhase(naiveReference);
  const wsCalls = wsPhase?.phase.aws;
  const naiveCalls = naivePhase?.phase.aws;
  delete results.awsCallsPerDelivery;
  if (wsCalls && wsReference && wsPhase) {
    results.awsCallsPerDelivery = {
      total: wsCalls.perDelivery,
      byApi: wsCalls.byApi,
      eventSource: wsCalls.eventSourcePerDelivery,
      withEventSource: wsCalls.allPerDelivery,
      measuredIn: `${wsReference.users} users × ${wsReference.connectionsPerUser} connections, ${wsPhase.name}`,
      ...(naiveCalls &&
        naivePhase && {
          naive: { total: naiveCalls.perDelivery, byApi: naiveCalls.byApi, withEventSource: naiveCalls.allPerDelivery, measuredIn: naivePhase.name },
        }),
    };
  }
  const costs: NonNullable<BenchResults['costPerMillionUsd']> = {
    ...sharedCosts(prices),
    prices: { lookedUp: prices.lookedUp, file: 'bench/cost/prices.json' },
  };
  const indexEntryBytes = results.e2e?.tables?.indexEntryBytes;
  if (wsCalls && wsReference && indexEntryBytes !== undefined) {
    const path = measuredPath(wsReference, results.e2e?.functionMemoryMb ?? 256, 'ws-notify');
    costs.wsNotify = costSection(path, { kind: 'query', indexEntryBytes }, prices);
    costs.streams = streamsCostSection(path, { kind: 'query', indexEntryBytes }, prices);
  }
  const naiveItemBytes = results.naive?.tables?.meanItemBytes;
  if (naiveCalls && naiveReference && naiveItemBytes) {
    costs.naive = costSection(
      measuredPath(naiveReference, results.naive?.functionMemoryMb ?? 256, 'naive'),
      { kind: 'scan', itemBytes: naiveItemBytes, rowsMeasured: naiveReference.tableRows },
      prices,
    );
  }
  if (costs.wsNotify && costs.naive) {
    const { wsNotify, naive } = costs;
    costs.naiveOverWsNotify = Object.fromEntries(
      (['n1k', 'n10k', 'n100k'] as const).map((key) => [key, Math.round((naive[key] / wsNotify[key]) * 10) / 10]),
    );
  }
  results.costPerMillionUsd = costs;
  results.targets = checkTargets({
    ...(results.e2e && { e2e: results.e2e }),
    ...(wsReference && !wsReference.saturation.completed && { e2eCapped: true }),
    ...(results.naive && { naive: results.naive }),
    ...(results.awsCallsPerDelivery && { awsCallsPerDelivery: results.awsCallsPerDelivery }),
    cost: { ...(costs.wsNotify && { wsNotify: costs.wsNotify }), ...(costs.naive && { naive: costs.naive }), ...(costs.streams && { streams: costs.streams }) },
    ...(results.bundles && { bundles: results.bundles }),
    ...(results.clientBundle && { clientBundle: results.clientBundle }),
    ...(results.connections && { connections: results.connections }),
    ...(results.devLoop && { devLoop: results.devLoop }),
    ...(results.streams && { streams: results.streams }),
  });
}
