// Condition: a condition variable over a Lock or RLock, in shared memory (Python's threading.Condition).
// Waiters take tickets in order; notify(n) moves NOTIFIED past the next n tickets, and a waiter returns
// once NOTIFIED has passed its own. Invariant: TICKETS, NOTIFIED and HOLES change only under the lock,
// so a notify reaches exactly the waiters that were waiting when it ran, and later waiters cannot steal it.
//
// A waiter that gives up (timeout, abort) leaves a hole among the tickets; HOLES counts them (an upper
// bound, zeroed when every ticket has been notified) and notify(n) moves past n + HOLES tickets, so it
// never wakes fewer than n waiters, at worst a few more: they see a spurious wake-up, as POSIX allows.

import { InvalidArgumentError, OwnerDiedError, SkeinError, type TimeoutError } from '../errors.ts';
import { checkInteger, MAX_INT32, show } from './arguments.ts';
import type { Held } from './guard.ts';
import { Lock } from './lock.ts';
import { RLock } from './rlock.ts';
import {
  fromHandle,
  HANDLE_KIND,
  registerKind,
  type SharedHandle,
  sharedCells,
  TO_HANDLE,
} from './shared.ts';
import { untilAsync, untilBlocking } from './until.ts';
import { planWait, type WaitOptions, type WaitPlan, waitTimedOut } from './wait.ts';

const KIND = 'Condition';
/** The next ticket to hand out. */
const TICKETS = 0;
/** Tickets below this one have been notified (compared with wrap-around, as Int32 differences). */
const NOTIFIED = 1;
/** At least as many tickets in [NOTIFIED, TICKETS) as belong to waiters who left without a notify. */
const HOLES = 2;
const CELLS = 3;

let revivedCells: Int32Array | undefined;

/**
 * A condition variable shared between threads (Python's `threading.Condition`). Hold its lock, check
 * the state, `wait()` while it is not what you need; whoever changes the state calls `notify()`.
 * `wait()` blocks the thread (for workers); `waitAsync()` never blocks the event loop.
 * With the default RLock, async callers on one thread count as one owner: give async waiters on the
 * same thread a `new Condition(new Lock())` so they exclude each other.
 * @example
 * const ready = new Condition(new Lock());
 * { using _held = await ready.acquireAsync(); await ready.waitForAsync(() => queue.length > 0, { timeout: 1_000 }); }
 * @throws InvalidArgumentError SKEIN_SYNC_INVALID_ARGUMENT when `lock` is not a Lock or RLock.
 */
export class Condition {
  readonly #cells: Int32Array;
  readonly #lock: Lock | RLock;

  /** @param lock the lock that guards the state waited on. @defaultValue new RLock() */
  constructor(lock: Lock | RLock = new RLock()) {
    const revived = revivedCells;
    revivedCells = undefined;
    if (!(lock instanceof Lock || lock instanceof RLock)) {
      throw new InvalidArgumentError(
        'SKEIN_SYNC_INVALID_ARGUMENT',
        `Condition lock must be a Lock or RLock from skein/sync (got ${show(lock)}); omit it for a new RLock`,
      );
    }
    this.#lock = lock;
    this.#cells = revived ?? new Int32Array(new SharedArrayBuffer(CELLS * 4));
  }

  /** Acquires the underlying lock (blocking); see Lock.acquire / RLock.acquire. */
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
   * Releases the lock, blocks this thread until notified, then takes the lock back, also when it times
   * out or is aborted (the error is thrown with the lock held again, as in Python).
   * @throws SkeinError SKEIN_SYNC_NOT_OWNER when this thread does not hold the lock.
   * @throws TimeoutError SKEIN_TIMEOUT when no notify came within `timeout` ms; AbortError SKEIN_ABORTED.
   * @throws OwnerDiedError SKEIN_SYNC_OWNER_DIED when a thread died holding the lock while this one waited.
   */
  wait(options?: WaitOptions): void {
    const plan = planWait(options, 'Condition.wait');
    if (!this.#waitBlocking(plan, 'wait')) throw this.#timedOut(plan);
  }

  /**
   * Like wait(), without blocking the event loop.
   * @throws SkeinError SKEIN_SYNC_NOT_OWNER; TimeoutError SKEIN_TIMEOUT; AbortError SKEIN_ABORTED;
   * OwnerDiedError SKEIN_SYNC_OWNER_DIED.
   */
  async waitAsync(options?: WaitOptions): Promise<void> {
    const plan = planWait(options, 'Condition.waitAsync');
    if (!(await this.#waitAsync(plan, 'waitAsync'))) throw this.#timedOut(plan);
  }

  /**
   * Waits until `predicate()` (called with the lock held) returns a truthy value, and returns it.
   * @throws TimeoutError SKEIN_TIMEOUT when it is still falsy after `timeout` ms; see wait() for the rest.
   */
  waitFor<T>(predicate: () => T, options?: WaitOptions): T {
    const plan = planWait(options, 'Condition.waitFor');
    checkPredicate(predicate, 'waitFor');
    this.#checkOwner('waitFor');
    for (;;) {
      const result = predicate();
      if (result) return result;
      if (!this.#waitBlocking(plan, 'waitFor')) {
        const last = predicate();
        if (last) return last;
        throw this.#timedOut(plan);
      }
    }
  }

  /**
   * Like waitFor(), without blocking the event loop. The predicate is synchronous.
   * @throws TimeoutError SKEIN_TIMEOUT when it is still falsy after `timeout` ms; see wait() for the rest.
   */
  async waitForAsync<T>(predicate: () => T, options?: WaitOptions): Promise<T> {
    const plan = planWait(options, 'Condition.waitForAsync');
    checkPredicate(predicate, 'waitForAsync');
    this.#checkOwner('waitForAsync');
    for (;;) {
      const result = predicate();
      if (result) return result;
      if (!(await this.#waitAsync(plan, 'waitForAsync'))) {
        const last = predicate();
        if (last) return last;
        throw this.#timedOut(plan);
      }
    }
  }

  /**
   * Wakes up to `n` of the waiters that are waiting now (they return once they get the lock back).
   * @throws SkeinError SKEIN_SYNC_NOT_OWNER when this thread does not hold the lock.
   */
  notify(n = 1): void {
    checkInteger(n, 'Condition.notify() count', 0, MAX_INT32, 'omit it to wake one waiter');
    this.#checkOwner('notify');
    this.#advance(n);
  }

  /**
   * Wakes every waiter that is waiting now.
   * @throws SkeinError SKEIN_SYNC_NOT_OWNER when this thread does not hold the lock.
   */
  notifyAll(): void {
    this.#checkOwner('notifyAll');
    const cells = this.#cells;
    Atomics.store(cells, NOTIFIED, Atomics.load(cells, TICKETS));
    Atomics.store(cells, HOLES, 0);
    Atomics.notify(cells, NOTIFIED);
  }

  /** Waits for one notify; true when notified, false on timeout. Returns or throws holding the lock. */
  #waitBlocking(plan: WaitPlan, what: string): boolean {
    const ticket = this.#enter(what);
    const depth = this.#releaseFully();
    let notified = false;
    let failure: unknown;
    try {
      notified = untilBlocking(this.#cells, NOTIFIED, plan, () => this.#notified(ticket));
    } catch (error) {
      failure = error;
    }
    let died = false;
    for (;;) {
      try {
        this.#lock.acquire();
        break;
      } catch (error) {
        if (!(error instanceof OwnerDiedError)) throw error;
        died = true;
      }
    }
    for (let level = 1; level < depth; level++) this.#lock.acquire();
    return this.#settle(ticket, notified, failure, died);
  }

  async #waitAsync(plan: WaitPlan, what: string): Promise<boolean> {
    const ticket = this.#enter(what);
    const depth = this.#releaseFully();
    let notified = false;
    let failure: unknown;
    try {
      notified = await untilAsync(this.#cells, NOTIFIED, plan, () => this.#notified(ticket));
    } catch (error) {
      failure = error;
    }
    let died = false;
    for (;;) {
      try {
        await this.#lock.acquireAsync();
        break;
      } catch (error) {
        if (!(error instanceof OwnerDiedError)) throw error;
        died = true;
      }
    }
    for (let level = 1; level < depth; level++) await this.#lock.acquireAsync();
    return this.#settle(ticket, notified, failure, died);
  }

  /** Checks ownership and takes a ticket, under the lock. */
  #enter(what: string): number {
    this.#checkOwner(what);
    return Atomics.add(this.#cells, TICKETS, 1);
  }

  /** Releases every level this thread holds; returns how many, to take back after the wait. */
  #releaseFully(): number {
    const depth = this.#lock instanceof RLock ? this.#lock.count : 1;
    for (let level = 0; level < depth; level++) this.#lock.release();
    return depth;
  }

  /**
   * With the lock back: withdraws the ticket of a waiter leaving without a notify, passes on a notify
   * that an aborted waiter absorbed, and reports the outcome (throwing the wait's error if any).
   */
  #settle(ticket: number, notified: boolean, failure: unknown, died: boolean): boolean {
    const cells = this.#cells;
    // No notify can come while this thread holds the lock, so this is the final word on the ticket.
    const wasNotified = notified || this.#notified(ticket);
    if (!wasNotified) {
      const tickets = Atomics.load(cells, TICKETS);
      if (((tickets - 1) | 0) === ticket) Atomics.store(cells, TICKETS, ticket);
      else Atomics.add(cells, HOLES, 1);
    }
    if (failure !== undefined && wasNotified) this.#advance(1);
    if (died) {
      // First, since the caller must repair the state before anything else; the wait's own error is the cause.
      throw new OwnerDiedError(
        `The ${this.#lock instanceof RLock ? 'RLock' : 'Lock'} of this Condition was held by a thread that exited without releasing it; this thread holds it again, but the state it guards may be half-updated: check it before going on`,
        failure === undefined ? undefined : { cause: failure },
      );
    }
    if (failure !== undefined) throw failure;
    return wasNotified;
  }

  /** Moves NOTIFIED past up to n live tickets (and the holes among them); under the lock. */
  #advance(n: number): void {
    const cells = this.#cells;
    const tickets = Atomics.load(cells, TICKETS);
    const notified = Atomics.load(cells, NOTIFIED);
    const outstanding = (tickets - notified) | 0;
    if (outstanding <= 0 || n === 0) return;
    const next = (notified + Math.min(outstanding, n + Atomics.load(cells, HOLES))) | 0;
    Atomics.store(cells, NOTIFIED, next);
    if (next === tickets) Atomics.store(cells, HOLES, 0);
    // Waiters cannot be woken one by one: each checks its own ticket and the others sleep again.
    Atomics.notify(cells, NOTIFIED);
  }

  #notified(ticket: number): boolean {
    return ((Atomics.load(this.#cells, NOTIFIED) - ticket) | 0) > 0;
  }

  #checkOwner(what: string): void {
    if (this.#lock.heldByCurrentThread()) return;
    throw new SkeinError(
      'SKEIN_SYNC_NOT_OWNER',
      `Condition.${what}() needs the condition's lock held by this thread; acquire it first (using _held = condition.acquire())`,
    );
  }

  #timedOut(plan: WaitPlan): TimeoutError {
    return waitTimedOut('Condition wait', plan, ' (no notify came)');
  }

  [TO_HANDLE](): SharedHandle {
    return {
      [HANDLE_KIND]: KIND,
      module: import.meta.url,
      scope: 'thread',
      buffer: this.#cells.buffer,
      lock: this.#lock[TO_HANDLE](),
    };
  }

  get [Symbol.toStringTag](): string {
    return KIND;
  }
}

function checkPredicate(predicate: unknown, what: string): void {
  if (typeof predicate !== 'function') {
    throw new InvalidArgumentError(
      'SKEIN_SYNC_INVALID_ARGUMENT',
      `Condition.${what}() predicate must be a function returning a truthy value when done (got ${show(predicate)})`,
    );
  }
}

registerKind(KIND, (handle) => {
  const cells = sharedCells(handle, CELLS);
  const lock = fromHandle<Lock | RLock>(handle.lock as SharedHandle);
  revivedCells = cells;
  return new Condition(lock);
});
