import { Metrics } from '@aws-lambda-powertools/metrics';
import { METRICS_NAMESPACE } from '../../lambdas/contract/metric-names';
import { EmbeddedMetrics } from '../../lambdas/wiring/metrics';
import { EmfCapture, valuesOf } from '../support/emf';

let emf: EmfCapture;
const warnings: unknown[] = [];
// Powertools' own diagnostics ("No application metrics to publish", a missing namespace) go here.
const diagnostics = { trace: () => undefined, debug: () => undefined, info: () => undefined, warn: (...args: unknown[]) => warnings.push(args), error: (...args: unknown[]) => warnings.push(args) };

beforeEach(() => {
  emf = new EmfCapture();
  warnings.length = 0;
});

afterEach(() => emf.restore());

function recorder(): EmbeddedMetrics {
  return new EmbeddedMetrics(new Metrics({ namespace: METRICS_NAMESPACE, serviceName: 'ws-notify-stack-a', logger: diagnostics }));
}

describe('the embedded metrics the functions write', () => {
  it('writes one EMF document per flush: namespace WsNotify, the service dimension alone, counts and milliseconds', () => {
    const metrics = recorder();
    metrics.add('DeliveriesPosted');
    metrics.add('DeliveriesPosted');
    metrics.add('DeliveryLatency', 42);
    metrics.add('FanOutSize', 3);
    metrics.flush();

    const [document, ...more] = emf.take();
    expect(more).toEqual([]);
    expect(document).toEqual({
      _aws: {
        Timestamp: expect.any(Number),
        CloudWatchMetrics: [
          {
            Namespace: 'WsNotify',
            Dimensions: [['service']],
            Metrics: [
              { Name: 'DeliveriesPosted', Unit: 'Count' },
              { Name: 'DeliveryLatency', Unit: 'Milliseconds' },
              { Name: 'FanOutSize', Unit: 'Count' },
            ],
          },
        ],
      },
      service: 'ws-notify-stack-a',
      DeliveriesPosted: [1, 1],
      DeliveryLatency: 42,
      FanOutSize: 3,
    });
    expect(warnings).toEqual([]);
  });

  it('writes DeadLettered in a document of its own per reason, the only one with a reason dimension', () => {
    const metrics = recorder();
    metrics.add('NotificationsReceived');
    metrics.deadLettered('invalid_json');
    metrics.deadLettered('invalid_message');
    metrics.deadLettered('invalid_message');
    metrics.flush();

    const documents = emf.take();
    expect(documents).toHaveLength(3);
    const deadLettered = documents.filter((document) => 'DeadLettered' in document);
    for (const document of deadLettered) {
      expect(document._aws.CloudWatchMetrics).toEqual([
        { Namespace: 'WsNotify', Dimensions: [['service', 'reason']], Metrics: [{ Name: 'DeadLettered', Unit: 'Count' }] },
      ]);
    }
    expect(valuesOf(documents, 'DeadLettered', { reason: 'invalid_json' })).toEqual([1]);
    expect(valuesOf(documents, 'DeadLettered', { reason: 'invalid_message' })).toEqual([2]);
    const [rest] = documents.filter((document) => !('DeadLettered' in document));
    expect(rest?._aws.CloudWatchMetrics[0]?.Dimensions).toEqual([['service']]);
    expect(rest).not.toHaveProperty('reason');
  });

  it('skips a value that is not a finite number rather than throwing into the delivery it counts', () => {
    const metrics = recorder();

    expect(() => metrics.add('DeliveryLatency', Number.NaN)).not.toThrow();
    metrics.add('DeliveriesPosted');
    metrics.flush();

    const [document] = emf.take();
    expect(document).not.toHaveProperty('DeliveryLatency');
    expect(document).toHaveProperty('DeliveriesPosted', 1);
  });

  it('writes nothing, and Powertools warns of nothing, for an invocation that recorded nothing', () => {
    const metrics = recorder();
    metrics.add('TopicEvents');
    metrics.flush();
    emf.take();

    metrics.flush();

    expect(emf.take()).toEqual([]);
    expect(warnings).toEqual([]);
  });
});
