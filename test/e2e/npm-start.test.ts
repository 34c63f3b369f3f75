import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { eventually, PROJECT_DIR, TestClient } from '../support/local-runtime';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { ConnectionTable } from '../../lambdas/core/connections';
import { LocalIssuer } from '../../local/dev-endpoints/issuer';

/** `npm start` as a user runs it, in a copy of the project this test may edit. */
let projectCopy: string;
let stateDir: string;
let npmStart: ChildProcess;
let output = '';
/** What `npm start` started (the runtime and its engines, which run in process groups of their own). */
let startedProcesses: number[] = [];
/** Opened at the start, to find it closed by --idle-timeout while the other tests run. */
let idleClient: { client: TestClient; openedAt: number };

beforeAll(async () => {
  projectCopy = mkdtempSync(path.join(tmpdir(), 'ws-notify-project-'));
  for (const entry of ['bin', 'lib', 'lambdas', 'local', 'client', 'cdk.json', 'package.json', 'package-lock.json', 'tsconfig.json']) {
    cpSync(path.join(PROJECT_DIR, entry), path.join(projectCopy, entry), { recursive: true });
  }
  symlinkSync(path.join(PROJECT_DIR, 'node_modules'), path.join(projectCopy, 'node_modules'));
  stateDir = path.join(projectCopy, 'state');
  // The functions' output is kept: the stop test reads `$disconnect`'s lines. The idle timeout leaves
  // room for the stop test to open its connections on a busy machine.
  npmStart = spawn('npm', ['start', '--', '--port', '0', '--state-dir', stateDir, '--idle-timeout', String(IDLE_TIMEOUT_SECONDS)], {
    cwd: projectCopy,
    // Its own process group, so that teardown can end every process it started even if a test fails.
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  npmStart.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  npmStart.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  // A first start synthesizes and bundles every function: minutes on a busy machine.
  await eventually(async () => (existsSync(path.join(stateDir, 'outputs.json')) ? true : undefined), 'outputs.json', 300_000).catch((error: Error) => {
    throw new Error(`${error.message}; npm start printed:\n${output}`);
  });
  startedProcesses = descendantsOf(npmStart.pid as number);
  idleClient = { client: await connect('idle-user'), openedAt: Date.now() };
}, 330_000);

afterAll(() => {
  const kill = (pid: number) => {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
  };
  if (npmStart?.pid && npmStart.exitCode === null) kill(-npmStart.pid);
  startedProcesses.forEach(kill);
  rmSync(projectCopy, { recursive: true, force: true });
});

const IDLE_TIMEOUT_SECONDS = 30;

function outputs(): Record<string, string> {
  const file = JSON.parse(readFileSync(path.join(stateDir, 'outputs.json'), 'utf8')) as Record<string, Record<string, string>>;
  return file['WsNotify'] as Record<string, string>;
}

function documentClient(): DynamoDBDocumentClient {
  const { Region, DynamoDbEndpoint } = outputs();
  return DynamoDBDocumentClient.from(
    new DynamoDBClient({ region: Region, endpoint: DynamoDbEndpoint, credentials: { accessKeyId: 'local', secretAccessKey: 'local' } }),
  );
}

async function connect(userId: string): Promise<TestClient> {
  const token = await (await LocalIssuer.load(stateDir)).mint({ userId });
  return TestClient.connect(outputs()['WebSocketUrl'] as string, { headers: { Authorization: `Bearer ${token}` } });
}

/** Every process below `pid`, from the process table. */
function descendantsOf(pid: number): number[] {
  const table = execFileSync('ps', ['-eo', 'pid=,ppid=']).toString().trim().split('\n');
  const children = table.map((line) => line.trim().split(/\s+/).map(Number)).filter(([, parent]) => parent === pid).map(([child]) => child as number);
  return children.flatMap((child) => [child, ...descendantsOf(child)]);
}

const isAlive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

describe('npm start', () => {
  it('writes outputs.json in the shape `cdk deploy --outputs-file` writes, with the local endpoints', () => {
    expect(Object.keys(outputs()).sort()).toEqual(
      [
        'AcksTableName',
        'ApiKeysTableName',
        'ConnectionsTableName',
        'DynamoDbEndpoint',
        'EventsUrl',
        'ManagementApiEndpoint',
        'NotifyConnectionDeadLetterQueueUrl',
        'NotifyConnectionQueueUrl',
        'NotifyUserDeadLetterQueueUrl',
        'NotifyUserQueueUrl',
        'PublishDeadLetterQueueUrl',
        'PublishQueueUrl',
        'Region',
        'SqsEndpoint',
        'StreamsTableName',
        'SubscriptionsTableName',
        'WebSocketUrl',
      ].sort(),
    );
    expect(outputs()['WebSocketUrl']).toMatch(/^ws:\/\/127\.0\.0\.1:\d+\/live$/);
  });

  it('prints the endpoints and the test page URL', async () => {
    // outputs.json is written just before the endpoints are printed.
    await eventually(async () => (/Test page\s+http:\/\/127\.0\.0\.1:\d+\//.test(output) ? true : undefined), `the test page URL in:\n${output}`);
    expect(output).toContain(outputs()['WebSocketUrl']);
    expect(output).toContain(`trusting ${path.join(stateDir, 'ca.pem')}`);
  });

  it('picks up a handler edit without a restart', async () => {
    const client = await connect('editor');
    client.send({ action: 'ping', id: 'before' });
    expect(await client.frame((frame) => frame.id === 'before')).not.toHaveProperty('edited');
    client.close();

    // Only the ping function's bundle includes its handler's file: that bundle is rebuilt, with no synth.
    const handler = path.join(projectCopy, 'lambdas', 'handlers', 'ping.ts');
    const pong = 'pongFrame(event.body, new Date())';
    writeFileSync(handler, readFileSync(handler, 'utf8').replace(pong, `JSON.stringify({ ...JSON.parse(${pong}), edited: true })`));
    await eventually(async () => (/\] reloaded .* \(no synth\)/.test(output) ? true : undefined), `the reload; output:\n${output}`, 90_000);

    const after = await connect('editor');
    after.send({ action: 'ping', id: 'after' });
    expect(await after.frame((frame) => frame.id === 'after')).toMatchObject({ type: 'pong', edited: true });
    after.close();
  }, 120_000);

  it('closes idle connections after --idle-timeout', async () => {
    const { client, openedAt } = idleClient;
    expect(await client.closedWith((IDLE_TIMEOUT_SECONDS + 15) * 1000)).toEqual({ code: 1001, reason: 'Going away' });
    expect(Date.now() - openedAt).toBeGreaterThanOrEqual(IDLE_TIMEOUT_SECONDS * 1000);
  }, (IDLE_TIMEOUT_SECONDS + 20) * 1000);

  it("prints what the functions log, and no AWS SDK warning about the Node version: they run on their runtime's Node 22", () => {
    // The tests above ran $connect's authorizer, $connect, ping and $disconnect.
    expect(output).toMatch(/^\[WsNotify-\w+\] /m);
    expect(output).not.toContain('NodeVersionSupportWarning');
  });

  it('stops gracefully on a terminal\'s Ctrl-C with 400 connections open: every $disconnect runs against the live engines, then the engines stop, then outputs.json goes', async () => {
    // Prepare: 400 connections of 20 users (under the 25 per user), opened 25 at a time.
    const users = Array.from({ length: 20 }, (_, index) => `stop-user-${index}`);
    const clients: TestClient[] = [];
    for (let batch = 0; batch < 16; batch += 1) {
      clients.push(...(await Promise.all(Array.from({ length: 25 }, (_, index) => connect(users[(batch * 25 + index) % users.length] as string)))));
    }
    const db = documentClient();
    const table = new ConnectionTable(db, outputs()['ConnectionsTableName'] as string);
    const connectionIds: string[] = [];
    for (const userId of users) for await (const page of table.connectionIdsOf(userId)) connectionIds.push(...page);
    db.destroy();
    expect(connectionIds).toHaveLength(400);
    expect(clients.filter((client) => client.closed)).toEqual([]);
    const runtimePid = Number(/kill -USR2 (\d+)/.exec(output)?.[1]);
    expect(startedProcesses).toContain(runtimePid);
    expect(startedProcesses.length).toBeGreaterThanOrEqual(3);

    // Act: a terminal's Ctrl-C signals its whole foreground group (npm relays it to the runtime
    // too), and a process manager's SIGTERM comes on top: neither may cut the stop short.
    const exited = new Promise<void>((resolve) => npmStart.once('exit', () => resolve()));
    const stopping = Date.now();
    process.kill(-(npmStart.pid as number), 'SIGINT');
    process.kill(runtimePid, 'SIGTERM');
    await exited;
    const stopMs = Date.now() - stopping;

    // Assess: `$disconnect` logs a connection only once its row is deleted, so each line is a
    // `$disconnect` that reached a live DynamoDB Local.
    const disconnected = output
      .split('\n')
      .filter((line) => line.includes('"message":"disconnected"'))
      .map((line) => (JSON.parse(line.slice(line.indexOf('{'))) as { connectionId: string }).connectionId);
    expect(output).not.toContain('$disconnect integration failed');
    expect(connectionIds.filter((id) => !disconnected.includes(id))).toEqual([]);
    expect(clients.every((client) => client.closed?.code === 1001)).toBe(true);
    await eventually(async () => (startedProcesses.every((pid) => !isAlive(pid)) ? true : undefined), 'every started process to exit', 15_000);
    expect(existsSync(path.join(stateDir, 'outputs.json'))).toBe(false);
    // Bounded: 400 `$disconnect`s on 4 execution environments take seconds, even on a busy machine.
    expect(stopMs).toBeLessThan(60_000);
  }, 150_000);
});
