import { runLocal } from '../../local/start';
import { HELP as LOCAL_USAGE, type StartOptions, startOptionsFrom } from '../../local/start-options';
import { type HelpCommandLine, UsageError } from '../options';
import { CommandError } from '../target';

// Its usage and options are `npm start`'s (local/start-options.ts): the same runtime, started either way.
export type LocalCommandLine = { command: 'local'; options: StartOptions };

export function parseLocal(args: string[]): LocalCommandLine | HelpCommandLine {
  let options: StartOptions | 'help';
  try {
    options = startOptionsFrom(args);
  } catch (error) {
    throw new UsageError((error as Error).message, LOCAL_USAGE);
  }
  return options === 'help' ? { command: 'help', text: LOCAL_USAGE } : { command: 'local', options };
}

/** `local`: runs the CDK app until Ctrl-C or SIGTERM, on after this resolves; failing to start is the command's failure. */
export async function runLocalCommand(options: StartOptions): Promise<number> {
  await runLocal(options).catch((error: unknown) => {
    throw new CommandError((error as Error).message, { cause: error });
  });
  return 0;
}
