// Counts failed authentications per client address in a fixed window; an address over the limit is
// refused every API call until its window ends, valid token or not, so guessing cannot go on at speed.
// Memory is bounded: past MAX_TRACKED_ADDRESSES the oldest windows are dropped first.

import { InsertionOrderMap } from '../insertion-order-map.ts';

const MAX_TRACKED_ADDRESSES = 10_000;

interface Window {
  startedAt: number;
  failures: number;
}

export class AuthFailureLimiter {
  readonly #limit: number;
  readonly #windowMs: number;
  readonly #windows = new InsertionOrderMap<string, Window>();

  constructor(limit: number, windowMs: number) {
    this.#limit = limit;
    this.#windowMs = windowMs;
  }

  /** Milliseconds until `address` may call again, or 0 when it is not blocked. */
  blockedFor(address: string, now = Date.now()): number {
    const window = this.#windows.get(address);
    if (window === undefined) return 0;
    const left = window.startedAt + this.#windowMs - now;
    if (left <= 0) {
      this.#windows.delete(address);
      return 0;
    }
    return window.failures >= this.#limit ? left : 0;
  }

  recordFailure(address: string, now = Date.now()): void {
    let window = this.#windows.get(address);
    if (window === undefined || window.startedAt + this.#windowMs <= now) {
      this.#windows.delete(address);
      window = { startedAt: now, failures: 0 };
      // Insertion order is age order: the first key is the oldest window.
      if (this.#windows.size >= MAX_TRACKED_ADDRESSES) this.#windows.deleteOldest();
      this.#windows.set(address, window);
    }
    window.failures++;
  }
}
