import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import type { InvalidMessageReason } from '../core/messages';
import type { MetricsRecorder } from '../core/metrics';
import { logger } from './logger';
import { MetricName } from '../contract/metric-names';

/**
 * Powertools Metrics behind the core's recorder: embedded metric format on stdout, which
 * CloudWatch Logs turns into metrics (no PutMetricData call). The namespace comes from
 * POWERTOOLS_METRICS_NAMESPACE, the `service` dimension from POWERTOOLS_SERVICE_NAME.
 */
export class EmbeddedMetrics implements MetricsRecorder {
  private readonly deadLetteredByReason = new Map<InvalidMessageReason, number>();

  constructor(private readonly metrics: Metrics) {}

  add(name: Exclude<MetricName, 'DeadLettered'>, value = 1): void {
    // Powertools throws on a value that is not a number; a metric must never fail the delivery it counts.
    if (!Number.isFinite(value)) return void logger.warn('metric value skipped: not a finite number', { metric: name, value });
    this.metrics.addMetric(name, name === MetricName.DeliveryLatency ? MetricUnit.Milliseconds : MetricUnit.Count, value);
  }

  deadLettered(reason: InvalidMessageReason): void {
    this.deadLetteredByReason.set(reason, (this.deadLetteredByReason.get(reason) ?? 0) + 1);
  }

  /**
   * Writes what the invocation recorded: one EMF document, plus one per dead-letter reason (whose
   * `reason` dimension the other metrics must not get). An invocation that recorded nothing writes
   * nothing, rather than Powertools' "No application metrics to publish" warning.
   */
  flush(): void {
    for (const [reason, count] of this.deadLetteredByReason) {
      const deadLettered = this.metrics.singleMetric();
      deadLettered.addDimension('reason', reason);
      // A single-metric instance writes its document as soon as the metric is added.
      deadLettered.addMetric(MetricName.DeadLettered, MetricUnit.Count, count);
    }
    this.deadLetteredByReason.clear();
    if (this.metrics.hasStoredMetrics()) this.metrics.publishStoredMetrics();
  }
}

/** One per execution environment, like the SDK clients; sqsBatchHandler flushes it after each invocation. */
export const metrics = new EmbeddedMetrics(new Metrics({ logger }));
