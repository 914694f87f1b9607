// Latch: a count in shared memory that threads count down and wait to reach zero (Java's CountDownLatch).
// Invariant: COUNT only goes down, never below 0, and the countDown that brings it to 0 wakes every waiter;
// once open, a latch stays open.

import type { TimeoutError } from '../errors.ts';
import { checkInteger, MAX_INT32 } from './arguments.ts';
import { HANDLE_KIND, registerKind, type SharedHandle, sharedCells, TO_HANDLE } from './shared.ts';
import { untilAsync, untilBlocking } from './until.ts';
import { planWait, type WaitOptions, type WaitPlan, waitTimedOut } from './wait.ts';

const KIND = 'Latch';
const COUNT = 0;
const CELLS = 1;

let revivedCells: Int32Array | undefined;

/**
 * A one-shot gate that opens when its count reaches zero (Java's `CountDownLatch`): workers call
 * `countDown()` as they finish a step, others `wait()` for all of them. It cannot be reset; make a new one.
 * @example
 * const started = new Latch(4);
 * for (let i = 0; i < 4; i++) pool.run(work, started); // each calls started.countDown()
 * await started.waitAsync({ timeout: 5_000 });
 * @throws InvalidArgumentError SKEIN_SYNC_INVALID_ARGUMENT when `count` is not an integer from 0 to 2^31-1.
 */
export class Latch {
  readonly #cells: Int32Array;

  constructor(count: number) {
    const revived = revivedCells;
    revivedCells = undefined;
    if (revived !== undefined) {
      this.#cells = revived;
      return;
    }
    checkInteger(count, 'Latch count', 0, MAX_INT32, 'pass how many countDown() calls open it');
    this.#cells = new Int32Array(new SharedArrayBuffer(CELLS * 4));
    Atomics.store(this.#cells, COUNT, count);
  }

  /** countDown() calls still needed to open the latch (0 once open). */
  get count(): number {
    return Atomics.load(this.#cells, COUNT);
  }

  /**
   * Lowers the count by `n` (never below 0) and opens the latch when it reaches 0, waking every waiter.
   * Counting down an open latch does nothing, as in Java.
   * @throws InvalidArgumentError SKEIN_SYNC_INVALID_ARGUMENT when `n` is not an integer >= 1.
   */
  countDown(n = 1): void {
    checkInteger(n, 'Latch.countDown() step', 1, MAX_INT32, 'omit it to count down by 1');
    const cells = this.#cells;
    let count = Atomics.load(cells, COUNT);
    while (count > 0) {
      const next = Math.max(0, count - n);
      const seen = Atomics.compareExchange(cells, COUNT, count, next);
      if (seen === count) {
        if (next === 0) Atomics.notify(cells, COUNT);
        return;
      }
      count = seen;
    }
  }

  /**
   * Blocks this thread until the count reaches 0 (returns at once if it has).
   * @throws TimeoutError SKEIN_TIMEOUT after `timeout` ms; AbortError SKEIN_ABORTED when `signal` fires.
   */
  wait(options?: WaitOptions): void {
    if (this.count === 0) return;
    const plan = planWait(options, 'Latch.wait');
    if (!untilBlocking(this.#cells, COUNT, plan, () => this.count === 0)) throw this.#timedOut(plan);
  }

  /**
   * Waits until the count reaches 0 without blocking the event loop.
   * @throws TimeoutError SKEIN_TIMEOUT after `timeout` ms; AbortError SKEIN_ABORTED when `signal` fires.
   */
  async waitAsync(options?: WaitOptions): Promise<void> {
    if (this.count === 0) return;
    const plan = planWait(options, 'Latch.waitAsync');
    if (!(await untilAsync(this.#cells, COUNT, plan, () => this.count === 0))) throw this.#timedOut(plan);
  }

  #timedOut(plan: WaitPlan): TimeoutError {
    return waitTimedOut('Latch wait', plan, ` (the count is still ${this.count})`);
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
  return new Latch(0);
});
