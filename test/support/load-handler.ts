import * as path from 'node:path';

/**
 * Loads `lambdas/handlers/<name>` afresh, as a Lambda cold start would, with `env` set while its
 * module scope reads the configuration; the previous values are restored afterwards.
 */
export function loadHandler<Handler>(name: string, env: Record<string, string>): Handler {
  const previous = Object.fromEntries(Object.keys(env).map((key) => [key, process.env[key]]));
  Object.assign(process.env, env);
  try {
    let handler!: Handler;
    jest.isolateModules(() => {
      ({ handler } = require(path.join(__dirname, '..', '..', 'lambdas', 'handlers', name)) as { handler: Handler });
    });
    return handler;
  } finally {
    for (const [key, value] of Object.entries(previous)) {
      if (value === undefined) delete process.env[key];
      else process.env[key] = value;
    }
  }
}
