import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { faultSpecFromArgument } from './dev-endpoints/faults';
import type { LocalRuntimeOptions } from './runtime';

export const HELP = `Usage: ws-notify local [options]     (in ws-notify's repository: npm start -- [options])

Runs a CDK app on this machine from its synthesized template (ws-notify's own stack, or any other):
its WebSocket and HTTP APIs with the management API, its functions, its tables in DynamoDB Local,
its queues in an SQS emulator with their event-source mappings, its scheduled rules, and a token issuer.

Options:
  --port <n>                      port on 127.0.0.1 (default 3001; 0 picks a free one)
  --project <dir>                 the CDK app to run, by the directory of its cdk.json (default: the current
                                  directory), e.g. examples/chat
  --stack <name>                  the stack to run, where the app has several
  -c, --context <key=value>       CDK context for the synth, repeatable (e.g. -c allowAnonymous=true -c tenantClaim=org)
  --state-dir <dir>               where outputs.json, the issuer key and the synthesized app go
                                  (default: .local in the project's directory)
  --idle-timeout <seconds>        close idle connections after this long (default 600, as API Gateway)
  --max-connection-duration <s>   close every connection after this long (default 7200, as API Gateway)
  --schedule-every <seconds>      run scheduled rules this often instead of at their rate
  --no-watch                      do not reload when a file under cdk.json's watch.include changes
  --synth                         synthesize even if nothing the last synth read has changed
  --quiet-functions               do not print what the functions log
  --faults <json or file>         inject faults from the start, e.g.
                                  '{"managementApi":[{"status":429,"rate":0.2}],"queueDelays":{"NotifyConnectionQueue":2000}}'
                                  (management API 429/410/500 answers, queue delays, paused tables: see
                                  docs/local.md, "Fault injection"; /_local/faults changes them while running)
  -h, --help                      this help`;

/** What `npm start -- …` and `ws-notify local …` ask for: the runtime's options, and whether to print the functions' output. */
export interface StartOptions {
  runtime: LocalRuntimeOptions;
  quietFunctions: boolean;
}

/** Reads `npm start`'s (and `ws-notify local`'s) arguments; 'help' when they ask for it. Throws on a malformed value. */
export function startOptionsFrom(args: string[]): StartOptions | 'help' {
  const { values } = parseArgs({
    args,
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
      synth: { type: 'boolean' },
      'quiet-functions': { type: 'boolean' },
      faults: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) return 'help';
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
  return {
    runtime: {
      ...(values.port !== undefined && { port: number('port', values.port) }),
      ...(values.project && { projectDir: values.project }),
      ...(values.stack && { stackName: values.stack }),
      context,
      // The project's own state (its synth, issuer key, outputs.json) stays in the project, as cdk.out does.
      stateDir: values['state-dir'] ?? path.join(values.project ?? '.', '.local'),
      ...(values['idle-timeout'] && { idleTimeoutSeconds: number('idle-timeout', values['idle-timeout']) }),
      ...(values['max-connection-duration'] && { maxConnectionSeconds: number('max-connection-duration', values['max-connection-duration']) }),
      ...(values['schedule-every'] && { scheduleEverySeconds: positive('schedule-every', values['schedule-every']) }),
      watch: !values['no-watch'],
      ...(values.synth && { synth: true }),
      ...(values.faults !== undefined && { faults: faultSpecFromArgument(values.faults) }),
    },
    quietFunctions: values['quiet-functions'] === true,
  };
}
