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
