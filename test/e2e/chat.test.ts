import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, ScanCommand } from '@aws-sdk/lib-dynamodb';
import { eventually, PROJECT_DIR, TestClient } from '../support/local-runtime';

/**
 * examples/chat, AWS's simple WebSocket chat sample as a CDK app, run as a user of any CDK app runs
 * it: `ws-notify local --project examples/chat`, through the package's bin.
 */
const BIN = path.join(
  PROJECT_DIR,
  (JSON.parse(readFileSync(path.join(PROJECT_DIR, 'package.json'), 'utf8')) as { bin: Record<string, string> }).bin['ws-notify'] as string,
);

let stateDir: string;
let local: ChildProcess;
let output = '';
let outputs: Record<string, string>;
let db: DynamoDBDocumentClient;
const clients: TestClient[] = [];

beforeAll(async () => {
  stateDir = mkdtempSync(path.join(tmpdir(), 'ws-notify-chat-'));
  local = spawn(
    process.execPath,
    [BIN, 'local', '--project', 'examples/chat', '--port', '0', '--state-dir', stateDir, '--no-watch', '--quiet-functions'],
    // Its own process group, so that teardown can end every process it started even if a test fails.
    { cwd: PROJECT_DIR, detached: true, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  local.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  local.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const outputsFile = path.join(stateDir, 'outputs.json');
  await eventually(async () => (existsSync(outputsFile) || local.exitCode !== null ? true : undefined), `outputs.json; output so far:\n${output}`, 120_000);
  if (local.exitCode !== null) throw new Error(`ws-notify local exited (${local.exitCode}):\n${output}`);
  outputs = (JSON.parse(readFileSync(outputsFile, 'utf8')) as Record<string, Record<string, string>>)['SimpleChat'] as Record<string, string>;
  db = DynamoDBDocumentClient.from(
    new DynamoDBClient({ endpoint: outputs['DynamoDbEndpoint'], region: outputs['Region'], credentials: { accessKeyId: 'local', secretAccessKey: 'local' } }),
  );
}, 150_000);

afterAll(async () => {
  for (const client of clients) client.socket.terminate();
  db?.destroy();
  if (local?.pid && local.exitCode === null && local.signalCode === null) {
    // SIGTERM stops the runtime and its engines; SIGKILL to the group if it does not within the deadline.
    const { pid } = local;
    const killer = setTimeout(() => process.kill(-pid, 'SIGKILL'), 20_000);
    const exited = new Promise((resolve) => local.once('exit', resolve));
    local.kill('SIGTERM');
    await exited;
    clearTimeout(killer);
  }
  rmSync(stateDir, { recursive: true, force: true });
}, 30_000);

async function connect(): Promise<TestClient> {
  const client = await TestClient.connect(outputs['WebSocketURI'] as string);
  clients.push(client);
  return client;
}

/** The connection ids in the sample's table, once they are `count`. */
async function connectionIds(count: number): Promise<string[]> {
  return eventually(async () => {
    const { Items = [] } = await db.send(new ScanCommand({ TableName: outputs['ConnectionsTableName'] }));
    const ids = Items.map((item) => item['connectionId'] as string);
    return ids.length === count ? ids.sort() : undefined;
  }, `${count} connection id(s) in the table`);
}

describe('examples/chat under ws-notify local', () => {
  it('serves the stage at the URL the stack outputs, made local', () => {
    expect(outputs['WebSocketURI']).toMatch(/^wss?:\/\/127\.0\.0\.1:\d+\/Prod$/);
  });

  it('stores each connection id on $connect and deletes it on $disconnect', async () => {
    const stays = await connect();
    const [staysId] = await connectionIds(1);
    const leaves = await connect();
    const bothIds = await connectionIds(2);
    expect(bothIds).toContain(staysId);

    leaves.close();
    expect(await leaves.closedWith()).toMatchObject({ code: 1005 });
    expect(await connectionIds(1)).toEqual([staysId]);

    stays.close();
    await stays.closedWith();
    expect(await connectionIds(0)).toEqual([]);
  });

  // The sample posts to https://{domainName}/{stage}: the runtime's port speaks TLS too.
  it('broadcasts a sendmessage to every connection, the sender included', async () => {
    const [alice, bob] = [await connect(), await connect()];
    await connectionIds(2);

    alice.send({ action: 'sendmessage', data: 'hi' });

    // The sample posts `data` as it is: a text frame "hi", not JSON.
    expect(await alice.frame((frame) => frame === 'hi')).toBe('hi');
    expect(await bob.frame((frame) => frame === 'hi')).toBe('hi');
  });

  // Last: it ends the runtime the other cases use.
  it('stops on SIGTERM, removing outputs.json, and exits 0', async () => {
    const exited = new Promise<number | null>((resolve) => local.once('exit', resolve));
    local.kill('SIGTERM');

    expect(await exited).toBe(0);
    expect(existsSync(path.join(stateDir, 'outputs.json'))).toBe(false);
  }, 30_000);
});

describe('ws-notify local failing to start', () => {
  let scratch: string;

  beforeEach(() => {
    scratch = mkdtempSync(path.join(tmpdir(), 'ws-notify-no-app-'));
  });

  afterEach(() => rmSync(scratch, { recursive: true, force: true }));

  /** `ws-notify local` run in `cwd`, to its exit: it must exit by itself, every process it started stopped. */
  async function runLocal(cwd: string): Promise<{ code: number | null; stderr: string }> {
    const cli = spawn(process.execPath, [BIN, 'local', '--port', '0', '--no-watch'], { cwd, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    cli.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const code = await new Promise<number | null>((resolve) => cli.once('exit', resolve));
    return { code, stderr };
  }

  it('exits 1 naming the missing cdk.json, before starting anything', async () => {
    const { code, stderr } = await runLocal(scratch);

    expect(code).toBe(1);
    expect(stderr).toContain(`ws-notify: there is no cdk.json in ${scratch}: run this in your CDK app's directory, or name it with --project <dir>`);
    expect(existsSync(path.join(scratch, '.local'))).toBe(false);
  }, 20_000);

  it('exits 1 with the synth error when the app does not synthesize, once the engines it started have stopped', async () => {
    writeFileSync(path.join(scratch, 'cdk.json'), JSON.stringify({ app: 'node -e "process.exit(3)"' }));

    const { code, stderr } = await runLocal(scratch);

    expect(code).toBe(1);
    expect(stderr).toContain('ws-notify: cdk synth failed');
  }, 60_000);
});
