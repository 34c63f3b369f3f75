/**
 * Time-bucketed GSIs (credential expiry, key revocation) are partitioned by minute, so that "what
 * falls due between two times" is a handful of Queries on known partitions instead of a Scan.
 */

/** The minute an epoch-seconds time falls in, e.g. `2026-11-23T20:47`. */
export function minuteBucket(epochSeconds: number): string {
  return new Date(epochSeconds * 1000).toISOString().slice(0, 16);
}

/** Every minute bucket from `since` to `until` (epoch seconds), both included. */
export function* minuteBucketsBetween(since: number, until: number): Generator<string> {
  for (let minute = Math.floor(since / 60) * 60; minute <= until; minute += 60) yield minuteBucket(minute);
}
