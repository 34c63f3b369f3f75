import { Agent, createServer, type IncomingHttpHeaders, type IncomingMessage, request as forward, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { foreignHostNameOf } from './browser-guard';

/** Where a proxy passes requests on to: a loopback port, or a Unix socket, which no web page can reach. */
export type Upstream = { host: string; port: number } | { socketPath: string };

/** An answer the proxy gives itself instead of passing the request on. */
export interface OwnAnswer {
  status: number;
  contentType: string;
  body: string;
}

export interface LoopbackProxyOptions {
  /** What the upstream is, for the 502 that says it did not answer. */
  name: string;
  /** The headers sent upstream. @default the request's, as they came */
  headers?: (headers: IncomingHttpHeaders) => IncomingHttpHeaders;
  /**
   * Reads a request's body first and answers it itself where this returns an answer; consulted
   * only while `active()` says so, since otherwise the body streams through unread.
   */
  intercept?: { active(): boolean; answer(body: Buffer): OwnAnswer | undefined };
}

/**
 * A local engine's door: it listens on 127.0.0.1, refuses with 403 a request whose `Host` is not a
 * loopback name with its port, as the runtime's own port does (http/browser-guard.ts: a
 * DNS-rebinding page sends its own name), and passes everything else on to the engine.
 */
export class LoopbackProxy {
  private readonly agent = new Agent({ keepAlive: true });

  private constructor(
    private readonly server: Server,
    private readonly upstream: Upstream,
    private readonly options: LoopbackProxyOptions,
  ) {}

  static async start(upstream: Upstream, options: LoopbackProxyOptions): Promise<LoopbackProxy> {
    const server = createServer();
    const proxy = new LoopbackProxy(server, upstream, options);
    server.on('request', (request, response) => void proxy.serve(request, response));
    await new Promise<void>((resolve, reject) => server.once('error', reject).listen(0, '127.0.0.1', resolve));
    return proxy;
  }

  get endpoint(): string {
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise((resolve) => this.server.close(resolve));
    this.agent.destroy();
  }

  private async serve(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const refusal = foreignHostNameOf(request);
    if (refusal) return answer(response, { status: 403, contentType: 'application/json', body: JSON.stringify({ message: refusal }) });
    const { intercept, headers, name } = this.options;
    let body: Buffer | undefined;
    if (intercept?.active()) {
      const chunks: Buffer[] = [];
      for await (const chunk of request) chunks.push(chunk as Buffer);
      body = Buffer.concat(chunks);
      const own = intercept.answer(body);
      if (own) return answer(response, own);
    }
    const upstream = forward(
      { ...this.upstream, agent: this.agent, method: request.method, path: request.url, headers: headers ? headers(request.headers) : request.headers },
      (reply) => {
        response.writeHead(reply.statusCode ?? 502, reply.headers);
        reply.pipe(response);
      },
    );
    upstream.on('error', (error) => {
      if (!response.headersSent) response.writeHead(502, { 'content-type': 'text/plain' });
      response.end(`${name} did not answer: ${error.message}`);
    });
    if (body) upstream.end(body);
    else request.pipe(upstream);
  }
}

function answer(response: ServerResponse, { status, contentType, body }: OwnAnswer): void {
  response.writeHead(status, { 'content-type': contentType, 'content-length': Buffer.byteLength(body) }).end(body);
}
