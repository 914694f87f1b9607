// Event: a flag in shared memory that threads wait for (Python's threading.Event). Invariant: set() bumps
// GENERATION whenever it turns the flag on, and waiters sleep on GENERATION, so a waiter that was waiting
// when set() ran returns even if clear() comes before it gets to look (Python's Event does the same).

import type { TimeoutError } from '../errors.ts';
import { HANDLE_KIND, registerKind, type SharedHandle, sharedCells, TO_HANDLE } from './shared.ts';
import { untilAsync, untilBlocking } from './until.ts';
import { planWait, type WaitOptions, type WaitPlan, waitTimedOut } from './wait.ts';

const KIND = 'Event';
const FLAG = 0;
const GENERATION = 1;
const CELLS = 2;

let revivedCells: Int32Array | undefined;

/**
 * A flag threads can wait for (Python's `threading.Event`): `set()` wakes every waiter, and later waits
 * return at once until `clear()`. `wait()` blocks the calling thread (for workers); `waitAsync()` never
 * blocks the event loop.
 * @example
 * const ready = new Event();
 * pool.run(worker, ready);   // the worker calls ready.wait()
 * ready.set();
 */
export class Event {
  readonly #cells: Int32Array;

  constructor() {
    this.#cells = revivedCells ?? new Int32Array(new SharedArrayBuffer(CELLS * 4));
    revivedCells = undefined;
  }

  /** Whether the flag is set. */
  isSet(): boolean {
    return Atomics.load(this.#cells, FLAG) === 1;
  }

  /** Sets the flag and wakes every thread and async caller waiting for it. */
  set(): void {
    const cells = this.#cells;
    if (Atomics.exchange(cells, FLAG, 1) === 1) return;
    // The flag first, then the generation: a waiter reads the generation before the flag, so it either
    // sees the flag or sleeps on a generation that is about to change.
    Atomics.add(cells, GENERATION, 1);
    Atomics.notify(cells, GENERATION);
  }

  /** Clears the flag: later waits wait for the next set(). */
  clear(): void {
    Atomics.store(this.#cells, FLAG, 0);
  }

  /**
   * Blocks this thread until the flag is set (returns at once if it is).
   * @throws TimeoutError SKEIN_TIMEOUT after `timeout` ms; AbortError SKEIN_ABORTED when `signal` fires.
   */
  wait(options?: WaitOptions): void {
    // Options first, even when set: bad options and an aborted signal fail whatever the flag, as in
    // every other wait and in ProcessEvent.
    const plan = planWait(options, 'Event.wait');
    if (this.isSet()) return;
    const since = Atomics.load(this.#cells, GENERATION);
    if (!untilBlocking(this.#cells, GENERATION, plan, () => this.#seen(since))) throw this.#timedOut(plan);
  }

  /**
   * Waits until the flag is set without blocking the event loop.
   * @throws TimeoutError SKEIN_TIMEOUT after `timeout` ms; AbortError SKEIN_ABORTED when `signal` fires.
   */
  async waitAsync(options?: WaitOptions): Promise<void> {
    const plan = planWait(options, 'Event.waitAsync');
    if (this.isSet()) return;
    const since = Atomics.load(this.#cells, GENERATION);
    if (!(await untilAsync(this.#cells, GENERATION, plan, () => this.#seen(since)))) {
      throw this.#timedOut(plan);
    }
  }

  #seen(since: number): boolean {
    return this.isSet() || Atomics.load(this.#cells, GENERATION) !== since;
  }

  #timedOut(plan: WaitPlan): TimeoutError {
    return waitTimedOut('Event wait', plan, ' (the event was not set)');
  }

  [TO_HANDLE](): SharedHandle {
    return { [HANDLE_KIND]: KIND, module: import.meta.url, scope: 'thread', buffer: this.#cells.buffer };
  }

  get [Symbol.toStringTag](): string {
    return KIND;
  }
}

registerKind(KIND, (handle) => {
  revivedCells = sharedCells(handle, CELLS);
  return new Event();
});
