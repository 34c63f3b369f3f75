import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import type { FunctionDefinition } from '../../local/cloudformation/app-model';
import { FunctionError, LocalFunction } from '../../local/lambda/functions';

/**
 * Handlers as they are written for Lambda's Node.js runtimes (up to nodejs22.x), run in the local
 * execution environment: what each answers is what the runtime interface client
 * (aws-lambda-nodejs-runtime-interface-client, CallbackContext.js and Runtime.js) answers.
 */
const HANDLERS = `
// The result is read when it is sent: a timer that runs first shows in it.
exports.callbackThenTimer = (event, context, callback) => {
  const result = { timerRan: false };
  if (event.noWait) context.callbackWaitsForEmptyEventLoop = false;
  callback(null, result);
  setTimeout(() => { result.timerRan = true; }, 50);
};
exports.succeedThenTimer = (event, context) => {
  const result = { timerRan: false };
  context.succeed(result);
  setTimeout(() => { result.timerRan = true; }, 50);
};
exports.callbackError = (event, context, callback) => callback(new TypeError('bad input'));
exports.callbackString = (event, context, callback) => callback('plain failure');
exports.failWithNothing = (event, context) => context.fail();
exports.doneWithResult = (event, context) => context.done(null, { via: 'done' });
exports.callbackThenFail = (event, context, callback) => {
  callback(null, 'first');
  context.fail(new Error('second'));
};
exports.asyncWithCallback = async (event, context, callback) => {
  callback(null, 'from callback');
  return 'from promise';
};
exports.asyncThenCallback = async (event, context, callback) => {
  setTimeout(() => callback(null, 'from callback'), 20);
  return 'from promise';
};
exports.neverAnswers = () => undefined;
exports.asyncNeverSettles = async () => new Promise(() => undefined);
exports.throwsSync = () => { throw new RangeError('out of range'); };
exports.reportsWaitFlag = async (event, context) => context.callbackWaitsForEmptyEventLoop;
exports.describeEnvironment = async () => ({
  version: process.version,
  executionEnv: process.env.AWS_EXECUTION_ENV,
  functionName: process.env.AWS_LAMBDA_FUNCTION_NAME,
  own: process.env.OWN_VARIABLE,
  fromTheTestProcess: process.env.JEST_WORKER_ID ?? null,
});
exports.sleeps = async (event) => {
  await new Promise((resolve) => setTimeout(resolve, event.ms));
  return process.pid;
};
exports.throwsOutsideTheHandler = () => {
  setTimeout(() => { throw new SyntaxError('escaped'); }, 0);
};
`;

let codeDir: string;
const functions: LocalFunction[] = [];

beforeAll(() => {
  codeDir = mkdtempSync(path.join(tmpdir(), 'lambda-handlers-'));
  writeFileSync(path.join(codeDir, 'index.js'), HANDLERS);
});

afterAll(async () => {
  await Promise.all(functions.map((fn) => fn.stop()));
  rmSync(codeDir, { recursive: true, force: true });
});

const localFunction = (exportName: string, definition: Partial<FunctionDefinition> = {}): LocalFunction => {
  const fn = new LocalFunction(
    { logicalId: exportName, name: exportName, codeDir, handler: `index.${exportName}`, runtime: 'nodejs22.x', environment: {}, timeoutSeconds: 5, memoryMb: 128, ...definition },
    { baseEnvironment: { AWS_REGION: 'eu-west-1' }, maxInstances: 1, log: () => undefined },
  );
  functions.push(fn);
  return fn;
};
const invoke = (exportName: string, event: unknown = {}) => localFunction(exportName).invoke(event);
const failureOf = async (exportName: string, fn = localFunction(exportName)): Promise<FunctionError> => {
  const error = await fn.invoke({}).then(
    () => undefined,
    (thrown: unknown) => thrown,
  );
  expect(error).toBeInstanceOf(FunctionError);
  return error as FunctionError;
};

describe('callback-style handlers', () => {
  it('answers a callback result once the event loop is empty (callbackWaitsForEmptyEventLoop defaults to true)', async () => {
    await expect(invoke('callbackThenTimer')).resolves.toEqual({ timerRan: true });
  });

  it('answers a callback result at once when callbackWaitsForEmptyEventLoop is false', async () => {
    await expect(invoke('callbackThenTimer', { noWait: true })).resolves.toEqual({ timerRan: false });
  });

  it('answers context.succeed at once, without waiting for the event loop', async () => {
    await expect(invoke('succeedThenTimer')).resolves.toEqual({ timerRan: false });
  });

  it('answers context.done(null, result) with the result', async () => {
    await expect(invoke('doneWithResult')).resolves.toEqual({ via: 'done' });
  });

  it('fails with the error given to the callback', async () => {
    const error = await failureOf('callbackError');
    expect([error.errorType, error.errorMessage]).toEqual(['TypeError', 'bad input']);
    expect(error.trace[0]).toBe('TypeError: bad input');
  });

  it('reports a non-Error given to the callback by its type and text', async () => {
    const error = await failureOf('callbackString');
    expect([error.errorType, error.errorMessage]).toEqual(['string', 'plain failure']);
  });

  it('fails context.fail() with no error as the string "handled"', async () => {
    const error = await failureOf('failWithNothing');
    expect([error.errorType, error.errorMessage]).toEqual(['string', 'handled']);
  });

  it('keeps the first answer: a context.fail after the callback is ignored', async () => {
    await expect(invoke('callbackThenFail')).resolves.toBe('first');
  });

  it('keeps the first answer between a callback and a returned promise', async () => {
    await expect(invoke('asyncWithCallback')).resolves.toBe('from callback');
    await expect(invoke('asyncThenCallback')).resolves.toBe('from promise');
  });

  it('answers null for a plain handler that never calls back, once the event loop is empty', async () => {
    await expect(invoke('neverAnswers')).resolves.toBeNull();
  });

  it('fails an async handler whose promise can never settle with Runtime.NodeJsExit', async () => {
    const error = await failureOf('asyncNeverSettles');
    expect(error.errorType).toBe('Runtime.NodeJsExit');
  });

  it('fails a handler that throws before answering', async () => {
    const error = await failureOf('throwsSync');
    expect([error.errorType, error.errorMessage]).toEqual(['RangeError', 'out of range']);
  });

  it('exposes callbackWaitsForEmptyEventLoop as true by default', async () => {
    await expect(invoke('reportsWaitFlag')).resolves.toBe(true);
  });

  it('reuses a warm environment after each kind of answer', async () => {
    const fn = localFunction('callbackThenTimer');
    for (const noWait of [false, true, false]) await expect(fn.invoke({ noWait })).resolves.toEqual({ timerRan: !noWait });
    const plain = localFunction('neverAnswers');
    await expect(plain.invoke({})).resolves.toBeNull();
    await expect(plain.invoke({})).resolves.toBeNull();
  });
});

describe('execution environments', () => {
  it("runs each function on the Node.js major of its template's runtime, whatever Node runs the tests", async () => {
    const versionOn = async (runtime: string) => ((await localFunction('describeEnvironment', { runtime }).invoke({})) as { version: string }).version;
    expect(await versionOn('nodejs22.x')).toMatch(/^v22\./);
    expect(await versionOn('nodejs20.x')).toMatch(/^v20\./);
  });

  it("gives the handler the function's own environment, not the test process's", async () => {
    const fn = localFunction('describeEnvironment', { environment: { OWN_VARIABLE: 'own' } });
    await expect(fn.invoke({})).resolves.toEqual({
      version: expect.any(String),
      executionEnv: 'AWS_Lambda_nodejs22.x',
      functionName: 'describeEnvironment',
      own: 'own',
      fromTheTestProcess: null,
    });
  });

  it('fails every invocation of a runtime this machine cannot run, naming the runtime', async () => {
    for (const runtime of ['python3.12', 'nodejs16.x']) {
      const error = await failureOf('describeEnvironment', localFunction('describeEnvironment', { runtime }));
      expect(error.errorType).toBe('Runtime.Unsupported');
      expect(error.errorMessage).toContain(`runtime ${runtime} `);
    }
  });

  it('ends an environment that timed out, as Lambda does, and runs the next invocation in a new one', async () => {
    const fn = localFunction('sleeps', { timeoutSeconds: 1 });
    const before = (await fn.invoke({ ms: 0 })) as number;
    const error = await fn.invoke({ ms: 5_000 }).catch((thrown: unknown) => thrown);
    expect(error).toMatchObject({ errorType: 'Sandbox.Timedout', errorMessage: 'Task timed out after 1.00 seconds' });
    const after = (await fn.invoke({ ms: 0 })) as number;
    expect(after).not.toBe(before);
    expect(isRunning(before)).toBe(false);
  });

  it('fails the invocation with an exception nothing caught, and runs the next one in a new environment', async () => {
    const fn = localFunction('throwsOutsideTheHandler');
    const error = await failureOf('throwsOutsideTheHandler', fn);
    expect([error.errorType, error.errorMessage]).toEqual(['SyntaxError', 'escaped']);
    await expect(failureOf('throwsOutsideTheHandler', fn)).resolves.toMatchObject({ errorType: 'SyntaxError' });
  });
});

function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
