// `npm run bench`: ws-notify end to end on the local runtime, the naive design on the same emulators,
// and a plain `ws` server, side by side; AWS calls per delivery, the cost model, bundles, and scale.
// Everything listens on 127.0.0.1, on ports picked at run time, and is stopped before it exits.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, totalmem } from 'node:os';
import * as path from 'node:path';
import { browserBundle } from '../client/bundle';
import { USER_INDEX, USER_INDEX_ATTRIBUTES } from '../lambdas/core/connections';
import { AwsCallMeter } from './measurements/aws-calls';
import {
  BundleInitError,
  type BundleMeasurement,
  composition,
  functionBundles,
  handlerEntry,
  measureBundle,
  stopBuilding,
} from './measurements/bundles';
import { dynamoDbItemBytes, type Prices } from './cost/cost-model';
import { measureDevLoop } from './measurements/dev-loop';
import { ClientFleet } from './clients/fleet';
import { Matrix } from './runner/matrix';
import { type BenchSettings, HELP, parseBenchOptions, UsageError } from './runner/options';
import { Progress } from './runner/progress';
import { addBackgroundConnections } from './workloads/population';
import { RawFanOutServer } from './runner/raw-ws';
import { renderHtml } from './report/report-html';
import { renderMarkdown } from './report/report-markdown';
import { analyse, type BenchResults, type DesignTableFacts, designSection } from './report/results';
import { connectionTableStats, reportedReadCapacity, type RuntimeUnderBench, startRuntimeUnderBench } from './runner/runtime-under-bench';
import { runScale } from './workloads/scale';
import { measureStreams } from './workloads/streams';
import { QueueTarget, RawTarget } from './workloads/workload';

const PROJECT_DIR = path.join(__dirname, '..');
const NAIVE_DIR = path.join(__dirname, 'naive');


async function main(): Promise<void> {
  let settings: BenchSettings | undefined;
  try {
    settings = parseBenchOptions(process.argv.slice(2), path.join(__dirname, 'results'));
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    console.error(`${error.message}\n\n${HELP}`);
    process.exitCode = 2;
    return;
  }
  if (!settings) return void console.log(HELP);
  // Lambda runs Node 22: the SDK's notice that it will soon require Node 22 is noise here.
  process.env['AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED'] ??= 'true';
  const started = Date.now();
  const progress = new Progress();
  const prices = JSON.parse(readFileSync(path.join(__dirname, 'cost', 'prices.json'), 'utf8')) as Prices & { lookedUp: string };
  const results: BenchResults = {
    schema: 1,
    mode: settings.mode,
    startedAt: new Date(started).toISOString(),
    machine: {
      cpus: cpus().length,
      cpuModel: cpus()[0]?.model ?? 'unknown',
      memoryGb: Math.round(totalmem() / 1024 ** 3),
      node: process.version,
      loadAverageAtStart: loadavg().map((load) => Math.round(load * 100) / 100),
    },
    settings,
    errors: [],
  };
  // Everything started is stopped: each phase removes its own entry when it is done; whatever is
  // left (a failure, Ctrl-C) is stopped here, newest first.
  const cleanups = new Map<string, () => Promise<unknown>>();
  const cleanUp = async (name?: string) => {
    const names = name === undefined ? [...cleanups.keys()].reverse() : [name];
    for (const one of names) {
      const cleanup = cleanups.get(one);
      cleanups.delete(one);
      await cleanup?.().catch((error: unknown) => progress.note(`stopping ${one}: ${String(error)}`));
    }
  };
  let interrupted = false;
  const onSignal = () => {
    if (interrupted) process.exit(130);
    interrupted = true;
    progress.note('interrupted: stopping everything that was started…');
    void cleanUp().then(() => process.exit(130));
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  const phase = async (name: string, body: () => Promise<void>) => {
    try {
      await body();
    } catch (error) {
      if (interrupted) throw error;
      results.errors.push(`${name}: ${(error as Error).stack ?? String(error)}`);
      progress.note(`${name} failed: ${(error as Error).message}`);
    }
  };
  const wants = (...phases: BenchSettings['phases']) => phases.some((one) => settings.phases.includes(one));

  try {
    const meter = new AwsCallMeter();
    cleanups.set('AWS call meter', async () => meter.close());
    progress.step(`ws-notify benchmark (${settings.mode}): ${settings.phases.join(', ')}`);
    const fleet = await ClientFleet.start();
    cleanups.set('client fleet', () => fleet.stop());

    // First, on a machine nothing else of the run loads yet: `npm start` and its reloads.
    if (wants('dev-loop')) {
      await phase('dev loop', async () => {
        results.devLoop = await measureDevLoop(PROJECT_DIR, progress);
      });
    }

    // Both apps are synthesized and started together, before anything is measured: synthesis is the
    // slowest step of a run, and on two cores the two overlap well. Until its turn, a runtime idles.
    progress.step('synthesizing the CDK apps and starting the local runtimes (about 30 s)');
    const start = async (name: string, projectDir: string): Promise<RuntimeUnderBench | undefined> => {
      try {
        const underBench = await startRuntimeUnderBench({ projectDir, onInvocation: meter.record, functionLog: meter.recordLog, log: () => undefined });
        cleanups.set(name, () => underBench.stop());
        return underBench;
      } catch (error) {
        results.errors.push(`${name}: ${(error as Error).stack ?? String(error)}`);
        progress.note(`${name} did not start: ${(error as Error).message.split('\n')[0]}`);
        return undefined;
      }
    };
    const [wsNotify, naive] = await Promise.all([
      wants('bundles', 'e2e', 'scale', 'streams') ? start('ws-notify runtime', PROJECT_DIR) : undefined,
      wants('naive') ? start('naive runtime', NAIVE_DIR) : undefined,
    ]);

    if (wants('raw')) {
      await phase('raw ws', async () => {
        progress.step('raw ws: a plain `ws` server on 127.0.0.1');
        const server = await RawFanOutServer.start();
        cleanups.set('raw ws server', () => server.stop());
        const matrix = new Matrix(
          {
            label: 'raw ws',
            userPrefix: 'raw',
            socketFor: async (userId) => ({ url: `${server.url}?userId=${encodeURIComponent(userId)}` }),
            target: new RawTarget(server),
            saturationMultiplier: settings.saturation.rawMultiplier,
          },
          fleet,
          settings,
          progress,
        );
        results.rawWs = designSection(await matrix.run(), settings);
        await fleet.closeAll();
        await cleanUp('raw ws server');
      });
    }

    if (wsNotify) {
      if (wants('bundles')) await phase('bundles', () => measureBundles(wsNotify, settings, progress, results));
      await phase('ws-notify', async () => {
        const { outputs } = wsNotify;
        const tableName = outputs['ConnectionsTableName'] as string;
        const design = {
          label: 'ws-notify',
          userPrefix: 'ws',
          socketFor: async (userId: string) => ({
            url: outputs['WebSocketUrl'] as string,
            headers: { Authorization: `Bearer ${await wsNotify.runtime.issuer.mint({ userId })}` },
          }),
          target: new QueueTarget(wsNotify.sqs, outputs['NotifyUserQueueUrl'] as string, [
            outputs['NotifyUserQueueUrl'] as string,
            outputs['NotifyConnectionQueueUrl'] as string,
          ]),
          aws: { meter, deliveryFunctions: wsNotify.deliveryFunctions, shortNames: wsNotify.shortNames, engineHosts: engineHosts(outputs) },
          addBackgroundConnections: (rows: number, onProgress: (written: number) => void) =>
            addBackgroundConnections(wsNotify.db, tableName, rows, onProgress),
        };
        const matrix = new Matrix(design, fleet, settings, progress);
        if (wants('e2e')) {
          await phase('e2e', async () => {
            results.e2e = {
              ...designSection(await matrix.run(), settings),
              functionMemoryMb: wsNotify.memoryMb,
              tables: await wsNotifyTableFacts(wsNotify, tableName, matrix),
            };
          });
        }
        if (wants('scale')) {
          await phase('scale', async () => {
            progress.step(`scale: opening connections up to ${settings.scaleConnections}`);
            results.connections = await runScale({ matrix, fleet, socketFor: design.socketFor, target: settings.scaleConnections, db: wsNotify.db, tableName, progress });
            progress.note(`${results.connections.held} connections held; runtime RSS ${results.connections.rssMb} MB`);
          });
        }
        if (wants('streams')) {
          await phase('streams', async () => {
            results.streams = await measureStreams(wsNotify, meter, progress);
          });
        }
      });
    }

    if (naive) {
      await phase('naive', async () => {
        const { outputs } = naive;
        const url = outputs['WebSocketUrl'] as string;
        const tableName = outputs['ConnectionsTableName'] as string;
        const matrix = new Matrix(
          {
            label: 'naive',
            userPrefix: 'naive',
            socketFor: async (userId) => ({ url: `${url}?userId=${encodeURIComponent(userId)}` }),
            target: new QueueTarget(naive.sqs, outputs['NotifyUserQueueUrl'] as string, [outputs['NotifyUserQueueUrl'] as string]),
            aws: { meter, deliveryFunctions: naive.deliveryFunctions, shortNames: naive.shortNames, engineHosts: engineHosts(outputs) },
            addBackgroundConnections: (rows, onProgress) => addBackgroundConnections(naive.db, tableName, rows, onProgress),
          },
          fleet,
          settings,
          progress,
        );
        const measured = await matrix.run();
        const table = await connectionTableStats(naive.db, tableName);
        results.naive = {
          ...designSection(measured, settings),
          functionMemoryMb: naive.memoryMb,
          tables: { rows: table.rows, meanItemBytes: table.meanItemBytes, reportedScan: await reportedReadCapacity(naive.db, tableName, 'scan') },
        };
      });
    }

    // Stopped together (each closes its connections and waits a few seconds for their $disconnect);
    // an idle runtime costs the other's measurements nothing worth counting.
    if (wsNotify || naive) {
      progress.step('stopping the local runtimes');
      await Promise.all([cleanUp('ws-notify runtime'), cleanUp('naive runtime')]);
      await fleet.closeAll();
    }

    await phase('analysis', async () => analyse(results, prices));
    results.finishedAt = new Date().toISOString();
    results.durationSeconds = Math.round((Date.now() - started) / 1000);
    mkdirSync(settings.outDir, { recursive: true });
    writeFileSync(path.join(settings.outDir, 'latest.json'), `${JSON.stringify(results, null, 2)}\n`);
    writeFileSync(path.join(settings.outDir, 'latest.html'), renderHtml(results));
    writeFileSync(path.join(settings.outDir, 'latest.md'), renderMarkdown(results));
  } finally {
    await cleanUp();
  }
  progress.step(`done in ${results.durationSeconds} s: ${path.relative(process.cwd(), settings.outDir)}/latest.{json,html,md}`);
  for (const check of results.targets ?? []) {
    progress.note(`${check.met === null ? '·' : check.met ? '✓' : '✗'} ${check.description}: ${check.actual} (target ${check.target})`);
  }
  if (results.errors.length > 0) {
    progress.note(`${results.errors.length} phase(s) failed; see "errors" in latest.json`);
    process.exitCode = 1;
  }
}

/** The engines' `host` headers, so that only this runtime's poller calls are counted for it. */
function engineHosts(outputs: RuntimeUnderBench['outputs']): string[] {
  return [outputs.SqsEndpoint, outputs.DynamoDbEndpoint].map((endpoint) => new URL(endpoint).host);
}

async function measureBundles(underBench: RuntimeUnderBench, settings: BenchSettings, progress: Progress, results: BenchResults): Promise<void> {
  progress.step('bundles: sizes, cold imports in fresh processes, and what they are made of');
  const bundles: Record<string, BundleMeasurement> = {};
  for (const bundle of functionBundles(underBench.assemblyDir, underBench.runtime.stackName)) {
    progress.update(bundle.name);
    let measured: BundleMeasurement;
    try {
      measured = await measureBundle(bundle, settings.importRuns);
    } catch (error) {
      if (!(error instanceof BundleInitError)) throw error;
      results.errors.push(`bundles: ${error.message}`);
      progress.note(error.message);
      continue;
    }
    const entry = handlerEntry(bundle.name);
    if (entry && settings.mode === 'full') measured.composition = (await composition(entry)).byPackage.slice(0, 10);
    bundles[bundle.name] = measured;
    progress.note(`${bundle.name}: ${(measured.bytes / 1024).toFixed(0)} KB, import ${measured.importMs} ms (${measured.importCpuMs} ms CPU)`);
  }
  results.bundles = bundles;
  const { size } = await browserBundle();
  results.clientBundle = size;
  progress.note(`client SDK browser bundle: ${size.gzippedBytes} B min+gzip (${size.minifiedBytes} B minified)`);
  await stopBuilding();
}

async function wsNotifyTableFacts(underBench: RuntimeUnderBench, tableName: string, matrix: Matrix): Promise<DesignTableFacts> {
  const table = await connectionTableStats(underBench.db, tableName);
  const entryAttributes = ['connectionId', 'userId', ...USER_INDEX_ATTRIBUTES];
  const indexEntry = Object.fromEntries(Object.entries(table.sample ?? {}).filter(([name]) => entryAttributes.includes(name)));
  const [userWithTwo] = matrix.usersOf(2, 1);
  return {
    rows: table.rows,
    meanItemBytes: table.meanItemBytes,
    indexEntryBytes: dynamoDbItemBytes(indexEntry),
    ...(userWithTwo && { reportedQuery: await reportedReadCapacity(underBench.db, tableName, { indexName: USER_INDEX, userId: userWithTwo }) }),
    reportedScan: await reportedReadCapacity(underBench.db, tableName, 'scan'),
  };
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
