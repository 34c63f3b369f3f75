import { checkTenancy, type CommandLine, parseCommandLine } from './command-line';
import { createApiKey, listApiKeys, revokeApiKey } from './commands/apikey';
import { listConnections } from './commands/connections';
import { ConfirmationRequiredError, listDeadLetters, purgeDeadLetters, redriveDeadLetters } from './commands/dlq';
import { printHistory } from './commands/history';
import { runLocalCommand } from './commands/local';
import { publishEvent } from './commands/publish';
import { sendNotification } from './commands/send';
import { streamFrames, UpgradeRefusedError } from './commands/stream';
import { printStreams } from './commands/streams';
import { printToken } from './commands/token';
import { UsageError } from './options';
import { CommandError, resolveTarget, TargetError } from './target';

/** Exit codes: 0 done, 1 the command failed, 2 the command line is wrong (or lacks the --yes it needs). */
async function main(argv: readonly string[]): Promise<number> {
  const commandLine = parseCommandLine(argv);
  if (commandLine.command === 'help') {
    console.log(commandLine.text);
    return 0;
  }
  if (commandLine.command === 'local') return runLocalCommand(commandLine.options);
  return run(commandLine);
}

async function run(commandLine: Exclude<CommandLine, { command: 'help' | 'local' }>): Promise<number> {
  const target = await resolveTarget(commandLine.target);
  checkTenancy(commandLine, target.tenantClaim);
  switch (commandLine.command) {
    case 'token': {
      const { userId, ttlSeconds, claims } = commandLine;
      await printToken(target, { userId, ...(ttlSeconds !== undefined && { ttlSeconds }), ...(claims && { claims }) });
      return 0;
    }
    case 'send':
      await sendNotification(target, commandLine.notification);
      return 0;
    case 'stream':
      return streamFrames(target, commandLine);
    case 'connections':
      await listConnections(target, commandLine.userId);
      return 0;
    case 'publish':
      await publishEvent(target, commandLine.message);
      return 0;
    case 'history':
      await printHistory(target, commandLine.stream, commandLine.limit);
      return 0;
    case 'streams':
      await printStreams(target, commandLine.userId, commandLine.tenant);
      return 0;
    case 'apikey create':
      await createApiKey(target, commandLine.key);
      return 0;
    case 'apikey list':
      await listApiKeys(target, commandLine.userId);
      return 0;
    case 'apikey revoke':
      await revokeApiKey(target, commandLine.keyId);
      return 0;
    case 'dlq list':
      await listDeadLetters(target, commandLine.queues, commandLine.max);
      return 0;
    case 'dlq redrive':
      return redriveDeadLetters(target, commandLine.queues, commandLine.wait);
    case 'dlq purge':
      return purgeDeadLetters(target, commandLine.queues, commandLine.yes);
  }
}

/** What to tell the user; a failure the CLI did not foresee keeps its name and stack. */
function describeFailure(error: unknown): string {
  if (error instanceof UsageError) return `${error.message}\n\n${error.usage}`;
  if (error instanceof TargetError || error instanceof CommandError || error instanceof UpgradeRefusedError || error instanceof ConfirmationRequiredError) {
    return error.message;
  }
  const { code, address, port } = error as NodeJS.ErrnoException & { address?: string; port?: number };
  if (code === 'ECONNREFUSED') {
    return `the runtime at ${address}:${port} is not answering (connection refused): if it is the local runtime, start it with \`npm start\``;
  }
  return error instanceof Error ? (error.stack ?? String(error)) : String(error);
}

main(process.argv.slice(2)).then(
  (exitCode) => {
    process.exitCode = exitCode;
  },
  (error: unknown) => {
    console.error(`ws-notify: ${describeFailure(error)}`);
    process.exitCode = error instanceof UsageError || error instanceof ConfirmationRequiredError ? 2 : 1;
  },
);
