// One Lambda execution environment: loads a synthesized bundle and runs its handler, one event at a
// time, in a worker thread whose process.env is the function's own environment (as in Lambda).
// Plain JavaScript because worker threads load files without the TypeScript loader.
import { existsSync } from 'node:fs';
import * as path from 'node:path';
import { performance } from 'node:perf_hooks';
import { pathToFileURL } from 'node:url';
import { parentPort, workerData } from 'node:worker_threads';

const { codeDir, handler, measure } = workerData;
// Only when the runtime asks for measurements (benchmarks): the handler's duration and its SDK calls.
const sdkCalls = measure ? (await import('./sdk-calls.mjs')).countSdkCalls() : undefined;
const separator = handler.lastIndexOf('.');
const moduleName = handler.slice(0, separator);
const exportName = handler.slice(separator + 1);

async function loadHandler() {
  const file = ['.js', '.mjs', '.cjs']
    .map((extension) => path.join(codeDir, moduleName + extension))
    .find((candidate) => existsSync(candidate));
  if (!file) throw Object.assign(new Error(`Cannot find module '${moduleName}' in ${codeDir}`), { name: 'Runtime.ImportModuleError' });
  const loaded = await import(pathToFileURL(file).href);
  const fn = loaded[exportName] ?? loaded.default?.[exportName];
  if (typeof fn !== 'function') {
    throw Object.assign(new Error(`${handler} is undefined or not exported`), { name: 'Runtime.HandlerNotFound' });
  }
  return fn;
}

function serializeError(error) {
  return {
    errorType: error?.name ?? 'Error',
    errorMessage: error?.message ?? String(error),
    stack: typeof error?.stack === 'string' ? error.stack.split('\n') : [],
  };
}

// An init failure is reported on every invocation, as Lambda does, rather than crashing the worker.
const initStarted = performance.now();
let initDurationMs;
const ready = loadHandler().finally(() => (initDurationMs = performance.now() - initStarted)).then(
  (fn) => ({ fn }),
  (error) => ({ initError: serializeError(error) }),
);

parentPort.on('message', async ({ invocationId, event, context }) => {
  const loaded = await ready;
  if (loaded.initError) return parentPort.postMessage({ invocationId, error: loaded.initError });
  const lambdaContext = {
    ...context,
    callbackWaitsForEmptyEventLoop: true,
    getRemainingTimeInMillis: () => Math.max(0, context.deadline - Date.now()),
    done: () => undefined,
    fail: () => undefined,
    succeed: () => undefined,
  };
  sdkCalls?.take();
  const started = performance.now();
  const measured = () => {
    if (!sdkCalls) return {};
    const measurement = { durationMs: performance.now() - started, ...sdkCalls.take() };
    // The first invocation of an environment reports its init (the bundle's import), as Lambda's REPORT line does.
    if (initDurationMs !== undefined) measurement.initDurationMs = initDurationMs;
    initDurationMs = undefined;
    return { measurement };
  };
  try {
    const result = await loaded.fn(event, lambdaContext);
    parentPort.postMessage({ invocationId, result: result === undefined ? null : result, ...measured() });
  } catch (error) {
    parentPort.postMessage({ invocationId, error: serializeError(error), ...measured() });
  }
});
