import { parseArgs } from 'node:util';
import { InvalidMessageError, parseMessage } from '../lambdas/core/messages';
import { USAGE } from './usage';

/** A command line that cannot be run as given; the CLI prints `message`, then `usage`, and exits 2. */
export class UsageError extends Error {
  override readonly name = 'UsageError';

  constructor(
    message: string,
    readonly usage: string,
  ) {
    super(message);
  }
}

/** Which stack a command acts on (see `resolveTarget`). */
export interface TargetOptions {
  outputsFile?: string;
  stackName?: string;
}

/** `--help`: the usage to print. */
export type HelpCommandLine = { command: 'help'; text: string };

/** The command's string options (each given once), its boolean `flags`, the target's, --help, and up to `positionals` arguments. */
export function parseOptions<const Name extends string, const Flag extends string = never>(
  args: string[],
  usage: string,
  names: readonly Name[],
  { positionals: allowed = 0, flags = [] as readonly Flag[] } = {},
): ParsedOptions<Name, Flag> & { positionals: string[] } {
  const strings = Object.fromEntries([...names, 'outputs', 'stack'].map((name) => [name, { type: 'string' as const }]));
  const booleans = Object.fromEntries(flags.map((name) => [name, { type: 'boolean' as const }]));
  try {
    const { values, positionals } = parseArgs({
      args,
      options: { ...strings, ...booleans, help: { type: 'boolean', short: 'h' } },
      strict: true,
      allowPositionals: allowed > 0,
    });
    if (positionals.length > allowed) throw new TypeError(`Unexpected argument '${positionals[allowed]}'`);
    // The options are built from `names` and `flags`, which parseArgs's types cannot follow.
    return { ...(values as ParsedOptions<Name, Flag>), positionals };
  } catch (error) {
    const { code, message } = error as Error & { code?: string };
    // Node's advice for an unknown option (pass it after `--`) does not apply: no command takes positionals.
    throw new UsageError(code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION' ? (message.split('.')[0] as string) : message, usage);
  }
}

type ParsedOptions<Name extends string, Flag extends string = never> = { [name in Name | 'outputs' | 'stack']?: string } & {
  [flag in Flag | 'help']?: boolean;
};

export function targetOf(values: { outputs?: string | undefined; stack?: string | undefined }): TargetOptions {
  return {
    ...(values.outputs !== undefined && { outputsFile: required(values.outputs, '--outputs', USAGE) }),
    ...(values.stack !== undefined && { stackName: required(values.stack, '--stack', USAGE) }),
  };
}

export function required(value: string | undefined, option: string, usage: string): string {
  if (value === undefined) throw new UsageError(`${option} is required`, usage);
  if (value === '') throw new UsageError(`${option} cannot be empty`, usage);
  return value;
}

export function parseJson(text: string, option: string, usage: string): unknown {
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new UsageError(`${option} is not valid JSON (${(error as Error).message}); quote it for the shell, e.g. '{"text":"hi"}'`, usage);
  }
}

/** Checked with the schema the queue's consumer applies, so that a message it would dead-letter is never sent. */
export function validMessage<T>(schema: Parameters<typeof parseMessage<T>>[0], message: unknown, usage: string): T {
  try {
    return parseMessage(schema, JSON.stringify(message));
  } catch (error) {
    if (error instanceof InvalidMessageError) throw new UsageError(`the queue would refuse this message: ${error.message}`, usage);
    throw error;
  }
}

/**
 * A message that names no tenant, for a multi-tenant stack (one with a `tenantClaim`): it would
 * reach nobody and be dead-lettered.
 */
export function untenantedMessage(tenantClaim: string, usage: string): UsageError {
  return new UsageError(`the stack is multi-tenant (tenant claim "${tenantClaim}"): name the tenant with --tenant, or the message reaches nobody`, usage);
}

/** Every stream of a multi-tenant stack is in a tenant: without one, nothing would be found. */
export function untenantedStream(tenantClaim: string, usage: string): UsageError {
  return new UsageError(`the stack is multi-tenant (tenant claim "${tenantClaim}"): name the stream's tenant with --tenant`, usage);
}
