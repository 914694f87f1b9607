// Lock: a mutual-exclusion lock in shared memory, usable from every thread it is handed to. The owner is
// recorded, so misuse is reported, a timed-out acquire names the holder, and a holder's death is told to
// the next acquirer instead of hanging it (robust mutex). See mutex.ts for the word and fairness.

import type { TimeoutError } from '../errors.ts';
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
import { threadIdOf } from './threads.ts';
import {
  planWait,
  throwIfAborted,
  type WaitOptions,
  waitSliceAsync,
  waitSliceBlocking,
  waitTimedOut,
} from './wait.ts';

const KIND = 'Lock';
let revivedCells: Int32Array | undefined;

/**
 * A mutual-exclusion lock shared between threads (Python's `threading.Lock`, owner-checked).
 * `acquire()` blocks the calling thread (for workers); `acquireAsync()` never blocks the event loop.
 * @example
 * const lock = new Lock();
 * await pool.run(work, lock);             // the worker gets the same lock
 * { using held = await lock.acquireAsync(); counter.value++; } // released at the end of the block
 */
export class Lock {
  readonly #cells: Int32Array;
  readonly #held: Held;

  constructor() {
    this.#cells = revivedCells ?? new Int32Array(new SharedArrayBuffer(MUTEX_CELLS * 4));
    revivedCells = undefined;
    this.#held = heldBy(() => this.release());
  }

  /** Takes the lock if it is free right now; never waits. */
  tryAcquire(): boolean {
    if (tryLockFast(this.#cells)) return true;
    try {
      return lockBlocking(
        this.#cells,
        planWait({ timeout: 0 }, 'Lock.tryAcquire'),
        KIND,
        waitSliceBlocking,
        throwIfAborted,
      );
    } catch (error) {
      if ((error as { code?: string }).code === 'SKEIN_SYNC_WOULD_DEADLOCK') return false;
      throw error;
    }
  }

  /**
   * Takes the lock, blocking this thread until it is free (use in workers; on the main thread prefer
   * acquireAsync). Returns a guard for `using`. A worker's death is recorded by the thread that
   * started it, on its event loop: a thread blocked here cannot notice the death of a worker it started
   * itself (wait with acquireAsync there), but every other thread can.
   * @throws TimeoutError SKEIN_TIMEOUT after `timeout` ms, naming the holder.
   * @throws OwnerDiedError SKEIN_SYNC_OWNER_DIED when the holder died; the lock is free again.
   * @throws SkeinError SKEIN_SYNC_WOULD_DEADLOCK when this thread holds it already.
   */
  acquire(options?: WaitOptions): Held {
    if (options === undefined && tryLockFast(this.#cells)) return this.#held;
    const plan = planWait(options, 'Lock.acquire');
    if (lockBlocking(this.#cells, plan, KIND, waitSliceBlocking, throwIfAborted)) return this.#held;
    throw this.#timedOut(plan);
  }

  /**
   * Takes the lock without blocking the event loop; works on the main thread. Other async callers of
   * the same thread wait their turn like other threads do.
   * @throws TimeoutError SKEIN_TIMEOUT, AbortError SKEIN_ABORTED, OwnerDiedError SKEIN_SYNC_OWNER_DIED.
   */
  async acquireAsync(options?: WaitOptions): Promise<Held> {
    if (options === undefined && tryLockFast(this.#cells)) return this.#held;
    const plan = planWait(options, 'Lock.acquireAsync');
    if (await lockAsync(this.#cells, plan, KIND, waitSliceAsync)) return this.#held;
    throw this.#timedOut(plan);
  }

  /**
   * Releases the lock.
   * @throws SkeinError SKEIN_SYNC_NOT_OWNER when this thread does not hold it.
   */
  release(): void {
    unlock(this.#cells, KIND);
  }

  /** Whether some thread holds the lock now. */
  locked(): boolean {
    return Atomics.load(this.#cells, STATE) !== 0;
  }

  /** Whether this thread holds the lock. */
  heldByCurrentThread(): boolean {
    return heldByMe(this.#cells);
  }

  /** The threadId of the holder (0 is the main thread), or null when free: for debugging deadlocks. */
  get owner(): number | null {
    const token = ownerToken(this.#cells);
    return token === 0 ? null : threadIdOf(token);
  }

  #timedOut(plan: ReturnType<typeof planWait>): TimeoutError {
    return waitTimedOut('Lock acquire', plan, holderDetail(this.#cells));
  }

  [TO_HANDLE](): SharedHandle {
    return { [HANDLE_KIND]: KIND, module: import.meta.url, scope: 'thread', buffer: this.#cells.buffer };
  }

  get [Symbol.toStringTag](): string {
    return KIND;
  }
}

registerKind(KIND, (handle) => {
  revivedCells = sharedCells(handle, MUTEX_CELLS);
  return new Lock();
});
