// How channel calls wait for a cell to change: blocking (a short spin, then sliced Atomics.wait) and
// async (sliced Atomics.waitAsync on one or several cells at once, for select). Producers wake ONE
// waiter per item, so a waiter that is woken but leaves without taking (its select was settled by
// another case, or it was aborted) passes the wake-up on: no item is ever left with everyone asleep.

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

/** A cell to wait on while it still holds `expected`. */
export interface WaitTarget {
  readonly cells: Int32Array;
  readonly index: number;
  readonly expected: number;
}

/**
 * Loads of the cell a blocking waiter makes before it sleeps, when more than one CPU is usable. About
 * 2 µs: a partner thread that is running answers within it, and the futex round trip (sleeping, then
 * being woken by a system call on the other side) costs more than that on both sides.
 */
const SPIN_LOADS = availableParallelism() > 1 ? 256 : 0;

/** Spins briefly while cells[index] === expected; true when it changed. */
export function spinWhile(cells: Int32Array, index: number, expected: number): boolean {
  for (let i = 0; i < SPIN_LOADS; i++) {
    if (Atomics.load(cells, index) !== expected) return true;
  }
  return false;
}

/** One blocking slice; false once the plan's deadline has passed. Checks the signal first. */
export function waitBlocking(target: WaitTarget, plan: WaitPlan): boolean {
  throwIfAborted(plan);
  return waitSliceBlocking(target.cells, target.index, target.expected, plan);
}

const noop = (): void => {};

/**
 * Waits one slice (at most WAIT_SLICE_MS) until any target's cell changes or is notified. Resolves
 * false once the plan's deadline has passed, true otherwise (re-check the state); rejects with the
 * AbortError as soon as the plan's signal fires.
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
    return true;
  };
  for (const target of targets) {
    const result = Atomics.waitAsync(target.cells, target.index, target.expected, slice);
    if (!result.async) {
      settle();
      resolve(true);
      return promise;
    }
    const { cells, index } = target;
    void result.value.then((outcome) => {
      if (settle()) resolve(true);
      // This waiter took a notify meant for someone who would take the item: hand it on.
      else if (outcome === 'ok') Atomics.notify(cells, index, 1);
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
