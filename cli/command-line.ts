import { type ApiKeyCommandLine, parseApiKey } from './commands/apikey';
import { type ConnectionsCommandLine, parseConnections } from './commands/connections';
import { type DlqCommandLine, parseDlq } from './commands/dlq';
import { checkHistoryTenancy, type HistoryCommandLine, parseHistory } from './commands/history';
import { type LocalCommandLine, parseLocal } from './commands/local';
import { checkPublishTenancy, parsePublish, type PublishCommandLine } from './commands/publish';
import { checkSendTenancy, parseSend, type SendCommandLine } from './commands/send';
import { parseStream, type StreamCommandLine } from './commands/stream';
import { checkStreamsTenancy, parseStreams, type StreamsCommandLine } from './commands/streams';
import { parseToken, type TokenCommandLine } from './commands/token';
import { type HelpCommandLine, UsageError } from './options';
import { USAGE } from './usage';

/** A command line as its command's parser reads it (cli/commands/<command>.ts), or a request for help. */
export type CommandLine =
  | HelpCommandLine
  | LocalCommandLine
  | TokenCommandLine
  | SendCommandLine
  | StreamCommandLine
  | PublishCommandLine
  | ConnectionsCommandLine
  | HistoryCommandLine
  | StreamsCommandLine
  | ApiKeyCommandLine
  | DlqCommandLine;

/** Reads `ws-notify <command> [options]`; throws a UsageError for anything that cannot run. */
export function parseCommandLine(argv: readonly string[]): CommandLine {
  const [command, ...args] = argv;
  switch (command) {
    case 'token':
      return parseToken(args);
    case 'send':
      return parseSend(args);
    case 'stream':
      return parseStream(args);
    case 'connections':
      return parseConnections(args);
    case 'history':
      return parseHistory(args);
    case 'streams':
      return parseStreams(args);
    case 'publish':
      return parsePublish(args);
    case 'apikey':
      return parseApiKey(args);
    case 'dlq':
      return parseDlq(args);
    case 'local':
      return parseLocal(args);
    case '-h':
    case '--help':
      return { command: 'help', text: USAGE };
    case undefined:
      throw new UsageError('no command given', USAGE);
    default:
      throw new UsageError(`unknown command "${command}"`, USAGE);
  }
}

/**
 * Refuses, before anything is sent, a message that names no tenant for a multi-tenant stack (one
 * with a `tenantClaim`): it would reach nobody and be dead-lettered.
 */
export function checkTenancy(commandLine: CommandLine, tenantClaim: string | undefined): void {
  if (tenantClaim === undefined) return;
  switch (commandLine.command) {
    case 'publish':
      return checkPublishTenancy(commandLine, tenantClaim);
    case 'send':
      return checkSendTenancy(commandLine, tenantClaim);
    case 'history':
      return checkHistoryTenancy(commandLine, tenantClaim);
    case 'streams':
      return checkStreamsTenancy(commandLine, tenantClaim);
  }
}
