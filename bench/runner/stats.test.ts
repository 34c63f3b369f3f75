import { percentile, summarizeLatencies } from './stats';

describe('percentile', () => {
  it('takes the nearest rank of sorted values', () => {
    const values = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10];
    expect(percentile(values, 50)).toBe(5);
    expect(percentile(values, 95)).toBe(10);
    expect(percentile(values, 10)).toBe(1);
  });

  it('has no percentile of nothing', () => {
    expect(percentile([], 50)).toBeUndefined();
  });
});

describe('summarizeLatencies', () => {
  it('reports percentiles of deliveries that all arrived', () => {
    const summary = summarizeLatencies([30, 10, 20, 40], 4);
    expect(summary).toMatchObject({ count: 4, missing: 0, p50Ms: 20, p99Ms: 40, maxMs: 40, meanMs: 25, censored: [] });
  });

  it('counts missing deliveries as slower than any that arrived, and withholds the percentiles they decide', () => {
    // 97 of 100 arrived: p50 and p95 are measured, p99 is somewhere past the wait.
    const arrived = Array.from({ length: 97 }, (_, index) => index + 1);
    const summary = summarizeLatencies(arrived, 100);
    expect(summary.missing).toBe(3);
    expect(summary.p50Ms).toBe(50);
    expect(summary.p95Ms).toBe(95);
    expect(summary.p99Ms).toBeNull();
    expect(summary.censored).toEqual(['p99']);
  });
});
