import type { MetricName } from '../contract/metric-names';
import type { InvalidMessageReason } from './messages';

/**
 * Where the core counts what it did (the names and units are metric-names.ts's). The handlers pass
 * one that writes CloudWatch embedded metrics; the core never sees how they are written.
 */
export interface MetricsRecorder {
  /** One datum: 1 unless given (FanOutSize: connections; DeliveryLatency: milliseconds). */
  add(name: Exclude<MetricName, 'DeadLettered'>, value?: number): void;
  /** A message the code sent to a dead-letter queue, with the reason it carries there. */
  deadLettered(reason: InvalidMessageReason): void;
}
