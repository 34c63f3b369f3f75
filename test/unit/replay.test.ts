import { planReplay, type ReplayLimits } from '../../lambdas/core/replay';
import { nextEntry, type StreamEntry } from '../../lambdas/core/streams';

const NOW = 1_000_000;
const limits: ReplayLimits = { nowSeconds: NOW, maxEntries: 1000, replayLimit: 10 };

/** Entries `from`..`to` of one epoch, newest first, as the resume Query returns them. */
function entries(from: number, to: number, { epoch = 'E', epochStart = 1, expiresAt = NOW + 60 }: Partial<StreamEntry> = {}): StreamEntry[] {
  return Array.from({ length: to - from + 1 }, (_, i) => to - i).map((seq) => ({ seq, epoch, epochStart, expiresAt, appendedAt: 0, messageId: `m${seq}`, content: '{}' }));
}
const seqs = (plan: { entries: StreamEntry[] }) => plan.entries.map((entry) => entry.seq);

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
    expect(planReplay({ epoch: 'E', seq: 7 }, entries(7, 7), limits)).toEqual({ recovered: true, from: 8, to: 7, entries: [] });
    expect(planReplay({ seq: 0 }, [], limits)).toEqual({ recovered: true, from: 1, to: 0, entries: [] });
  });

  it('answers epoch_changed for another epoch, or a position whose entry is gone with all after it, replaying nothing', () => {
    expect(planReplay({ epoch: 'OLD', seq: 3 }, entries(3, 5), limits)).toEqual({ recovered: false, reason: 'epoch_changed', entries: [] });
    expect(planReplay({ epoch: 'E', seq: 3 }, [], limits)).toEqual({ recovered: false, reason: 'epoch_changed', entries: [] });
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

  it('treats a stream whose newest entry expired as one whose history is gone: only the client that saw the newest missed nothing', () => {
    const expired = entries(4, 6, { expiresAt: NOW - 1 });
    expect(planReplay({ epoch: 'E', seq: 6 }, entries(6, 6, { expiresAt: NOW - 1 }), limits)).toMatchObject({ recovered: true, from: 7, to: 6 });
    expect(planReplay({ epoch: 'E', seq: 4 }, expired, limits)).toMatchObject({ recovered: false, reason: 'epoch_changed' });
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
