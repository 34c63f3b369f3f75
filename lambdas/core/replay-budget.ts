/**
 * What a replay (`resume`, `subscribe` from a position) may make the stack send, counted in API
 * Gateway messages: each posted frame is billed per started 32 KB. Two bounds hold at once:
 *
 * - per client frame, across every stream the frame names (`perFrame`);
 * - per connection, a token bucket of `perMinute` messages, refilled at `perMinute` a minute
 *   (`anonymousPerMinute` for an anonymous connection), kept on the connection's row.
 *
 * The bucket is taken from before anything is posted, by one conditional write on what was read
 * (optimistic: a concurrent frame of the same connection that took from it first makes the write
 * fail, and the bucket is read again), so frames sent at once cannot spend the same tokens twice.
 * A replay that finds nothing missed reads and writes nothing. The `resumed` answers a `resume` posts
 * ahead of its reply (one per stream named but the last) are taken from it too, all or none.
 */

/** API Gateway bills a WebSocket message per started 32 KB. */
export const BILLED_MESSAGE_BYTES = 32 * 1024;

export interface ReplayBudgetSettings {
  /** Messages one client frame's replays may post, across its streams. */
  perFrame: number;
  /** The bucket of a connection with a user: holds this many messages, refilled at this many a minute. */
  perMinute: number;
  /** The same, for an anonymous connection. */
  anonymousPerMinute: number;
}

export const DEFAULT_REPLAY_BUDGET: ReplayBudgetSettings = { perFrame: 1000, perMinute: 2000, anonymousPerMinute: 100 };

/** The API Gateway messages a frame is billed as. */
export function billedMessages(frame: string): number {
  return Math.max(1, Math.ceil(Buffer.byteLength(frame) / BILLED_MESSAGE_BYTES));
}

/** A connection's bucket as stored: `tokens` left at `at` (epoch ms). */
export interface ReplayBucket {
  tokens: number;
  at: number;
}

/** Where buckets are kept: the connection's row (lambdas/core/connections.ts). */
export interface ReplayBucketStore {
  /** The connection's bucket, strongly consistent: undefined if it never replayed, null if the connection is gone. */
  replayBucketOf(connectionId: string): Promise<ReplayBucket | undefined | null>;
  /** Writes `next` on condition that the bucket is still `previous`; false if it is not (or the connection is gone). */
  replaceReplayBucket(connectionId: string, previous: ReplayBucket | undefined, next: ReplayBucket): Promise<boolean>;
}

/** A concurrent frame that keeps winning the write is given up on after this many reads: nothing more is replayed. */
const MAX_TAKE_ATTEMPTS = 5;

/** The budget of one client frame of one connection: what its replays may still post. */
export class FrameReplayBudget {
  private frameLeft: number;
  /** undefined: not read yet; null: the connection is gone. */
  private bucket: ReplayBucket | undefined | null;
  private read = false;
  private readonly capacity: number;

  constructor(
    private readonly store: ReplayBucketStore,
    private readonly connectionId: string,
    settings: ReplayBudgetSettings,
    anonymous: boolean,
    private readonly now: () => number = Date.now,
  ) {
    this.capacity = anonymous ? settings.anonymousPerMinute : settings.perMinute;
    this.frameLeft = Math.min(settings.perFrame, this.capacity);
  }

  /** Messages the frame may still post (reads the bucket the first time it is asked). */
  async available(): Promise<number> {
    if (this.frameLeft <= 0) return 0;
    if (!this.read) await this.readBucket();
    return Math.min(this.frameLeft, Math.floor(this.tokensAt(this.now())));
  }

  /** Takes `wanted` messages, or none if the frame or the bucket holds fewer: whether it got them. */
  async takeAll(wanted: number): Promise<boolean> {
    return (await this.take(wanted, { all: true })) === wanted;
  }

  /** Takes up to `wanted` messages from the frame and the bucket, before they are posted; returns how many it got. */
  async take(wanted: number, { all = false }: { all?: boolean } = {}): Promise<number> {
    if (wanted <= 0) return 0;
    for (let attempt = 1; attempt <= MAX_TAKE_ATTEMPTS; attempt += 1) {
      if (!this.read || attempt > 1) await this.readBucket();
      if (this.bucket === null) return 0;
      const now = this.now();
      const tokens = this.tokensAt(now);
      const granted = Math.min(wanted, this.frameLeft, Math.floor(tokens));
      if (granted <= 0 || (all && granted < wanted)) return 0;
      const next = { tokens: tokens - granted, at: now };
      if (await this.store.replaceReplayBucket(this.connectionId, this.bucket, next)) {
        this.bucket = next;
        this.frameLeft -= granted;
        return granted;
      }
    }
    return 0;
  }

  private async readBucket(): Promise<void> {
    this.bucket = await this.store.replayBucketOf(this.connectionId);
    this.read = true;
  }

  private tokensAt(now: number): number {
    if (this.bucket === null) return 0;
    if (this.bucket === undefined) return this.capacity;
    const refilled = (Math.max(0, now - this.bucket.at) * this.capacity) / 60_000;
    return Math.min(this.capacity, this.bucket.tokens + refilled);
  }
}
