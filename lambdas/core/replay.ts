import type { StreamEntry } from './streams';

/** Why a resume could not replay everything after a position. */
export type NotRecoveredReason = 'epoch_changed' | 'retention' | 'replay_limit';

/** What a resume of one stream replayed (`from`..`to`), as its `resumed` frame says. */
export type ReplayPlan = { recovered: true; from: number; to: number } | { recovered: false; reason: NotRecoveredReason; from?: number; to?: number };

export interface ReplayLimits {
  nowSeconds: number;
  /** `historyMaxEntries`: entries older than the newest this many are gone for readers. */
  maxEntries: number;
  /** Entries one resume replays per stream at most. */
  replayLimit: number;
}

/** The entries a replay may send: `floor`..`newest.seq`, read newest first to find where it starts. */
export interface ReplayRange {
  /** The first entry after the position (the start of the epoch for `seq: 0`). */
  start: number;
  /** The oldest entry still readable by the window (`historyMaxEntries`): `start` or later. */
  floor: number;
  newest: StreamEntry;
}

/**
 * Where a replay after `position` starts, from the stream's newest entry, or the answer where there
 * is nothing to read: `epoch_changed` (the stream the position belongs to lost its history, or was
 * reset; also a position beyond the newest entry), nothing missed (`from` = `to` + 1). Position
 * `seq: 0` means "from the start of the stream's current epoch".
 */
export function replayRange(position: { seq: number; epoch?: string | undefined }, newest: StreamEntry | undefined, limits: Omit<ReplayLimits, 'replayLimit'>): ReplayPlan | ReplayRange {
  const nothingMissed = (after: number): ReplayPlan => ({ recovered: true, from: after + 1, to: after });
  if (newest === undefined) return position.seq === 0 ? nothingMissed(0) : { recovered: false, reason: 'epoch_changed' };
  if (position.seq > 0 && (position.epoch !== newest.epoch || position.seq > newest.seq)) return { recovered: false, reason: 'epoch_changed' };
  if (newest.expiresAt <= limits.nowSeconds) {
    // Every entry expired: the client that saw the newest missed nothing; anyone else cannot know what they missed.
    if (position.seq === 0 || position.seq === newest.seq) return nothingMissed(position.seq === 0 ? newest.seq : position.seq);
    return { recovered: false, reason: 'epoch_changed' };
  }
  const start = position.seq === 0 ? newest.epochStart : position.seq + 1;
  if (start > newest.seq) return nothingMissed(start - 1);
  return { start, floor: Math.max(start, newest.seq - limits.maxEntries + 1), newest };
}

/**
 * A replay's range decided entry by entry, newest first, without holding the entries: each is
 * offered with the messages it would be posted as, until one is not retained (expired, of another
 * epoch, missing) or would pass `replayLimit` or the messages the replay may post. What was taken
 * is the newest run of entries; `plan()` says whether it is everything after the position.
 */
export class ReplayScan {
  private next: number;
  /** The messages of each entry taken, newest first. */
  private readonly costs: number[] = [];
  private lost = false;
  private cut = false;

  constructor(
    private readonly range: ReplayRange,
    private readonly limits: ReplayLimits,
    private messagesLeft: number,
  ) {
    this.next = range.newest.seq;
  }

  /** Whether the scan takes `entry` (the next older one); false ends the scan. */
  offer(entry: StreamEntry, messages: number): boolean {
    if (this.done) return false;
    const { newest } = this.range;
    if (entry.seq !== this.next || entry.epoch !== newest.epoch || entry.expiresAt <= this.limits.nowSeconds) {
      this.lost = true;
      return false;
    }
    if (this.costs.length >= this.limits.replayLimit || messages > this.messagesLeft) {
      this.cut = true;
      return false;
    }
    this.costs.push(messages);
    this.messagesLeft -= messages;
    this.next -= 1;
    return true;
  }

  /** No older entry was found: those not reached are gone. */
  end(): void {
    if (!this.done) this.lost = true;
  }

  /** Every entry down to the floor was taken, or the scan stopped. */
  get done(): boolean {
    return this.lost || this.cut || this.next < this.range.floor;
  }

  /** Messages the entries taken post. */
  get messages(): number {
    return this.costs.reduce((sum, cost) => sum + cost, 0);
  }

  /** The oldest entry taken (`newest.seq + 1` when none was). */
  get from(): number {
    return this.next + 1;
  }

  /** Gives back the oldest entries taken until the rest post at most `messages` (a concurrent frame took the budget first). */
  shrinkTo(messages: number): void {
    let total = this.messages;
    while (total > messages && this.costs.length > 0) {
      total -= this.costs.pop()!;
      this.next += 1;
      this.cut = true;
    }
  }

  /**
   * Recovered when everything after the position was taken. Otherwise `retention` where entries
   * after the position are known to be gone (expired, missing, or older than the window), else
   * `replay_limit` (the replay was cut by `replayLimit` or by the budget); `from`..`to` is what was
   * taken, the newest entries, absent when nothing was.
   */
  plan(): ReplayPlan {
    const { start, floor, newest } = this.range;
    const taken = this.costs.length;
    if (!this.lost && !this.cut && floor === start && this.from === start) return { recovered: true, from: start, to: newest.seq };
    const reason: NotRecoveredReason = this.lost || floor > start ? 'retention' : 'replay_limit';
    return { recovered: false, reason, ...(taken > 0 && { from: this.from, to: newest.seq }) };
  }
}
