import { type ChildProcess, fork } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import * as path from 'node:path';
import { createInterface } from 'node:readline';
import type { FunctionDefinition } from '../cloudformation/app-model';
import { nodeExecutableFor, UnsupportedRuntimeError } from './node-runtimes';

/** A function invocation that failed, shaped like Lambda's error payload. */
export class FunctionError extends Error {
  override readonly name = 'FunctionError';

  constructor(
    readonly functionName: string,
    readonly errorType: string,
    readonly errorMessage: string,
    /** The error's stack, line by line, as Lambda's error payload carries it. */
    readonly trace: string[] = [],
  ) {
    super(`${functionName} failed: ${errorType}: ${errorMessage}`);
  }
}

export interface FunctionRuntimeOptions {
  /** Environment every function gets besides its own: region, local credentials, engine endpoints. */
  baseEnvironment: Record<string, string>;
  /** Execution environments a function may run at once; further invocations wait for one. */
  maxInstances: number;
  /** Each line a function writes to stdout or stderr. */
  log: (functionName: string, line: string) => void;
  /** If given, execution environments measure each invocation and report it here (for benchmarks). */
  onInvocation?: (report: InvocationReport) => void;
}

/** What an execution environment measured of one invocation, when asked to (`onInvocation`). */
export interface InvocationReport {
  functionName: string;
  /** The handler's run time, from the event's arrival in the environment to its result, as Lambda bills it. */
  durationMs: number;
  /** The environment's init (importing the bundle), on the first invocation it ran. */
  initDurationMs?: number;
  /** AWS SDK commands sent during the invocation, by `Service.Operation` (e.g. `DynamoDB.Query`), retries not counted. */
  commands: Record<string, number>;
  /** HTTP requests those commands took, retries included. */
  attempts: Record<string, number>;
  /** Milliseconds from each of those requests' start to its response's end, summed by operation. */
  waitMs: Record<string, number>;
  failed: boolean;
}

interface Instance {
  child: ChildProcess;
  /** Settles when the environment has loaded its handler (or failed to); an event is sent only then. */
  ready: Promise<void>;
  exited: Promise<void>;
  /** The code it runs: environments of older code are retired once their invocation ends. */
  codeVersion: number;
  retired?: boolean;
  pending?: { invocationId: string; settle: (outcome: { result?: unknown; error?: Error }) => void };
}

const ENVIRONMENT_FILE = path.join(__dirname, 'execution-environment.mjs');

/** Lambda's limit on an environment's init, after which the invocation fails. */
const INIT_TIMEOUT_MS = 10_000;

type EnvironmentMessage =
  | { ready: true }
  | {
      invocationId: string;
      result?: unknown;
      error?: { errorType: string; errorMessage: string; stack: string[] };
      measurement?: Omit<InvocationReport, 'functionName' | 'failed'>;
      /** The environment ends after this answer (an exception nothing caught): no invocation may take it. */
      exiting?: true;
    };

/**
 * Runs one function's synthesized bundle as Lambda would: each execution environment (a process on
 * the Node.js major of the function's runtime, with the function's own environment variables)
 * handles one event at a time and is reused while warm; a timeout ends the environment, as Lambda
 * does, and the next invocation starts a new one.
 */
export class LocalFunction {
  private readonly idle: Instance[] = [];
  private readonly waiting: { resolve: (instance: Instance) => void; reject: (error: Error) => void }[] = [];
  private instances = 0;
  private stopped = false;
  /** The runtime's `node`, or why this machine cannot run the function (each invocation fails with it). */
  private readonly node: string | FunctionError;
  private codeVersion = 0;

  constructor(
    private current: FunctionDefinition,
    private readonly options: FunctionRuntimeOptions,
  ) {
    try {
      this.node = nodeExecutableFor(current.runtime);
    } catch (error) {
      if (!(error instanceof UnsupportedRuntimeError)) throw error;
      this.node = new FunctionError(current.name, 'Runtime.Unsupported', error.message);
    }
  }

  get definition(): FunctionDefinition {
    return this.current;
  }

  /**
   * Runs the code in `codeDir` from now on, as an update of the function's code does on Lambda:
   * idle environments end, busy ones end after their invocation, new ones load the new code.
   */
  async replaceCode(codeDir: string): Promise<void> {
    this.current = { ...this.current, codeDir };
    this.codeVersion += 1;
    await Promise.all(this.idle.splice(0).map((instance) => this.retire(instance)));
  }

  async invoke(event: unknown): Promise<unknown> {
    const instance = await this.acquire();
    const invocationId = randomUUID();
    const timeoutMs = this.definition.timeoutSeconds * 1000;
    try {
      const outcome = await new Promise<{ result?: unknown; error?: Error }>((settle) => {
        instance.pending = { invocationId, settle };
        void this.whenReady(instance).then((initError) => {
          if (initError) return instance.pending?.settle({ error: initError });
          if (instance.pending?.invocationId !== invocationId) return;
          const timer = setTimeout(() => {
            settle({ error: new FunctionError(this.definition.name, 'Sandbox.Timedout', `Task timed out after ${this.definition.timeoutSeconds}.00 seconds`) });
            void this.retire(instance);
          }, timeoutMs);
          instance.pending = {
            invocationId,
            settle: (value) => {
              clearTimeout(timer);
              settle(value);
            },
          };
          const context = {
            awsRequestId: invocationId,
            functionName: this.definition.name,
            functionVersion: '$LATEST',
            invokedFunctionArn: `arn:aws:lambda:${this.options.baseEnvironment['AWS_REGION']}:000000000000:function:${this.definition.name}`,
            memoryLimitInMB: String(this.definition.memoryMb),
            logGroupName: `/aws/lambda/${this.definition.name}`,
            logStreamName: 'local',
            deadline: Date.now() + timeoutMs,
          };
          instance.child.send({ invocationId, event, context });
        });
      });
      if (outcome.error) throw outcome.error;
      return outcome.result;
    } finally {
      delete instance.pending;
      this.release(instance);
    }
  }

  /** Ends every execution environment; invocations still running fail, and so do those waiting for one. */
  async stop(): Promise<void> {
    this.stopped = true;
    for (const waiter of this.waiting.splice(0)) waiter.reject(this.stoppedError());
    const all = [...this.idle];
    this.idle.length = 0;
    await Promise.all(all.map((instance) => this.retire(instance)));
  }

  private acquire(): Promise<Instance> {
    if (this.node instanceof FunctionError) return Promise.reject(this.node);
    if (this.stopped) return Promise.reject(this.stoppedError());
    const warm = this.idle.pop();
    if (warm) return Promise.resolve(warm);
    if (this.instances < this.options.maxInstances) return Promise.resolve(this.coldStart(this.node));
    return new Promise((resolve, reject) => this.waiting.push({ resolve, reject }));
  }

  private release(instance: Instance): void {
    if (instance.retired) return;
    if (this.stopped) {
      void this.retire(instance);
      return;
    }
    if (instance.codeVersion !== this.codeVersion) {
      // Its exit hands its place to an environment of the new code, for an invocation waiting for one.
      void this.retire(instance);
      return;
    }
    const next = this.waiting.shift();
    if (next) next.resolve(instance);
    else this.idle.push(instance);
  }

  /** Undefined once the environment is ready; the invocation's error if it exits or takes too long first. */
  private async whenReady(instance: Instance): Promise<FunctionError | undefined> {
    let timer: NodeJS.Timeout | undefined;
    const tooLong = new Promise<FunctionError>((resolve) => {
      timer = setTimeout(() => {
        void this.retire(instance);
        resolve(new FunctionError(this.definition.name, 'Runtime.InitTimeout', `Init timed out after ${INIT_TIMEOUT_MS / 1000}.00 seconds`));
      }, INIT_TIMEOUT_MS);
    });
    const exited = instance.exited.then(() => new FunctionError(this.definition.name, 'Runtime.ExitError', 'execution environment exited before it was ready'));
    try {
      return await Promise.race([instance.ready.then(() => undefined), tooLong, exited]);
    } finally {
      clearTimeout(timer);
    }
  }

  private coldStart(node: string): Instance {
    const { definition, options } = this;
    const child = fork(ENVIRONMENT_FILE, options.onInvocation ? ['--measure'] : [], {
      execPath: node,
      // Not this process's flags (a TypeScript loader, say): Lambda's Node runs with none. Only a CPU
      // profile asked of the runtime extends to its functions (bench/measurements/profile-summary.ts reads them).
      execArgv: process.execArgv.filter((flag) => flag.startsWith('--cpu-prof')),
      cwd: definition.codeDir,
      env: {
        ...options.baseEnvironment,
        ...definition.environment,
        // As on Lambda, the runtime's own bin directory first: `node` there is the function's Node.
        PATH: [path.dirname(node), process.env['PATH']].filter(Boolean).join(path.delimiter),
        AWS_EXECUTION_ENV: `AWS_Lambda_${definition.runtime}`,
        AWS_LAMBDA_FUNCTION_NAME: definition.name,
        AWS_LAMBDA_FUNCTION_MEMORY_SIZE: String(definition.memoryMb),
        AWS_LAMBDA_FUNCTION_VERSION: '$LATEST',
        LAMBDA_TASK_ROOT: definition.codeDir,
        _HANDLER: definition.handler,
      },
      stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
      // A process group of its own: a Ctrl-C in the terminal reaches the runtime, which still runs
      // `$disconnect` before it stops its functions; the environment ends with its IPC channel.
      detached: true,
      serialization: 'json',
    });
    for (const stream of [child.stdout, child.stderr]) {
      if (stream) createInterface({ input: stream }).on('line', (line) => options.log(definition.name, line));
    }
    let markReady!: () => void;
    const ready = new Promise<void>((resolve) => (markReady = resolve));
    const exited = new Promise<void>((resolve) => {
      let counted = true;
      const gone = (reason: string) => {
        if (!counted) return;
        counted = false;
        this.instances -= 1;
        instance.retired = true;
        const index = this.idle.indexOf(instance);
        if (index >= 0) this.idle.splice(index, 1);
        instance.pending?.settle({ error: new FunctionError(definition.name, 'Runtime.ExitError', reason) });
        // An invocation waiting for an environment gets a new one in its place.
        const next = this.waiting.shift();
        if (next) next.resolve(this.coldStart(node));
        resolve();
      };
      child.once('exit', (code, signal) => gone(`execution environment exited (${signal ?? `code ${code}`})`));
      // A failed spawn, or a send to an environment that just exited: it is gone either way.
      child.on('error', (error) => gone(`execution environment failed: ${error.message}`));
    });
    const instance: Instance = { child, ready, exited, codeVersion: this.codeVersion };
    child.on('message', (message: EnvironmentMessage) => {
      if ('ready' in message) return markReady();
      if (instance.pending?.invocationId !== message.invocationId) return;
      if (message.exiting) instance.retired = true;
      if (message.measurement) options.onInvocation?.({ functionName: definition.name, ...message.measurement, failed: message.error !== undefined });
      instance.pending.settle(
        message.error
          ? { error: new FunctionError(definition.name, message.error.errorType, message.error.errorMessage, message.error.stack) }
          : { result: message.result },
      );
    });
    this.instances += 1;
    return instance;
  }

  private async retire(instance: Instance): Promise<void> {
    instance.retired = true;
    const index = this.idle.indexOf(instance);
    if (index >= 0) this.idle.splice(index, 1);
    // As Lambda ends an environment that timed out: at once, whatever it is doing.
    instance.child.kill('SIGKILL');
    await instance.exited;
  }

  private stoppedError(): FunctionError {
    return new FunctionError(this.definition.name, 'Runtime.Stopped', 'the local runtime is stopping');
  }
}
