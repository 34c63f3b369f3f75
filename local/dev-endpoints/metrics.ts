import { METRICS_NAMESPACE, MetricName } from '../../lambdas/contract/metric-names';

/** What the functions' metrics add up to since the runtime started: `GET /_local/metrics`. */
export interface LocalMetricsSnapshot {
  namespace: string;
  /** When counting started (the runtime's start). */
  since: string;
  /** Each count metric's sum (DeadLettered: over every reason). */
  counters: Record<string, number>;
  /** DeadLettered by its `reason` dimension. */
  deadLettered: Record<string, number>;
  /** DeliveryLatency over the last {@link LATENCY_WINDOW} posts; undefined before the first. */
  deliveryLatencyMs?: { count: number; p50: number; p99: number; max: number };
  /** FanOutSize over every NotifyUser notification; undefined before the first. */
  fanOutSize?: { count: number; avg: number; max: number };
}

/** Latency percentiles are over this many of the latest posts, so a long-running runtime keeps bounded memory. */
export const LATENCY_WINDOW = 10_000;

interface EmfDocument {
  _aws?: { CloudWatchMetrics?: { Namespace?: string; Metrics?: { Name?: string }[] }[] };
  [member: string]: unknown;
}

/**
 * Adds up the embedded-metric-format documents the functions write to stdout, as CloudWatch
 * would turn them into metrics: in the ws-notify namespace, every datum of every metric.
 */
export class LocalMetrics {
  private readonly since = new Date().toISOString();
  private readonly counters = new Map<string, number>(
    Object.values(MetricName)
      .filter((name) => name !== MetricName.DeliveryLatency && name !== MetricName.FanOutSize)
      .map((name) => [name, 0]),
  );
  private readonly deadLettered = new Map<string, number>();
  private readonly latencies: number[] = [];
  private fanOut = { count: 0, sum: 0, max: 0 };

  /** Counts a line a function wrote if it is a ws-notify EMF document; false for any other line. */
  take(line: string): boolean {
    const document = embeddedMetricsOf(line);
    if (document === undefined) return false;
    const directives = document._aws?.CloudWatchMetrics ?? [];
    const names = new Set(directives.flatMap((directive) => (directive.Metrics ?? []).map((metric) => metric.Name)));
    for (const name of names) {
      if (typeof name !== 'string') continue;
      // A document holds one value of a metric, or an array of them (one datum each).
      const values = [document[name]].flat().filter((value): value is number => typeof value === 'number');
      for (const value of values) this.add(name, value, document['reason']);
    }
    return true;
  }

  snapshot(): LocalMetricsSnapshot {
    const latencies = [...this.latencies].sort((a, b) => a - b);
    const percentile = (p: number) => latencies[Math.min(latencies.length - 1, Math.ceil((p / 100) * latencies.length) - 1)] as number;
    return {
      namespace: METRICS_NAMESPACE,
      since: this.since,
      counters: Object.fromEntries(this.counters),
      deadLettered: Object.fromEntries(this.deadLettered),
      ...(latencies.length > 0 && {
        deliveryLatencyMs: { count: latencies.length, p50: percentile(50), p99: percentile(99), max: latencies[latencies.length - 1] as number },
      }),
      ...(this.fanOut.count > 0 && {
        fanOutSize: { count: this.fanOut.count, avg: round(this.fanOut.sum / this.fanOut.count), max: this.fanOut.max },
      }),
    };
  }

  private add(name: string, value: number, reason: unknown): void {
    if (name === MetricName.DeliveryLatency) {
      this.latencies.push(value);
      if (this.latencies.length > LATENCY_WINDOW) this.latencies.shift();
      return;
    }
    if (name === MetricName.FanOutSize) {
      this.fanOut = { count: this.fanOut.count + 1, sum: this.fanOut.sum + value, max: Math.max(this.fanOut.max, value) };
      return;
    }
    this.counters.set(name, (this.counters.get(name) ?? 0) + value);
    if (name === MetricName.DeadLettered && typeof reason === 'string') {
      this.deadLettered.set(reason, (this.deadLettered.get(reason) ?? 0) + value);
    }
  }
}

/** The line as a ws-notify embedded-metric-format document; undefined for any other line (a log line, another namespace's metrics). */
export function embeddedMetricsOf(line: string): EmfDocument | undefined {
  if (!line.startsWith('{') || !line.includes('"_aws"')) return undefined;
  let document: EmfDocument;
  try {
    document = JSON.parse(line) as EmfDocument;
  } catch {
    return undefined;
  }
  const directives = document._aws?.CloudWatchMetrics ?? [];
  return directives.some((directive) => directive.Namespace === METRICS_NAMESPACE) ? document : undefined;
}

/** The snapshot on one line, for the console (`m`, or SIGUSR2). */
export function summaryLine({ counters, deadLettered, deliveryLatencyMs, fanOutSize }: LocalMetricsSnapshot): string {
  const count = (name: MetricName) => counters[name] ?? 0;
  const reasons = Object.entries(deadLettered).map(([reason, n]) => `${reason} ${n}`);
  return [
    `${count('NotificationsReceived')} received`,
    `${count('DeliveriesPosted')} posted`,
    `${count('ConnectionsGone')} gone`,
    `${count('DeliveriesRetried')} retried (${count('DeliveriesThrottled')} throttled)`,
    `${count('DeadLettered')} dead-lettered${reasons.length > 0 ? ` (${reasons.join(', ')})` : ''}`,
    `${count('TopicEvents')} topic events`,
    fanOutSize ? `fan-out avg ${fanOutSize.avg} max ${fanOutSize.max}` : 'fan-out -',
    deliveryLatencyMs ? `latency p50 ${deliveryLatencyMs.p50} ms p99 ${deliveryLatencyMs.p99} ms max ${deliveryLatencyMs.max} ms` : 'latency -',
  ].join(', ');
}

function round(value: number): number {
  return Math.round(value * 100) / 100;
}
