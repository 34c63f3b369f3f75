import { type Environment, type FunctionEnvironment, KEEPALIVE_MODES, VARIABLES, type VariableName } from '../contract/environment';

export class ConfigurationError extends Error {
  override readonly name = 'ConfigurationError';
}

/**
 * The function's environment as its contract declares it (lambdas/contract/environment.ts), read
 * once, at cold start: a required variable that is missing, or any variable that does not read as
 * its kind, fails the start loudly, naming it. Empty counts as absent.
 */
export function readEnvironment<C extends FunctionEnvironment>(contract: C, env: NodeJS.ProcessEnv = process.env): Environment<C> {
  const { required, optional } = contract;
  const missing = required.filter((name) => !env[name]);
  if (missing.length > 0) throw new ConfigurationError(`missing environment variable(s): ${missing.join(', ')}`);
  const values: Partial<Record<VariableName, unknown>> = {};
  for (const name of [...required, ...optional]) {
    const text = env[name];
    if (text) values[name] = valueOf(name, text);
  }
  return values as Environment<C>;
}

function valueOf(name: VariableName, text: string): unknown {
  switch (VARIABLES[name]) {
    case 'text':
      return text;
    case 'count': {
      const count = Number(text);
      if (!Number.isInteger(count) || count < 0) throw new ConfigurationError(`environment variable ${name} must be a whole number, not "${text}"`);
      return count;
    }
    case 'flag':
      if (text !== 'true' && text !== 'false') throw new ConfigurationError(`environment variable(s) ${name} must be "true" or "false"`);
      return text === 'true';
    case 'json':
      try {
        return JSON.parse(text) as unknown;
      } catch (cause) {
        throw new ConfigurationError(`environment variable ${name} must be JSON`, { cause });
      }
    case 'keepalive':
      if (!(KEEPALIVE_MODES as readonly string[]).includes(text)) throw new ConfigurationError(`KEEPALIVE must be off, requested or all, not "${text}"`);
      return text;
  }
}
