// The conformance suite: handlers written as AWS's developer guide and samples write them
// (test/conformance/app), run unchanged by the local runtime, each behaviour checked against what
// API Gateway documents or is seen to do. One runtime for the whole suite: the app holds every case.
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import * as path from 'node:path';
import { type LocalRuntime, startLocalRuntime } from '../../local/runtime';
import awsMessageEvent from '../fixtures/message-event.json';
import { eventually, PROJECT_DIR, TestClient, UpgradeRefusedError } from '../support/local-runtime';

let projectDir: string;
let runtime: LocalRuntime;
let webSocketUrl: string;
const functionLines: { functionName: string; line: string }[] = [];
const clients: TestClient[] = [];

/**
 * A project whose `cdk.json` runs the conformance app. It lives under `.local/` as the HTTP API
 * test's does, beside this checkout's node_modules.
 */
function writeProject(): string {
  mkdirSync(path.join(PROJECT_DIR, '.local'), { recursive: true });
  const dir = mkdtempSync(path.join(PROJECT_DIR, '.local', 'conformance-'));
  const tsx = path.join(PROJECT_DIR, 'node_modules', '.bin', 'tsx');
  const app = path.join(__dirname, 'app', 'app.ts');
  const { context } = JSON.parse(readFileSync(path.join(PROJECT_DIR, 'cdk.json'), 'utf8')) as { context?: unknown };
  writeFileSync(path.join(dir, 'cdk.json'), JSON.stringify({ app: `"${tsx}" "${app}"`, context }));
  return dir;
}

beforeAll(async () => {
  projectDir = writeProject();
  runtime = await startLocalRuntime({
    port: 0,
    projectDir,
    stateDir: path.join(projectDir, 'state'),
    functionLog: (functionName, line) => functionLines.push({ functionName, line }),
  });
  webSocketUrl = runtime.outputs['WebSocketUrl'] as string;
}, 120_000);

afterEach(() => {
  for (const client of clients.splice(0)) client.socket.terminate();
});

afterAll(async () => {
  await runtime?.stop();
  if (projectDir) rmSync(projectDir, { recursive: true, force: true });
}, 30_000);

/** The guide's identity sources and the values its authorizer lets in. */
const ALLOWED = { headers: { HeaderAuth1: 'headerValue1' }, query: '?QueryString1=queryValue1' };

async function connect(query = ALLOWED.query, headers: Record<string, string> = ALLOWED.headers): Promise<TestClient> {
  const client = await TestClient.connect(`${webSocketUrl}${query}`, { headers });
  clients.push(client);
  return client;
}

const authorizerCalls = () => functionLines.filter(({ functionName, line }) => functionName.includes('AuthorizerFunction') && line.includes('Received event')).length;

describe('a REQUEST authorizer with identity sources (the developer guide example, callback style)', () => {
  it('lets the upgrade through when it allows', async () => {
    const client = await connect();
    expect(client.socket.readyState).toBe(client.socket.OPEN);
  });

  it('refuses with 401 when it calls back "Unauthorized"', async () => {
    await expect(connect(ALLOWED.query, { HeaderAuth1: 'wrong' })).rejects.toEqual(new UpgradeRefusedError(401));
  });

  it('refuses with 403 when its policy denies $connect', async () => {
    await expect(connect(ALLOWED.query, { HeaderAuth1: 'deny' })).rejects.toEqual(new UpgradeRefusedError(403));
  });

  it('refuses with 401 without calling the authorizer when an identity source is missing', async () => {
    const before = authorizerCalls();
    await connect(); // the authorizer's log lines arrive: the count below can only stay put if it is not called
    await eventually(async () => (authorizerCalls() > before ? true : undefined), 'the allowed call in the log');
    const afterAllowed = authorizerCalls();

    await expect(connect('', ALLOWED.headers)).rejects.toEqual(new UpgradeRefusedError(401));
    await expect(connect(ALLOWED.query, {})).rejects.toEqual(new UpgradeRefusedError(401));
    await connect(); // a later call's line proves the log is flowing
    await eventually(async () => (authorizerCalls() > afterAllowed ? true : undefined), 'the next allowed call in the log');
    expect(authorizerCalls()).toBe(afterAllowed + 1);
  });

  it('passes its context to the integration with numbers and booleans as strings, and its principalId', async () => {
    const client = await connect();
    client.send({ action: 'echo' });

    const event = await client.frame((frame) => frame?.requestContext?.routeKey === 'echo');
    expect(event.requestContext.authorizer).toEqual({ stringKey: 'stringval', numberKey: '123', booleanKey: 'true', principalId: 'me' });
  });
});

describe('$connect', () => {
  it('answers 502 when the integration throws', async () => {
    await expect(connect(`${ALLOWED.query}&fail=throw`)).rejects.toEqual(new UpgradeRefusedError(502));
  });
});

describe('routes and route responses', () => {
  it('gives a message route the MESSAGE event, field for field as AWS delivers it', async () => {
    const client = await connect();
    client.send({ action: 'echo' });

    const event = await client.frame((frame) => frame?.requestContext?.routeKey === 'echo');
    const keys = (value: object) => Object.keys(value).filter((key) => key !== 'authorizer');
    expect(Object.keys(event)).toEqual(Object.keys(awsMessageEvent));
    expect(keys(event.requestContext)).toEqual(keys(awsMessageEvent.requestContext));
    expect(event).toMatchObject({ body: '{"action":"echo"}', isBase64Encoded: false, requestContext: { eventType: 'MESSAGE', messageDirection: 'IN' } });
  });

  it('sends a two-way $default route its body back, for an unknown action and for a frame that is not JSON', async () => {
    const client = await connect();
    client.send({ action: 'nothing-here', n: 1 });
    client.send('plain words');

    await client.frame((frame) => frame?.route === '$default' && frame.received === '{"action":"nothing-here","n":1}');
    await client.frame((frame) => frame?.route === '$default' && frame.received === 'plain words');
  });

  it('answers a route whose integration throws with API Gateway\'s error frame, byte for byte, and keeps the connection', async () => {
    const client = await connect();
    const raw: string[] = [];
    client.socket.on('message', (data: Buffer) => raw.push(data.toString()));
    client.send({ action: 'echo' });
    const { connectionId } = (await client.frame((frame) => frame?.requestContext?.routeKey === 'echo')).requestContext;

    client.send({ action: 'boom' });

    const error = await client.frame((frame) => frame?.message === 'Internal server error');
    expect(raw).toContain(`{"message": "Internal server error", "connectionId":"${connectionId}", "requestId":"${error.requestId}"}`);
    expect(error.requestId).toMatch(/^[A-Za-z0-9+/_-]{14,}=*$/);
    client.send({ action: 'echo' });
    await eventually(async () => (raw.filter((frame) => frame.includes('"routeKey":"echo"')).length === 2 ? true : undefined), 'a second echo');
  });

  it('answers a two-way route whose handler calls context.fail with the same error frame', async () => {
    const client = await connect();
    client.send({ action: 'fail' });

    const error = await client.frame((frame) => frame?.message === 'Internal server error');
    expect(error).toEqual({ message: 'Internal server error', connectionId: expect.any(String), requestId: expect.any(String) });
  });
});

describe('$disconnect', () => {
  it("runs with the client's close status: 1005 when its close frame had none", async () => {
    const client = await connect();
    client.send({ action: 'echo' });
    const { connectionId } = (await client.frame((frame) => frame?.requestContext?.routeKey === 'echo')).requestContext;
    client.close();

    const line = `Disconnected: ${connectionId} 1005`;
    await eventually(async () => (functionLines.some((entry) => entry.line.includes(line)) ? true : undefined), line);
  });
});

describe('a plain HTTP request on the WebSocket URL', () => {
  it('answers GET with 426 Upgrade Required', async () => {
    const url = new URL(webSocketUrl.replace(/^ws/, 'http'));
    const status = await new Promise<number>((resolve, reject) => {
      httpRequest(url, (response) => {
        response.resume();
        resolve(response.statusCode ?? 0);
      })
        .on('error', reject)
        .end();
    });
    expect(status).toBe(426);
  });
});

describe('the management API at the endpoint the event names', () => {
  it('lets a handler post back through https://{requestContext.domainName}/{requestContext.stage}, as AWS samples do', async () => {
    const client = await connect();
    client.send({ action: 'postback' });

    const frame = await client.frame((candidate) => candidate?.postedBack !== undefined);
    expect(typeof frame.postedBack).toBe('string');
  });
});
