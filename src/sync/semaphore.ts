// Semaphore and BoundedSemaphore: a count of permits in shared memory (Python's threading.Semaphore).
// Invariant: VALUE never goes below 0 (a permit leaves it only by compareExchange from a positive value),
// and every increase is followed by a notify whenever WAITERS says someone may be asleep on it.
//
// Fairness: acquirers may barge ahead of sleeping waiters (that keeps the uncontended path one
// compareExchange), but a waiter that has waited STARVATION_MS claims the heir cell; from then on only
// it may take a permit, and it takes the next one released. So no waiter starves under a stream of others.
//
// Owner death: acquire records the caller in a holder table (holders.ts). A waiter that finds no permit
// gives back the permits of holders that exited and throws OwnerDiedError from that one acquire; the
// permits are back, so the caller may retry. A thread keeps its table slot while it lives, so only the
// first HOLDER_SLOTS live threads to acquire are tracked: permits of later ones are untracked, and lost
// if their thread dies holding them. Recovery is exact when each permit is released by the thread that
// acquired it; a permit handed to another thread to release is taken off some other holder's count.

import { InvalidArgumentError, OwnerDiedError, SkeinError, type TimeoutError } from '../errors.ts';
import { checkInteger, MAX_INT32 } from './arguments.ts';
import { type Held, heldBy } from './guard.ts';
import { HOLDER_CELLS, HolderTable } from './holders.ts';
import { STARVATION_MS } from './mutex.ts';
import { HANDLE_KIND, registerKind, type SharedHandle, sharedCells, TO_HANDLE } from './shared.ts';
import { isTokenDead, ownToken } from './threads.ts';
import { untilAsync, untilBlocking } from './until.ts';
import { planWait, type WaitOptions, type WaitPlan, waitTimedOut } from './wait.ts';

const VALUE = 0;
/** How many callers are in the slow path and may sleep on VALUE; a release notifies only if some are. */
const WAITERS = 1;
const HEIR = 2;
/** The initial value of a BoundedSemaphore, UNBOUNDED for a Semaphore. */
const BOUND = 3;
const HOLDERS = 4;
const CELLS = HOLDERS + HOLDER_CELLS;
const UNBOUNDED = -1;

let revivedCells: Int32Array | undefined;

/**
 * A counting semaphore shared between threads (Python's `threading.Semaphore`): `acquire()` takes one
 * permit, waiting while there is none; `release(n)` gives permits back, from any thread.
 * `acquire()` blocks the calling thread (for workers); `acquireAsync()` never blocks the event loop.
 * @example
 * const slots = new Semaphore(3);            // at most three downloads at once
 * { using _permit = await slots.acquireAsync(); await download(url); }
 * @throws InvalidArgumentError SKEIN_SYNC_INVALID_ARGUMENT when `value` is not an integer from 0 to 2^31-1.
 */
export class Semaphore {
  readonly #cells: Int32Array;
  readonly #holders: HolderTable;
  readonly #held: Held;

  /** @param value permits available at first. @defaultValue 1 */
  constructor(value = 1) {
    const revived = revivedCells;
    revivedCells = undefined;
    if (revived !== undefined) {
      this.#cells = revived;
    } else {
      const bounded = this instanceof BoundedSemaphore;
      checkInteger(
        value,
        `${bounded ? 'BoundedSemaphore' : 'Semaphore'} value`,
        0,
        MAX_INT32,
        'pass the number of permits available at first',
      );
      this.#cells = new Int32Array(new SharedArrayBuffer(CELLS * 4));
      Atomics.store(this.#cells, VALUE, value);
      Atomics.store(this.#cells, BOUND, bounded ? value : UNBOUNDED);
    }
    this.#holders = new HolderTable(this.#cells, HOLDERS);
    this.#held = heldBy(() => this.release());
  }

  /** Permits available now. */
  get value(): number {
    return Atomics.load(this.#cells, VALUE);
  }

  /**
   * Takes a permit if one is free right now; never waits.
   * @throws OwnerDiedError SKEIN_SYNC_OWNER_DIED when it found none but gave back the permits of a thread
   * that exited holding them (they are available again).
   */
  tryAcquire(): boolean {
    return this.#tryFast() || this.#attempt(performance.now());
  }

  /**
   * Takes a permit, blocking this thread while there is none (use in workers; on the main thread prefer
   * acquireAsync). Returns a guard for `using` that releases one permit.
   * @throws TimeoutError SKEIN_TIMEOUT after `timeout` ms; AbortError SKEIN_ABORTED when `signal` fires.
   * @throws OwnerDiedError SKEIN_SYNC_OWNER_DIED when it gave back permits of a thread that exited
   * holding them; they are available again and the caller may retry.
   */
  acquire(options?: WaitOptions): Held {
    if (options === undefined && this.#tryFast()) return this.#held;
    const plan = planWait(options, `${this.#kind()}.acquire`);
    const since = performance.now();
    Atomics.add(this.#cells, WAITERS, 1);
    let acquired = false;
    try {
      acquired = untilBlocking(this.#cells, VALUE, plan, () => this.#attempt(since));
    } finally {
      this.#leave(acquired);
    }
    if (!acquired) throw this.#timedOut(plan);
    return this.#held;
  }

  /**
   * Takes a permit without blocking the event loop; works on the main thread.
   * @throws TimeoutError SKEIN_TIMEOUT, AbortError SKEIN_ABORTED, OwnerDiedError SKEIN_SYNC_OWNER_DIED.
   */
  async acquireAsync(options?: WaitOptions): Promise<Held> {
    if (options === undefined && this.#tryFast()) return this.#held;
    const plan = planWait(options, `${this.#kind()}.acquireAsync`);
    const since = performance.now();
    Atomics.add(this.#cells, WAITERS, 1);
    let acquired = false;
    try {
      acquired = await untilAsync(this.#cells, VALUE, plan, () => this.#attempt(since));
    } finally {
      this.#leave(acquired);
    }
    if (!acquired) throw this.#timedOut(plan);
    return this.#held;
  }

  /**
   * Gives `n` permits back and wakes as many waiters. Any thread may release, as in Python.
   * @throws SkeinError SKEIN_SYNC_OVER_RELEASE (BoundedSemaphore) when the count would exceed its initial value.
   * @throws InvalidArgumentError SKEIN_SYNC_INVALID_ARGUMENT when `n` is not an integer >= 1.
   */
  release(n = 1): void {
    const kind = this.#kind();
    checkInteger(
      n,
      `${kind}.release() count`,
      1,
      MAX_INT32,
      'pass how many permits to give back, or omit it for 1',
    );
    const cells = this.#cells;
    const bound = Atomics.load(cells, BOUND);
    this.#checkRoom(n, bound, Atomics.load(cells, VALUE));
    // Off the holder table before onto VALUE: if this thread dies in between, the permit is lost rather
    // than given back twice (which could let more holders in than the semaphore allows).
    this.#holders.drop(n);
    let value = Atomics.load(cells, VALUE);
    for (;;) {
      this.#checkRoom(n, bound, value);
      const seen = Atomics.compareExchange(cells, VALUE, value, value + n);
      if (seen === value) break;
      value = seen;
    }
    if (Atomics.load(cells, WAITERS) > 0) {
      // With an heir, wake everyone: the heir must see its permit and the others must see the heir.
      Atomics.notify(cells, VALUE, Atomics.load(cells, HEIR) === 0 ? n : Infinity);
    }
  }

  #checkRoom(n: number, bound: number, value: number): void {
    if (bound !== UNBOUNDED && value + n > bound) {
      throw new SkeinError(
        'SKEIN_SYNC_OVER_RELEASE',
        `BoundedSemaphore.release(${n}) would raise its count to ${value + n}, above its initial value ${bound}; release only permits that were acquired`,
      );
    }
    if (value + n > MAX_INT32) {
      throw new InvalidArgumentError(
        'SKEIN_SYNC_INVALID_ARGUMENT',
        `${this.#kind()}.release(${n}) would raise its count above ${MAX_INT32} (it is ${value}); release fewer permits`,
      );
    }
  }

  #tryFast(): boolean {
    const cells = this.#cells;
    if (Atomics.load(cells, HEIR) !== 0) return false;
    let value = Atomics.load(cells, VALUE);
    while (value > 0) {
      const seen = Atomics.compareExchange(cells, VALUE, value, value - 1);
      if (seen === value) {
        this.#holders.record();
        return true;
      }
      value = seen;
    }
    return false;
  }

  /** One slow-path attempt for a waiter that started at `since`: true once it took a permit. */
  #attempt(since: number): boolean {
    const cells = this.#cells;
    for (;;) {
      const heir = Atomics.load(cells, HEIR);
      if (heir !== 0 && heir !== ownToken) {
        if (!isTokenDead(heir)) return false;
        Atomics.compareExchange(cells, HEIR, heir, 0);
        continue;
      }
      const value = Atomics.load(cells, VALUE);
      if (value > 0) {
        if (Atomics.compareExchange(cells, VALUE, value, value - 1) !== value) continue;
        this.#holders.record();
        if (heir === ownToken) this.#clearHeir();
        return true;
      }
      const reclaimed = this.#holders.reclaimDead();
      if (reclaimed > 0) {
        this.#giveBack(reclaimed);
        throw new OwnerDiedError(
          `${reclaimed} permit(s) of this ${this.#kind()} were held by thread(s) that exited without releasing them; they are available again, but the state they guarded may be half-updated: check it, then acquire again`,
        );
      }
      if (heir === 0 && performance.now() - since >= STARVATION_MS) {
        Atomics.compareExchange(cells, HEIR, 0, ownToken);
      }
      return false;
    }
  }

  /** Adds reclaimed permits back, never above a BoundedSemaphore's bound, and wakes the waiters. */
  #giveBack(permits: number): void {
    const cells = this.#cells;
    const bound = Atomics.load(cells, BOUND);
    let value = Atomics.load(cells, VALUE);
    for (;;) {
      const next = Math.min(value + permits, bound === UNBOUNDED ? MAX_INT32 : Math.max(bound, value));
      const seen = Atomics.compareExchange(cells, VALUE, value, next);
      if (seen === value) break;
      value = seen;
    }
    Atomics.notify(cells, VALUE);
  }

  #clearHeir(): void {
    if (Atomics.compareExchange(this.#cells, HEIR, ownToken, 0) === ownToken) {
      // Waiters held back by the heir sleep on a VALUE they saw; let them look again.
      Atomics.notify(this.#cells, VALUE);
    }
  }

  /** Leaves the slow path. A waiter that goes without a permit passes on a wake-up it may have absorbed. */
  #leave(acquired: boolean): void {
    const cells = this.#cells;
    Atomics.sub(cells, WAITERS, 1);
    if (Atomics.load(cells, HEIR) === ownToken) this.#clearHeir();
    else if (!acquired && Atomics.load(cells, VALUE) > 0 && Atomics.load(cells, WAITERS) > 0) {
      Atomics.notify(cells, VALUE, 1);
    }
  }

  #kind(): string {
    return Atomics.load(this.#cells, BOUND) === UNBOUNDED ? 'Semaphore' : 'BoundedSemaphore';
  }

  #timedOut(plan: WaitPlan): TimeoutError {
    return waitTimedOut(`${this.#kind()} acquire`, plan, ' (no permit was released in time)');
  }

  [TO_HANDLE](): SharedHandle {
    return {
      [HANDLE_KIND]: this.#kind(),
      module: import.meta.url,
      scope: 'thread',
      buffer: this.#cells.buffer,
    };
  }

  get [Symbol.toStringTag](): string {
    return this.#kind();
  }
}

/**
 * A semaphore whose count may never exceed its initial value (Python's `threading.BoundedSemaphore`):
 * a release without a matching acquire is reported instead of silently adding a permit.
 * @example
 * const pool = new BoundedSemaphore(2);
 * pool.release(); // throws SKEIN_SYNC_OVER_RELEASE: nothing was acquired
 * @throws InvalidArgumentError SKEIN_SYNC_INVALID_ARGUMENT when `value` is not an integer from 0 to 2^31-1.
 */
export class BoundedSemaphore extends Semaphore {}

registerKind('Semaphore', (handle) => {
  revivedCells = sharedCells(handle, CELLS);
  return new Semaphore();
});

registerKind('BoundedSemaphore', (handle) => {
  revivedCells = sharedCells(handle, CELLS);
  return new BoundedSemaphore();
});
