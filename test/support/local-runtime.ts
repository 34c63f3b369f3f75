import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { SQSClient } from '@aws-sdk/client-sqs';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import WebSocket from 'ws';
import type { ApiGatewayManagementApiClient } from '@aws-sdk/client-apigatewaymanagementapi';
import { ConnectionTable } from '../../lambdas/core/connections';
import { freePort } from '../../local/engines/engine-processes';
import { type LocalOutputs, type LocalRuntime, type LocalRuntimeOptions, startLocalRuntime } from '../../local/runtime';
import { LOCAL_CREDENTIALS, managementApiClient } from './management-api-client';
import { placeSharedSynth, sharedSynth } from './shared-synth';

export const PROJECT_DIR = path.join(__dirname, '..', '..');

export interface RuntimeUnderTest {
  runtime: LocalRuntime;
  outputs: LocalOutputs;
  stateDir: string;
  sqs: SQSClient;
  db: DynamoDBDocumentClient;
  /** The runtime's management API (`ManagementApiEndpoint`), through the real SDK client. */
  managementApi: ApiGatewayManagementApiClient;
  /** A token from the runtime's issuer. */
  tokenFor(userId: string, ttlSeconds?: number): Promise<string>;
  /** The user's connection ids as the table has them, once there are `count` (a client cannot know its own id). */
  connectionIdsOf(userId: string, count: number): Promise<string[]>;
  stop(): Promise<void>;
}

/**
 * `npm start`, in-process: a state directory of its own, no file watching. The project's synth with
 * this context is shared with the other e2e files (see shared-synth.ts): the runtime finds it in its
 * state directory with the reuse record that `npm start` keeps, and runs it without synthesizing.
 */
export async function startRuntimeUnderTest(options: Partial<LocalRuntimeOptions> = {}): Promise<RuntimeUnderTest> {
  const projectDir = options.projectDir ?? PROJECT_DIR;
  const request = { projectDir, ...(options.stackName !== undefined && { stackName: options.stackName }), context: options.context ?? {} };
  const shared = options.synth ? undefined : await sharedSynth(request);
  const stateDir = mkdtempSync(path.join(tmpdir(), 'ws-notify-e2e-'));
  let runtime: LocalRuntime;
  try {
    runtime = await startOnAFreePort(async (port) => {
      // The synth names the issuer, whose URL is the runtime's: the copy is made for the port it gets.
      if (shared) placeSharedSynth(shared, request, stateDir, `http://127.0.0.1:${port}/issuer`);
      return startLocalRuntime({ projectDir, stateDir, ...options, port });
    });
  } catch (error) {
    rmSync(stateDir, { recursive: true, force: true });
    throw error;
  }
  const { outputs } = runtime;
  const clientConfig = { region: outputs.Region, credentials: LOCAL_CREDENTIALS };
  const sqs = new SQSClient({ ...clientConfig, endpoint: outputs.SqsEndpoint, useQueueUrlAsEndpoint: false });
  const db = DynamoDBDocumentClient.from(new DynamoDBClient({ ...clientConfig, endpoint: outputs.DynamoDbEndpoint }));
  const managementApi = managementApiClient(outputs['ManagementApiEndpoint'] as string, { region: outputs.Region });
  return {
    runtime,
    outputs,
    stateDir,
    sqs,
    db,
    managementApi,
    tokenFor: (userId, ttlSeconds) => runtime.issuer.mint({ userId, ...(ttlSeconds !== undefined && { ttlSeconds }) }),
    connectionIdsOf: (userId, count) => {
      const table = new ConnectionTable(db, outputs['ConnectionsTableName'] as string);
      return eventually(async () => {
        const ids: string[] = [];
        for await (const page of table.connectionIdsOf(userId)) ids.push(...page);
        return ids.length === count ? ids : undefined;
      }, `${count} connection(s) of ${userId}`);
    },
    stop: async () => {
      sqs.destroy();
      db.destroy();
      managementApi.destroy();
      await runtime.stop();
      rmSync(stateDir, { recursive: true, force: true });
    },
  };
}

/**
 * Starts the runtime on a loopback port free a moment ago, and on another if something took that
 * one since (the runtime then fails before it starts anything).
 */
async function startOnAFreePort(start: (port: number) => Promise<LocalRuntime>): Promise<LocalRuntime> {
  for (let attempt = 1; ; attempt += 1) {
    const port = await freePort();
    try {
      return await start(port);
    } catch (error) {
      if (attempt === 5 || !(error as Error).message.startsWith(`port ${port} on 127.0.0.1 is in use`)) throw error;
    }
  }
}

/** A real `ws` client that keeps every frame it receives, and how it was closed. */
export class TestClient {
  readonly frames: unknown[] = [];
  closed?: { code: number; reason: string };
  private waiters: (() => void)[] = [];

  private constructor(readonly socket: WebSocket) {
    socket.on('message', (data: Buffer) => {
      const text = data.toString();
      try {
        this.frames.push(JSON.parse(text));
      } catch {
        this.frames.push(text);
      }
      this.notify();
    });
    socket.on('close', (code: number, reason: Buffer) => {
      this.closed = { code, reason: reason.toString() };
      this.notify();
    });
  }

  /** Opens a connection; rejects with the HTTP status if the upgrade is refused. */
  static connect(url: string, options: { protocols?: string[]; headers?: Record<string, string> } = {}): Promise<TestClient> {
    return new Promise((resolve, reject) => {
      const socket = new WebSocket(url, options.protocols ?? [], { headers: options.headers ?? {} });
      const client = new TestClient(socket);
      socket.once('open', () => resolve(client));
      socket.once('unexpected-response', (_request, response) => {
        reject(new UpgradeRefusedError(response.statusCode ?? 0));
        socket.terminate();
      });
      socket.once('error', (error) => reject(error));
    });
  }

  send(frame: unknown): void {
    this.socket.send(typeof frame === 'string' ? frame : JSON.stringify(frame));
  }

  /**
   * The first frame (from the start of the connection) that matches, waiting for it up to `timeoutMs`.
   * Frames are whatever JSON the server sent, so tests read them untyped (`any`) and assert their shape.
   */
  async frame(matches: (frame: any) => boolean, timeoutMs = 10_000): Promise<any> {
    await this.until(() => this.frames.some(matches), timeoutMs, 'a matching frame');
    return this.frames.find(matches);
  }

  async closedWith(timeoutMs = 10_000): Promise<{ code: number; reason: string }> {
    await this.until(() => this.closed !== undefined, timeoutMs, 'the connection to close');
    return this.closed!;
  }

  close(): void {
    this.socket.close();
  }

  private async until(condition: () => boolean, timeoutMs: number, what: string): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!condition()) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; frames so far: ${JSON.stringify(this.frames)}`);
      await new Promise<void>((resolve) => {
        this.waiters.push(resolve);
        setTimeout(resolve, 100);
      });
    }
  }

  private notify(): void {
    for (const resolve of this.waiters.splice(0)) resolve();
  }
}

export class UpgradeRefusedError extends Error {
  override readonly name = 'UpgradeRefusedError';

  constructor(readonly status: number) {
    super(`upgrade refused with HTTP ${status}`);
  }
}

/** Polls `check` until it returns a value other than undefined, or fails after `timeoutMs`. */
export async function eventually<T>(check: () => Promise<T | undefined>, what: string, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}
