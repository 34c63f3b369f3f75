import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import type { ClientRequest } from 'node:http';
import type { InvocationReport } from '../../local/lambda/functions';

/** What the functions of one design did in a measured window, per function. */
export interface FunctionUsage {
  invocations: number;
  /** Lambda bills each invocation's duration rounded up to the millisecond. */
  billedMs: number;
  /** Of which: waiting on DynamoDB Scan responses (the naive design's read of the whole table). */
  scanWaitMs: number;
  coldStarts: number;
  failed: number;
  commands: Record<string, number>;
  attempts: Record<string, number>;
  waitMs: Record<string, number>;
}

/** One window's counts: the functions' SDK commands, and the calls this process made (the event-source pollers, the backend). */
export interface WindowUsage {
  functions: Record<string, FunctionUsage>;
  /** Bytes each function wrote to its log (stdout, stderr): CloudWatch Logs ingestion on AWS. */
  logBytes: Record<string, number>;
  /** Commands sent from this process: the runtime's queue pollers (ReceiveMessage, DeleteMessageBatch) and the benchmark's own sends. */
  local: Record<string, number>;
}

type OnRequestStart = (message: unknown) => void;

/**
 * Collects invocation reports (from the runtime's `onInvocation`) and this process's own SDK
 * commands into windows, so that each measured phase gets exactly the calls it caused.
 */
export class AwsCallMeter {
  private readonly open = new Map<WindowUsage, Set<string> | undefined>();
  private readonly seenInvocationIds = new Set<string>();
  private readonly onRequestStart: OnRequestStart;

  constructor() {
    this.onRequestStart = (message) => this.recordLocal((message as { request: ClientRequest }).request);
    subscribe('http.client.request.start', this.onRequestStart);
  }

  /** For `startLocalRuntime({ onInvocation })`. */
  readonly record = (report: InvocationReport): void => {
    for (const window of this.open.keys()) {
      const usage = (window.functions[report.functionName] ??= {
        invocations: 0,
        billedMs: 0,
        scanWaitMs: 0,
        coldStarts: 0,
        failed: 0,
        commands: {},
        attempts: {},
        waitMs: {},
      });
      usage.invocations += 1;
      usage.billedMs += Math.ceil(report.durationMs);
      usage.scanWaitMs += report.waitMs['DynamoDB.Scan'] ?? 0;
      if (report.initDurationMs !== undefined) usage.coldStarts += 1;
      if (report.failed) usage.failed += 1;
      addInto(usage.commands, report.commands);
      addInto(usage.attempts, report.attempts);
      addInto(usage.waitMs, report.waitMs);
    }
  };

  /** For `startLocalRuntime({ functionLog })`: what the functions write. */
  readonly recordLog = (functionName: string, line: string): void => {
    for (const window of this.open.keys()) {
      window.logBytes[functionName] = (window.logBytes[functionName] ?? 0) + Buffer.byteLength(line) + 1;
    }
  };

  /**
   * Starts a window; `end()` closes it and returns what happened in it. `hosts` (`127.0.0.1:<port>`)
   * limits this process's own calls to those engines, when another runtime's pollers run alongside.
   */
  window(hosts?: string[]): { end(): WindowUsage } {
    const usage: WindowUsage = { functions: {}, logBytes: {}, local: {} };
    this.open.set(usage, hosts && new Set(hosts));
    return {
      end: () => {
        this.open.delete(usage);
        return usage;
      },
    };
  }

  close(): void {
    unsubscribe('http.client.request.start', this.onRequestStart);
  }

  private recordLocal(request: ClientRequest): void {
    if (this.open.size === 0) return;
    const invocationId = request.getHeader('amz-sdk-invocation-id');
    const target = request.getHeader('x-amz-target');
    if (typeof invocationId !== 'string' || typeof target !== 'string') return;
    // A retry repeats the invocation id: count commands, as the functions' counts do.
    if (this.seenInvocationIds.has(invocationId)) return;
    this.seenInvocationIds.add(invocationId);
    const [prefix, operation] = target.split('.');
    const name = `${prefix === 'AmazonSQS' ? 'SQS' : prefix === 'DynamoDB_20120810' ? 'DynamoDB' : prefix}.${operation}`;
    const host = String(request.getHeader('host') ?? '');
    for (const [window, hosts] of this.open) {
      if (!hosts || hosts.has(host)) window.local[name] = (window.local[name] ?? 0) + 1;
    }
  }
}

function addInto(total: Record<string, number>, more: Record<string, number>): void {
  for (const [key, value] of Object.entries(more)) total[key] = (total[key] ?? 0) + value;
}

/** The sum of several functions' usage (a design's delivery path). */
export function combinedUsage(usages: FunctionUsage[]): FunctionUsage {
  const total: FunctionUsage = { invocations: 0, billedMs: 0, scanWaitMs: 0, coldStarts: 0, failed: 0, commands: {}, attempts: {}, waitMs: {} };
  for (const usage of usages) {
    total.invocations += usage.invocations;
    total.billedMs += usage.billedMs;
    total.scanWaitMs += usage.scanWaitMs;
    total.coldStarts += usage.coldStarts;
    total.failed += usage.failed;
    addInto(total.commands, usage.commands);
    addInto(total.attempts, usage.attempts);
    addInto(total.waitMs, usage.waitMs);
  }
  return total;
}
