export class ConfigurationError extends Error {
  override readonly name = 'ConfigurationError';
}

/** Reads the named environment variables once, at cold start; a missing one fails the start loudly. */
export function readConfig<const Name extends string>(...names: Name[]): Record<Name, string> {
  const missing = names.filter((name) => !process.env[name]);
  if (missing.length > 0) {
    throw new ConfigurationError(`missing environment variable(s): ${missing.join(', ')}`);
  }
  return Object.fromEntries(names.map((name) => [name, process.env[name]])) as Record<Name, string>;
}

/** Reads settings that may be absent (a feature the stack was deployed without); empty counts as absent. */
export function readOptionalConfig<const Name extends string>(...names: Name[]): Partial<Record<Name, string>> {
  return Object.fromEntries(names.filter((name) => process.env[name]).map((name) => [name, process.env[name]])) as Partial<
    Record<Name, string>
  >;
}

/** Reads settings that are `true` or `false`; anything else (absent included) fails the start loudly. */
export function readFlags<const Name extends string>(...names: Name[]): Record<Name, boolean> {
  const config = readConfig(...names);
  const invalid = names.filter((name) => config[name] !== 'true' && config[name] !== 'false');
  if (invalid.length > 0) throw new ConfigurationError(`environment variable(s) ${invalid.join(', ')} must be "true" or "false"`);
  return Object.fromEntries(names.map((name) => [name, config[name] === 'true'])) as Record<Name, boolean>;
}
