// RLock: a reentrant lock in shared memory. The owning thread may acquire it again; it is free once
// released as many times as acquired. Same word, fairness and owner-death rules as Lock (mutex.ts);
// the recursion count lives in a cell only the owner writes, with plain stores: taking and releasing the
// mutex word (atomic, sequentially consistent) publishes it to the next owner.

import { SkeinError, type TimeoutError } from '../errors.ts';
import { type Held, heldBy } from './guard.ts';
import {
  heldByMe,
  holderDetail,
  lockAsync,
  lockBlocking,
  MUTEX_CELLS,
  ownerToken,
  STATE,
  tryLockFast,
  unlock,
} from './mutex.ts';
import { HANDLE_KIND, registerKind, type SharedHandle, sharedCells, TO_HANDLE } from './shared.ts';
import { ownToken, threadIdOf } from './threads.ts';
import {
  planWait,
  throwIfAborted,
  type WaitOptions,
  type WaitPlan,
  waitSliceAsync,
  waitSliceBlocking,
  waitTimedOut,
} from './wait.ts';

const KIND = 'RLock';
const COUNT = MUTEX_CELLS;
const CELLS = MUTEX_CELLS + 1;
let revivedCells: Int32Array | undefined;

/**
 * A reentrant lock shared between threads (Python's `threading.RLock`): the owner may acquire it
 * again and must release it as many times. Ownership is per thread: two async callers on one thread
 * count as the same owner, so use a Lock to exclude async tasks of one thread from each other.
 */
export class RLock {
  readonly #cells: Int32Array;
  readonly #held: Held;

  constructor() {
    this.#cells = revivedCells ?? new Int32Array(new SharedArrayBuffer(CELLS * 4));
    revivedCells = undefined;
    this.#held = heldBy(() => this.release());
  }

  /** Takes the lock if free or already held by this thread; never waits. */
  tryAcquire(): boolean {
    if (this.#reenter()) return true;
    if (!tryLockFast(this.#cells)) {
      const plan = planWait({ timeout: 0 }, 'RLock.tryAcquire');
      if (!lockBlocking(this.#cells, plan, KIND, waitSliceBlocking, throwIfAborted)) return false;
    }
    this.#cells[COUNT] = 1;
    return true;
  }

  /**
   * Takes the lock, blocking this thread while another thread holds it.
   * @throws TimeoutError SKEIN_TIMEOUT naming the holder; OwnerDiedError SKEIN_SYNC_OWNER_DIED.
   */
  acquire(options?: WaitOptions): Held {
    // Options first, even for a re-entry: bad options and an aborted signal fail whoever holds the
    // lock, as in every other wait and in ProcessRLock.
    const plan = planWait(options, 'RLock.acquire');
    if (this.#reenter()) return this.#held;
    if (options !== undefined || !tryLockFast(this.#cells)) {
      if (!lockBlocking(this.#cells, plan, KIND, waitSliceBlocking, throwIfAborted))
        throw this.#timedOut(plan);
    }
    this.#cells[COUNT] = 1;
    return this.#held;
  }

  /**
   * Takes the lock without blocking the event loop.
   * @throws TimeoutError SKEIN_TIMEOUT, AbortError SKEIN_ABORTED, OwnerDiedError SKEIN_SYNC_OWNER_DIED.
   */
  async acquireAsync(options?: WaitOptions): Promise<Held> {
    const plan = planWait(options, 'RLock.acquireAsync');
    if (this.#reenter()) return this.#held;
    if (options !== undefined || !tryLockFast(this.#cells)) {
      if (!(await lockAsync(this.#cells, plan, KIND, waitSliceAsync))) throw this.#timedOut(plan);
    }
    this.#cells[COUNT] = 1;
    return this.#held;
  }

  /**
   * Releases one level; the lock is free when the count reaches zero.
   * @throws SkeinError SKEIN_SYNC_NOT_OWNER when this thread does not hold it.
   */
  release(): void {
    if (!heldByMe(this.#cells)) {
      unlock(this.#cells, KIND); // throws the right SKEIN_SYNC_NOT_OWNER message
      throw new SkeinError('SKEIN_INTERNAL', 'RLock released by a non-owner; this is a bug in Skein');
    }
    const count = (this.#cells[COUNT] as number) - 1;
    this.#cells[COUNT] = count;
    if (count === 0) unlock(this.#cells, KIND);
  }

  /** Whether some thread holds the lock now. */
  locked(): boolean {
    return Atomics.load(this.#cells, STATE) !== 0;
  }

  /** Whether this thread holds the lock. */
  heldByCurrentThread(): boolean {
    return heldByMe(this.#cells);
  }

  /** How many times the owner has acquired it without releasing (0 when free). */
  get count(): number {
    return ownerToken(this.#cells) === 0 ? 0 : Atomics.load(this.#cells, COUNT);
  }

  /** The threadId of the holder (0 is the main thread), or null when free. */
  get owner(): number | null {
    const token = ownerToken(this.#cells);
    return token === 0 ? null : threadIdOf(token);
  }

  #reenter(): boolean {
    if (ownerToken(this.#cells) !== ownToken) return false;
    this.#cells[COUNT] = (this.#cells[COUNT] as number) + 1;
    return true;
  }

  #timedOut(plan: WaitPlan): TimeoutError {
    return waitTimedOut('RLock acquire', plan, holderDetail(this.#cells));
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
  return new RLock();
});
