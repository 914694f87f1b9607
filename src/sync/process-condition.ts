// ProcessCondition: a condition variable shared between processes (multiprocessing.Condition), bound to
// a ProcessLock or ProcessRLock made in the same thread, so its hub releases the lock, queues the wait
// and hands the lock back in one step. A wait returns, or throws, holding the lock again.

import { InvalidArgumentError, SkeinError, type TimeoutError } from '../errors.ts';
import type { Held } from './guard.ts';
import { checkCount, describe } from './process/checks.ts';
import {
  bindEndpoint,
  createShared,
  type Endpoint,
  endpointOf,
  endpointOfObject,
  handleOf,
  NO_WAIT,
} from './process/endpoint.ts';
import './process/condition-state.ts';
import { ProcessLock } from './process-lock.ts';
import { ProcessRLock } from './process-rlock.ts';
import {
  fromHandle,
  registerKind,
  type Shareable,
  type SharedHandle,
  TO_HANDLE,
  toHandle,
} from './shared.ts';
import { planWait, remainingMs, type WaitOptions, type WaitPlan, waitTimedOut } from './wait.ts';

const KIND = 'ProcessCondition';
let revived: Endpoint | undefined;

/**
 * A condition variable shared between processes: `wait()` releases the lock, waits for a `notify()`
 * from any process, and takes the lock back before it returns (also when it times out or is aborted:
 * the error is thrown with the lock held again, as in Python). Waiters are notified in FIFO order.
 * `waitAsync()` works everywhere; `wait()` blocks the calling thread and cannot be used on the thread
 * that created the condition (nothing could notify it there while it blocks).
 * @example
 * const ready = new ProcessCondition();
 * child.send(toHandle(ready));  // the child: { using _ = await ready.acquireAsync(); await ready.waitForAsync(check); }
 * { using _ = await ready.acquireAsync(); changeState(); ready.notifyAll(); }
 * @throws InvalidArgumentError SKEIN_SYNC_INVALID_ARGUMENT when `lock` is not a ProcessLock or
 * ProcessRLock created in this thread.
 */
export class ProcessCondition implements Shareable {
  readonly #endpoint: Endpoint;
  readonly #lock: ProcessLock | ProcessRLock;
  readonly #lockEndpoint: Endpoint;

  /** @param lock the lock that guards the state waited on, made in this thread. @defaultValue new ProcessRLock() */
  constructor(lock: ProcessLock | ProcessRLock = new ProcessRLock()) {
    const lockEndpoint = endpointOfObject(lock);
    if (!(lock instanceof ProcessLock || lock instanceof ProcessRLock) || lockEndpoint === undefined) {
      throw new InvalidArgumentError(
        'SKEIN_SYNC_INVALID_ARGUMENT',
        `ProcessCondition lock must be a ProcessLock or ProcessRLock (got ${describe(lock)}); omit it for a new ProcessRLock`,
      );
    }
    this.#lock = lock;
    this.#lockEndpoint = lockEndpoint;
    if (revived !== undefined) {
      this.#endpoint = revived;
      revived = undefined;
    } else {
      if (!lockEndpoint.local) {
        throw new InvalidArgumentError(
          'SKEIN_SYNC_INVALID_ARGUMENT',
          'ProcessCondition lock must have been created in this thread (a lock revived from a handle lives in another hub); create the lock and the condition in the same thread',
        );
      }
      this.#endpoint = createShared(KIND, [lockEndpoint.id]);
    }
    bindEndpoint(this, this.#endpoint);
  }

  /** Acquires the underlying lock (blocking); see ProcessLock.acquire. */
  acquire(options?: WaitOptions): Held {
    return this.#lock.acquire(options);
  }

  /** Acquires the underlying lock without blocking the event loop. */
  acquireAsync(options?: WaitOptions): Promise<Held> {
    return this.#lock.acquireAsync(options);
  }

  /** Acquires the underlying lock if it is free right now. */
  tryAcquire(): boolean {
    return this.#lock.tryAcquire();
  }

  /** Releases the underlying lock. @throws SkeinError SKEIN_SYNC_NOT_OWNER when this thread does not hold it. */
  release(): void {
    this.#lock.release();
  }

  /**
   * Releases the lock, blocks this thread until notified, then takes the lock back.
   * @throws SkeinError SKEIN_SYNC_NOT_OWNER when this thread does not hold the lock;
   * SKEIN_SYNC_WOULD_DEADLOCK on the thread that created the condition.
   * @throws TimeoutError SKEIN_TIMEOUT when no notify came within `timeout` ms (the lock is held again).
   * @throws OwnerDiedError SKEIN_SYNC_OWNER_DIED when a process died holding the lock while this one
   * waited for it (it is not held then).
   */
  wait(options?: WaitOptions): void {
    this.#waitBlocking(planWait(options, 'ProcessCondition.wait'));
  }

  /**
   * Like wait(), without blocking the event loop. An abort also ends with the lock held again.
   * @throws SkeinError SKEIN_SYNC_NOT_OWNER; TimeoutError SKEIN_TIMEOUT; AbortError SKEIN_ABORTED;
   * OwnerDiedError SKEIN_SYNC_OWNER_DIED.
   */
  async waitAsync(options?: WaitOptions): Promise<void> {
    await this.#waitAsync(planWait(options, 'ProcessCondition.waitAsync'));
  }

  /**
   * Waits until `predicate()` (called with the lock held) returns a truthy value, and returns it.
   * @throws TimeoutError SKEIN_TIMEOUT when it is still falsy after `timeout` ms; see wait() for the rest.
   */
  waitFor<T>(predicate: () => T, options?: WaitOptions): T {
    const plan = planWait(options, 'ProcessCondition.waitFor');
    checkPredicate(predicate, 'waitFor');
    for (;;) {
      const result = predicate();
      if (result) return result;
      if (remainingMs(plan) <= 0) throw predicateTimedOut('waitFor', plan);
      try {
        this.#waitBlocking(plan);
      } catch (error) {
        if ((error as SkeinError).code !== 'SKEIN_TIMEOUT') throw error;
        const last = predicate();
        if (last) return last;
        throw error;
      }
    }
  }

  /**
   * Like waitFor(), without blocking the event loop. The predicate is synchronous.
   * @throws TimeoutError SKEIN_TIMEOUT when it is still falsy after `timeout` ms; see wait() for the rest.
   */
  async waitForAsync<T>(predicate: () => T, options?: WaitOptions): Promise<T> {
    const plan = planWait(options, 'ProcessCondition.waitForAsync');
    checkPredicate(predicate, 'waitForAsync');
    for (;;) {
      const result = predicate();
      if (result) return result;
      if (remainingMs(plan) <= 0) throw predicateTimedOut('waitForAsync', plan);
      try {
        await this.#waitAsync(plan);
      } catch (error) {
        if ((error as SkeinError).code !== 'SKEIN_TIMEOUT') throw error;
        const last = predicate();
        if (last) return last;
        throw error;
      }
    }
  }

  /**
   * Wakes up to `n` of the waiters waiting now, longest waiting first (each returns once it has the
   * lock back).
   * @throws SkeinError SKEIN_SYNC_NOT_OWNER when this thread does not hold the lock.
   */
  notify(n = 1): void {
    checkCount(n, 'ProcessCondition.notify() count', 0, 'omit it to wake one waiter');
    this.#endpoint.callSync('notify', [n], NO_WAIT, 'ProcessCondition.notify');
  }

  /**
   * Wakes every waiter waiting now.
   * @throws SkeinError SKEIN_SYNC_NOT_OWNER when this thread does not hold the lock.
   */
  notifyAll(): void {
    this.#endpoint.callSync('notifyAll', [], NO_WAIT, 'ProcessCondition.notifyAll');
  }

  #waitBlocking(plan: WaitPlan): void {
    if (this.#endpoint.local) {
      // The lock would be released before the wait could be refused: refuse first. Nothing could
      // notify this thread while it blocks, since it runs the hub.
      const mine = this.#lockEndpoint.callSync('mine', [], NO_WAIT, 'ProcessCondition.wait') as number;
      if (mine === 0) {
        throw new SkeinError(
          'SKEIN_SYNC_NOT_OWNER',
          'ProcessCondition.wait() called without holding its lock; acquire the condition (or its lock) first',
        );
      }
      throw new SkeinError(
        'SKEIN_SYNC_WOULD_DEADLOCK',
        'ProcessCondition.wait() would block the thread that runs its hub, so no notify could ever reach it; use waitAsync() on this thread, or wait() from another thread or process',
      );
    }
    try {
      this.#endpoint.callSync('wait', [], plan, 'ProcessCondition.wait', { settleOnHub: true });
    } catch (error) {
      this.#afterFailedWait(error);
      throw error;
    }
  }

  async #waitAsync(plan: WaitPlan): Promise<void> {
    try {
      await this.#endpoint.call('wait', [], plan, 'ProcessCondition.waitAsync', { settleOnHub: true });
    } catch (error) {
      this.#afterFailedWait(error);
      throw error;
    }
  }

  /** A remote thread that lost the lock while waiting (its holder died, or the hub did) holds it no more. */
  #afterFailedWait(error: unknown): void {
    const code = (error as SkeinError).code;
    if (
      !this.#lockEndpoint.local &&
      (code === 'SKEIN_SYNC_OWNER_DIED' || code === 'SKEIN_SYNC_DISCONNECTED')
    ) {
      this.#lockEndpoint.held = 0;
    }
  }

  [TO_HANDLE](): SharedHandle {
    return handleOf(KIND, import.meta.url, this.#endpoint, { lock: toHandle(this.#lock) });
  }

  get [Symbol.toStringTag](): string {
    return KIND;
  }
}

function predicateTimedOut(what: string, plan: WaitPlan): TimeoutError {
  return waitTimedOut(`ProcessCondition.${what}`, plan, ' (the predicate stayed false; the lock is held)');
}

function checkPredicate(predicate: unknown, what: string): void {
  if (typeof predicate !== 'function') {
    throw new InvalidArgumentError(
      'SKEIN_SYNC_INVALID_ARGUMENT',
      `ProcessCondition.${what} takes a predicate function (got ${describe(predicate)})`,
    );
  }
}

registerKind(KIND, (handle) => {
  const lock = fromHandle<ProcessLock | ProcessRLock>(handle.lock as SharedHandle);
  revived = endpointOf(handle);
  return new ProcessCondition(lock);
});
