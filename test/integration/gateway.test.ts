import {
  type ApiGatewayManagementApiClient,
  DeleteConnectionCommand,
  GetConnectionCommand,
  GoneException,
  PostToConnectionCommand,
} from '@aws-sdk/client-apigatewaymanagementapi';
import { createServer, type Server } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import type { RouteDefinition, WebSocketApiDefinition } from '../../local/cloudformation/app-model';
import { FunctionError } from '../../local/lambda/functions';
import { type GatewayLimits, WebSocketGateway } from '../../local/apigateway/websocket-api';
import { handleManagementApiRequest } from '../../local/apigateway/management-api';
import { eventually, TestClient, UpgradeRefusedError } from '../support/local-runtime';
import { managementApiClient } from '../support/management-api-client';

/**
 * The API's functions, as plain functions: what each returns or throws is the test's to choose.
 * Events are API Gateway's JSON, read untyped (`any`) so each test asserts the fields it cares about.
 */
type TestFunction = (event: any) => unknown;

const events: { functionName: string; event: any }[] = [];
let functions: Record<string, TestFunction>;
let routes: RouteDefinition[];
let limits: GatewayLimits;
let server: Server;
let gateway: WebSocketGateway;
let url: string;
let management: ApiGatewayManagementApiClient;
const clients: TestClient[] = [];

const allow = (context: Record<string, unknown> = {}) => ({
  principalId: 'user-1',
  policyDocument: { Version: '2012-10-17', Statement: [{ Action: 'execute-api:Invoke', Effect: 'Allow', Resource: '*' }] },
  context,
});
const route = (routeKey: string, functionName: string, extra: Partial<RouteDefinition> = {}): RouteDefinition => ({
  routeKey,
  functionName,
  hasRouteResponse: false,
  ...extra,
});

beforeEach(async () => {
  events.length = 0;
  functions = {
    authorize: () => allow({ userId: 'user-1' }),
    connect: () => ({ statusCode: 200 }),
    disconnect: () => ({ statusCode: 200 }),
    echo: (event) => ({ statusCode: 200, body: `echo:${event.body}` }),
    boom: () => {
      throw new Error('kaput');
    },
  };
  routes = [
    route('$connect', 'connect', { authorizer: { functionName: 'authorize', identitySources: [] } }),
    route('$disconnect', 'disconnect'),
    route('echo', 'echo', { hasRouteResponse: true }),
    route('quiet', 'echo'),
    route('boom', 'boom', { hasRouteResponse: true }),
  ];
  limits = { idleTimeoutMs: 60_000, maxConnectionMs: 60_000 };
  const api = (): WebSocketApiDefinition => ({
    apiId: 'abcdefghij',
    stageName: 'live',
    routeSelectionExpression: '$request.body.action',
    routes: new Map(routes.map((definition) => [definition.routeKey, definition])),
  });
  const invoke = async (functionName: string, event: unknown) => {
    events.push({ functionName, event });
    try {
      return await functions[functionName]!(event);
    } catch (error) {
      // What LocalFunction throws for a function error.
      throw new FunctionError(functionName, 'Error', (error as Error).message);
    }
  };
  gateway = new WebSocketGateway(() => ({ api: api(), region: 'eu-west-1', invoke }), limits, () => undefined);
  server = createServer((request, response) => {
    // As the runtime serves them: the management API, then plain requests on the WebSocket URL.
    if (handleManagementApiRequest(gateway, 'live', request, response)) return;
    if (!gateway.handlePlainRequest(request, response)) response.writeHead(404).end();
  });
  server.on('upgrade', (request, socket, head) => void gateway.handleUpgrade(request, socket, head));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  url = `ws://127.0.0.1:${port}/live`;
  management?.destroy();
  management = managementApiClient(`http://127.0.0.1:${port}/live`, { region: 'eu-west-1', maxAttempts: 1 });
});

afterAll(() => management?.destroy());

afterEach(async () => {
  for (const client of clients.splice(0)) client.socket.terminate();
  await gateway.closeAll();
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

async function connect(options: Parameters<typeof TestClient.connect>[1] = {}): Promise<TestClient> {
  const client = await TestClient.connect(url, options);
  clients.push(client);
  return client;
}

const eventsOf = (functionName: string) => events.filter((call) => call.functionName === functionName).map((call) => call.event);

describe('the $connect authorizer', () => {
  it('gets the REQUEST event: methodArn of $connect, headers as sent, the query string', async () => {
    await connect({ headers: { 'X-Custom-Header': 'yes' } }).catch(() => undefined);
    await TestClient.connect(`${url}?token=abc&tag=1&tag=2`).then((client) => clients.push(client));

    const [, event] = eventsOf('authorize');
    expect(event).toMatchObject({
      type: 'REQUEST',
      methodArn: 'arn:aws:execute-api:eu-west-1:000000000000:abcdefghij/live/$connect',
      queryStringParameters: { token: 'abc', tag: '2' },
      multiValueQueryStringParameters: { token: ['abc'], tag: ['1', '2'] },
      stageVariables: {},
      requestContext: { routeKey: '$connect', eventType: 'CONNECT', stage: 'live', apiId: 'abcdefghij' },
    });
    expect(eventsOf('authorize')[0].headers['X-Custom-Header']).toBe('yes');
  });

  const deny = { Version: '2012-10-17', Statement: [{ Action: 'execute-api:Invoke', Effect: 'Deny', Resource: '*' }] };
  const otherMethod = {
    Version: '2012-10-17',
    Statement: [{ Action: 'execute-api:Invoke', Effect: 'Allow', Resource: 'arn:aws:execute-api:*:*:other/*' }],
  };
  const fail = (message: string) => () => {
    throw new Error(message);
  };
  it.each<[string, number, TestFunction]>([
    ['throws "Unauthorized"', 401, fail('Unauthorized')],
    ['denies', 403, () => ({ ...allow(), policyDocument: deny })],
    ['allows another method only', 403, () => ({ ...allow(), policyDocument: otherMethod })],
    ['returns no policy', 500, () => ({ principalId: 'x' })],
    ['throws anything else', 500, fail('JWKS down')],
  ])('refuses the upgrade when it %s (HTTP %d), without running $connect', async (_, status, authorize) => {
    functions['authorize'] = authorize;

    await expect(connect()).rejects.toEqual(new UpgradeRefusedError(status));
    expect(eventsOf('connect')).toEqual([]);
  });

  it("connects with a result of exactly 8 KB, and refuses one byte more with 500 (API Gateway's quota on an authorizer's result)", async () => {
    /** An Allow whose JSON is exactly `bytes` long, padded in its context. */
    const allowOf = (bytes: number) => {
      const padding = bytes - JSON.stringify(allow({ userId: 'user-1', padding: '' })).length;
      return allow({ userId: 'user-1', padding: 'x'.repeat(padding) });
    };
    functions['authorize'] = () => allowOf(8192);
    await connect();
    expect(eventsOf('connect')).toHaveLength(1);

    functions['authorize'] = () => allowOf(8193);
    await expect(connect()).rejects.toEqual(new UpgradeRefusedError(500));
    expect(eventsOf('connect')).toHaveLength(1);
  });

  it('refuses with 401 without calling the authorizer when a listed identity source is missing', async () => {
    routes[0]!.authorizer!.identitySources = ['route.request.header.Authorization', 'route.request.querystring.key'];

    await expect(connect({ headers: { Authorization: 'x' } })).rejects.toEqual(new UpgradeRefusedError(401));
    expect(eventsOf('authorize')).toEqual([]);
    await TestClient.connect(`${url}?key=k`, { headers: { Authorization: 'x' } }).then((client) => clients.push(client));
    expect(eventsOf('authorize')).toHaveLength(1);
  });

  it("passes its context (values as strings) to $connect (with integrationLatency), to each message and to $disconnect", async () => {
    functions['authorize'] = () => allow({ userId: 'alice', exp: 123 });
    const client = await connect();
    client.send({ action: 'echo' });
    await client.frame((frame) => frame === 'echo:{"action":"echo"}');
    client.close();
    await eventually(async () => eventsOf('disconnect')[0], '$disconnect');

    expect(eventsOf('connect')[0].requestContext.authorizer).toEqual({
      userId: 'alice',
      exp: '123',
      principalId: 'user-1',
      integrationLatency: expect.any(Number),
    });
    expect(eventsOf('echo')[0].requestContext.authorizer).toEqual({ userId: 'alice', exp: '123', principalId: 'user-1' });
    expect(eventsOf('disconnect')[0].requestContext.authorizer).toEqual({ userId: 'alice', exp: '123', principalId: 'user-1' });
  });
});

describe('$connect', () => {
  it('refuses the upgrade with the status $connect returns when it is not 2xx', async () => {
    functions['connect'] = () => ({ statusCode: 400 });
    await expect(connect()).rejects.toEqual(new UpgradeRefusedError(400));
  });

  it("refuses with 502 when $connect throws (API Gateway's answer to a failed Lambda integration)", async () => {
    functions['connect'] = () => {
      throw new Error('table missing');
    };
    await expect(connect()).rejects.toEqual(new UpgradeRefusedError(502));
  });

  it('selects the subprotocol $connect returns in Sec-WebSocket-Protocol', async () => {
    functions['connect'] = () => ({ statusCode: 200, headers: { 'Sec-WebSocket-Protocol': 'chat.v2' } });
    const client = await connect({ protocols: ['chat.v1', 'chat.v2'] });
    expect(client.socket.protocol).toBe('chat.v2');
  });
});

describe('a plain HTTP request on the WebSocket URL', () => {
  it('answers GET on the stage and any path below it with 426 Upgrade Required, as API Gateway does', async () => {
    const httpUrl = url.replace('ws://', 'http://');
    for (const target of [httpUrl, `${httpUrl}/${Date.now()}`, `${httpUrl}/${Date.now()}/${Date.now()}`]) {
      const response = await fetch(target);
      expect([target, response.status, response.headers.get('upgrade')]).toEqual([target, 426, 'websocket']);
      await response.text();
    }
    expect(eventsOf('connect')).toEqual([]);
  });
});

describe('routing frames', () => {
  it('sends the integration body back only on routes that have a route response', async () => {
    const client = await connect();
    client.send({ action: 'quiet' });
    client.send({ action: 'echo', n: 1 });

    await client.frame((frame) => typeof frame === 'string' && frame.startsWith('echo:'));
    expect(eventsOf('echo')).toHaveLength(2);
    expect(client.frames).toEqual(['echo:{"action":"echo","n":1}']);
  });

  it('answers "Internal server error" when the integration fails, and keeps the connection', async () => {
    const client = await connect();
    client.send({ action: 'boom' });

    const frame = await client.frame((candidate) => candidate.message !== undefined);
    expect(frame).toEqual({ message: 'Internal server error', connectionId: expect.any(String), requestId: expect.any(String) });
    client.send({ action: 'echo' });
    await client.frame((candidate) => candidate === 'echo:{"action":"echo"}');
  });

  it('answers "Forbidden" when no route matches and there is no $default', async () => {
    const client = await connect();
    client.send({ action: 'nothing-here' });

    expect(await client.frame((frame) => frame.message !== undefined)).toMatchObject({ message: 'Forbidden' });
  });

  it('gives each message event the MESSAGE requestContext', async () => {
    const client = await connect({ headers: { 'User-Agent': 'test-agent' } });
    client.send({ action: 'echo' });
    await client.frame((frame) => typeof frame === 'string');

    expect(eventsOf('echo')[0]).toEqual({
      requestContext: expect.objectContaining({
        routeKey: 'echo',
        eventType: 'MESSAGE',
        messageDirection: 'IN',
        messageId: expect.any(String),
        connectionId: eventsOf('connect')[0].requestContext.connectionId,
        connectedAt: eventsOf('connect')[0].requestContext.connectedAt,
        identity: { sourceIp: '127.0.0.1', userAgent: 'test-agent' },
        requestTime: expect.stringMatching(/^\d\d\/[A-Z][a-z]{2}\/\d{4}:\d\d:\d\d:\d\d \+0000$/),
      }),
      body: '{"action":"echo"}',
      isBase64Encoded: false,
    });
  });
});

describe('closing, and what $disconnect is told', () => {
  it("reports the client's close code and reason", async () => {
    const client = await connect();
    client.socket.close(4000, 'bye');

    const [event] = await eventually(async () => (eventsOf('disconnect').length ? eventsOf('disconnect') : undefined), '$disconnect');
    expect(event.requestContext).toMatchObject({ eventType: 'DISCONNECT', disconnectStatusCode: 4000, disconnectReason: 'bye' });
  });

  it('reports 1005 when the client closes without a code', async () => {
    const client = await connect();
    client.socket.close();

    const [event] = await eventually(async () => (eventsOf('disconnect').length ? eventsOf('disconnect') : undefined), '$disconnect');
    expect(event.requestContext).toMatchObject({ disconnectStatusCode: 1005, disconnectReason: 'Client-side close frame status not set' });
  });

  it('closes an idle connection with 1001 "Going away"', async () => {
    limits.idleTimeoutMs = 300;
    const client = await connect();

    expect(await client.closedWith()).toEqual({ code: 1001, reason: 'Going away' });
    const [event] = await eventually(async () => (eventsOf('disconnect').length ? eventsOf('disconnect') : undefined), '$disconnect');
    expect(event.requestContext).toMatchObject({ disconnectStatusCode: 1001, disconnectReason: 'Going away' });
  });

  it('keeps open a connection the server posts to, as traffic either way resets API Gateway\'s idle timer', async () => {
    limits.idleTimeoutMs = 400;
    const client = await connect();
    const { connectionId } = eventsOf('connect')[0].requestContext;
    const started = Date.now();
    const posting = setInterval(() => void management.send(new PostToConnectionCommand({ ConnectionId: connectionId, Data: '{"type":"keepalive"}' })).catch(() => undefined), 100);

    await eventually(async () => (client.frames.length >= 10 ? true : undefined), 'ten posts');
    clearInterval(posting);

    // Open for well past the idle timeout while posted to; closed for idleness once the posts stop.
    expect(Date.now() - started).toBeGreaterThan(800);
    expect(await client.closedWith()).toEqual({ code: 1001, reason: 'Going away' });
  });

  it('closes a busy connection at the maximum connection duration', async () => {
    limits.maxConnectionMs = 600;
    const client = await connect();
    const pinging = setInterval(() => client.socket.readyState === client.socket.OPEN && client.send({ action: 'quiet' }), 100);

    expect(await client.closedWith()).toEqual({ code: 1001, reason: 'Going away' });
    clearInterval(pinging);
    expect(eventsOf('echo').length).toBeGreaterThan(2);
  });
});

describe('dropping a connection (fault injection)', () => {
  it("cuts the connections of a principal off without a close frame, and $disconnect is told 1006", async () => {
    const client = await connect();

    expect(gateway.drop({ principalIds: ['user-1'] })).toHaveLength(1);
    expect(await client.closedWith()).toEqual({ code: 1006, reason: '' });
    const [event] = await eventually(async () => (eventsOf('disconnect').length ? eventsOf('disconnect') : undefined), '$disconnect');
    expect(event.requestContext).toMatchObject({ disconnectStatusCode: 1006 });
    expect(gateway.drop({ connectionIds: [event.requestContext.connectionId] })).toEqual([]);
  });
});

describe('closing every connection (a stop)', () => {
  it('waits for $disconnects beyond the stall window while they keep finishing', async () => {
    // One at a time, 100 ms each: ten take a second, five times the 200 ms the wait allows without progress.
    let queue: Promise<unknown> = Promise.resolve();
    let finished = 0;
    functions['disconnect'] = () => (queue = queue.then(() => new Promise((resolve) => setTimeout(resolve, 100))).then(() => (finished += 1)));
    await Promise.all(Array.from({ length: 10 }, () => connect()));

    await gateway.closeAll(200);

    expect(finished).toBe(10);
  });

  it('gives up on a $disconnect that never finishes once the stall window passes', async () => {
    let release: (value?: unknown) => void = () => undefined;
    functions['disconnect'] = () => new Promise((resolve) => (release = resolve));
    await connect();
    const started = Date.now();

    await gateway.closeAll(300);

    expect(Date.now() - started).toBeGreaterThanOrEqual(300);
    expect(Date.now() - started).toBeLessThan(5_000);
    release();
  });
});

describe('the management API on a closing connection', () => {
  /** A client that stops reading, so its close handshake never ends and the connection stays closing. */
  const stopReading = (client: TestClient) => (client.socket as unknown as { _socket: Socket })._socket.pause();
  const expectGoneOnEveryVerb = async (connectionId: string) => {
    await expect(management.send(new GetConnectionCommand({ ConnectionId: connectionId }))).rejects.toBeInstanceOf(GoneException);
    await expect(management.send(new PostToConnectionCommand({ ConnectionId: connectionId, Data: '{}' }))).rejects.toBeInstanceOf(GoneException);
    await expect(management.send(new DeleteConnectionCommand({ ConnectionId: connectionId }))).rejects.toBeInstanceOf(GoneException);
  };

  it("answers GoneException (410) on every verb once the client's close frame arrived", async () => {
    const client = await connect();
    const { connectionId } = eventsOf('connect')[0].requestContext;
    await management.send(new GetConnectionCommand({ ConnectionId: connectionId }));
    stopReading(client);
    client.socket.close(1000, 'bye');

    await eventually(
      () => management.send(new GetConnectionCommand({ ConnectionId: connectionId })).then(() => undefined, (error: unknown) => error),
      'GetConnection to fail',
    );
    await expectGoneOnEveryVerb(connectionId);
    expect(eventsOf('disconnect')).toEqual([]);
  });

  it('answers GoneException (410) on every verb once the server began closing', async () => {
    const client = await connect();
    const { connectionId } = eventsOf('connect')[0].requestContext;
    stopReading(client);
    await management.send(new DeleteConnectionCommand({ ConnectionId: connectionId }));

    await expectGoneOnEveryVerb(connectionId);
  });
});
