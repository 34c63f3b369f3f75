import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer as createHttpServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { DeleteConnectionCommand } from '@aws-sdk/client-apigatewaymanagementapi';
import { CreateTableCommand, DeleteTableCommand, DescribeTableCommand, DynamoDBClient, type TableDescription } from '@aws-sdk/client-dynamodb';
import { GetQueueAttributesCommand, SendMessageCommand, SetQueueAttributesCommand } from '@aws-sdk/client-sqs';
import { PutCommand } from '@aws-sdk/lib-dynamodb';
import { decodeJwt } from 'jose';
import { freePort } from '../../local/engines/engine-processes';
import { LOCAL_AUDIENCE } from '../../local/dev-endpoints/issuer';
import { eventually, PROJECT_DIR, type RuntimeUnderTest, startRuntimeUnderTest, TestClient } from '../support/local-runtime';

/** The bin package.json declares: the file `npx ws-notify` runs. */
const BIN = path.join(
  PROJECT_DIR,
  (JSON.parse(readFileSync(path.join(PROJECT_DIR, 'package.json'), 'utf8')) as { bin: Record<string, string> }).bin['ws-notify'] as string,
);
/** What `cdk deploy --outputs-file` writes for a deployed stack. */
const DEPLOYED_OUTPUTS = {
  WebSocketUrl: 'wss://abc123.execute-api.eu-west-1.amazonaws.com/live',
  ManagementApiEndpoint: 'https://abc123.execute-api.eu-west-1.amazonaws.com/live',
  NotifyUserQueueUrl: 'https://sqs.eu-west-1.amazonaws.com/123456789012/NotifyUser',
  NotifyConnectionQueueUrl: 'https://sqs.eu-west-1.amazonaws.com/123456789012/NotifyConnection',
  ConnectionsTableName: 'Connections',
  ApiKeysTableName: 'ApiKeys',
  PublishQueueUrl: 'https://sqs.eu-west-1.amazonaws.com/123456789012/Publish',
};
/** A CLI run loads TypeScript through tsx and the AWS SDK: seconds on a busy machine. */
const CLI_TIMEOUT_MS = 20_000;

let stack: RuntimeUnderTest;
let outputsFile: string;
let scratchDir: string;
const clients: TestClient[] = [];
const running = new Set<CliProcess>();

beforeAll(async () => {
  // The credential sweep runs every 2 s, so that a revocation is seen within a test.
  stack = await startRuntimeUnderTest({ scheduleEverySeconds: 2 });
  outputsFile = stack.runtime.outputsFile;
  scratchDir = mkdtempSync(path.join(tmpdir(), 'ws-notify-cli-'));
}, 300_000);

afterEach(() => {
  for (const cli of running) cli.kill();
});

afterAll(async () => {
  for (const cli of running) cli.kill();
  for (const client of clients) client.socket.terminate();
  if (scratchDir) rmSync(scratchDir, { recursive: true, force: true });
  await stack?.stop();
}, 30_000);

/** `ws-notify …` as a child process, run by the bin file with node (as npx does, minus npm's start-up). */
class CliProcess {
  stdout = '';
  stderr = '';
  readonly exit: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;

  private constructor(readonly child: ChildProcess) {
    running.add(this);
    child.stdout?.on('data', (chunk: Buffer) => (this.stdout += chunk.toString()));
    child.stderr?.on('data', (chunk: Buffer) => (this.stderr += chunk.toString()));
    this.exit = new Promise((resolve) =>
      child.once('exit', (code, signal) => {
        running.delete(this);
        resolve({ code, signal });
      }),
    );
  }

  static start(args: string[], { cwd = PROJECT_DIR, viaNpx = false, env = {} as Record<string, string> } = {}): CliProcess {
    const [command, argv] = viaNpx ? ['npx', ['ws-notify', ...args]] : [process.execPath, [BIN, ...args]];
    // Its own process group, so that a kill reaches whatever npx starts under it too.
    const child = spawn(command, argv, { cwd, env: { ...process.env, ...env }, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    return new CliProcess(child);
  }

  async exited(timeoutMs = CLI_TIMEOUT_MS): Promise<{ code: number | null; stdout: string; stderr: string }> {
    const timeout = new Promise<never>((_, reject) =>
      setTimeout(() => reject(new Error(`ws-notify did not exit within ${timeoutMs} ms; stderr: ${this.stderr}`)), timeoutMs).unref(),
    );
    const { code } = await Promise.race([this.exit, timeout]);
    return { code, stdout: this.stdout, stderr: this.stderr };
  }

  /** Waits for a stdout or stderr that satisfies `check`. */
  until<T>(check: (cli: CliProcess) => T | undefined, what: string): Promise<T> {
    return eventually(async () => check(this), `${what}; stderr so far: ${this.stderr}`, CLI_TIMEOUT_MS);
  }

  signal(signal: NodeJS.Signals): void {
    this.child.kill(signal);
  }

  kill(): void {
    try {
      process.kill(-(this.child.pid as number), 'SIGKILL');
    } catch {
      // Already gone.
    }
  }
}

function cli(...args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return CliProcess.start(args).exited();
}

async function connectAs(userId: string): Promise<TestClient> {
  const client = await TestClient.connect(stack.outputs['WebSocketUrl'] as string, {
    headers: { Authorization: `Bearer ${await stack.tokenFor(userId)}` },
  });
  clients.push(client);
  return client;
}


/** Proves that no notification reached the client: a pong sent after the notification arrives first. */
async function expectNoNotification(client: TestClient): Promise<void> {
  const id = `after-${Date.now()}`;
  client.send({ action: 'ping', id });
  await client.frame((frame) => frame.id === id);
  expect(client.frames.filter((frame: any) => frame.type === 'notification')).toEqual([]);
}

function jsonLines(text: string): any[] {
  return text
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => JSON.parse(line));
}

function writeOutputs(name: string, stacks: unknown): string {
  const file = path.join(scratchDir, name);
  writeFileSync(file, JSON.stringify(stacks));
  return file;
}

describe('ws-notify token', () => {
  it('prints a token from the local issuer for the user, valid for --ttl seconds, with the --claims added', async () => {
    const { code, stdout } = await cli('token', '--user', 'tina', '--ttl', '120', '--claims', '{"role":"admin"}', '--outputs', outputsFile);

    expect(code).toBe(0);
    const claims = decodeJwt(stdout.trim());
    expect(claims).toMatchObject({ sub: 'tina', iss: stack.runtime.issuer.settings.issuer, aud: LOCAL_AUDIENCE, role: 'admin' });
    expect((claims.exp as number) - (claims.iat as number)).toBe(120);
  });

  it('prints a token the gateway accepts', async () => {
    const { stdout } = await cli('token', '--user', 'tom', '--outputs', outputsFile);

    const client = await TestClient.connect(stack.outputs['WebSocketUrl'] as string, { headers: { Authorization: `Bearer ${stdout.trim()}` } });
    clients.push(client);
    expect(await stack.connectionIdsOf('tom', 1)).toHaveLength(1);
  });

  it('refuses a deployed stack, whose tokens come from its identity provider', async () => {
    const deployed = writeOutputs('deployed.json', { Prod: DEPLOYED_OUTPUTS });

    const { code, stderr } = await cli('token', '--user', 'tina', '--outputs', deployed);

    expect(code).toBe(1);
    expect(stderr).toContain('Prod is deployed and accepts tokens from your identity provider');
  });
});

describe('ws-notify send', () => {
  it("--user reaches every connection of that user and none of another user's, as the notification the message id names", async () => {
    const [sara1, sara2, otto] = await Promise.all([connectAs('sara'), connectAs('sara'), connectAs('otto')]);

    const { code, stdout } = await cli('send', '--user', 'sara', '--data', '{"text":"shipped"}', '--outputs', outputsFile);

    expect(code).toBe(0);
    const expected = { type: 'notification', id: stdout.trim(), time: expect.any(String), data: { text: 'shipped' }, stream: 'user', seq: expect.any(Number), epoch: expect.any(String) };
    expect(await sara1.frame((frame) => frame.type === 'notification')).toEqual(expected);
    expect(await sara2.frame((frame) => frame.type === 'notification')).toEqual(expected);
    await expectNoNotification(otto);
  });

  it('--connection reaches that connection only', async () => {
    const target = await connectAs('cleo');
    const [connectionId] = await stack.connectionIdsOf('cleo', 1);
    const sibling = await connectAs('cleo');
    await stack.connectionIdsOf('cleo', 2);

    const { code, stdout } = await cli('send', '--connection', connectionId as string, '--data', '"just you"', '--outputs', outputsFile);

    expect(code).toBe(0);
    expect(await target.frame((frame) => frame.type === 'notification')).toMatchObject({ id: stdout.trim(), data: 'just you' });
    await expectNoNotification(sibling);
  });

  it('refuses --data that is not JSON with exit code 2', async () => {
    const { code, stderr } = await cli('send', '--user', 'sara', '--data', '{text:1}', '--outputs', outputsFile);

    expect(code).toBe(2);
    expect(stderr).toContain('--data is not valid JSON');
  });
});

describe('ws-notify stream', () => {
  it('prints each notification as a JSON line, and closes cleanly with exit code 0 on SIGINT', async () => {
    const stream = CliProcess.start(['stream', '--user', 'sam', '--outputs', outputsFile]);
    await stream.until((cli) => (cli.stderr.includes('connected to') ? true : undefined), 'the stream to connect');
    const [connectionId] = await stack.connectionIdsOf('sam', 1);

    await stack.sqs.send(
      new SendMessageCommand({ QueueUrl: stack.outputs['NotifyUserQueueUrl'], MessageBody: JSON.stringify({ userId: 'sam', data: { n: 1 }, id: 's-1' }) }),
    );

    const line = await stream.until((cli) => jsonLines(cli.stdout).find((frame) => frame.type === 'notification'), 'a notification line');
    // The SDK's notification: its stream and seq, the epoch kept by the client for resuming.
    expect(line).toEqual({ type: 'notification', id: 's-1', time: expect.any(String), data: { n: 1 }, stream: 'user', seq: expect.any(Number) });
    stream.signal('SIGINT');
    expect((await stream.exited()).code).toBe(0);
    // A clean close runs $disconnect, which deletes the row.
    expect(await stack.connectionIdsOf('sam', 0)).not.toContain(connectionId);
  });

  it('--topic subscribes with the filters given, and prints the events `ws-notify publish` sends to it', async () => {
    const stream = CliProcess.start(['stream', '--user', 'tom', '--topic', 'orders', '--events', 'order.*', '--outputs', outputsFile]);
    await stream.until((cli) => jsonLines(cli.stdout).find((frame) => frame.type === 'subscribed'), 'the subscription');

    const skipped = await cli('publish', '--topic', 'orders', '--type', 'invoice.paid', '--outputs', outputsFile);
    const published = await cli('publish', '--topic', 'orders', '--type', 'order.created', '--data', '{"total":42}', '--subject', 'o-1', '--outputs', outputsFile);
    expect([skipped.code, published.code]).toEqual([0, 0]);
    const eventId = published.stdout.trim();

    const line = await stream.until((cli) => jsonLines(cli.stdout).find((frame) => frame.type === 'event'), 'an event line');
    expect(line).toEqual({
      type: 'event',
      topic: 'orders',
      event: { specversion: '1.0', id: eventId, source: 'ws-notify-cli', type: 'order.created', time: expect.any(String), subject: 'o-1', data: { total: 42 }, wsnpublisher: 'backend' },
      stream: 'topic:orders',
      seq: expect.any(Number),
    });
    expect(jsonLines(stream.stdout)[0]).toEqual({ type: 'subscribed', topic: 'orders', events: ['order.*'], group: null });
    expect(jsonLines(stream.stdout).filter((frame) => frame.type === 'event')).toHaveLength(1);
    stream.signal('SIGINT');
    expect((await stream.exited()).code).toBe(0);
  });

  it('reconnects when the server closes the connection, and prints what is sent after', async () => {
    const stream = CliProcess.start(['stream', '--user', 'stan', '--outputs', outputsFile]);
    await stream.until((cli) => (cli.stderr.includes('connected to') ? true : undefined), 'the stream to connect');
    const [connectionId] = await stack.connectionIdsOf('stan', 1);

    await stack.managementApi.send(new DeleteConnectionCommand({ ConnectionId: connectionId }));
    await stream.until((cli) => (cli.stderr.includes('reconnected') ? true : undefined), 'the stream to reconnect');
    expect(stream.stderr).toContain('the connection closed; reconnecting');
    await stack.sqs.send(
      new SendMessageCommand({ QueueUrl: stack.outputs['NotifyUserQueueUrl'], MessageBody: JSON.stringify({ userId: 'stan', data: 'after', id: 'st-1' }) }),
    );

    const line = await stream.until((cli) => jsonLines(cli.stdout).find((frame) => frame.type === 'notification'), 'a notification line');
    expect(line).toEqual({ type: 'notification', id: 'st-1', time: expect.any(String), data: 'after', stream: 'user', seq: expect.any(Number) });
    stream.signal('SIGINT');
    expect((await stream.exited()).code).toBe(0);
  });

  it('exits 1 with the HTTP status when the gateway refuses the upgrade', async () => {
    const { code, stderr } = await cli('stream', '--token', 'not.a.jwt', '--outputs', outputsFile);

    expect(code).toBe(1);
    expect(stderr).toContain('refused the connection: HTTP 403 Forbidden');
  });
});

describe('ws-notify connections', () => {
  it("lists exactly the user's connections, each with when it connected and was last active", async () => {
    await Promise.all([connectAs('cora'), connectAs('cora'), connectAs('carl')]);
    const coraIds = await stack.connectionIdsOf('cora', 2);
    const [carlId] = await stack.connectionIdsOf('carl', 1);

    const { code, stdout } = await cli('connections', '--user', 'cora', '--outputs', outputsFile);

    expect(code).toBe(0);
    const listed = jsonLines(stdout);
    expect(listed.map((connection) => connection.connectionId).sort()).toEqual([...coraIds].sort());
    expect(listed.map((connection) => connection.connectionId)).not.toContain(carlId);
    for (const connection of listed) {
      expect(connection).toEqual({
        userId: 'cora',
        connectionId: expect.any(String),
        connectedAt: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
        lastActiveAt: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
        sourceIp: '127.0.0.1',
      });
    }
  });

  it('marks a connection that the table lists but the gateway does not know as gone', async () => {
    const now = Date.now();
    await stack.db.send(
      new PutCommand({
        TableName: stack.outputs['ConnectionsTableName'],
        Item: { connectionId: 'ghost=', userId: 'gus', connectedAt: now, expiresAt: Math.floor(now / 1000) + 3600 },
      }),
    );

    const { code, stdout } = await cli('connections', '--user', 'gus', '--outputs', outputsFile);

    expect(code).toBe(0);
    expect(jsonLines(stdout)).toEqual([{ userId: 'gus', connectionId: 'ghost=', gone: true }]);
  });
});

describe('ws-notify history and streams', () => {
  it("print the user's retained entries oldest first, and the stream's last seq, acked seq and unacked count", async () => {
    const client = await connectAs('hugo');
    await stack.connectionIdsOf('hugo', 1);
    for (const n of [1, 2, 3]) {
      await stack.sqs.send(new SendMessageCommand({ QueueUrl: stack.outputs['NotifyUserQueueUrl'], MessageBody: JSON.stringify({ userId: 'hugo', id: `h-${n}`, data: { n } }) }));
    }
    await eventually(async () => (client.frames.filter((frame: any) => frame.type === 'notification').length === 3 ? true : undefined), 'three notifications');
    const bySeq = (client.frames as any[]).filter((frame) => frame.type === 'notification').sort((a, b) => a.seq - b.seq);
    client.send({ action: 'ack', stream: 'user', seq: 2, id: 'ack' });
    await client.frame((frame) => frame.id === 'ack');

    const streams = await cli('streams', '--user', 'hugo', '--outputs', outputsFile);
    expect(streams.code).toBe(0);
    expect(jsonLines(streams.stdout)).toEqual([{ userId: 'hugo', stream: 'user', lastSeq: 3, epoch: bySeq[0].epoch, ackedSeq: 2, unacked: 1 }]);

    const history = await cli('history', '--user', 'hugo', '--limit', '2', '--outputs', outputsFile);
    expect(history.code).toBe(0);
    expect(jsonLines(history.stdout)).toEqual(
      bySeq.slice(1).map(({ seq, epoch, id, time, data }) => ({ stream: 'user', seq, epoch, appendedAt: expect.any(String), id, time, data })),
    );
  });
});

describe('ws-notify apikey', () => {
  it('creates a key that connects as its user, lists it, and revokes it, which closes its connection with credential_revoked', async () => {
    const created = await cli('apikey', 'create', '--user', 'kira', '--expires', '30d', '--outputs', outputsFile);
    expect(created.code).toBe(0);
    const apiKey = created.stdout.trim();
    expect(apiKey).toMatch(/^wsn_[0-9a-f]{16}_[A-Za-z0-9_-]{43}$/);
    const keyId = apiKey.split('_')[1] as string;
    expect(created.stderr).toContain('shown once');

    const client = await TestClient.connect(stack.outputs['WebSocketUrl'] as string, { headers: { 'x-api-key': apiKey } });
    clients.push(client);
    const stream = CliProcess.start(['stream', '--apikey', apiKey, '--outputs', outputsFile]);
    await stream.until((cli) => (cli.stderr.includes('connected to') ? true : undefined), 'the stream to connect');
    await stack.connectionIdsOf('kira', 2);

    const listed = await cli('apikey', 'list', '--user', 'kira', '--outputs', outputsFile);
    expect(listed.code).toBe(0);
    expect(jsonLines(listed.stdout)).toEqual([
      {
        keyId,
        userId: 'kira',
        scope: 'connect',
        status: 'active',
        createdAt: expect.stringMatching(/^\d{4}-/),
        expiresAt: expect.stringMatching(/^\d{4}-/),
      },
    ]);
    const { createdAt, expiresAt } = jsonLines(listed.stdout)[0];
    expect(Date.parse(expiresAt) - Date.parse(createdAt)).toBeCloseTo(30 * 86_400_000, -4);
    expect(listed.stdout).not.toContain(apiKey.split('_').slice(2).join('_'));

    const revoked = await cli('apikey', 'revoke', keyId, '--outputs', outputsFile);
    expect(revoked).toMatchObject({ code: 0, stdout: expect.stringContaining(`revoked ${keyId}`) });
    expect(await client.frame((frame) => frame.type === 'error', 20_000)).toMatchObject({ code: 'credential_revoked' });
    expect((await client.closedWith(20_000)).code).toBe(1000);
    // The stream stops for good, rather than reconnecting with a key that cannot connect.
    const { code, stderr } = await stream.exited();
    expect(code).toBe(1);
    expect(stderr).toContain('revoked: connect with another credential');
    expect(stderr).not.toContain('reconnecting');

    expect(jsonLines((await cli('apikey', 'list', '--user', 'kira', '--outputs', outputsFile)).stdout)).toEqual([
      expect.objectContaining({ keyId, status: 'revoked', revokedAt: expect.any(String) }),
    ]);
    expect(await cli('apikey', 'revoke', keyId, '--outputs', outputsFile)).toMatchObject({ code: 0, stdout: `${keyId} was already revoked\n` });
  }, 60_000);

  it('lists the grants a key was created with', async () => {
    const created = await cli('apikey', 'create', '--user', 'lena', '--topics', 'orders,news*', '--publish-topics', 'orders', '--groups', 'workers', '--outputs', outputsFile);
    expect(created.code).toBe(0);

    const listed = await cli('apikey', 'list', '--user', 'lena', '--outputs', outputsFile);

    expect(jsonLines(listed.stdout)).toEqual([
      expect.objectContaining({ userId: 'lena', topics: ['orders', 'news*'], publishTopics: ['orders'], groups: ['workers'], status: 'active' }),
    ]);
  });

  it('fails with exit code 1 for a key that does not exist', async () => {
    const { code, stderr } = await cli('apikey', 'revoke', '0123456789abcdef', '--outputs', outputsFile);

    expect(code).toBe(1);
    expect(stderr).toContain('there is no API key 0123456789abcdef');
  });

  it('refuses an --expires that is neither a time nor a duration, or is past, with exit code 2', async () => {
    const runs = await Promise.all([
      cli('apikey', 'create', '--user', 'kira', '--expires', 'tomorrow'),
      cli('apikey', 'create', '--user', 'kira', '--expires', '2001-01-01T00:00:00Z'),
    ]);

    expect(runs.map(({ code }) => code)).toEqual([2, 2]);
    expect(runs[0]?.stderr).toContain('--expires takes an ISO 8601 time');
    expect(runs[1]?.stderr).toContain('--expires must be in the future');
  });

  it('refuses a key that auto-subscribes to a topic its grants do not cover (every connection with it would be refused), with exit code 2, and stores nothing', async () => {
    const created = await cli('apikey', 'create', '--user', 'otto', '--topics', 'open', '--auto-subscribe', 'secret', '--outputs', outputsFile);

    expect(created.code).toBe(2);
    expect(created.stderr).toContain('this key auto-subscribes to "secret", which its topic grant does not cover');
    expect(created.stdout).toBe('');
    expect(await cli('apikey', 'list', '--user', 'otto', '--outputs', outputsFile)).toMatchObject({ code: 0, stdout: '' });
  });
});

describe('ws-notify dlq', () => {
  let dynamo: DynamoDBClient;

  beforeAll(() => {
    dynamo = new DynamoDBClient({
      endpoint: stack.outputs.DynamoDbEndpoint,
      region: stack.outputs.Region,
      credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
    });
  });

  afterAll(() => dynamo?.destroy());

  const deadLetterCount = async (output: string) => {
    const { Attributes } = await stack.sqs.send(
      new GetQueueAttributesCommand({ QueueUrl: stack.outputs[output], AttributeNames: ['ApproximateNumberOfMessages'] }),
    );
    return Number(Attributes?.ApproximateNumberOfMessages);
  };
  const deadLettered = (output: string, what: string) =>
    eventually(async () => ((await deadLetterCount(output)) > 0 ? true : undefined), what, 30_000);

  it('lists an event that failed every receive and a message a function refused, each with its reason; redriven once the cause is fixed, the event is delivered', async () => {
    // The cause: the fan-out's table is gone, so every receive of the event fails; a one-second
    // visibility timeout lets the redrive policy's five receives pass in seconds.
    const tableName = stack.outputs['SubscriptionsTableName'] as string;
    const { Table } = await dynamo.send(new DescribeTableCommand({ TableName: tableName }));
    const publishQueue = stack.outputs['PublishQueueUrl'];
    const { Attributes } = await stack.sqs.send(new GetQueueAttributesCommand({ QueueUrl: publishQueue, AttributeNames: ['VisibilityTimeout'] }));
    await stack.sqs.send(new SetQueueAttributesCommand({ QueueUrl: publishQueue, Attributes: { VisibilityTimeout: '1' } }));
    await dynamo.send(new DeleteTableCommand({ TableName: tableName }));
    let eventId: string;
    try {
      const published = await cli('publish', '--topic', 'ops', '--type', 'deploy.failed', '--data', '{"build":7}', '--outputs', outputsFile);
      expect(published.code).toBe(0);
      eventId = published.stdout.trim();
      await stack.sqs.send(new SendMessageCommand({ QueueUrl: stack.outputs['NotifyUserQueueUrl'], MessageBody: 'not json' }));
      await deadLettered('PublishDeadLetterQueueUrl', 'the event in the Publish dead-letter queue');
      await deadLettered('NotifyUserDeadLetterQueueUrl', 'the refused message in the NotifyUser dead-letter queue');
    } finally {
      await stack.sqs.send(new SetQueueAttributesCommand({ QueueUrl: publishQueue, Attributes: { VisibilityTimeout: Attributes?.VisibilityTimeout as string } }));
      await dynamo.send(new CreateTableCommand(recreated(Table as TableDescription)));
    }

    const listed = await cli('dlq', 'list', '--outputs', outputsFile);

    expect(listed.code).toBe(0);
    const lines = jsonLines(listed.stdout);
    expect(lines.find((line) => line.queue === 'publish' && line.body.includes(eventId))).toEqual({
      queue: 'publish',
      messageId: expect.any(String),
      sentAt: expect.stringMatching(/^\d{4}-/),
      age: expect.stringMatching(/^\d+(s|m\d\ds)$/),
      receiveCount: expect.any(Number),
      reason: "failed 5 receives: its queue's redrive policy moved it (no ErrorCode; the function's logs say why)",
      body: expect.stringMatching(new RegExp(`^topic=ops event\\.type=deploy\\.failed event\\.id=${eventId} \\(\\d+ bytes\\)$`)),
    });
    expect(lines.find((line) => line.queue === 'notify-user' && line.body === '"not json" (8 bytes)')).toMatchObject({
      reason: 'invalid_json: message body is not valid JSON',
      errorCode: 'invalid_json',
      errorMessage: 'message body is not valid JSON',
      sourceMessageId: expect.any(String),
    });
    expect(listed.stderr).toContain('publish: ');

    // The cause is fixed (the table is back) and someone listens; the event goes back to its queue.
    const stream = CliProcess.start(['stream', '--user', 'olga', '--topic', 'ops', '--outputs', outputsFile]);
    await stream.until((cli) => jsonLines(cli.stdout).find((frame) => frame.type === 'subscribed'), 'the subscription');
    const redriven = await cli('dlq', 'redrive', '--queue', 'publish', '--outputs', outputsFile);

    expect(redriven.code).toBe(0);
    expect(jsonLines(redriven.stdout)).toEqual([{ queue: 'publish', status: 'COMPLETED', moved: 1, toMove: 1 }]);
    const delivered = await stream.until((cli) => jsonLines(cli.stdout).find((frame) => frame.type === 'event'), 'the redriven event');
    expect(delivered).toMatchObject({ topic: 'ops', event: { id: eventId!, type: 'deploy.failed', data: { build: 7 } } });
    expect(jsonLines((await cli('dlq', 'list', '--queue', 'publish', '--outputs', outputsFile)).stdout)).toEqual([]);
  }, 120_000);

  it('purges only when confirmed: with no terminal to ask at, it wants --yes (exit code 2)', async () => {
    await stack.sqs.send(new SendMessageCommand({ QueueUrl: stack.outputs['NotifyConnectionQueueUrl'], MessageBody: '{"connectionId":""}' }));
    await deadLettered('NotifyConnectionDeadLetterQueueUrl', 'the refused message in the NotifyConnection dead-letter queue');

    const refused = await cli('dlq', 'purge', '--queue', 'notify-connection', '--outputs', outputsFile);

    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain('there is no terminal to ask at: pass --yes to purge');
    expect(await deadLetterCount('NotifyConnectionDeadLetterQueueUrl')).toBeGreaterThan(0);

    const purged = await cli('dlq', 'purge', '--queue', 'notify-connection', '--yes', '--outputs', outputsFile);

    expect(purged.code).toBe(0);
    expect(jsonLines(purged.stdout)).toEqual([{ queue: 'notify-connection', purged: expect.any(Number) }]);
    expect(await deadLetterCount('NotifyConnectionDeadLetterQueueUrl')).toBe(0);
  }, 60_000);

  it('says which output a stack deployed before dlq existed lacks', async () => {
    const deployed = writeOutputs('deployed-before-dlq.json', { Prod: DEPLOYED_OUTPUTS });

    const { code, stderr } = await cli('dlq', 'list', '--outputs', deployed);

    expect(code).toBe(1);
    expect(stderr).toContain('Prod has no output NotifyUserDeadLetterQueueUrl');
  });
});

/** The table as the runtime created it, from its description. */
function recreated(table: TableDescription) {
  return {
    TableName: table.TableName,
    BillingMode: 'PAY_PER_REQUEST' as const,
    AttributeDefinitions: table.AttributeDefinitions,
    KeySchema: table.KeySchema,
    ...(table.GlobalSecondaryIndexes && {
      GlobalSecondaryIndexes: table.GlobalSecondaryIndexes.map(({ IndexName, KeySchema, Projection }) => ({ IndexName, KeySchema, Projection })),
    }),
  };
}

describe('the ws-notify command line', () => {
  it('runs with `npx ws-notify` from the project directory', async () => {
    const { code, stdout, stderr } = await CliProcess.start(['token', '--user', 'nora', '--outputs', outputsFile], { viaNpx: true }).exited();

    // Compared together so that a failure shows what npx said.
    expect({ code, stderr }).toEqual({ code: 0, stderr: expect.any(String) });
    expect(decodeJwt(stdout.trim()).sub).toBe('nora');
  });

  it('prints the usage of the CLI and of every command with --help, and exits 0', async () => {
    // One after another: seven first runs at once on a loaded machine once printed nothing (cause not established).
    const runs = [];
    for (const command of [[], ['token'], ['send'], ['stream'], ['connections'], ['publish'], ['apikey'], ['dlq']]) runs.push(await cli(...command, '--help'));

    expect(runs.map(({ code }) => code)).toEqual([0, 0, 0, 0, 0, 0, 0, 0]);
    expect(runs.map(({ stdout }) => stdout.split('\n')[0])).toEqual([
      'Usage: ws-notify <command> [options]',
      'Usage: ws-notify token --user <id> [--ttl <seconds>] [--claims <json>] [target]',
      'Usage: ws-notify send (--user <id> [--tenant <t>] | --connection <id>) --data <json> [target]',
      'Usage: ws-notify stream [<topic>] (--user <id> | --token <jwt> | --apikey <key> | --anonymous) [--topic <t>] [--events <a,b>] [--group <g>] [--resume <file>] [target]',
      'Usage: ws-notify connections --user <id> [target]',
      'Usage: ws-notify publish --topic <t> --type <type> [--data <json>] [--subject <s>] [--source <uri>] [--tenant <t>] [target]',
      'Usage: ws-notify apikey create --user <id> [--tenant <t>] [--expires <when>] [--scope <scope>] [--topics <patterns>] [--publish-topics <patterns>] [--groups <patterns>] [--auto-subscribe <topics>] [--keepalive] [target]',
      'Usage: ws-notify dlq list [--queue <q>] [--max <n>] [target]',
    ]);
  }, 8 * CLI_TIMEOUT_MS);

  it('refuses an unknown option with exit code 2, the message and the usage on stderr', async () => {
    const { code, stdout, stderr } = await cli('connections', '--user', 'cora', '--verbose');

    expect(code).toBe(2);
    expect(stdout).toBe('');
    expect(stderr).toContain("ws-notify: Unknown option '--verbose'");
    expect(stderr).toContain('Usage: ws-notify connections --user <id> [target]');
  });

  it('refuses an unknown command with exit code 2', async () => {
    const { code, stderr } = await cli('subscribe', '--user', 'cora');

    expect(code).toBe(2);
    expect(stderr).toContain('ws-notify: unknown command "subscribe"');
  });

  it('says that the local runtime is not running when there is no .local/outputs.json', async () => {
    const { code, stderr } = await CliProcess.start(['send', '--user', 'sara', '--data', '1'], { cwd: scratchDir }).exited();

    expect(code).toBe(1);
    expect(stderr).toContain('the local runtime is not running: start it with `npm start`, or pass --outputs/--stack');
  });

  it('says that the runtime is not answering when its outputs file outlived it', async () => {
    const closedPort = await freePort();
    const outputs = JSON.parse(readFileSync(outputsFile, 'utf8')) as Record<string, Record<string, string>>;
    const [[stackName, stackOutputs]] = Object.entries(outputs) as [[string, Record<string, string>]];
    const stale = writeOutputs('stale.json', { [stackName]: { ...stackOutputs, SqsEndpoint: `http://127.0.0.1:${closedPort}` } });

    const { code, stderr } = await cli('send', '--user', 'sara', '--data', '1', '--outputs', stale);

    expect(code).toBe(1);
    expect(stderr).toContain(`the runtime at 127.0.0.1:${closedPort} is not answering`);
  });
});

describe('ws-notify --stack', () => {
  let cloudFormation: Server;
  let cloudFormationEnv: Record<string, string>;

  beforeAll(async () => {
    cloudFormation = await startCloudFormation({ Prod: DEPLOYED_OUTPUTS });
    cloudFormationEnv = {
      AWS_ENDPOINT_URL_CLOUDFORMATION: `http://127.0.0.1:${(cloudFormation.address() as AddressInfo).port}`,
      AWS_REGION: 'eu-west-1',
      AWS_ACCESS_KEY_ID: 'test',
      AWS_SECRET_ACCESS_KEY: 'test',
    };
  });

  afterAll(() => new Promise<void>((resolve) => (cloudFormation ? cloudFormation.close(() => resolve()) : resolve())));

  it('alone reads the outputs of a deployed stack with CloudFormation DescribeStacks', async () => {
    const { code, stderr } = await CliProcess.start(['token', '--user', 'tina', '--stack', 'Prod'], { env: cloudFormationEnv }).exited();

    expect(code).toBe(1);
    expect(stderr).toContain('Prod is deployed and accepts tokens from your identity provider');
  });

  it('alone names the region when CloudFormation has no such stack', async () => {
    const { code, stderr } = await CliProcess.start(['token', '--user', 'tina', '--stack', 'Staging'], { env: cloudFormationEnv }).exited();

    expect(code).toBe(1);
    expect(stderr).toContain('ws-notify: no stack "Staging" in eu-west-1: Stack with id Staging does not exist');
  });
});

/** DescribeStacks as CloudFormation answers it (the AWS query protocol), for the stacks given. */
function startCloudFormation(stacks: Record<string, Record<string, string>>): Promise<Server> {
  const server = createHttpServer((request, response) => {
    let body = '';
    request.on('data', (chunk: Buffer) => (body += chunk.toString()));
    request.on('end', () => {
      const stackName = new URLSearchParams(body).get('StackName') ?? '';
      const outputs = stacks[stackName];
      response.setHeader('content-type', 'text/xml');
      if (!outputs) {
        response.statusCode = 400;
        response.end(
          `<ErrorResponse><Error><Type>Sender</Type><Code>ValidationError</Code><Message>Stack with id ${stackName} does not exist</Message></Error><RequestId>r</RequestId></ErrorResponse>`,
        );
        return;
      }
      const members = Object.entries(outputs).map(([key, value]) => `<member><OutputKey>${key}</OutputKey><OutputValue>${value}</OutputValue></member>`);
      response.end(
        `<DescribeStacksResponse><DescribeStacksResult><Stacks><member><StackName>${stackName}</StackName><StackStatus>CREATE_COMPLETE</StackStatus>` +
          `<CreationTime>2026-01-01T00:00:00Z</CreationTime><Outputs>${members.join('')}</Outputs></member></Stacks></DescribeStacksResult>` +
          '<ResponseMetadata><RequestId>r</RequestId></ResponseMetadata></DescribeStacksResponse>',
      );
    });
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server)));
}
