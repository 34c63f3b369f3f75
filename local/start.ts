import { parseArgs } from 'node:util';
import { embeddedMetricsOf, summaryLine } from './metrics';
import { startLocalRuntime } from './runtime';

const HELP = `Usage: npm start -- [options]

Runs the ws-notify stack on this machine from the synthesized CDK app: the WebSocket API and
its management API, DynamoDB Local, an SQS emulator, the queue pollers and a token issuer.

Options:
  --port <n>                      port on 127.0.0.1 (default 3001; 0 picks a free one)
  --project <dir>                 the CDK app to run, by its directory (default: this one), e.g. examples/order-enrichment
  --stack <name>                  the stack to run, where the app has several
  -c, --context <key=value>       CDK context for the synth, repeatable (e.g. -c allowAnonymous=true -c tenantClaim=org)
  --state-dir <dir>               where outputs.json, the issuer key and the synthesized app go (default .local)
  --idle-timeout <seconds>        close idle connections after this long (default 600, as API Gateway)
  --max-connection-duration <s>   close every connection after this long (default 7200, as API Gateway)
  --schedule-every <seconds>      run scheduled rules this often instead of at their rate
  --no-watch                      do not reload when bin/, lib/ or lambdas/ change
  --quiet-functions               do not print what the functions log
  -h, --help                      this help`;

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      port: { type: 'string' },
      project: { type: 'string' },
      stack: { type: 'string' },
      context: { type: 'string', short: 'c', multiple: true },
      'state-dir': { type: 'string' },
      'idle-timeout': { type: 'string' },
      'max-connection-duration': { type: 'string' },
      'schedule-every': { type: 'string' },
      'no-watch': { type: 'boolean' },
      'quiet-functions': { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) return void console.log(HELP);
  const number = (name: string, value: string | undefined) => {
    if (value === undefined) return undefined;
    const parsed = Number(value);
    if (!Number.isInteger(parsed) || parsed < 0) throw new Error(`--${name} takes a whole number, got "${value}"`);
    return parsed;
  };
  const positive = (name: string, value: string) => {
    const parsed = number(name, value) as number;
    if (parsed < 1) throw new Error(`--${name} takes at least 1, got "${value}"`);
    return parsed;
  };
  const context = Object.fromEntries(
    (values.context ?? []).map((pair) => {
      const separator = pair.indexOf('=');
      if (separator <= 0) throw new Error(`--context takes key=value, got "${pair}"`);
      return [pair.slice(0, separator), pair.slice(separator + 1)];
    }),
  );
  const started = Date.now();
  const runtime = await startLocalRuntime({
    ...(values.port !== undefined && { port: number('port', values.port) }),
    ...(values.project && { projectDir: values.project }),
    ...(values.stack && { stackName: values.stack }),
    context,
    // In this directory, another project's too, so that `npx ws-notify` here finds its outputs.
    stateDir: values['state-dir'] ?? '.local',
    ...(values['idle-timeout'] && { idleTimeoutSeconds: number('idle-timeout', values['idle-timeout']) }),
    ...(values['max-connection-duration'] && { maxConnectionSeconds: number('max-connection-duration', values['max-connection-duration']) }),
    ...(values['schedule-every'] && { scheduleEverySeconds: positive('schedule-every', values['schedule-every']) }),
    watch: !values['no-watch'],
    log: (message) => console.log(`[ws-notify] ${message}`),
    // Not the embedded metrics: a line per invocation would drown the rest; the runtime adds them up (`m`).
    ...(!values['quiet-functions'] && {
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
  console.log('\nTry: npx ws-notify stream --user alice   (and in another terminal)   npx ws-notify send --user alice --data \'{"hi":1}\'');
  const keys = process.stdin.isTTY ? 'press m, or ' : '';
  console.log(`Metrics: ${keys}kill -USR2 ${process.pid} (this process, not npm's), or GET ${runtime.url}/_local/metrics`);
  console.log('Ctrl-C stops everything.\n');
  const printMetrics = () => console.log(`[ws-notify] metrics: ${summaryLine(runtime.metrics())}`);
  process.on('SIGUSR2', printMetrics);

  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    console.log(`\n[ws-notify] ${signal}: stopping…`);
    runtime.stop().then(
      () => process.exit(0),
      (error: unknown) => {
        console.error(error);
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGTERM', () => stop('SIGTERM'));
  if (process.stdin.isTTY) {
    // Keys arrive one by one in raw mode, where Ctrl-C is a key too rather than a SIGINT.
    process.stdin.setRawMode(true);
    process.stdin.on('data', (key: Buffer) => {
      const pressed = key.toString();
      if (pressed === 'm') printMetrics();
      else if (pressed === '\u0003') {
        process.stdin.setRawMode(false);
        stop('SIGINT');
      }
    });
  }
}

main().catch((error: unknown) => {
  console.error(`ws-notify: ${(error as Error).message}`);
  process.exit(1);
});
