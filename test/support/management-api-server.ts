import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { type ConnectionInfo, type ConnectionRegistry, handleManagementApiRequest, type PostOutcome } from '../../local/management-api';

/** A management API on loopback whose connections are a test's: it records frames and can be told to throttle. */
export class RecordingConnections implements ConnectionRegistry {
  readonly frames = new Map<string, unknown[]>();
  private readonly open = new Set<string>();
  private readonly throttledPosts = new Map<string, number>();

  connect(...connectionIds: string[]): void {
    for (const id of connectionIds) this.open.add(id);
  }

  /** The next `count` posts to the connection answer 429 LimitExceededException. */
  throttle(connectionId: string, count: number): void {
    this.throttledPosts.set(connectionId, count);
  }

  framesOf(connectionId: string): unknown[] {
    return this.frames.get(connectionId) ?? [];
  }

  post(connectionId: string, data: Buffer): PostOutcome {
    if (!this.open.has(connectionId)) return 'gone';
    const throttled = this.throttledPosts.get(connectionId) ?? 0;
    if (throttled > 0) {
      this.throttledPosts.set(connectionId, throttled - 1);
      return 'throttled';
    }
    this.frames.set(connectionId, [...this.framesOf(connectionId), JSON.parse(data.toString())]);
    return 'sent';
  }

  info(connectionId: string): ConnectionInfo | undefined {
    if (!this.open.has(connectionId)) return undefined;
    return { connectedAt: new Date(), lastActiveAt: new Date(), identity: { sourceIp: '127.0.0.1' } };
  }

  close(connectionId: string): boolean {
    return this.open.delete(connectionId);
  }
}

export interface ManagementApiServer {
  endpoint: string;
  stop(): Promise<void>;
}

export async function startManagementApi(registry: ConnectionRegistry, stage: string): Promise<ManagementApiServer> {
  const server: Server = createServer((request, response) => {
    if (!handleManagementApiRequest(registry, stage, request, response)) response.writeHead(404).end();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    endpoint: `http://127.0.0.1:${port}/${stage}`,
    stop: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
