import { type Clock, Timer } from './clock';
import type { ResumedFrame, ResumePosition } from './protocol';

/** A stretch of a stream the application will not see: it can refetch it from its own backend. */
export interface Gap {
  stream: string;
  /** `unfilled`: a hole in live frames that no resume filled; the others are the server's `resumed` reasons. */
  reason: 'unfilled' | 'epoch_changed' | 'retention' | 'replay_limit' | 'not_resumable';
  /** The last seq the application received before the gap (0: none). */
  lastSeq: number;
  /** The first seq missing. */
  from: number;
  /** The last seq missing, where known. */
  to?: number;
}

export interface StreamTrackerEvents<Item> {
  /** An item to hand to the application, in seq order, once. */
  deliver(stream: string, seq: number, item: Item): void;
  /** A hole did not fill within the reorder window: ask the server to resume the stream. */
  stalled(stream: string): void;
  gap(gap: Gap): void;
}

interface StreamState<Item> {
  epoch?: string;
  /** The last seq handed to the application; undefined until the first frame sets the base. */
  last?: number;
  /** After a gap was announced, the next frame past `last` is taken as it comes. */
  rebase: boolean;
  buffer: Map<number, Item>;
  window: Timer;
  /** Sparse streams: the seqs delivered lately, and the position they started from. */
  seen?: Set<number>;
  floor?: number;
}

/**
 * The client rule of the durable-stream protocol, per stream: keep the last seq handed to the
 * application, drop seq ≤ last (duplicates, replays overlapping live frames), buffer seq > last + 1
 * for a short window until the hole fills, and ask for a resume when it does not.
 */
export class StreamTracker<Item> {
  readonly #streams = new Map<string, StreamState<Item>>();
  /** Streams of which this client receives a subset (a subscription's event filter or group): holes are expected there. */
  readonly #sparse = new Set<string>();

  readonly #events: StreamTrackerEvents<Item>;
  readonly #clock: Clock;
  readonly #windowMs: number;
  readonly #maxBuffered: number;

  constructor(events: StreamTrackerEvents<Item>, clock: Clock, windowMs: number, maxBuffered: number) {
    this.#events = events;
    this.#clock = clock;
    this.#windowMs = windowMs;
    this.#maxBuffered = maxBuffered;
  }

  /** Starts from positions kept elsewhere (e.g. in a file): frames at or before them are duplicates. */
  restore(positions: Record<string, ResumePosition>): void {
    for (const [stream, { epoch, seq }] of Object.entries(positions)) {
      this.#state(stream, epoch).last = seq;
    }
  }

  /** Where the application is in each stream: what a `resume` sends. */
  positions(): Record<string, ResumePosition> {
    const positions: Record<string, ResumePosition> = {};
    for (const stream of this.#streams.keys()) {
      const position = this.position(stream);
      if (position !== undefined) positions[stream] = position;
    }
    return positions;
  }

  position(stream: string): ResumePosition | undefined {
    const state = this.#streams.get(stream);
    if (state?.last === undefined) return undefined;
    return state.epoch === undefined ? { seq: state.last } : { epoch: state.epoch, seq: state.last };
  }

  /**
   * A subscription with an event filter or a group receives some of its topic's seqs only: a hole
   * there is not a loss, so its frames are handed over as they come, each seq once, and the highest
   * is the position to resume from.
   */
  setSparse(stream: string, sparse: boolean): void {
    if (sparse) this.#sparse.add(stream);
    else this.#sparse.delete(stream);
  }

  accept(stream: string, epoch: string, seq: number, item: Item): void {
    let state = this.#state(stream, epoch);
    if (state.epoch !== epoch) {
      // The stream's history was reset: what came before cannot be recovered, and seqs start over.
      this.#flush(stream, state);
      this.#events.gap({ stream, reason: 'epoch_changed', lastSeq: state.last ?? 0, from: (state.last ?? 0) + 1 });
      this.forget(stream);
      state = this.#state(stream, epoch);
    }
    if (this.#sparse.has(stream)) return this.#acceptSparse(stream, state, seq, item);
    if (state.last === undefined) state.last = seq - 1;
    if (seq <= state.last) return;
    if (seq > state.last + 1 && state.rebase) state.last = seq - 1;
    state.rebase = false;
    if (seq === state.last + 1) {
      this.#hand(stream, state, seq, item);
      this.#drain(stream, state);
      return;
    }
    state.buffer.set(seq, item);
    if (state.buffer.size > this.#maxBuffered) {
      state.window.clear();
      this.#events.stalled(stream);
    } else if (!state.window.pending) {
      state.window.set(() => this.#events.stalled(stream), this.#windowMs);
    }
  }

  /** The server's answer to a resume: after a recovery the replay has arrived; otherwise the gap is announced. */
  resumed(frame: ResumedFrame): void {
    const state = this.#streams.get(frame.stream);
    if (state === undefined) return;
    if (frame.recovered) {
      if (frame.to !== undefined && state.last !== undefined && frame.to > state.last && !this.#sparse.has(frame.stream)) {
        // The replay up to `to` came before this reply: a hole still open below it is nothing this connection gets.
        this.#flush(frame.stream, state, frame.to);
        state.last = Math.max(state.last as number, frame.to);
        this.#drain(frame.stream, state);
      }
      if (state.buffer.size > 0 && !state.window.pending) state.window.set(() => this.#events.stalled(frame.stream), this.#windowMs);
      return;
    }
    this.#giveUp(frame.stream, state, frame.reason ?? 'not_resumable');
    if (frame.reason === 'epoch_changed') {
      // Seqs of the new epoch start over: the next frame sets the base.
      delete state.epoch;
      delete state.last;
    }
  }

  /** The hole cannot be filled (the server cannot resume the stream): announce it and deliver what is buffered. */
  skip(stream: string): void {
    const state = this.#streams.get(stream);
    if (state !== undefined && state.buffer.size > 0) this.#giveUp(stream, state, 'unfilled');
  }

  /** A stream the application no longer follows (e.g. an unsubscribed topic). */
  forget(stream: string): void {
    this.#streams.get(stream)?.window.clear();
    this.#streams.delete(stream);
  }

  dispose(): void {
    for (const state of this.#streams.values()) state.window.clear();
  }

  #acceptSparse(stream: string, state: StreamState<Item>, seq: number, item: Item): void {
    state.seen ??= new Set();
    // Where it started (a restored position): anything at or below it was handed over before.
    state.floor ??= state.last ?? 0;
    if (seq <= state.floor || state.seen.has(seq)) return;
    // The oldest seqs are forgotten: a resume starts after the highest, so they do not come again.
    if (state.seen.add(seq).size > this.#maxBuffered) state.seen.delete(state.seen.values().next().value as number);
    state.last = Math.max(state.last ?? 0, seq);
    this.#events.deliver(stream, seq, item);
  }

  #giveUp(stream: string, state: StreamState<Item>, reason: Gap['reason']): void {
    const lastSeq = state.last ?? 0;
    const firstBuffered = Math.min(...state.buffer.keys());
    this.#events.gap({ stream, reason, lastSeq, from: lastSeq + 1, ...(Number.isFinite(firstBuffered) && { to: firstBuffered - 1 }) });
    state.window.clear();
    this.#flush(stream, state);
    state.rebase = true;
  }

  #state(stream: string, epoch: string | undefined): StreamState<Item> {
    let state = this.#streams.get(stream);
    if (state === undefined) {
      state = { rebase: false, buffer: new Map(), window: new Timer(this.#clock), ...(epoch !== undefined && { epoch }) };
      this.#streams.set(stream, state);
    }
    // A position restored without an epoch (seq 0) takes the first epoch seen.
    state.epoch ??= epoch;
    return state;
  }

  #hand(stream: string, state: StreamState<Item>, seq: number, item: Item): void {
    state.last = seq;
    this.#events.deliver(stream, seq, item);
  }

  #drain(stream: string, state: StreamState<Item>): void {
    for (let next = (state.last ?? 0) + 1; state.buffer.has(next); next += 1) {
      const item = state.buffer.get(next) as Item;
      state.buffer.delete(next);
      this.#hand(stream, state, next, item);
    }
    if (state.buffer.size === 0) state.window.clear();
  }

  /** Delivers what is buffered (up to `upTo`, all by default), in seq order, across its holes. */
  #flush(stream: string, state: StreamState<Item>, upTo = Infinity): void {
    for (const seq of [...state.buffer.keys()].filter((seq) => seq <= upTo).sort((a, b) => a - b)) {
      const item = state.buffer.get(seq) as Item;
      state.buffer.delete(seq);
      this.#hand(stream, state, seq, item);
    }
  }
}
