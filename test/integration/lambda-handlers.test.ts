import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { FunctionError, LocalFunction } from '../../local/functions';

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

const localFunction = (exportName: string): LocalFunction => {
  const fn = new LocalFunction(
    { logicalId: exportName, name: exportName, codeDir, handler: `index.${exportName}`, environment: {}, timeoutSeconds: 5, memoryMb: 128 },
    { baseEnvironment: { AWS_REGION: 'eu-west-1' }, maxInstances: 1, log: () => undefined },
  );
  functions.push(fn);
  return fn;
};
const invoke = (exportName: string, event: unknown = {}) => localFunction(exportName).invoke(event);
const failureOf = async (exportName: string): Promise<FunctionError> => {
  const error = await invoke(exportName).then(
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
