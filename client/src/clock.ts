/** Time as the client sees it: injected, so tests drive reconnects, heartbeats and refreshes with fake time. */
export interface Clock {
  now(): number;
  setTimeout(callback: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

export const systemClock: Clock = {
  now: () => Date.now(),
  setTimeout: (callback, ms) => setTimeout(callback, ms),
  clearTimeout: (handle) => clearTimeout(handle as Parameters<typeof clearTimeout>[0]),
};

/** One timer slot: setting it again replaces the previous one. */
export class Timer {
  #handle: unknown;
  readonly #clock: Clock;

  constructor(clock: Clock) {
    this.#clock = clock;
  }

  set(callback: () => void, ms: number): void {
    this.clear();
    this.#handle = this.#clock.setTimeout(() => {
      this.#handle = undefined;
      callback();
    }, Math.max(0, ms));
  }

  clear(): void {
    if (this.#handle !== undefined) this.#clock.clearTimeout(this.#handle);
    this.#handle = undefined;
  }

  get pending(): boolean {
    return this.#handle !== undefined;
  }
}

/**
 * Exponential backoff with full jitter: a uniform delay in [0, min(max, base·2^attempt)), so that a
 * fleet of clients cut off at once does not come back at once.
 */
export function backoffDelay(attempt: number, baseMs: number, maxMs: number, random: () => number): number {
  return Math.floor(random() * Math.min(maxMs, baseMs * 2 ** Math.min(attempt, 30)));
}
