import { ApiKeyTable } from '../../lambdas/core/api-keys';
import { type RuntimeUnderTest, startRuntimeUnderTest, TestClient } from '../support/local-runtime';

let stack: RuntimeUnderTest;
let keys: ApiKeyTable;
let publishKey: string;
/** Who the server says published what the key posts: `apikey:<keyId>`, the key being `wsn_<keyId>_<secret>`. */
let keyPublisher: string;
let subscriber: TestClient;
const clients: TestClient[] = [];

beforeAll(async () => {
  stack = await startRuntimeUnderTest();
  keys = new ApiKeyTable(stack.db, stack.outputs['ApiKeysTableName'] as string);
  ({ apiKey: publishKey } = await keys.create({ userId: 'shop-backend', scope: 'publish', publishTopics: ['orders.*'] }));
  keyPublisher = `apikey:${publishKey.split('_')[1]}`;
  subscriber = await connectWithTopics(['orders.*']);
  subscriber.send({ action: 'subscribe', topic: 'orders.eu', id: 'sub' });
  await subscriber.frame((frame) => frame.id === 'sub' && frame.type === 'subscribed');
}, 300_000);

afterAll(async () => {
  for (const client of clients) client.socket.terminate();
  await stack?.stop();
}, 30_000);

async function connectWithTopics(topics: string[]): Promise<TestClient> {
  const token = await stack.runtime.issuer.mint({ userId: `reader-${clients.length}`, claims: { topics } });
  const client = await TestClient.connect(stack.outputs['WebSocketUrl'] as string, { headers: { Authorization: `Bearer ${token}` } });
  clients.push(client);
  return client;
}

let nextId = 0;
const cloudEvent = (overrides: Record<string, unknown> = {}) => ({
  specversion: '1.0',
  id: `http-${nextId++}`,
  source: 'https://shop.example/orders',
  type: 'order.created',
  data: { orderId: 'o-1' },
  ...overrides,
});

async function post(topic: string, body: string | Buffer, headers: Record<string, string>, path = 'topics'): Promise<{ status: number; json: any }> {
  const base = (stack.outputs['EventsUrl'] as string).replace(/\/topics$/, '');
  const response = await fetch(`${base}/${path}/${topic}/events`, { method: 'POST', headers, body });
  return { status: response.status, json: await response.json() };
}

const structured = (event: unknown, headers: Record<string, string> = { 'x-api-key': publishKey }) =>
  post('orders.eu', JSON.stringify(event), { 'content-type': 'application/cloudevents+json', ...headers });

async function received(id: string): Promise<any> {
  return (await subscriber.frame((frame) => frame.type === 'event' && frame.event.id === id)).event;
}

describe('POST /topics/{topic}/events with a publish API key', () => {
  it('takes a structured-mode event (application/cloudevents+json), answers 202 with its id, and delivers it', async () => {
    const event = cloudEvent({ subject: 'o-1', traceparent: '00-abc-def-01' });

    expect(await structured(event)).toEqual({ status: 202, json: { accepted: 1, ids: [event.id] } });
    expect(await received(event.id)).toEqual({ ...event, wsnpublisher: keyPublisher });
  });

  it('takes a binary-mode event (ce-* headers, the body as data of its Content-Type)', async () => {
    const response = await post('orders.eu', JSON.stringify({ orderId: 'o-2' }), {
      'x-api-key': publishKey,
      'content-type': 'application/json',
      'ce-specversion': '1.0',
      'ce-id': 'binary-1',
      'ce-source': 'https://shop.example/orders',
      'ce-type': 'order.shipped',
      'ce-subject': 'o%202',
    });

    expect(response).toEqual({ status: 202, json: { accepted: 1, ids: ['binary-1'] } });
    expect(await received('binary-1')).toEqual({
      specversion: '1.0',
      id: 'binary-1',
      source: 'https://shop.example/orders',
      type: 'order.shipped',
      subject: 'o 2',
      datacontenttype: 'application/json',
      data: { orderId: 'o-2' },
      wsnpublisher: keyPublisher,
    });
  });

  it('takes a batch (application/cloudevents-batch+json) and delivers each event', async () => {
    const batch = [cloudEvent(), cloudEvent({ type: 'order.paid' }), cloudEvent({ data: 'text' })];

    const response = await post('orders.eu', JSON.stringify(batch), { 'x-api-key': publishKey, 'content-type': 'application/cloudevents-batch+json' });

    expect(response).toEqual({ status: 202, json: { accepted: 3, ids: batch.map((event) => event.id) } });
    for (const event of batch) expect(await received(event.id)).toEqual({ ...event, wsnpublisher: keyPublisher });
  });

  it('accepts the key as Authorization: Basic with its user', async () => {
    const basic = `Basic ${Buffer.from(`shop-backend:${publishKey}`).toString('base64')}`;

    expect((await structured(cloudEvent(), { authorization: basic })).status).toBe(202);
  });
});

describe('invalid events are answered 400 with the reason', () => {
  it.each([
    ['a JSON body that is not a CloudEvent', () => post('orders.eu', '{"hello":1}', { 'x-api-key': publishKey, 'content-type': 'application/json' }), /not a CloudEvent/],
    ['an event without source', () => structured(cloudEvent({ source: undefined })), /source/],
    ['an event with an unparsable time', () => structured(cloudEvent({ time: 'yesterday' })), /time/],
    ['a specversion other than 1.0', () => structured(cloudEvent({ specversion: '0.3' })), /specversion/],
    ['a body that is not JSON', () => post('orders.eu', '{', { 'x-api-key': publishKey, 'content-type': 'application/cloudevents+json' }), /not valid JSON/],
    ['a batch that is not an array', () => post('orders.eu', '{}', { 'x-api-key': publishKey, 'content-type': 'application/cloudevents-batch+json' }), /JSON array/],
    ['an empty batch', () => post('orders.eu', '[]', { 'x-api-key': publishKey, 'content-type': 'application/cloudevents-batch+json' }), /1 to 100/],
    [
      'a batch with one invalid event',
      () => post('orders.eu', JSON.stringify([cloudEvent(), { specversion: '1.0' }]), { 'x-api-key': publishKey, 'content-type': 'application/cloudevents-batch+json' }),
      /event 1 is not a valid CloudEvent/,
    ],
    ['a topic that is not one', () => post('orders.e%20u', JSON.stringify(cloudEvent()), { 'x-api-key': publishKey, 'content-type': 'application/cloudevents+json' }), /not a topic/],
  ])('%s', async (_what, send, reason) => {
    const { status, json } = await send();

    expect(status).toBe(400);
    expect(json.message).toMatch(reason);
  });

  it('answers 413 for an event whose frame API Gateway could not deliver', async () => {
    const { status, json } = await structured(cloudEvent({ data: 'x'.repeat(130 * 1024) }));

    expect({ status, error: json.error }).toEqual({ status: 413, error: 'payload_too_large' });
  });
});

describe('who may post', () => {
  it('refuses, with 403, no key, a connect-scope key, a revoked key and a wrong secret', async () => {
    const connectKey = (await keys.create({ userId: 'someone', scope: 'connect', publishTopics: ['orders.*'] })).apiKey;
    const revoked = await keys.create({ userId: 'shop-backend', scope: 'publish', publishTopics: ['orders.*'] });
    await keys.revoke(revoked.record.keyId);

    const credentials: Record<string, string>[] = [{}, { 'x-api-key': connectKey }, { 'x-api-key': revoked.apiKey }, { 'x-api-key': `${publishKey.slice(0, -1)}${publishKey.endsWith('A') ? 'B' : 'A'}` }];
    const statuses = await Promise.all(credentials.map(async (headers) => (await structured(cloudEvent(), headers)).status));

    expect(statuses).toEqual([403, 403, 403, 403]);
  });

  it('refuses a topic outside the key grant with 403 forbidden_topic', async () => {
    const response = await post('payroll', JSON.stringify(cloudEvent()), { 'x-api-key': publishKey, 'content-type': 'application/cloudevents+json' });

    expect(response).toEqual({ status: 403, json: { error: 'forbidden_topic', message: 'this key may not publish to "payroll"' } });
  });

  it('lets AWS callers post on the IAM route, which refuses an unsigned request', async () => {
    const event = cloudEvent();
    const body = JSON.stringify(event);
    const headers = { 'content-type': 'application/cloudevents+json' };
    const signed = { ...headers, authorization: 'AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20261123/us-east-1/execute-api/aws4_request, SignedHeaders=host, Signature=abc' };

    expect((await post('orders.eu', body, headers, 'iam/topics')).status).toBe(403);
    expect(await post('orders.eu', body, signed, 'iam/topics')).toEqual({ status: 202, json: { accepted: 1, ids: [event.id] } });
    expect(await received(event.id)).toEqual({ ...event, wsnpublisher: 'backend' });
  });
});

describe('a publish key posing as a user or a backend', () => {
  it("refuses a source in the server's ws-notify: namespace with 400 reserved_source, enqueueing nothing of the batch", async () => {
    const spoofed = cloudEvent({ source: 'ws-notify:user:alice', type: 'message.posted' });
    const honest = cloudEvent();

    const response = await post('orders.eu', JSON.stringify([honest, spoofed]), { 'x-api-key': publishKey, 'content-type': 'application/cloudevents-batch+json' });

    expect(response).toMatchObject({ status: 400, json: { error: 'reserved_source' } });
    // A later event arriving alone shows that neither of the refused batch was delivered before it.
    const later = cloudEvent();
    expect((await structured(later)).status).toBe(202);
    await received(later.id);
    expect(subscriber.frames.filter((frame: any) => frame.type === 'event' && [honest.id, spoofed.id].includes(frame.event.id))).toEqual([]);
  });

  it('refuses an event that sets the publisher attribute itself (wsnpublisher) with 400 reserved_source', async () => {
    for (const wsnpublisher of ['user:alice', 'backend', keyPublisher]) {
      expect(await structured(cloudEvent({ wsnpublisher }))).toMatchObject({ status: 400, json: { error: 'reserved_source' } });
    }
  });

  it("stamps the key as the publisher of a backend's (source, id) posted first, so the backend's own event stays distinguishable", async () => {
    const backendEvent = cloudEvent({ id: 'next-from-backend' });
    const signed = { 'content-type': 'application/cloudevents+json', authorization: 'AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20261123/us-east-1/execute-api/aws4_request, SignedHeaders=host, Signature=abc' };

    expect((await structured(backendEvent)).status).toBe(202);
    const forged = await received(backendEvent.id);
    expect((await post('orders.eu', JSON.stringify(backendEvent), signed, 'iam/topics')).status).toBe(202);
    const real = await subscriber.frame((frame) => frame.type === 'event' && frame.event.id === backendEvent.id && frame.event.wsnpublisher === 'backend');

    expect([forged.wsnpublisher, real.event.wsnpublisher]).toEqual([keyPublisher, 'backend']);
  });
});
