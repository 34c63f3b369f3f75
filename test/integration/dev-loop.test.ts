import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import * as path from 'node:path';
import { type LocalRuntime, startLocalRuntime } from '../../local/runtime';
import { eventually, PROJECT_DIR, TestClient } from '../support/local-runtime';

// The dev loop on a small app of two functions (test/support/dev-loop-app), copied into a project
// of its own under .local/ (NodejsFunction finds this checkout's lock file from there) so that the
// test can edit it. The cases run in order, each from where the previous one left the project.
let projectDir: string;
let stateDir: string;
let port: number;
let runtime: LocalRuntime | undefined;
let client: TestClient | undefined;
let messages: string[] = [];

const manifest = () => path.join(stateDir, 'cdk.out', 'manifest.json');
const synthesizedAt = () => statSync(manifest()).mtimeMs;

/** Starts the project on the test's port (the issuer's URL, and so the context, is the same each time). */
async function start(): Promise<LocalRuntime> {
  messages = [];
  runtime = await startLocalRuntime({ port, projectDir, stateDir, watch: true, log: (message) => messages.push(message) });
  return runtime;
}

async function stop(): Promise<void> {
  client?.close();
  client = undefined;
  await runtime?.stop();
  runtime = undefined;
}

function edit(file: string, from: string, to: string): void {
  const full = path.join(projectDir, file);
  const before = readFileSync(full, 'utf8');
  if (!before.includes(from)) throw new Error(`${file} has no "${from}"`);
  writeFileSync(full, before.replace(from, to));
}

/** Sends a frame and waits for the route's reply. */
async function ask(body: string): Promise<unknown> {
  const replies = (client as TestClient).frames.length;
  (client as TestClient).send(body);
  return (client as TestClient).frame((frame) => (client as TestClient).frames.indexOf(frame) >= replies);
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port: free } = server.address() as { port: number };
      server.close(() => resolve(free));
    });
  });
}

beforeAll(async () => {
  mkdirSync(path.join(PROJECT_DIR, '.local'), { recursive: true });
  projectDir = mkdtempSync(path.join(PROJECT_DIR, '.local', 'dev-loop-test-'));
  stateDir = path.join(projectDir, '.local');
  cpSync(path.join(PROJECT_DIR, 'test', 'support', 'dev-loop-app'), projectDir, { recursive: true });
  const tsx = path.join(PROJECT_DIR, 'node_modules', '.bin', 'tsx');
  writeFileSync(path.join(projectDir, 'cdk.json'), JSON.stringify({ app: `"${tsx}" bin/app.ts`, watch: { include: ['bin/**', 'handlers/**'] } }));
  port = await freePort();
});

afterAll(async () => {
  await stop();
  rmSync(projectDir, { recursive: true, force: true });
}, 30_000);

describe('the dev loop', () => {
  it('synthesizes on the first start', async () => {
    await start();
    expect(messages).toContainEqual(expect.stringContaining('synthesizing the CDK app (no record of the last synth)'));
    await stop();
  }, 180_000);

  it('reuses the synth on a second start of the unchanged app', async () => {
    const first = synthesizedAt();
    await start();
    expect(messages).toContainEqual(expect.stringContaining('reusing the last synth'));
    expect(messages.some((message) => message.startsWith('synthesizing'))).toBe(false);
    expect(synthesizedAt()).toBe(first);
  }, 120_000);

  it('swaps only the edited handler\'s code, without a synth and keeping the connection open', async () => {
    client = await TestClient.connect((runtime as LocalRuntime).outputs['WebSocketUrl'] as string);
    expect(await ask('hi')).toBe('hello (first): hi');
    const synthesized = synthesizedAt();

    edit('handlers/greeting.ts', 'hello', 'howdy');
    await eventually(async () => messages.find((message) => /^reloaded \S*Echo\S* in \d+ ms \(no synth\)$/.test(message)), 'the handler reload', 30_000);

    expect(await ask('again')).toBe('howdy (first): again');
    expect(client.closed).toBeUndefined();
    expect(messages).toContainEqual('handlers/greeting.ts changed: handler code only, rebuilding 1 bundle(s) without a synth…');
    expect(messages.some((message) => message.includes('re-synthesizing'))).toBe(false);
    expect(synthesizedAt()).toBe(synthesized);
    expect(await ask('{"action":"other"}')).toBe('other (first)');
  }, 60_000);

  it('re-synthesizes on an infrastructure edit, keeping the connection open', async () => {
    const synthesized = synthesizedAt();

    edit('bin/app.ts', "EDITION: 'first'", "EDITION: 'second'");
    await eventually(async () => messages.find((message) => message === 'reloaded'), 'the re-synthesis', 120_000);

    expect(messages).toContainEqual('bin/app.ts changed: re-synthesizing (bin/app.ts is part of the CDK app)…');
    expect(synthesizedAt()).toBeGreaterThan(synthesized);
    expect(await ask('hi')).toBe('howdy (second): hi');
    expect(client?.closed).toBeUndefined();
    await stop();
  }, 180_000);

  it('synthesizes again on a start after an input changed', async () => {
    edit('handlers/other.ts', 'other (', 'another (');
    await start();
    expect(messages).toContainEqual(expect.stringContaining('synthesizing the CDK app (handlers/other.ts changed)'));
    await stop();
  }, 180_000);
});
