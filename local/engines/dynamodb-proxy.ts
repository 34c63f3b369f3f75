import { Agent, createServer, type IncomingMessage, request as forward, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Faults } from '../dev-endpoints/faults';

/**
 * The tables a DynamoDB (JSON protocol) request names: `TableName`, the keys of a batch's
 * `RequestItems`, and each item of a `TransactItems`.
 */
export function tableNamesOf(body: unknown): string[] {
  if (typeof body !== 'object' || body === null) return [];
  const request = body as { TableName?: unknown; RequestItems?: unknown; TransactItems?: unknown };
  const names: unknown[] = [request.TableName];
  if (typeof request.RequestItems === 'object' && request.RequestItems !== null) names.push(...Object.keys(request.RequestItems));
  if (Array.isArray(request.TransactItems)) {
    for (const item of request.TransactItems as Record<string, { TableName?: unknown } | undefined>[]) {
      names.push(...Object.values(item ?? {}).map((operation) => operation?.TableName));
    }
  }
  return names.filter((name): name is string => typeof name === 'string');
}

/** DynamoDB's throttling answer, which SDK v3 raises as `ProvisionedThroughputExceededException` and retries. */
const THROTTLED = JSON.stringify({
  __type: 'com.amazonaws.dynamodb.v20120810#ProvisionedThroughputExceededException',
  message: 'The table is paused (injected fault)',
});

/**
 * The functions' DynamoDB endpoint: passes every request through to DynamoDB Local, except, while
 * a fault pauses a table, a request naming it, which it answers as DynamoDB answers a throttled one.
 * Clients outside the functions (tests, the CLI) use DynamoDB Local itself, from outputs.json.
 */
export class DynamoDbProxy {
  private readonly agent = new Agent({ keepAlive: true });

  private constructor(
    private readonly server: Server,
    private readonly target: URL,
    private readonly faults: Faults,
  ) {}

  static async start(target: string, faults: Faults): Promise<DynamoDbProxy> {
    const server = createServer();
    const proxy = new DynamoDbProxy(server, new URL(target), faults);
    server.on('request', (request, response) => void proxy.serve(request, response));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
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
    // The body is read only while a table is paused: otherwise it streams through.
    let body: Buffer | undefined;
    if (this.faults.pausesTables) {
      const chunks: Buffer[] = [];
      for await (const chunk of request) chunks.push(chunk as Buffer);
      body = Buffer.concat(chunks);
      if (this.faults.refusesTableRequest(tableNamesOf(parsedOrUndefined(body)))) {
        response.writeHead(400, { 'content-type': 'application/x-amz-json-1.0', 'content-length': Buffer.byteLength(THROTTLED) }).end(THROTTLED);
        return;
      }
    }
    const upstream = forward(
      { agent: this.agent, hostname: this.target.hostname, port: this.target.port, method: request.method, path: request.url, headers: request.headers },
      (answer) => {
        response.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(response);
      },
    );
    upstream.on('error', (error) => {
      if (!response.headersSent) response.writeHead(502, { 'content-type': 'text/plain' });
      response.end(`DynamoDB Local did not answer: ${error.message}`);
    });
    if (body) upstream.end(body);
    else request.pipe(upstream);
  }
}

function parsedOrUndefined(body: Buffer): unknown {
  try {
    return JSON.parse(body.toString('utf8'));
  } catch {
    return undefined;
  }
}
