import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { eventually, PROJECT_DIR, TestClient } from '../support/local-runtime';
import { LocalIssuer } from '../../local/issuer';

/** `npm start` as a user runs it, in a copy of the project this test may edit. */
let projectCopy: string;
let stateDir: string;
let npmStart: ChildProcess;
let output = '';

beforeAll(async () => {
  projectCopy = mkdtempSync(path.join(tmpdir(), 'ws-notify-project-'));
  for (const entry of ['bin', 'lib', 'lambdas', 'local', 'cdk.json', 'package.json', 'package-lock.json', 'tsconfig.json']) {
    cpSync(path.join(PROJECT_DIR, entry), path.join(projectCopy, entry), { recursive: true });
  }
  symlinkSync(path.join(PROJECT_DIR, 'node_modules'), path.join(projectCopy, 'node_modules'));
  stateDir = path.join(projectCopy, 'state');
  npmStart = spawn('npm', ['start', '--', '--port', '0', '--state-dir', stateDir, '--idle-timeout', '2'], {
    cwd: projectCopy,
    // Its own process group, so that teardown can end every process it started even if a test fails.
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  npmStart.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  npmStart.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  await eventually(async () => (existsSync(path.join(stateDir, 'outputs.json')) ? true : undefined), `outputs.json; output so far:\n${output}`, 120_000);
}, 150_000);

afterAll(() => {
  if (npmStart?.pid && npmStart.exitCode === null) {
    try {
      process.kill(-npmStart.pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
  rmSync(projectCopy, { recursive: true, force: true });
});

function outputs(): Record<string, string> {
  const file = JSON.parse(readFileSync(path.join(stateDir, 'outputs.json'), 'utf8')) as Record<string, Record<string, string>>;
  return file['WsNotify'] as Record<string, string>;
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

  it('closes idle connections after --idle-timeout', async () => {
    const client = await connect('idle-user');
    expect(await client.closedWith(10_000)).toEqual({ code: 1001, reason: 'Going away' });
  });

  it('picks up a handler edit without a restart', async () => {
    const client = await connect('editor');
    client.send({ action: 'ping', id: 'before' });
    expect(await client.frame((frame) => frame.id === 'before')).not.toHaveProperty('edited');
    client.close();

    const frames = path.join(projectCopy, 'lambdas', 'core', 'frames.ts');
    writeFileSync(frames, readFileSync(frames, 'utf8').replace("type: 'pong',", "type: 'pong', edited: true,"));
    await eventually(async () => (/\] reloaded/.test(output) ? true : undefined), `the reload; output:\n${output}`, 90_000);

    const after = await connect('editor');
    after.send({ action: 'ping', id: 'after' });
    expect(await after.frame((frame) => frame.id === 'after')).toMatchObject({ type: 'pong', edited: true });
    after.close();
  }, 120_000);

  it("prints what the functions log, and no AWS SDK warning about the Node version: they run on their runtime's Node 22", () => {
    // The tests above ran $connect's authorizer, $connect, ping and $disconnect.
    expect(output).toMatch(/^\[WsNotify-\w+\] /m);
    expect(output).not.toContain('NodeVersionSupportWarning');
  });

  it('stops everything it started on SIGTERM: no Java or Node process is left, and outputs.json is gone', async () => {
    const pid = npmStart.pid as number;
    const started = descendantsOf(pid);
    expect(started.length).toBeGreaterThanOrEqual(3);

    const exited = new Promise<void>((resolve) => npmStart.once('exit', () => resolve()));
    process.kill(pid, 'SIGTERM');

    // npm forwards the signal to the script and then ends by it too; what matters is what the script does.
    await exited;
    await eventually(async () => (started.every((child) => !isAlive(child)) ? true : undefined), 'every started process to exit', 15_000);
    expect(existsSync(path.join(stateDir, 'outputs.json'))).toBe(false);
  }, 30_000);
});
