import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { type ConnectionInfo, type ConnectionRegistry, handleManagementApiRequest, type PostOutcome } from '../../local/apigateway/management-api';

/** A management API on loopback whose connections are a test's: it records frames and can be told to throttle. */
export class RecordingConnections implements ConnectionRegistry {
  readonly frames = new Map<string, unknown[]>();
  private readonly open = new Set<string>();
  private readonly throttledPosts = new Map<string, number>();
  private onDisconnect: ((connectionId: string) => Promise<unknown>) | undefined;
  private readonly disconnects: Promise<unknown>[] = [];

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
    if (!this.open.delete(connectionId)) return false;
    if (this.onDisconnect) this.disconnects.push(this.onDisconnect(connectionId));
    return true;
  }

  /**
   * Runs `handler` for each connection a DeleteConnection closes from now on, as API Gateway runs
   * `$disconnect` after it (none: the rows stay, as while `$disconnect` is pending).
   */
  runOnDisconnect(handler: ((connectionId: string) => Promise<unknown>) | undefined): void {
    this.onDisconnect = handler;
  }

  /** Resolves once every `$disconnect` started so far has run. */
  async disconnected(): Promise<void> {
    await Promise.all(this.disconnects);
  }
}

/**
 * The errors the management API answers when AWS fails a call: the SDK's model gives 429 the type
 * `LimitExceededException` (throttling, after which the SDK retries); a 5xx is API Gateway's
 * `InternalServerErrorException`. The SDK retries both, then throws.
 */
const AWS_ERRORS = {
  429: { type: 'LimitExceededException', message: 'Rate exceeded' },
  500: { type: 'InternalServerErrorException', message: 'Internal server error' },
} as const;
export type InjectedStatus = keyof typeof AWS_ERRORS;
type Method = 'POST' | 'GET' | 'DELETE';

interface Injection {
  status: InjectedStatus;
  method: Method | undefined;
  remaining: number;
}

/** A call the server answered: which, to which connection, and with what status. */
export interface ManagementApiCall {
  method: string;
  connectionId: string;
  status: number;
}

/** Failures a test tells the server to answer with instead of what the connection would get. */
export class InjectedFailures {
  readonly calls: ManagementApiCall[] = [];
  private readonly byConnection = new Map<string, Injection>();
  private next: Injection | undefined;

  /** The connection's next `times` calls (of `method` only, if given) answer `status`; every call, if `times` is left out. */
  failConnection(connectionId: string, status: InjectedStatus, { times = Infinity, method }: { times?: number; method?: Method } = {}): void {
    this.byConnection.set(connectionId, { status, method, remaining: times });
  }

  /** The next `count` calls, whatever their connection, answer `status`. */
  failNext(count: number, status: InjectedStatus): void {
    this.next = { status, method: undefined, remaining: count };
  }

  clear(): void {
    this.byConnection.clear();
    this.next = undefined;
  }

  /** The calls made to the connection, in order. */
  callsTo(connectionId: string, method?: Method): ManagementApiCall[] {
    return this.calls.filter((call) => call.connectionId === connectionId && (method === undefined || call.method === method));
  }

  /** The status to fail this call with, if any, using up one injected failure. */
  take(method: string, connectionId: string): InjectedStatus | undefined {
    for (const injection of [this.next, this.byConnection.get(connectionId)]) {
      if (injection && injection.remaining > 0 && (injection.method === undefined || injection.method === method)) {
        injection.remaining -= 1;
        return injection.status;
      }
    }
    return undefined;
  }
}

export interface ManagementApiServer {
  endpoint: string;
  /** Failures to answer with, and every call answered. */
  failures: InjectedFailures;
  stop(): Promise<void>;
}

export async function startManagementApi(registry: ConnectionRegistry, stage: string): Promise<ManagementApiServer> {
  const failures = new InjectedFailures();
  const server: Server = createServer((request, response) => {
    const [, , resource, encodedId] = new URL(request.url ?? '/', 'http://localhost').pathname.split('/');
    const connectionId = resource === '@connections' && encodedId ? decodeURIComponent(encodedId) : '';
    response.on('finish', () => failures.calls.push({ method: request.method ?? '', connectionId, status: response.statusCode }));
    const injected = connectionId ? failures.take(request.method ?? '', connectionId) : undefined;
    if (injected) {
      const { type, message } = AWS_ERRORS[injected];
      request.resume();
      request.on('end', () => response.writeHead(injected, { 'content-type': 'application/json', 'x-amzn-ErrorType': type }).end(JSON.stringify({ message })));
      return;
    }
    if (!handleManagementApiRequest(registry, stage, request, response)) response.writeHead(404).end();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    endpoint: `http://127.0.0.1:${port}/${stage}`,
    failures,
    stop: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
