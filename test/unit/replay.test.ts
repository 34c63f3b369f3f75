import { type ReplayLimits, type ReplayPlan, ReplayScan, replayRange } from '../../lambdas/core/replay';
import { FrameReplayBudget, type ReplayBucket, type ReplayBucketStore } from '../../lambdas/core/replay-budget';
import { nextEntry, type StreamEntry } from '../../lambdas/core/streams';

const NOW = 1_000_000;
const limits: ReplayLimits = { nowSeconds: NOW, maxEntries: 1000, replayLimit: 10 };

/** Entries `from`..`to` of one epoch, newest first, as the resume's newest-first read returns them. */
function entries(from: number, to: number, { epoch = 'E', epochStart = 1, expiresAt = NOW + 60 }: Partial<StreamEntry> = {}): StreamEntry[] {
  return Array.from({ length: to - from + 1 }, (_, i) => to - i).map((seq) => ({ seq, epoch, epochStart, expiresAt, appendedAt: 0, messageId: `m${seq}`, content: '{}' }));
}

/**
 * A resume after `position` of a stream holding `newestFirst` (its newest entry first), each entry
 * posted as `messages` messages, within `budget` messages: the plan, and the seqs replayed (oldest first).
 */
function planReplay(position: { seq: number; epoch?: string }, newestFirst: StreamEntry[], replayLimits = limits, { budget = Infinity, messages = 1 } = {}) {
  const range = replayRange(position, newestFirst[0], replayLimits);
  if (!('newest' in range)) return { ...range, seqs: [] as number[] };
  const scan = new ReplayScan(range, replayLimits, budget);
  for (const entry of newestFirst.filter((entry) => entry.seq >= range.floor && entry.seq <= range.newest.seq)) {
    if (!scan.offer(entry, messages) || scan.done) break;
  }
  scan.end();
  const plan: ReplayPlan = scan.plan();
  const seqs = plan.from === undefined ? [] : Array.from({ length: range.newest.seq - plan.from + 1 }, (_, i) => plan.from! + i);
  return { ...plan, seqs };
}
const seqs = (plan: { seqs: number[] }) => plan.seqs;

describe('planning a resume', () => {
  it('recovers a gap it holds: every entry after the position, oldest first', () => {
    const plan = planReplay({ epoch: 'E', seq: 3 }, entries(3, 7), limits);
    expect(plan).toMatchObject({ recovered: true, from: 4, to: 7 });
    expect(seqs(plan)).toEqual([4, 5, 6, 7]);
  });

  it('recovers from seq 0 from the start of the current epoch', () => {
    const plan = planReplay({ seq: 0 }, entries(5, 6, { epochStart: 5 }), limits);
    expect(plan).toMatchObject({ recovered: true, from: 5, to: 6 });
  });

  it('says nothing was missed (from = to + 1) at the newest position, and for an empty stream from 0', () => {
    expect(planReplay({ epoch: 'E', seq: 7 }, entries(7, 7), limits)).toEqual({ recovered: true, from: 8, to: 7, seqs: [] });
    expect(planReplay({ seq: 0 }, [], limits)).toEqual({ recovered: true, from: 1, to: 0, seqs: [] });
  });

  it('answers epoch_changed for another epoch, or a position whose entry is gone with all after it, replaying nothing', () => {
    expect(planReplay({ epoch: 'OLD', seq: 3 }, entries(3, 5), limits)).toEqual({ recovered: false, reason: 'epoch_changed', seqs: [] });
    expect(planReplay({ epoch: 'E', seq: 3 }, [], limits)).toEqual({ recovered: false, reason: 'epoch_changed', seqs: [] });
  });

  it('answers retention when an entry after the position expired, replaying what is kept', () => {
    const stream = [...entries(5, 6), ...entries(3, 4, { expiresAt: NOW - 1 })];
    const plan = planReplay({ epoch: 'E', seq: 2 }, stream, limits);
    expect(plan).toMatchObject({ recovered: false, reason: 'retention', from: 5, to: 6 });
    expect(seqs(plan)).toEqual([5, 6]);
  });

  it('answers retention for a gap beyond historyMaxEntries', () => {
    const plan = planReplay({ epoch: 'E', seq: 1 }, entries(1, 8), { ...limits, maxEntries: 5 });
    expect(plan).toMatchObject({ recovered: false, reason: 'retention', from: 4, to: 8 });
  });

  it('answers replay_limit for a larger gap than one replay holds, replaying the newest replayLimit entries', () => {
    const plan = planReplay({ epoch: 'E', seq: 1 }, entries(9, 20), limits);
    expect(plan).toMatchObject({ recovered: false, reason: 'replay_limit', from: 11, to: 20 });
    expect(seqs(plan)).toHaveLength(10);
  });

  it('answers replay_limit when the budget runs out first, replaying the newest entries it carries, or none', () => {
    const cut = planReplay({ epoch: 'E', seq: 2 }, entries(1, 8), limits, { budget: 9, messages: 4 });
    const spent = planReplay({ epoch: 'E', seq: 2 }, entries(1, 8), limits, { budget: 3, messages: 4 });
    expect(cut).toEqual({ recovered: false, reason: 'replay_limit', from: 7, to: 8, seqs: [7, 8] });
    expect(spent).toEqual({ recovered: false, reason: 'replay_limit', seqs: [] });
  });

  it('recovers a gap whose entries post exactly the budget', () => {
    expect(planReplay({ epoch: 'E', seq: 2 }, entries(1, 8), limits, { budget: 24, messages: 4 })).toMatchObject({ recovered: true, from: 3, to: 8 });
  });

  it('answers retention for an entry missing after the position (deleted), replaying the newer ones', () => {
    const stream = [...entries(6, 8), ...entries(1, 4)];
    expect(planReplay({ epoch: 'E', seq: 2 }, stream)).toEqual({ recovered: false, reason: 'retention', from: 6, to: 8, seqs: [6, 7, 8] });
  });

  it('gives back the oldest entries taken when the budget it got is smaller than what it planned', () => {
    const range = replayRange({ epoch: 'E', seq: 2 }, entries(8, 8)[0], limits);
    if (!('newest' in range)) throw new Error('expected a range');
    const scan = new ReplayScan(range, limits, 100);
    for (const entry of entries(3, 8)) scan.offer(entry, 2);
    scan.shrinkTo(5);
    expect(scan.messages).toBe(4);
    expect(scan.plan()).toEqual({ recovered: false, reason: 'replay_limit', from: 7, to: 8 });
  });

  it('treats a stream whose newest entry expired as one whose history is gone: only the client that saw the newest missed nothing', () => {
    const expired = entries(4, 6, { expiresAt: NOW - 1 });
    expect(planReplay({ epoch: 'E', seq: 6 }, entries(6, 6, { expiresAt: NOW - 1 }), limits)).toMatchObject({ recovered: true, from: 7, to: 6 });
    expect(planReplay({ epoch: 'E', seq: 4 }, expired, limits)).toMatchObject({ recovered: false, reason: 'epoch_changed' });
  });
});

/** Buckets kept as a connection row keeps them: replaced only if still what the writer read. */
class MemoryBuckets implements ReplayBucketStore {
  readonly rows = new Map<string, ReplayBucket | undefined>();
  writes = 0;

  async replayBucketOf(connectionId: string): Promise<ReplayBucket | undefined | null> {
    return this.rows.has(connectionId) ? this.rows.get(connectionId) : null;
  }

  async replaceReplayBucket(connectionId: string, previous: ReplayBucket | undefined, next: ReplayBucket): Promise<boolean> {
    if (!this.rows.has(connectionId)) return false;
    const stored = this.rows.get(connectionId);
    if (stored?.at !== previous?.at || stored?.tokens !== previous?.tokens) return false;
    this.rows.set(connectionId, next);
    this.writes += 1;
    return true;
  }
}

describe('the replay budget', () => {
  const settings = { perFrame: 1000, perMinute: 2000, anonymousPerMinute: 100 };
  let clock = 0;
  const now = () => clock;
  let buckets: MemoryBuckets;
  beforeEach(() => {
    clock = 1_000_000;
    buckets = new MemoryBuckets();
    buckets.rows.set('c1', undefined);
  });

  it("bounds one frame's replays, across its streams, by perFrame", async () => {
    const frame = new FrameReplayBudget(buckets, 'c1', settings, false, now);
    expect(await frame.available()).toBe(1000);
    expect(await frame.take(700)).toBe(700);
    expect(await frame.take(700)).toBe(300);
    expect(await frame.take(1)).toBe(0);
  });

  it("bounds a connection's frames by its bucket, refilled at perMinute a minute", async () => {
    const takes = [];
    for (let n = 0; n < 3; n += 1) takes.push(await new FrameReplayBudget(buckets, 'c1', settings, false, now).take(1000));
    clock += 30_000;
    takes.push(await new FrameReplayBudget(buckets, 'c1', settings, false, now).take(1000));
    expect(takes).toEqual([1000, 1000, 0, 1000]);
  });

  it('gives an anonymous connection its smaller bucket', async () => {
    const frame = new FrameReplayBudget(buckets, 'c1', settings, true, now);
    expect(await frame.take(1000)).toBe(100);
    expect(await new FrameReplayBudget(buckets, 'c1', settings, true, now).available()).toBe(0);
  });

  it('never lets two frames of a connection spend the same tokens: the later write reads the bucket again', async () => {
    const first = new FrameReplayBudget(buckets, 'c1', { ...settings, perMinute: 1500 }, false, now);
    const second = new FrameReplayBudget(buckets, 'c1', { ...settings, perMinute: 1500 }, false, now);
    expect([await first.available(), await second.available()]).toEqual([1000, 1000]);
    expect(await first.take(1000)).toBe(1000);
    expect(await second.take(1000)).toBe(500);
    expect(buckets.writes).toBe(2);
  });

  it('replays nothing to a connection that is gone, and writes nothing for a replay of nothing', async () => {
    expect(await new FrameReplayBudget(buckets, 'gone', settings, false, now).take(10)).toBe(0);
    expect(await new FrameReplayBudget(buckets, 'c1', settings, false, now).take(0)).toBe(0);
    expect(buckets.writes).toBe(0);
  });
});

describe('the next entry of a stream', () => {
  it('continues the epoch of a live newest entry, at its seq + 1, never expiring before it', () => {
    const next = nextEntry({ seq: 4, epoch: 'E', epochStart: 2, expiresAt: NOW + 500 }, NOW * 1000, 60);
    expect(next).toEqual({ seq: 5, epoch: 'E', epochStart: 2, expiresAt: NOW + 500 });
  });

  it('starts a new epoch at seq 1 for an empty stream, and at the next seq after an expired newest entry', () => {
    const fresh = nextEntry(undefined, NOW * 1000, 60);
    const after = nextEntry({ seq: 4, epoch: 'E', epochStart: 1, expiresAt: NOW }, NOW * 1000, 60);
    expect(fresh).toMatchObject({ seq: 1, epochStart: 1, expiresAt: NOW + 60 });
    expect(after).toMatchObject({ seq: 5, epochStart: 5, expiresAt: NOW + 60 });
    expect(after.epoch).not.toBe('E');
    expect(after.epoch).not.toBe(fresh.epoch);
  });
});
