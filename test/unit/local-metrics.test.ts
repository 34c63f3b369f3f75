import { Metrics } from '@aws-lambda-powertools/metrics';
import { METRICS_NAMESPACE } from '../../lambdas/contract/metric-names';
import { EmbeddedMetrics } from '../../lambdas/wiring/metrics';
import { embeddedMetricsOf, LocalMetrics, summaryLine } from '../../local/dev-endpoints/metrics';
import { EmfCapture } from '../support/emf';

/** The lines the functions would write for what `record` records, as Powertools writes them. */
function linesOf(record: (metrics: EmbeddedMetrics) => void): string[] {
  const emf = new EmfCapture();
  try {
    const metrics = new EmbeddedMetrics(new Metrics({ namespace: METRICS_NAMESPACE, serviceName: 'local' }));
    record(metrics);
    metrics.flush();
    return emf.take().map((document) => JSON.stringify(document));
  } finally {
    emf.restore();
  }
}

describe("the local runtime's metrics", () => {
  it('adds up counters, dead letters by reason, fan-out average and maximum, and latency percentiles', () => {
    const local = new LocalMetrics();
    const lines = [
      ...linesOf((metrics) => {
        metrics.add('NotificationsReceived');
        metrics.add('FanOutSize', 1);
        metrics.add('DeliveriesPosted');
        metrics.add('DeliveryLatency', 10);
        metrics.deadLettered('invalid_json');
      }),
      ...linesOf((metrics) => {
        metrics.add('NotificationsReceived');
        metrics.add('FanOutSize', 4);
        for (const latency of [20, 30, 40, 500]) {
          metrics.add('DeliveriesPosted');
          metrics.add('DeliveryLatency', latency);
        }
        metrics.add('DeliveriesRetried');
        metrics.add('DeliveriesThrottled');
        metrics.deadLettered('invalid_message');
        metrics.deadLettered('invalid_message');
      }),
    ];

    expect(lines.map((line) => local.take(line))).toEqual(lines.map(() => true));

    const snapshot = local.snapshot();
    expect(snapshot).toEqual({
      namespace: 'WsNotify',
      since: expect.any(String),
      counters: {
        NotificationsReceived: 2,
        DeliveriesPosted: 5,
        ConnectionsGone: 0,
        DeliveriesRetried: 1,
        DeliveriesThrottled: 1,
        DeadLettered: 3,
        TopicEvents: 0,
      },
      deadLettered: { invalid_json: 1, invalid_message: 2 },
      fanOutSize: { count: 2, avg: 2.5, max: 4 },
      deliveryLatencyMs: { count: 5, p50: 30, p99: 500, max: 500 },
    });
    expect(summaryLine(snapshot)).toBe(
      '2 received, 5 posted, 0 gone, 1 retried (1 throttled), 3 dead-lettered (invalid_json 1, invalid_message 2), 0 topic events, ' +
        'fan-out avg 2.5 max 4, latency p50 30 ms p99 500 ms max 500 ms',
    );
  });

  it('leaves every other line to the console: logs, other namespaces, broken JSON', () => {
    const local = new LocalMetrics();
    const otherNamespace = JSON.stringify({ _aws: { Timestamp: 1, CloudWatchMetrics: [{ Namespace: 'Shop', Dimensions: [[]], Metrics: [{ Name: 'Orders' }] }] }, Orders: 1 });

    for (const line of ['{"level":"INFO","message":"event fanned out"}', otherNamespace, '{"_aws": nope', 'plain text']) {
      expect(local.take(line)).toBe(false);
      // npm start prints these, and only these, of what the functions write.
      expect(embeddedMetricsOf(line)).toBeUndefined();
    }
    const [ours] = linesOf((metrics) => metrics.add('TopicEvents'));
    expect(embeddedMetricsOf(ours as string)).toMatchObject({ TopicEvents: 1 });
    expect(local.snapshot()).toMatchObject({ counters: { NotificationsReceived: 0 }, deadLettered: {} });
    expect(local.snapshot()).not.toHaveProperty('deliveryLatencyMs');
  });
});
