// One Lambda execution environment: a process of its own, on the Node.js of the function's runtime,
// whose process.env is the function's environment (as in Lambda). It loads the synthesized bundle
// named by LAMBDA_TASK_ROOT and _HANDLER, as Lambda's runtime does, and runs its handler one event at
// a time, told by its parent over the IPC channel. Plain JavaScript: it runs on Node with no loader.
import { existsSync } from 'node:fs';
import * as path from 'node:path';
import { performance } from 'node:perf_hooks';
import { pathToFileURL } from 'node:url';

const codeDir = process.env.LAMBDA_TASK_ROOT;
const handler = process.env._HANDLER;
const measure = process.argv.includes('--measure');
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

// Lambda's error payload: an Error's name, message and stack; anything else (a callback given a
// string, say) as its type and text, as the Node.js runtime interface client reports it.
function serializeError(error) {
  const errorLike = error instanceof Error || (typeof error?.name === 'string' && typeof error?.message === 'string' && typeof error?.stack === 'string');
  if (errorLike) return { errorType: error.name, errorMessage: error.message, stack: typeof error.stack === 'string' ? error.stack.split('\n') : [] };
  return { errorType: typeof error, errorMessage: String(error), stack: [] };
}

// An init failure is reported on every invocation, as Lambda does, rather than ending the environment.
const initStarted = performance.now();
let initDurationMs;
const ready = loadHandler().finally(() => (initDurationMs = performance.now() - initStarted)).then(
  (fn) => ({ fn }),
  (error) => ({ initError: serializeError(error) }),
);

// Lambda's Node.js runtimes (up to 22) answer "when the event loop is empty" in two cases: a callback
// given a result while callbackWaitsForEmptyEventLoop is true, and a handler that neither returns a
// promise nor calls back. Between invocations the IPC channel keeps the loop alive; during one it is
// unreferenced, so the loop empties exactly when the handler's own work is done.
let onEmptyEventLoop;
// Fails the invocation running now, if any: for an exception nothing caught.
let failCurrent;
process.on('beforeExit', () => {
  const run = onEmptyEventLoop;
  onEmptyEventLoop = undefined;
  run?.();
});

process.on('message', async ({ invocationId, event, context }) => {
  const loaded = await ready;
  if (loaded.initError) return process.send({ invocationId, error: loaded.initError });
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

  let replied = false;
  const reply = (outcome, sent) => {
    if (replied) return;
    replied = true;
    onEmptyEventLoop = undefined;
    failCurrent = undefined;
    process.channel.ref();
    process.send({ invocationId, ...outcome, ...measured() }, sent);
  };
  const succeedNow = (result) => reply({ result: result === undefined ? null : result });
  const failNow = (error) => reply({ error: serializeError(error) });
  failCurrent = (error, sent) => reply({ error: serializeError(error), exiting: true }, sent);

  // As the runtime interface client's CallbackContext: the callback waits for the empty event loop
  // (unless told not to) on success only; context.done/succeed/fail answer at once; the first call
  // of any of them wins and later ones are ignored.
  let waitForEmptyEventLoop = true;
  let finished = false;
  const firstCallOnly = (fn) => (...args) => {
    if (finished) return;
    finished = true;
    fn(...args);
  };
  const done = (error, result) => (error !== undefined && error !== null ? failNow(error) : succeedNow(result));
  const callback = firstCallOnly((error, result) => {
    if (error !== undefined && error !== null) failNow(error);
    else if (waitForEmptyEventLoop) onEmptyEventLoop = () => setImmediate(() => succeedNow(result));
    else succeedNow(result);
  });
  const lambdaContext = {
    ...context,
    get callbackWaitsForEmptyEventLoop() {
      return waitForEmptyEventLoop;
    },
    set callbackWaitsForEmptyEventLoop(value) {
      waitForEmptyEventLoop = value;
    },
    getRemainingTimeInMillis: () => Math.max(0, context.deadline - Date.now()),
    done: firstCallOnly(done),
    succeed: firstCallOnly((result) => done(null, result)),
    // fail() with nothing still fails, with the string 'handled'.
    fail: firstCallOnly((error) => done(error === undefined || error === null ? 'handled' : error, null)),
  };
  delete lambdaContext.deadline;

  // A handler that never answers: a plain one succeeds with null once the loop is empty; an async
  // one whose promise can no longer settle fails, as Lambda's runtime reports it.
  onEmptyEventLoop = () => {
    finished = true;
    if (loaded.fn.constructor?.name === 'AsyncFunction') {
      failNow(Object.assign(new Error('Runtime exited without providing a reason'), { name: 'Runtime.NodeJsExit' }));
    } else succeedNow(null);
  };
  process.channel.unref();
  try {
    const result = loaded.fn(event, lambdaContext, callback);
    if (typeof result?.then === 'function') result.then(lambdaContext.succeed, lambdaContext.fail);
  } catch (error) {
    callback(error);
  }
});

// The parent is gone (stopped, or killed without a chance to stop us): so is this environment.
process.on('disconnect', () => process.exit(0));

// As Lambda's runtime: an exception nothing caught fails the invocation it happened in, with that
// error, and ends the environment (the next invocation starts a new one).
process.on('uncaughtException', (error) => {
  console.error('Uncaught Exception', error);
  if (failCurrent) failCurrent(error, () => process.exit(129));
  else process.exit(129);
});

// Told once the handler is loaded (or failed to load), so that the function's timeout runs from the
// event's arrival, as Lambda's does, and no event is sent before the listener above exists.
await ready;
process.send({ ready: true });
