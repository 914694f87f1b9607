// How channel calls wait for the other side: a wake point is three cells (sleepers, a sequence they
// sleep on, and a "wake-up in flight" flag); waiters spin briefly, then count themselves and sleep in
// slices (Atomics.wait, or Atomics.waitAsync on several points at once for select). The side that
// publishes wakes sleepers with one system call per sleep, not one per message: after it notifies, later
// publishers skip the call until a woken waiter clears the flag.
// Invariant: a waiter clears the flag whenever it wakes or leaves, and one that took something after
// sleeping passes the wake-up on when more is left, so no message or space is left with all asleep.

import { addAbortListener } from 'node:events';
import { availableParallelism } from 'node:os';
import { abortErrorFrom } from '../errors.ts';
import {
  remainingMs,
  throwIfAborted,
  WAIT_SLICE_MS,
  type WaitPlan,
  waitSliceBlocking,
} from '../sync/wait.ts';

/** Int32 indexes of a wake point's cells. */
export interface WakePoint {
  /** Waiters that may sleep: counted before the attempt that reads `sequence`. */
  readonly sleepers: number;
  /** Bumped by a publisher that saw sleepers (and by close): what waiters sleep on. */
  readonly sequence: number;
  /** 1 from a publisher's notify until a woken waiter clears it. */
  readonly pending: number;
}

/** A wake point to sleep on while its sequence still holds `expected`. */
export interface WaitTarget {
  readonly cells: Int32Array;
  readonly point: WakePoint;
  expected: number;
}

/**
 * Wakes the sleepers of `point` after something was published, unless a wake-up is already in flight.
 * The caller's publishing store and the load of the sleeper count here are sequentially consistent, and
 * so are the waiter's count and its re-check: one of the two sides sees the other.
 */
export function wakeSleepers(cells: Int32Array, point: WakePoint, count: number): void {
  if (Atomics.load(cells, point.sleepers) === 0) return;
  // A plain look first: a failed compareExchange would still take the line away from the other core.
  if (cells[point.pending] !== 0 || Atomics.compareExchange(cells, point.pending, 0, 1) !== 0) return;
  Atomics.add(cells, point.sequence, 1);
  Atomics.notify(cells, point.sequence, count);
}

/**
 * Counts a waiter in; it must then attempt once more (reading the sequence) before it sleeps. Clearing
 * the flag here costs at most one spare system call, and it matters when a thread counted as a sleeper
 * was terminated (its count is never taken back): nobody would clear the flag after the next wake-up.
 */
export function enterWait(cells: Int32Array, point: WakePoint): void {
  Atomics.add(cells, point.sleepers, 1);
  clearPending(cells, point);
}

/**
 * Counts a waiter out. One that took something after it slept wakes the next sleeper when `moreLeft`
 * (a wake-up skipped while it was in flight may have been meant for that next item or space).
 */
export function leaveWait(
  cells: Int32Array,
  point: WakePoint,
  took: boolean,
  moreLeft: () => boolean,
  count: number,
): void {
  Atomics.sub(cells, point.sleepers, 1);
  clearPending(cells, point);
  if (took && moreLeft()) wakeSleepers(cells, point, count);
}

function clearPending(cells: Int32Array, point: WakePoint): void {
  if (cells[point.pending] !== 0) Atomics.store(cells, point.pending, 0);
}

/**
 * How long a blocking waiter watches the cell before it sleeps, when more than one CPU is usable: 20 µs.
 * A partner thread that is busy putting or getting changes the cell within a few microseconds, while
 * sleeping costs both sides a system call (futex wait here, futex wake there) plus the wake-up latency.
 */
const SPIN_MS = availableParallelism() > 1 ? 0.02 : 0;
/** Loads between two clock reads while spinning. */
const SPIN_LOADS_PER_CLOCK = 64;

/** Spins briefly while cells[index] === expected; true when it changed. */
export function spinWhile(cells: Int32Array, index: number, expected: number): boolean {
  if (SPIN_MS === 0) return false;
  const until = performance.now() + SPIN_MS;
  for (;;) {
    for (let i = 0; i < SPIN_LOADS_PER_CLOCK; i++) {
      if (Atomics.load(cells, index) !== expected) return true;
    }
    if (performance.now() >= until) return false;
  }
}

/** One blocking slice; false once the plan's deadline has passed. Checks the signal first. */
export function waitBlocking(target: WaitTarget, plan: WaitPlan): boolean {
  throwIfAborted(plan);
  const { cells, point } = target;
  const more = waitSliceBlocking(cells, point.sequence, target.expected, plan);
  clearPending(cells, point);
  return more;
}

const noop = (): void => {};

/**
 * Waits one slice (at most WAIT_SLICE_MS) until any target's sequence changes or is notified. Resolves
 * false once the plan's deadline has passed, true otherwise (re-check the state); rejects with the
 * AbortError as soon as the plan's signal fires. A registration left behind (another target won, or
 * the wait was aborted) that later takes a notify clears the flag and hands the notify on.
 */
export function waitAnyAsync(targets: readonly WaitTarget[], plan: WaitPlan): Promise<boolean> {
  const left = remainingMs(plan);
  if (left <= 0) return Promise.resolve(false);
  if (plan.signal?.aborted === true) return Promise.reject(abortErrorFrom(plan.signal));
  const slice = Math.min(left, WAIT_SLICE_MS);
  const { promise, resolve, reject } = Promise.withResolvers<boolean>();
  let settled = false;
  let keepAlive: ReturnType<typeof setTimeout> | undefined;
  let listener: Disposable | undefined;
  const settle = (): boolean => {
    if (settled) return false;
    settled = true;
    if (keepAlive !== undefined) clearTimeout(keepAlive);
    listener?.[Symbol.dispose]();
    for (const { cells, point } of targets) clearPending(cells, point);
    return true;
  };
  for (const target of targets) {
    const { cells, point } = target;
    const result = Atomics.waitAsync(cells, point.sequence, target.expected, slice);
    if (!result.async) {
      settle();
      resolve(true);
      return promise;
    }
    void result.value.then((outcome) => {
      if (settle()) resolve(true);
      else if (outcome === 'ok') {
        // This registration took a notify meant for a waiter that would act on it: hand it on.
        clearPending(cells, point);
        Atomics.notify(cells, point.sequence, 1);
      }
    });
  }
  // A pending waitAsync does not keep Node's event loop alive; this timer does, so a process whose only
  // work is waiting for another thread does not exit under the waiter.
  keepAlive = setTimeout(noop, slice + 1);
  if (plan.signal !== undefined) {
    const signal = plan.signal;
    listener = addAbortListener(signal, () => {
      if (settle()) reject(abortErrorFrom(signal));
    });
  }
  return promise;
}
