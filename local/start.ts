import { rmSync } from 'node:fs';
import * as path from 'node:path';
import { embeddedMetricsOf, summaryLine } from './dev-endpoints/metrics';
import { type LocalRuntime, startLocalRuntime } from './runtime';
import { HELP, type StartOptions, startOptionsFrom } from './start-options';

/** A second Ctrl-C or SIGTERM this long after the first stops at once. */
const FORCE_AFTER_MS = 2_000;

// The runtime's own SDK clients (talking to the local engines) would warn that this Node is older
// than future SDK releases need: a matter of the machine's Node, not of the app. Each function runs on
// its own runtime's Node, and its SDK still warns there as it would on Lambda.
process.env['AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED'] ??= 'true';

async function main(): Promise<void> {
  const options = startOptionsFrom(process.argv.slice(2));
  if (options === 'help') return void console.log(HELP);
  await runLocal(options);
}

/** Runs the CDK app until Ctrl-C or SIGTERM, printing its endpoints: `npm start` and `ws-notify local`. */
export async function runLocal(options: StartOptions): Promise<void> {
  // Installed before the start, which starts the engines: a signal must never end this process
  // by default, since the engines (in a process group of their own) end only with its 'exit'.
  let runtime: LocalRuntime | undefined;
  let stoppingSince: number | undefined;
  const stop = (signal: string) => {
    if (stoppingSince !== undefined) {
      // Under npm one Ctrl-C arrives twice, from the terminal and relayed by npm: only a later one forces.
      if (Date.now() - stoppingSince < FORCE_AFTER_MS) return;
      console.log(`[ws-notify] ${signal} again: stopping at once, without waiting for $disconnects`);
      return exitAtOnce();
    }
    stoppingSince = Date.now();
    if (!runtime) return exitAtOnce();
    console.log(`\n[ws-notify] ${signal}: stopping… (again to force)`);
    runtime.stop().then(
      () => process.exit(0),
      (error: unknown) => {
        console.error(error);
        process.exit(1);
      },
    );
  };
  const exitAtOnce = () => {
    // The engines end with this process (local/engines/engine-processes.ts); outputs.json would name dead endpoints.
    rmSync(path.join(options.runtime.stateDir ?? '.local', 'outputs.json'), { force: true });
    process.exit(130);
  };
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGTERM', () => stop('SIGTERM'));
  const started = Date.now();
  runtime = await startLocalRuntime({
    ...options.runtime,
    log: (message) => console.log(`[ws-notify] ${message}`),
    // Not the embedded metrics: a line per invocation would drown the rest; the runtime adds them up (`m`).
    ...(!options.quietFunctions && {
      functionLog: (fn: string, line: string) => {
        if (embeddedMetricsOf(line) === undefined) console.log(`[${fn}] ${line}`);
      },
    }),
  });
  const width = Math.max(...Object.keys(runtime.outputs).map((key) => key.length));
  console.log(`\nws-notify is running locally (${runtime.stackName}, ready in ${((Date.now() - started) / 1000).toFixed(1)} s)\n`);
  for (const [key, value] of Object.entries(runtime.outputs)) console.log(`  ${key.padEnd(width)}  ${value}`);
  console.log(`\n  Test page  ${runtime.url}/`);
  console.log(`  Outputs    ${runtime.outputsFile}`);
  console.log(`  TLS        https:// and wss:// on the same port, trusting ${runtime.caFile} (docs/local.md)`);
  // The CLI reads .local/outputs.json here unless told otherwise (a --project's state is in that project).
  const outputs = path.resolve(runtime.outputsFile) === path.resolve('.local', 'outputs.json') ? '' : ` --outputs ${path.relative('.', runtime.outputsFile)}`;
  // ws-notify's own commands need its stack (another CDK app has no NotifyUser queue).
  if (runtime.outputs['NotifyUserQueueUrl']) {
    console.log(`\nTry: npx ws-notify stream${outputs} --user alice   (and in another terminal)   npx ws-notify send${outputs} --user alice --data '{"hi":1}'`);
  }
  const keys = process.stdin.isTTY ? 'press m, or ' : '';
  console.log(`Metrics: ${keys}kill -USR2 ${process.pid} (this process, not npm's), or GET ${runtime.url}/_local/metrics`);
  console.log('Ctrl-C stops everything.\n');
  const printMetrics = () => console.log(`[ws-notify] metrics: ${summaryLine(runtime.metrics())}`);
  process.on('SIGUSR2', printMetrics);

  if (process.stdin.isTTY) {
    // Keys arrive one by one in raw mode, where Ctrl-C is a key too rather than a SIGINT.
    process.stdin.setRawMode(true);
    process.stdin.on('data', (key: Buffer) => {
      const pressed = key.toString();
      if (pressed === 'm') printMetrics();
      else if (pressed === '\u0003') stop('SIGINT');
    });
  }
}

if (require.main === module) {
  main().catch((error: unknown) => {
    console.error(`ws-notify: ${(error as Error).message}`);
    process.exit(1);
  });
}
