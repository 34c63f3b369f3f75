import { type ChildProcess, fork } from 'node:child_process';
import * as path from 'node:path';
import type { FleetReply, FleetRequest, RunRecord, SocketSpec } from './fleet-protocol';

type Request = FleetRequest extends infer R ? (R extends { id: number } ? Omit<R, 'id'> : never) : never;

const FLEET_FILE = path.join(__dirname, 'client-fleet.ts');
const PROJECT_DIR = path.join(__dirname, '..', '..');

/** What one run delivered, with latencies in this process's clock. */
export interface Deliveries extends Omit<RunRecord, 'latencies'> {
  latenciesMs: Float64Array;
}

/**
 * The WebSocket clients, in a child process (bench/clients/client-fleet.ts), and how to drive them: open
 * connections, then count and time the notification frames of each run.
 */
export class ClientFleet {
  private nextId = 1;
  private readonly pending = new Map<number, { resolve: (value: unknown) => void; reject: (error: Error) => void; onProgress?: (progress: { opened: number; failed: number }) => void }>();
  /** The fleet's clock minus ours, in ms, measured on the round trip with the least delay. */
  private clockOffsetMs = 0;

  private constructor(private readonly child: ChildProcess) {
    child.on('message', (reply: FleetReply) => {
      const waiting = this.pending.get(reply.id);
      if (!waiting) return;
      if (reply.progress) return waiting.onProgress?.(reply.progress);
      this.pending.delete(reply.id);
      if (reply.error !== undefined) waiting.reject(new Error(`client fleet: ${reply.error}`));
      else waiting.resolve(reply.result);
    });
    child.on('exit', (code) => {
      for (const waiting of this.pending.values()) waiting.reject(new Error(`client fleet exited (${code})`));
      this.pending.clear();
    });
  }

  static async start(): Promise<ClientFleet> {
    const child = fork(FLEET_FILE, [], {
      cwd: PROJECT_DIR,
      execArgv: ['--import', 'tsx'],
      serialization: 'advanced',
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    const fleet = new ClientFleet(child);
    await fleet.calibrateClock();
    return fleet;
  }

  async connect(sockets: SocketSpec[], options: { concurrency: number; onProgress?: (progress: { opened: number; failed: number }) => void }): Promise<{ opened: number; failed: number; errors: string[] }> {
    return (await this.call({ method: 'connect', sockets, concurrency: options.concurrency }, options.onProgress)) as {
      opened: number;
      failed: number;
      errors: string[];
    };
  }

  async track(runId: string): Promise<void> {
    await this.call({ method: 'track', runId });
  }

  async status(runId: string): Promise<{ deliveries: number; duplicates: number; lastAt: number }> {
    const status = (await this.call({ method: 'status', runId })) as { deliveries: number; duplicates: number; lastAt: number };
    return { ...status, lastAt: status.lastAt - this.clockOffsetMs };
  }

  async take(runId: string): Promise<Deliveries> {
    const { latencies, ...record } = (await this.call({ method: 'take', runId })) as RunRecord;
    const offset = this.clockOffsetMs;
    return {
      ...record,
      firstAt: record.firstAt - offset,
      lastAt: record.lastAt - offset,
      latenciesMs: latencies.map((latency) => latency - offset),
    };
  }

  async census(): Promise<{ open: number; closeCodes: Record<string, number>; rssMb: number }> {
    return (await this.call({ method: 'census' })) as { open: number; closeCodes: Record<string, number>; rssMb: number };
  }

  async closeAll(): Promise<number> {
    return (await this.call({ method: 'closeAll' })) as number;
  }

  async stop(): Promise<void> {
    if (this.child.exitCode !== null) return;
    const exited = new Promise((resolve) => this.child.once('exit', resolve));
    this.child.disconnect();
    const killer = setTimeout(() => this.child.kill('SIGKILL'), 5_000);
    await exited;
    clearTimeout(killer);
  }

  /** Both processes stamp frames with epoch milliseconds; the offset makes their stamps comparable. */
  private async calibrateClock(): Promise<void> {
    let best = { rtt: Infinity, offset: 0 };
    for (let round = 0; round < 9; round++) {
      const sent = performance.timeOrigin + performance.now();
      const theirs = (await this.call({ method: 'clock' })) as number;
      const received = performance.timeOrigin + performance.now();
      if (received - sent < best.rtt) best = { rtt: received - sent, offset: theirs - (sent + received) / 2 };
    }
    this.clockOffsetMs = best.offset;
  }

  private call(request: Request, onProgress?: (progress: { opened: number; failed: number }) => void): Promise<unknown> {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject, ...(onProgress && { onProgress }) });
      this.child.send({ ...request, id });
    });
  }
}
