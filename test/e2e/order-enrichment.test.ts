import * as path from 'node:path';
import { ApiKeyTable } from '../../lambdas/core/api-keys';
import { PROJECT_DIR, type RuntimeUnderTest, startRuntimeUnderTest, TestClient } from '../support/local-runtime';

/** examples/order-enrichment, Kyma's flow, run by the local runtime as `npm start -- --project examples/order-enrichment` runs it. */
let stack: RuntimeUnderTest;
let publishKey: string;
const clients: TestClient[] = [];

beforeAll(async () => {
  stack = await startRuntimeUnderTest({ projectDir: path.join(PROJECT_DIR, 'examples', 'order-enrichment') });
  const keys = new ApiKeyTable(stack.db, stack.outputs['ApiKeysTableName'] as string);
  ({ apiKey: publishKey } = await keys.create({ userId: 'shop', scope: 'publish', publishTopics: ['orders'] }));
}, 180_000);

afterAll(async () => {
  for (const client of clients) client.socket.terminate();
  await stack?.stop();
}, 30_000);

async function connectAs(userId: string, claims: Record<string, unknown> = {}): Promise<TestClient> {
  const token = await stack.runtime.issuer.mint({ userId, claims });
  const client = await TestClient.connect(stack.outputs['WebSocketUrl'] as string, { headers: { Authorization: `Bearer ${token}` } });
  clients.push(client);
  return client;
}

async function postOrderEvent(id: string, orderId: string): Promise<number> {
  const response = await fetch(`${stack.outputs['EventsUrl']}/orders/events`, {
    method: 'POST',
    headers: { 'x-api-key': publishKey, 'content-type': 'application/cloudevents+json' },
    body: JSON.stringify({ specversion: '1.0', id, source: 'https://shop.example', type: 'order.created', data: { orderId } }),
  });
  return response.status;
}

describe('examples/order-enrichment', () => {
  it("posts order.created over HTTP, enriches it, and pushes it to the ordering user's connections only", async () => {
    const [alice, bob] = await Promise.all([connectAs('alice'), connectAs('bob')]);
    const backOffice = await connectAs('back-office', { topics: ['orders'] });
    backOffice.send({ action: 'subscribe', topic: 'orders', id: 'sub' });
    await backOffice.frame((frame) => frame.id === 'sub');

    expect(await postOrderEvent('e-known', 'o-1001')).toBe(202);
    expect(await alice.frame((frame) => frame.type === 'event')).toEqual({
      type: 'event',
      topic: 'orders',
      event: {
        specversion: '1.0',
        id: 'e-known',
        source: 'https://shop.example',
        type: 'order.created',
        data: { orderId: 'o-1001', lines: [{ sku: 'mug', quantity: 2 }], total: '€24.00', message: 'Thank you! Order o-1001 (€24.00) is confirmed.' },
        // Stamped by the server, whatever the enrichment returns.
        wsnpublisher: `apikey:${publishKey.split('_')[1]}`,
      },
    });

    // An order the enrichment does not know goes to the topic's subscribers as it came; sent after
    // alice's event arrived, so its arrival shows that the first event's fan-out is long done.
    expect(await postOrderEvent('e-unknown', 'o-9999')).toBe(202);
    expect((await backOffice.frame((frame) => frame.type === 'event')).event).toMatchObject({ id: 'e-unknown', data: { orderId: 'o-9999' } });
    expect(backOffice.frames.filter((frame: any) => frame.type === 'event').map((frame: any) => frame.event.id)).toEqual(['e-unknown']);
    expect(bob.frames.filter((frame: any) => frame.type === 'event')).toEqual([]);
    expect(alice.frames.filter((frame: any) => frame.type === 'event')).toHaveLength(1);
  });
});
