import type { InvalidMessageReason } from '../../lambdas/core/messages';
import type { MetricsRecorder } from '../../lambdas/core/metrics';
import type { MetricName } from '../../lambdas/contract/metric-names';

/** The core's metrics recorder, keeping every datum for a test to read (ours, not an AWS client). */
export class RecordedMetrics implements MetricsRecorder {
  readonly data: { name: MetricName; value: number; reason?: InvalidMessageReason }[] = [];

  add(name: Exclude<MetricName, 'DeadLettered'>, value = 1): void {
    this.data.push({ name, value });
  }

  deadLettered(reason: InvalidMessageReason): void {
    this.data.push({ name: 'DeadLettered', value: 1, reason });
  }

  valuesOf(name: MetricName): number[] {
    return this.data.filter((datum) => datum.name === name).map((datum) => datum.value);
  }
}
