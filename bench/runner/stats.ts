/** The nearest-rank percentile (0 < p ≤ 100) of values sorted ascending; undefined if there are none. */
export function percentile(sortedAscending: ArrayLike<number>, p: number): number | undefined {
  if (sortedAscending.length === 0) return undefined;
  const rank = Math.ceil((p / 100) * sortedAscending.length);
  return sortedAscending[Math.min(sortedAscending.length, Math.max(1, rank)) - 1];
}

export interface LatencySummary {
  /** Deliveries whose latency is known. */
  count: number;
  /** Deliveries expected but not seen before the deadline. */
  missing: number;
  p50Ms: number | null;
  p95Ms: number | null;
  p99Ms: number | null;
  maxMs: number | null;
  meanMs: number | null;
  /**
   * Percentiles that fall among the missing deliveries are at least the wait deadline, not a
   * measurement: they are reported as null and named here.
   */
  censored: ('p50' | 'p95' | 'p99')[];
}

/**
 * Latency percentiles over every expected delivery: those that never arrived count as slower than
 * any that did, so a run that loses 2% of its deliveries has no p99, rather than a flattering one.
 */
export function summarizeLatencies(latenciesMs: ArrayLike<number>, expected: number): LatencySummary {
  const sorted = Float64Array.from(latenciesMs).sort();
  const missing = Math.max(0, expected - sorted.length);
  const total = sorted.length + missing;
  const censored: LatencySummary['censored'] = [];
  const at = (p: 50 | 95 | 99): number | null => {
    if (total === 0) return null;
    const rank = Math.max(1, Math.ceil((p / 100) * total));
    if (rank > sorted.length) {
      censored.push(`p${p}`);
      return null;
    }
    return round(sorted[rank - 1] as number);
  };
  let sum = 0;
  for (const value of sorted) sum += value;
  return {
    count: sorted.length,
    missing,
    p50Ms: at(50),
    p95Ms: at(95),
    p99Ms: at(99),
    maxMs: sorted.length > 0 ? round(sorted[sorted.length - 1] as number) : null,
    meanMs: sorted.length > 0 ? round(sum / sorted.length) : null,
    censored,
  };
}

/** Rounds to 2 decimals (sub-millisecond latencies matter for the raw `ws` ceiling). */
export function round(value: number, decimals = 2): number {
  const factor = 10 ** decimals;
  return Math.round(value * factor) / factor;
}

export function median(values: readonly number[]): number | undefined {
  return percentile([...values].sort((a, b) => a - b), 50);
}
