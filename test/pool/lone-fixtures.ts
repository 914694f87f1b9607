// Tasks for lone-calls.test.ts: plain calls (no options) that crash, throw, spin or go async, so each
// takes a worker's lone-call slot (src/pool/lone-slot.ts) and whatever path its answer needs.
import { task, taskContext } from '../../src/index.ts';

/** Exits the worker from inside the call, synchronously. */
export const exitNow = task(import.meta, (code: number): never => process.exit(code));

/** Returns its argument, or throws a RangeError carrying it when it is a negative number. */
export const echoOrThrow = task(import.meta, (value: unknown): unknown => {
  if (typeof value === 'number' && value < 0) throw new RangeError(`negative: ${value}`);
  return value;
});

/** Returns its argument after a promise turn. */
export const echoLater = task(import.meta, async (value: unknown): Promise<unknown> => {
  await Promise.resolve();
  return value;
});

/** What the call sees of its own context: its worker, and whether it is cancelled. */
export const ownContext = task(import.meta, (value: number): [number, number, boolean] => {
  const context = taskContext();
  return [value, context.workerId, context.cancelled];
});

/** Returns at once, leaving a timer that keeps the worker's thread busy for `ms` from its event loop. */
export const spinLater = task(import.meta, (ms: number): number => {
  setTimeout(() => {
    const end = performance.now() + ms;
    while (performance.now() < end) {}
  }, 0);
  return ms;
});

/** Returns its argument list as an array. */
export const listArgs = task(import.meta, (...args: unknown[]): unknown[] => args);

/** Reports each of `notes` as progress, in order, then returns `value`. */
export const reportThenEcho = task(import.meta, (notes: unknown[], value: unknown): unknown => {
  const context = taskContext();
  for (const note of notes) context.progress(note);
  return value;
});

/** Busy-waits `ms` of the worker's clock, then returns `value`. */
export const spinThenEcho = task(import.meta, (ms: number, value: unknown): unknown => {
  const end = performance.now() + ms;
  while (performance.now() < end) {}
  return value;
});

/** Returns `value` after a timer of `ms`: the call waits on the worker's event loop meanwhile. */
export const echoAfter = task(import.meta, async (ms: number, value: unknown): Promise<unknown> => {
  await new Promise((resolve) => setTimeout(resolve, ms));
  return value;
});
