import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { SendMessageCommand } from '@aws-sdk/client-sqs';
import { ScanCommand } from '@aws-sdk/lib-dynamodb';
import { ApiKeyTable } from '../../lambdas/core/api-keys';
import { acceptedCases, AttackerKeySite, type Credential, refusedCases, TokenForge } from '../support/attacks';
import { PROJECT_DIR, type RuntimeUnderTest, startRuntimeUnderTest, TestClient, UpgradeRefusedError } from '../support/local-runtime';

let stack: RuntimeUnderTest;
let attacker: AttackerKeySite;
let forge: TokenForge;
/** Accepted connections stay open until the end, so no `$disconnect` changes the row count under a refused case. */
const clients: TestClient[] = [];

beforeAll(async () => {
  [stack, attacker] = await Promise.all([startRuntimeUnderTest(), AttackerKeySite.start()]);
  forge = TokenForge.open(stack.stateDir, stack.runtime.issuer, attacker, new ApiKeyTable(stack.db, stack.outputs['ApiKeysTableName'] as string));
}, 300_000);

afterAll(async () => {
  for (const client of clients) client.socket.terminate();
  await attacker?.stop();
  await stack?.stop();
}, 30_000);

function upgradeUrl({ query }: Credential): string {
  const url = new URL(stack.outputs['WebSocketUrl'] as string);
  for (const [name, value] of Object.entries(query ?? {})) url.searchParams.set(name, value);
  return url.toString();
}

async function connect(credential: Credential): Promise<TestClient> {
  const client = await TestClient.connect(upgradeUrl(credential), {
    ...(credential.headers && { headers: credential.headers }),
    ...(credential.protocols && { protocols: credential.protocols }),
  });
  clients.push(client);
  return client;
}

/** The HTTP status the upgrade was refused with; fails if it was accepted. */
async function refusal(credential: Credential): Promise<number> {
  const outcome = await connect(credential).then(
    () => new Error('the upgrade was accepted'),
    (error: unknown) => error,
  );
  if (outcome instanceof UpgradeRefusedError) return outcome.status;
  throw outcome;
}

/** How many rows the connection table holds (a Scan, which only a test may use). */
async function storedConnections(): Promise<number> {
  const { Count } = await stack.db.send(new ScanCommand({ TableName: stack.outputs['ConnectionsTableName'], Select: 'COUNT' }));
  return Count ?? 0;
}

async function notifyUser(userId: string, id: string, data: unknown): Promise<void> {
  const body = JSON.stringify({ userId, id, data });
  await stack.sqs.send(new SendMessageCommand({ QueueUrl: stack.outputs['NotifyUserQueueUrl'], MessageBody: body }));
}

describe('$connect refuses, and stores nothing for,', () => {
  it.each(refusedCases)('$name → $status', async ({ credential, status }) => {
    const before = await storedConnections();

    const refusedWith = await refusal(await credential(forge));

    expect(refusedWith).toBe(status);
    expect(await storedConnections()).toBe(before);
  });

  it("never fetches a key from a URL a token names (jku, x5u)", () => {
    // Runs after the jku and x5u cases above (Jest runs a file's tests in order).
    expect(attacker.fetchCount).toBe(0);
  });
});

describe('$connect accepts, under the user the winning credential names,', () => {
  it.each(acceptedCases)('$name', async ({ credential, connectsAs }) => {
    await connect(await credential(forge));

    expect(await stack.connectionIdsOf(connectsAs, 1)).toHaveLength(1);
  });
});

describe('a user named anywhere but in the token', () => {
  it("connects as the token's user despite ?userId= and x-user-id naming another, and gets only that user's notifications", async () => {
    const victim = await connect({ headers: { Authorization: `Bearer ${await stack.tokenFor('victim-b')}` } });
    const mallory = await connect({
      headers: { Authorization: `Bearer ${await stack.tokenFor('mallory-a')}`, 'x-user-id': 'victim-b' },
      query: { userId: 'victim-b' },
    });
    expect(await stack.connectionIdsOf('mallory-a', 1)).toHaveLength(1);
    expect(await stack.connectionIdsOf('victim-b', 1)).toHaveLength(1);

    await notifyUser('victim-b', 'for-victim', { secret: 'victim only' });
    expect(await victim.frame((frame) => frame.type === 'notification')).toMatchObject({ id: 'for-victim' });
    // Sent only once the victim's is delivered: mallory's notification arriving means the
    // victim's fan-out, which planned one connection (the table holds one), is long done.
    await notifyUser('mallory-a', 'for-mallory', { text: 'yours' });
    await mallory.frame((frame) => frame.id === 'for-mallory');

    const notifications = mallory.frames.filter((frame) => (frame as { type?: unknown }).type === 'notification');
    expect(notifications).toEqual([{ type: 'notification', id: 'for-mallory', time: expect.any(String), data: { text: 'yours' }, stream: 'user', seq: expect.any(Number), epoch: expect.any(String) }]);
  });
});

describe('one user opening connection after connection (amplification)', () => {
  it('is refused 429 at the 26th, storing nothing, and connects again once one of its 25 has closed', async () => {
    const credential = { headers: { Authorization: `Bearer ${await stack.tokenFor('amplifier')}` } };
    const open = await Promise.all(Array.from({ length: 25 }, () => connect(credential)));
    expect(await stack.connectionIdsOf('amplifier', 25)).toHaveLength(25);
    const before = await storedConnections();

    expect(await refusal(credential)).toBe(429);
    expect(await storedConnections()).toBe(before);

    open[0]!.close();
    await stack.connectionIdsOf('amplifier', 24);
    await connect(credential);
    expect(await stack.connectionIdsOf('amplifier', 25)).toHaveLength(25);
  });
});

describe('a frame nested 15,000 deep (30 KB, within one WebSocket frame)', () => {
  it('is answered too_deep through the gateway, on the route it names, before it is validated', async () => {
    const client = await connect({ headers: { Authorization: `Bearer ${await stack.tokenFor('deep-frames')}` } });

    client.send(`{"action":"publish","id":"deep","topic":"t","event":{"type":"x","data":${'['.repeat(15_000) + ']'.repeat(15_000)}}}`);

    expect(await client.frame((frame) => frame.id === 'deep')).toEqual({
      type: 'error',
      code: 'too_deep',
      message: 'the frame nests objects and arrays more than 64 deep',
      id: 'deep',
    });
  });
});

describe('docs/security.md', () => {
  it('has a row for every case of this suite', () => {
    const doc = readFileSync(path.join(PROJECT_DIR, 'docs', 'security.md'), 'utf8');
    const rows = doc.split('\n').filter((line) => line.startsWith('|'));

    const missing = [...refusedCases, ...acceptedCases].map(({ name }) => name).filter((name) => !rows.some((row) => row.includes(name)));
    expect(missing).toEqual([]);
  });
});
