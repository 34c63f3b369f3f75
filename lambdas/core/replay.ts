import type { StreamEntry } from './streams';

/** Why a resume could not replay everything after a position. */
export type NotRecoveredReason = 'epoch_changed' | 'retention' | 'replay_limit';

/** What a resume of one stream replays, and what its `resumed` frame says. */
export type ReplayPlan =
  | { recovered: true; from: number; to: number; entries: StreamEntry[] }
  | { recovered: false; reason: NotRecoveredReason; entries: StreamEntry[]; from?: number; to?: number };

export interface ReplayLimits {
  nowSeconds: number;
  /** `historyMaxEntries`: entries older than the newest this many are gone for readers. */
  maxEntries: number;
  /** Entries one resume replays at most. */
  replayLimit: number;
}

/**
 * What to replay after `position`, from the stream's entries from `position.seq` on (from seq 1
 * for `seq: 0`), newest first, at least `replayLimit + 2` of them where the stream has that many
 * (see {@link replayQueryFrom}).
 *
 * Recovered when every entry after the position is still retained and at most `replayLimit` are
 * missing: they are replayed, oldest first. Otherwise nothing is claimed: `epoch_changed` (the
 * stream the position belongs to lost its history, or was reset), `retention` (entries after the
 * position expired or fell out of `historyMaxEntries`), `replay_limit` (more are missing than one
 * resume replays). A resume that did not recover replays the newest retained entries after the
 * position (at most `replayLimit`), and `from`/`to` say which; after `epoch_changed` it replays
 * nothing. Position `seq: 0` means "from the start of the stream's current epoch".
 */
export function planReplay(position: { seq: number; epoch?: string | undefined }, newestFirst: readonly StreamEntry[], limits: ReplayLimits): ReplayPlan {
  const [newest] = newestFirst;
  const nothingMissed = (after: number): ReplayPlan => ({ recovered: true, from: after + 1, to: after, entries: [] });
  if (newest === undefined) {
    // No entry at or after the position: a fresh stream, or the position's entry is gone with everything after it.
    return position.seq === 0 ? nothingMissed(0) : { recovered: false, reason: 'epoch_changed', entries: [] };
  }
  if (position.seq > 0 && position.epoch !== newest.epoch) return { recovered: false, reason: 'epoch_changed', entries: [] };
  const historyLost = newest.expiresAt <= limits.nowSeconds;
  if (historyLost) {
    // Every entry expired: the client that saw the newest missed nothing; anyone else cannot know what they missed.
    if (position.seq === 0 || position.seq === newest.seq) return nothingMissed(position.seq === 0 ? newest.seq : position.seq);
    return { recovered: false, reason: 'epoch_changed', entries: [] };
  }
  const start = position.seq === 0 ? newest.epochStart : position.seq + 1;
  if (start > newest.seq) return nothingMissed(start - 1);
  const retained = (entry: StreamEntry) =>
    entry.expiresAt > limits.nowSeconds && entry.epoch === newest.epoch && entry.seq > newest.seq - limits.maxEntries;
  const wanted = newestFirst.filter((entry) => entry.seq >= start);
  const kept = wanted.filter(retained);
  const missing = newest.seq - start + 1;
  if (missing <= limits.replayLimit && kept.length === missing) {
    return { recovered: true, from: start, to: newest.seq, entries: kept.reverse() };
  }
  // What remains, newest first, within one replay; expiry and the window only grow towards the old end.
  const replayed = kept.slice(0, limits.replayLimit).reverse();
  const oldestKnownLost = kept.length < wanted.length || start <= newest.seq - limits.maxEntries;
  const reason: NotRecoveredReason = missing <= limits.replayLimit || oldestKnownLost ? 'retention' : 'replay_limit';
  const [first] = replayed;
  return { recovered: false, reason, entries: replayed, ...(first !== undefined && { from: first.seq, to: newest.seq }) };
}

/** The seq a resume's Query starts from: the position's own entry (to check its epoch), or seq 1. */
export function replayQueryFrom(positionSeq: number): number {
  return Math.max(positionSeq, 1);
}
