import { DIRECT_DELIVERY_MAX_CONNECTIONS } from '../../lambdas/core/fan-out';
import { EmfCapture, type EmfDocument, sumOf, valuesOf } from '../support/emf';
import { type DeliveryUnderTest, type SqsHandler, startDeliveryUnderTest } from '../support/delivery-under-test';
import { RecordingConnections } from '../support/management-api-server';
import { drain, enqueue, type StackUnderTest } from '../support/stack-under-test';

let delivery: DeliveryUnderTest;
let stack: StackUnderTest;
let emf: EmfCapture;
const clients = new RecordingConnections();
let notifyUser: SqsHandler;
let notifyConnection: SqsHandler;

beforeAll(async () => {
  delivery = await startDeliveryUnderTest('ws-notify-metrics-test', clients);
  ({ stack, emf, notifyUser, notifyConnection } = delivery);
}, 60_000);

afterAll(async () => {
  await delivery?.stop();
});

beforeEach(() => emf.take());

const connectAs = (userId: string, connectionId: string, open = true) => delivery.connectAs(userId, connectionId, open);

/** The totals a dashboard would show for what the documents hold. */
function counts(documents: EmfDocument[]): Record<string, number> {
  const names = ['NotificationsReceived', 'DeliveriesPosted', 'ConnectionsGone', 'DeliveriesRetried', 'DeliveriesThrottled', 'DeadLettered'];
  return Object.fromEntries(names.map((name) => [name, sumOf(documents, name)]).filter(([, sum]) => sum !== 0));
}

describe('the metrics of a notification', () => {
  it('counts a NotifyUser notification, its fan-out size, a post and a gone connection, in one document per invocation', async () => {
    await connectAs('amy', 'conn-amy-live');
    await connectAs('amy', 'conn-amy-gone', false);
    const enqueuedAt = Date.now();

    await enqueue(stack.sqs, stack.notifyUser.url, JSON.stringify({ userId: 'amy', data: 'hi' }));
    const result = await drain(stack, stack.notifyUser, notifyUser);
    const finishedAt = Date.now();

    expect(result).toMatchObject({ batches: 1, failedMessageIds: [] });
    const documents = emf.take();
    expect(documents).toHaveLength(1);
    const [document] = documents as [EmfDocument];
    expect(document._aws.CloudWatchMetrics).toEqual([
      {
        Namespace: 'WsNotify',
        Dimensions: [['service']],
        Metrics: expect.arrayContaining([
          { Name: 'NotificationsReceived', Unit: 'Count' },
          { Name: 'FanOutSize', Unit: 'Count' },
          { Name: 'DeliveriesPosted', Unit: 'Count' },
          { Name: 'ConnectionsGone', Unit: 'Count' },
          { Name: 'DeliveryLatency', Unit: 'Milliseconds' },
        ]),
      },
    ]);
    expect(document['service']).toBe('ws-notify-metrics-test');
    expect(counts(documents)).toEqual({ NotificationsReceived: 1, DeliveriesPosted: 1, ConnectionsGone: 1 });
    expect(valuesOf(documents, 'FanOutSize')).toEqual([2]);
    const [latency] = valuesOf(documents, 'DeliveryLatency');
    expect(latency).toBeGreaterThanOrEqual(0);
    expect(latency).toBeLessThanOrEqual(finishedAt - enqueuedAt + 1000);
    // No user or connection id anywhere in the document: not a dimension, not a property.
    expect(JSON.stringify(document)).not.toMatch(/amy/);
  });

  it(`records the fan-out size of a user with more than ${DIRECT_DELIVERY_MAX_CONNECTIONS} connections, each delivery by notify-connection, and the notification once`, async () => {
    const ids = Array.from({ length: DIRECT_DELIVERY_MAX_CONNECTIONS + 2 }, (_, i) => `conn-bo-${i}`);
    for (const id of ids) await connectAs('bo', id);

    await enqueue(stack.sqs, stack.notifyUser.url, JSON.stringify({ userId: 'bo', data: 'many' }));
    await drain(stack, stack.notifyUser, notifyUser);
    const userStage = emf.take();
    await drain(stack, stack.notifyConnection, notifyConnection);
    const connectionStage = emf.take();

    expect(valuesOf(userStage, 'FanOutSize')).toEqual([ids.length]);
    expect(counts(userStage)).toEqual({ NotificationsReceived: 1 });
    expect(counts(connectionStage)).toEqual({ DeliveriesPosted: ids.length });
    expect(valuesOf(connectionStage, 'DeliveryLatency')).toHaveLength(ids.length);
  });

  it('counts a post throttled past the SDK retries as retried and throttled, handed off, then posted by notify-connection', async () => {
    await connectAs('cy', 'conn-cy-1');
    await connectAs('cy', 'conn-cy-2');
    // The SDK makes 3 attempts; all of them are throttled.
    clients.throttle('conn-cy-1', 3);

    await enqueue(stack.sqs, stack.notifyUser.url, JSON.stringify({ userId: 'cy', data: 'retry me' }));
    await drain(stack, stack.notifyUser, notifyUser);
    const userStage = emf.take();
    await drain(stack, stack.notifyConnection, notifyConnection);
    const connectionStage = emf.take();

    expect(counts(userStage)).toEqual({ NotificationsReceived: 1, DeliveriesPosted: 1, DeliveriesRetried: 1, DeliveriesThrottled: 1 });
    // The hand-off is the same notification: delivered, not received a second time.
    expect(counts(connectionStage)).toEqual({ DeliveriesPosted: 1 });
  });

  it('counts a NotifyConnection record throttled past the SDK retries, which SQS retries, as retried and throttled', async () => {
    await connectAs('dee', 'conn-dee-1');
    clients.throttle('conn-dee-1', 3);

    await enqueue(stack.sqs, stack.notifyConnection.url, JSON.stringify({ connectionId: 'conn-dee-1', data: 'later' }));
    const result = await drain(stack, stack.notifyConnection, notifyConnection);

    expect(result.failedMessageIds).toHaveLength(1);
    expect(counts(emf.take())).toEqual({ NotificationsReceived: 1, DeliveriesRetried: 1, DeliveriesThrottled: 1 });
  });

  it('counts dead-lettered messages by reason, in documents whose dimensions are service and reason', async () => {
    await connectAs('eve', 'conn-eve-1');

    await enqueue(
      stack.sqs,
      stack.notifyUser.url,
      'not json',
      JSON.stringify({ userId: 'eve' }),
      JSON.stringify({ userId: 'eve', data: 'x'.repeat(128 * 1024) }),
      JSON.stringify({ userId: 'eve', data: 'ok' }),
    );
    await drain(stack, stack.notifyUser, notifyUser);
    const documents = emf.take();

    expect(sumOf(documents, 'DeadLettered', { reason: 'invalid_json' })).toBe(1);
    expect(sumOf(documents, 'DeadLettered', { reason: 'invalid_message' })).toBe(1);
    expect(sumOf(documents, 'DeadLettered', { reason: 'payload_too_large' })).toBe(1);
    for (const document of documents.filter((candidate) => 'DeadLettered' in candidate)) {
      expect(document._aws.CloudWatchMetrics[0]?.Dimensions).toEqual([['service', 'reason']]);
      expect(document['service']).toBe('ws-notify-metrics-test');
    }
    // Only the valid one was accepted for delivery (the oversize frame is refused before any post), and delivered.
    expect(counts(documents)).toEqual({ NotificationsReceived: 1, DeliveriesPosted: 1, DeadLettered: 3 });
  });
});
