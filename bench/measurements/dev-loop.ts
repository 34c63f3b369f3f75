import { appendFileSync, cpSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { loadavg } from 'node:os';
import * as path from 'node:path';
import { freePort } from '../../local/engines/engine-processes';
import { type LocalRuntime, type StartupReport, startLocalRuntime } from '../../local/runtime';
import type { Progress } from '../runner/progress';

/** One start of the runtime: to ready, as `npm start` reports it, and when each part was done. */
export interface StartMeasurement extends StartupReport {
  totalMs: number;
}

/** An edit to a file of the running app: from the write to the reload's end, and the path it took. */
export interface EditMeasurement {
  file: string;
  ms: number;
  /** 'rebuild' (bundles only, no synth) or 'synth'. */
  path: 'rebuild' | 'synth';
  /** The runtime's own line about it. */
  log: string;
}

export interface DevLoopResult {
  /** When it ran and how loaded the machine was (it may be merged into a report of another run). */
  measuredAt: string;
  loadAverageAtStart: number[];
  /** A first start: synthesizes. */
  coldStart: StartMeasurement;
  /** A second start of the unchanged app: reuses the synth. */
  warmStart: StartMeasurement;
  /** A handler's own file (one bundle includes it). */
  handlerEdit: EditMeasurement;
  /** A file most handlers import (their SDK clients), which the CDK app does not. */
  coreEdit: EditMeasurement;
  /** The construct: re-synthesizes. */
  infraEdit: EditMeasurement;
}

const HANDLER_FILE = 'lambdas/handlers/ping.ts';
const CORE_FILE = 'lambdas/wiring/clients.ts';
const INFRA_FILE = 'lib/ws-notify.ts';

/**
 * The dev loop of `npm start` on a copy of the project (so that its files can be edited): a cold
 * start, a warm start that reuses the synth, then a handler edit, a core edit and an
 * infrastructure edit with file watching on, each timed from the write to the reload's end.
 */
export async function measureDevLoop(projectDir: string, progress: Progress): Promise<DevLoopResult> {
  // Under the project, so that the copy finds its node_modules, lock file and tsconfig.
  mkdirSync(path.join(projectDir, '.local'), { recursive: true });
  const copy = mkdtempSync(path.join(projectDir, '.local', 'bench-dev-loop-'));
  const measuredAt = new Date().toISOString();
  const loadAverageAtStart = loadavg().map((load) => Math.round(load * 100) / 100);
  let runtime: LocalRuntime | undefined;
  try {
    for (const entry of ['bin', 'lib', 'lambdas', 'cdk.json']) cpSync(path.join(projectDir, entry), path.join(copy, entry), { recursive: true });
    const port = await freePort();
    const messages: string[] = [];
    const start = async (): Promise<StartMeasurement> => {
      const started = Date.now();
      runtime = await startLocalRuntime({ port, projectDir: copy, stateDir: path.join(copy, '.local'), watch: true, log: (message) => messages.push(message) });
      return { totalMs: Date.now() - started, ...runtime.startup };
    };
    progress.step('dev loop: a cold start (synthesizes), then a warm start (reuses the synth)');
    const coldStart = await start();
    await runtime?.stop();
    const warmStart = await start();
    progress.note(`cold start ${seconds(coldStart.totalMs)}, warm start ${seconds(warmStart.totalMs)}`);
    const edit = async (file: string): Promise<EditMeasurement> => {
      progress.update(`editing ${file}`);
      messages.length = 0;
      const started = Date.now();
      appendFileSync(path.join(copy, file), `\n// edited by the benchmark at ${new Date(started).toISOString()}\n`);
      const done = await until(() => messages.find((message) => message.startsWith('reloaded') || message.includes('failed')), 300_000);
      if (done.includes('failed')) throw new Error(`the reload after editing ${file} failed: ${done}`);
      const ms = Date.now() - started;
      const rebuilt = messages.find((message) => message.includes('handler code only'));
      const measured = { file, ms, path: rebuilt ? ('rebuild' as const) : ('synth' as const), log: rebuilt ?? messages.find((message) => message.includes('re-synthesizing')) ?? '' };
      progress.note(`${file}: ${measured.path} in ${seconds(ms)}`);
      return measured;
    };
    const handlerEdit = await edit(HANDLER_FILE);
    const coreEdit = await edit(CORE_FILE);
    const infraEdit = await edit(INFRA_FILE);
    return { measuredAt, loadAverageAtStart, coldStart, warmStart, handlerEdit, coreEdit, infraEdit };
  } finally {
    await runtime?.stop();
    rmSync(copy, { recursive: true, force: true });
  }
}

function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(1)} s`;
}

async function until(find: () => string | undefined, timeoutMs: number): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const found = find();
    if (found !== undefined) return found;
    if (Date.now() > deadline) throw new Error(`no reload within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
