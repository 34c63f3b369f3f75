import { randomUUID } from 'node:crypto';
import * as path from 'node:path';
import { createInterface } from 'node:readline';
import { Worker } from 'node:worker_threads';
import type { FunctionDefinition } from './app-model';

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
  worker: Worker;
  /** The code it runs: environments of older code are retired once their invocation ends. */
  codeVersion: number;
  retired?: boolean;
  pending?: { invocationId: string; settle: (outcome: { result?: unknown; error?: Error }) => void };
}

const WORKER_FILE = path.join(__dirname, 'lambda-worker.mjs');

interface WorkerReply {
  invocationId: string;
  result?: unknown;
  error?: { errorType: string; errorMessage: string; stack: string[] };
  measurement?: Omit<InvocationReport, 'functionName' | 'failed'>;
}

/**
 * Runs one function's synthesized bundle as Lambda would: each execution environment (a worker
 * thread with the function's own environment variables) handles one event at a time and is reused
 * while warm; a timeout ends the environment, as Lambda does.
 */
export class LocalFunction {
  private readonly idle: Instance[] = [];
  private readonly waiting: ((instance: Instance) => void)[] = [];
  private instances = 0;
  private stopped = false;
  private codeVersion = 0;

  constructor(
    private current: FunctionDefinition,
    private readonly options: FunctionRuntimeOptions,
  ) {}

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
        instance.worker.postMessage({ invocationId, event, context });
      });
      if (outcome.error) throw outcome.error;
      return outcome.result;
    } finally {
      delete instance.pending;
      this.release(instance);
    }
  }

  /** Ends every execution environment; invocations still running fail. */
  async stop(): Promise<void> {
    this.stopped = true;
    const all = [...this.idle];
    this.idle.length = 0;
    await Promise.all(all.map((instance) => this.retire(instance)));
  }

  private acquire(): Promise<Instance> {
    if (this.stopped) return Promise.reject(new FunctionError(this.definition.name, 'Runtime.Stopped', 'the local runtime is stopping'));
    const warm = this.idle.pop();
    if (warm) return Promise.resolve(warm);
    if (this.instances < this.options.maxInstances) return Promise.resolve(this.coldStart());
    return new Promise((resolve) => this.waiting.push(resolve));
  }

  private release(instance: Instance): void {
    if (instance.retired) return;
    if (this.stopped) {
      void this.retire(instance);
      return;
    }
    if (instance.codeVersion !== this.codeVersion) {
      void this.retire(instance);
      // Its place goes to an environment of the new code, for an invocation waiting for one.
      this.waiting.shift()?.(this.coldStart());
      return;
    }
    const next = this.waiting.shift();
    if (next) next(instance);
    else this.idle.push(instance);
  }

  private coldStart(): Instance {
    const { definition, options } = this;
    const worker = new Worker(WORKER_FILE, {
      workerData: { codeDir: definition.codeDir, handler: definition.handler, measure: options.onInvocation !== undefined },
      env: {
        ...options.baseEnvironment,
        ...definition.environment,
        AWS_LAMBDA_FUNCTION_NAME: definition.name,
        AWS_LAMBDA_FUNCTION_MEMORY_SIZE: String(definition.memoryMb),
        AWS_LAMBDA_FUNCTION_VERSION: '$LATEST',
        LAMBDA_TASK_ROOT: definition.codeDir,
        _HANDLER: definition.handler,
      },
      stdout: true,
      stderr: true,
    });
    for (const stream of [worker.stdout, worker.stderr]) {
      createInterface({ input: stream }).on('line', (line) => options.log(definition.name, line));
    }
    const instance: Instance = { worker, codeVersion: this.codeVersion };
    worker.on('message', (message: WorkerReply) => {
      if (instance.pending?.invocationId !== message.invocationId) return;
      if (message.measurement) options.onInvocation?.({ functionName: definition.name, ...message.measurement, failed: message.error !== undefined });
      instance.pending.settle(
        message.error
          ? { error: new FunctionError(definition.name, message.error.errorType, message.error.errorMessage, message.error.stack) }
          : { result: message.result },
      );
    });
    worker.on('error', (error) => {
      instance.pending?.settle({ error: new FunctionError(definition.name, 'Runtime.ExitError', error.message) });
    });
    worker.on('exit', () => {
      this.instances -= 1;
      instance.pending?.settle({ error: new FunctionError(definition.name, 'Runtime.ExitError', 'execution environment exited') });
    });
    this.instances += 1;
    return instance;
  }

  private async retire(instance: Instance): Promise<void> {
    instance.retired = true;
    const index = this.idle.indexOf(instance);
    if (index >= 0) this.idle.splice(index, 1);
    await instance.worker.terminate();
  }
}
