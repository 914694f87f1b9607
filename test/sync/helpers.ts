// Test-side helpers for the sync and channel suites: bounded async waits on shared cells (handshakes
// with worker threads, never sleeps) and waiting for a worker to exit.

import { once } from 'node:events';
import type { Worker } from 'node:worker_threads';

/** Generous bound for anything that should happen "soon": the 2-core test hosts stall at times. */
export const SOON_MS = 10_000;

/** Resolves once cells[index] === value; rejects naming `what` after `ms`. */
export function untilCell(
  cells: Int32Array,
  index: number,
  value: number,
  what: string,
  ms = SOON_MS,
): Promise<void> {
  return untilCellIs(cells, index, (seen) => seen === value, `${value}`, what, ms);
}

/** Resolves once cells[index] >= value; rejects naming `what` after `ms`. */
export function untilCellAtLeast(
  cells: Int32Array,
  index: number,
  value: number,
  what: string,
  ms = SOON_MS,
): Promise<void> {
  return untilCellIs(cells, index, (seen) => seen >= value, `at least ${value}`, what, ms);
}

async function untilCellIs(
  cells: Int32Array,
  index: number,
  accept: (seen: number) => boolean,
  value: string,
  what: string,
  ms: number,
): Promise<void> {
  const deadline = performance.now() + ms;
  for (;;) {
    const seen = Atomics.load(cells, index);
    if (accept(seen)) return;
    const left = deadline - performance.now();
    if (left <= 0) throw new Error(`${what}: cell ${index} is ${seen}, not ${value}, after ${ms} ms`);
    const result = Atomics.waitAsync(cells, index, seen, Math.min(left, 100));
    if (result.async) await result.value;
  }
}

/** Sets cells[index] and wakes its waiters. */
export function setCell(cells: Int32Array, index: number, value: number): void {
  Atomics.store(cells, index, value);
  Atomics.notify(cells, index);
}

export function cellsOf(count: number): Int32Array {
  return new Int32Array(new SharedArrayBuffer(count * 4));
}

/** Terminates a worker and waits for its exit (and so for its death to be recorded). */
export async function terminated(worker: Worker): Promise<void> {
  const exited = once(worker, 'exit');
  await worker.terminate();
  await exited;
}
