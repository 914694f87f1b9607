// The two ways to wait on a shared Int32 cell: blocking (Atomics.wait, workers and anywhere a thread
// may block) and async (Atomics.waitAsync, the main thread included). Every wait is cut into slices so
// a waiter re-checks deadlines, abort signals and dead owners at least every WAIT_SLICE_MS.

import { addAbortListener } from 'node:events';
import { abortErrorFrom, InvalidArgumentError, TimeoutError } from '../errors.ts';

/** How often a waiter wakes to re-check its owner's liveness and its signal, at the latest. */
export const WAIT_SLICE_MS = 50;

/** Options of every call that can wait. */
export interface WaitOptions {
  /** Milliseconds to wait at most; omit (or Infinity) to wait until it succeeds. 0 means "try once". */
  readonly timeout?: number;
  /**
   * Aborts the wait. Async forms stop waiting as soon as it fires; blocking forms check it when they
   * start and between slices, since a thread blocked in Atomics.wait cannot run its abort listeners.
   */
  readonly signal?: AbortSignal;
}

/** A resolved wait: absolute deadline on performance.now()'s clock, and the signal. */
export interface WaitPlan {
  readonly deadline: number;
  readonly timeout: number;
  readonly signal: AbortSignal | undefined;
}

const FOREVER: WaitPlan = Object.freeze({ deadline: Infinity, timeout: Infinity, signal: undefined });

/** Validates { timeout, signal } of a call named `what` and turns the timeout into a deadline. */
export function planWait(options: WaitOptions | undefined, what: string): WaitPlan {
  if (options === undefined) return FOREVER;
  if (typeof options !== 'object' || options === null) {
    throw new InvalidArgumentError(
      'SKEIN_SYNC_INVALID_ARGUMENT',
      `${what} options must be an object like { timeout, signal } (got ${String(options)})`,
    );
  }
  const { timeout, signal } = options;
  if (timeout !== undefined && (typeof timeout !== 'number' || Number.isNaN(timeout) || timeout < 0)) {
    throw new InvalidArgumentError(
      'SKEIN_SYNC_INVALID_ARGUMENT',
      `${what} timeout must be a number of milliseconds >= 0 (got ${String(timeout)}); omit it to wait without limit`,
    );
  }
  if (signal !== undefined && !(signal instanceof AbortSignal)) {
    throw new InvalidArgumentError(
      'SKEIN_SYNC_INVALID_ARGUMENT',
      `${what} signal must be an AbortSignal (got ${String(signal)})`,
    );
  }
  if (signal?.aborted === true) throw abortErrorFrom(signal);
  const limit = timeout ?? Infinity;
  return { deadline: performance.now() + limit, timeout: limit, signal };
}

/** Milliseconds left before the plan's deadline, never below 0. */
export function remainingMs(plan: WaitPlan): number {
  return plan.deadline === Infinity ? Infinity : Math.max(0, plan.deadline - performance.now());
}

/** Throws the AbortError of an aborted plan; a blocking waiter calls it between slices. */
export function throwIfAborted(plan: WaitPlan): void {
  if (plan.signal?.aborted === true) throw abortErrorFrom(plan.signal);
}

/** The TimeoutError of a wait that ran out, naming what was awaited and, when known, who holds it. */
export function waitTimedOut(what: string, plan: WaitPlan, detail = ''): TimeoutError {
  return new TimeoutError(`${what} did not succeed within ${plan.timeout} ms${detail}`);
}

/**
 * Blocks for one slice while cells[index] === expected. Returns false once the deadline has passed
 * without a change being observed, true otherwise (changed, woken, or slice over: re-check the state).
 */
export function waitSliceBlocking(
  cells: Int32Array,
  index: number,
  expected: number,
  plan: WaitPlan,
): boolean {
  const left = remainingMs(plan);
  if (left <= 0) return false;
  Atomics.wait(cells, index, expected, Math.min(left, WAIT_SLICE_MS));
  return true;
}

const noop = (): void => {};

/**
 * Waits for one slice while cells[index] === expected without blocking the event loop. Resolves false
 * once the deadline has passed, true otherwise; rejects with AbortError as soon as the signal fires.
 */
export async function waitSliceAsync(
  cells: Int32Array,
  index: number,
  expected: number,
  plan: WaitPlan,
): Promise<boolean> {
  const left = remainingMs(plan);
  if (left <= 0) return false;
  throwIfAborted(plan);
  const slice = Math.min(left, WAIT_SLICE_MS);
  const result = Atomics.waitAsync(cells, index, expected, slice);
  if (!result.async) return true;
  // A pending waitAsync does not keep Node's event loop alive; this timer does, so a process whose
  // only work is waiting for another thread does not exit under the waiter.
  const keepAlive = setTimeout(noop, slice + 1);
  if (plan.signal === undefined) {
    try {
      await result.value;
    } finally {
      clearTimeout(keepAlive);
    }
    return true;
  }
  const { promise: aborted, reject } = Promise.withResolvers<never>();
  const listener = addAbortListener(plan.signal, () => {
    // An abandoned waitAsync stays in V8's waiter list until its slice ends, so a notify meant for a
    // live waiter may land on it; if one does, pass it on so no live waiter misses its wake-up.
    void result.value.then((outcome) => {
      if (outcome === 'ok') Atomics.notify(cells, index, 1);
    });
    reject(abortErrorFrom(plan.signal as AbortSignal));
  });
  try {
    await Promise.race([result.value, aborted]);
  } finally {
    listener[Symbol.dispose]();
    clearTimeout(keepAlive);
  }
  return true;
}
