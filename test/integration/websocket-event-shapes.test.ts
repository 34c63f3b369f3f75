import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import WebSocket from 'ws';
import type { RouteDefinition } from '../../local/cloudformation/app-model';
import { FunctionError } from '../../local/lambda/functions';
import { WebSocketGateway } from '../../local/apigateway/websocket-api';
// API Gateway's events as AWS delivers them: the sources of each are in test/fixtures/README.md.
import awsAuthorizerEvent from '../fixtures/authorizer-event.json';
import awsConnectEvent from '../fixtures/connect-event.json';
import awsDisconnectEvent from '../fixtures/disconnect-event.json';
import awsMessageEvent from '../fixtures/message-event.json';
import { eventually, TestClient, UpgradeRefusedError } from '../support/local-runtime';

/** Events are API Gateway's JSON, read untyped (`any`): the tests compare them with the fixtures. */
const events: { functionName: string; event: any }[] = [];
let authorizerContext: unknown;
let server: Server;
let gateway: WebSocketGateway;
let url: string;
const clients: TestClient[] = [];

const route = (routeKey: string, functionName: string, extra: Partial<RouteDefinition> = {}): RouteDefinition => ({
  routeKey,
  functionName,
  hasRouteResponse: false,
  ...extra,
});

// A gateway per test: closeAll() waits for the $disconnects of the test's connections, so none
// reaches the next test.
beforeEach(async () => {
  events.length = 0;
  authorizerContext = { userId: 'alice', exp: 1770634800 };
  const functions: Record<string, () => unknown> = {
    authorize: () => ({
      principalId: 'alice',
      policyDocument: { Version: '2012-10-17', Statement: [{ Action: 'execute-api:Invoke', Effect: 'Allow', Resource: '*' }] },
      context: authorizerContext,
    }),
    connect: () => ({ statusCode: 200 }),
    disconnect: () => ({ statusCode: 200 }),
    ping: () => ({ statusCode: 200 }),
  };
  const routes = [
    route('$connect', 'connect', { authorizer: { functionName: 'authorize', identitySources: [] } }),
    route('$disconnect', 'disconnect'),
    route('ping', 'ping'),
  ];
  const api = { apiId: 'abcdef123', stageName: 'live', routeSelectionExpression: '$request.body.action', routes: new Map(routes.map((r) => [r.routeKey, r])) };
  const invoke = async (functionName: string, event: unknown) => {
    events.push({ functionName, event });
    try {
      return await functions[functionName]!();
    } catch (error) {
      throw new FunctionError(functionName, 'Error', (error as Error).message);
    }
  };
  gateway = new WebSocketGateway(() => ({ api, region: 'us-east-1', invoke }), { idleTimeoutMs: 60_000, maxConnectionMs: 60_000 }, () => undefined);
  server = createServer((_request, response) => response.writeHead(404).end());
  server.on('upgrade', (request, socket, head) => void gateway.handleUpgrade(request, socket, head));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  url = `ws://127.0.0.1:${(server.address() as AddressInfo).port}/live`;
});

afterEach(async () => {
  for (const client of clients.splice(0)) client.socket.terminate();
  await gateway?.closeAll();
  server?.closeAllConnections();
  await new Promise((resolve) => server?.close(resolve));
});

async function connect(options: Parameters<typeof TestClient.connect>[1] = {}, query = ''): Promise<TestClient> {
  const client = await TestClient.connect(`${url}${query}`, options);
  clients.push(client);
  return client;
}

const eventOf = (functionName: string) => eventually(async () => events.find((call) => call.functionName === functionName)?.event, functionName);

/** A value's shape: objects key by key (in order), anything else by its JSON type. */
function shapeOf(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(shapeOf);
  if (value !== null && typeof value === 'object') return Object.entries(value).map(([key, field]) => [key, shapeOf(field)]);
  return value === null ? 'null' : typeof value;
}

/**
 * A `ws` client sends what the captured clients sent (Host, Sec-WebSocket-Key/-Version/-Extensions,
 * Connection, Upgrade), so each local event must have exactly the fixture's fields, in its order,
 * with its value types and header casing.
 */
describe('the local events have the fields, value types and header casing AWS delivers', () => {
  it('the REQUEST authorizer event, with the handshake headers API Gateway sets', async () => {
    await connect();

    const event = await eventOf('authorize');
    expect(shapeOf(event)).toEqual(shapeOf(awsAuthorizerEvent));
    expect(event.headers).toMatchObject({ Connection: 'upgrade', 'content-length': '0', Upgrade: 'websocket', 'X-Forwarded-For': '127.0.0.1' });
  });

  it('$connect, without the handshake headers', async () => {
    await connect();

    const event = await eventOf('connect');
    expect(shapeOf(event)).toEqual(shapeOf(awsConnectEvent));
    expect(event.headers['X-Amzn-Trace-Id']).toMatch(/^Root=1-[0-9a-f]{8}-[0-9a-f]{24}$/);
    expect(event.headers['X-Forwarded-Port']).toBe(new URL(url).port);
  });

  it('a message', async () => {
    const client = await connect();
    client.send({ action: 'ping' });

    expect(shapeOf(await eventOf('ping'))).toEqual(shapeOf(awsMessageEvent));
  });

  it('$disconnect', async () => {
    const client = await connect();
    client.close();

    expect(shapeOf(await eventOf('disconnect'))).toEqual(shapeOf(awsDisconnectEvent));
  });
});

describe('what API Gateway does with the request', () => {
  it("keeps a client's X-Forwarded-For and appends the caller, and replaces the trace and forwarded headers it sets", async () => {
    await connect({ headers: { 'X-Forwarded-For': '198.51.100.7', 'x-forwarded-port': '1', 'X-Amzn-Trace-Id': 'mine' } });

    const { headers, multiValueHeaders } = await eventOf('connect');
    expect(headers['X-Forwarded-For']).toBe('198.51.100.7, 127.0.0.1');
    expect(Object.keys(headers).filter((name) => /^x-(forwarded|amzn)/i.test(name))).toEqual([
      'X-Amzn-Trace-Id',
      'X-Forwarded-For',
      'X-Forwarded-Port',
      'X-Forwarded-Proto',
    ]);
    expect(headers['X-Amzn-Trace-Id']).not.toBe('mine');
    expect(multiValueHeaders['X-Forwarded-For']).toEqual(['198.51.100.7, 127.0.0.1']);
  });

  it('gives a repeated header its last value in headers and every value, in order, in multiValueHeaders', async () => {
    const socket = new WebSocket(url, { headers: { 'X-Tag': ['first', 'second'] } });
    await new Promise((resolve, reject) => socket.once('open', resolve).once('error', reject));
    socket.terminate();

    const { headers, multiValueHeaders } = await eventOf('connect');
    expect(headers['X-Tag']).toBe('second');
    expect(multiValueHeaders['X-Tag']).toEqual(['first', 'second']);
  });

  it("gives $connect the query string both ways (the last value of a repeated parameter, and every value), and the User-Agent as identity.userAgent", async () => {
    await connect({ headers: { 'User-Agent': 'conformance/1' } }, '?token=abc&tag=1&tag=2');

    const event = await eventOf('connect');
    expect(event.queryStringParameters).toEqual({ token: 'abc', tag: '2' });
    expect(event.multiValueQueryStringParameters).toEqual({ token: ['abc'], tag: ['1', '2'] });
    expect(event.requestContext.identity).toEqual({ userAgent: 'conformance/1', sourceIp: '127.0.0.1' });
  });
});

describe("the authorizer's context, as integrations get it", () => {
  it('turns numbers and booleans into strings, on $connect, each message and $disconnect', async () => {
    authorizerContext = { userId: 'alice', exp: 1770634800, anonymous: false, ratio: 0.5 };
    const client = await connect();
    client.send({ action: 'ping' });
    await eventOf('ping');
    client.close();

    const strings = { userId: 'alice', exp: '1770634800', anonymous: 'false', ratio: '0.5', principalId: 'alice' };
    expect((await eventOf('connect')).requestContext.authorizer).toEqual({ ...strings, integrationLatency: expect.any(Number) });
    expect((await eventOf('ping')).requestContext.authorizer).toEqual(strings);
    expect((await eventOf('disconnect')).requestContext.authorizer).toEqual(strings);
  });

  it("drops a key whose value is undefined, as Lambda's JSON result does", async () => {
    authorizerContext = { userId: 'alice', tenant: undefined };
    await connect();

    expect((await eventOf('connect')).requestContext.authorizer).toEqual({ userId: 'alice', principalId: 'alice', integrationLatency: expect.any(Number) });
  });

  it.each([
    ['an object', { nested: { id: 3 } }],
    ['an array', { scopes: ['read'] }],
    ['null', { missing: null }],
  ])('refuses the upgrade with 500, without running $connect, when a value is %s', async (_, context) => {
    authorizerContext = { userId: 'alice', ...context };

    await expect(connect()).rejects.toEqual(new UpgradeRefusedError(500));
    expect(events.map((call) => call.functionName)).toEqual(['authorize']);
  });
});
