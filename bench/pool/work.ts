// The task bodies every library runs, identical byte for byte: each peer's worker file and Skein's task
// module wrap these same functions. No imports, so loading this module costs a worker nothing extra.

/** The trivial task: one addition. The driver checks Σ(x + 1) over all results. */
export function noop(x: number): number {
  return x + 1;
}

/**
 * Busy-waits until `ms` milliseconds of performance.now() have passed inside the task and returns the
 * time actually spent, so the caller can sum the time spent inside task code (utilization).
 */
export function spin(ms: number): number {
  const start = performance.now();
  let now = start;
  while (now - start < ms) now = performance.now();
  return now - start;
}

/** Reads the array the way a real consumer would touch it (first, middle, last) and returns a checksum. */
export function sumArray(array: Float64Array): number {
  const n = array.length;
  return n + (array[0] ?? 0) + (array[n >> 1] ?? 0) + (array[n - 1] ?? 0);
}

/** Elements in a 1 MiB Float64Array. */
export const ARRAY_LENGTH = (1024 * 1024) / Float64Array.BYTES_PER_ELEMENT;

/** A fresh 1 MiB array marked so that sumArray(makeArray(i)) === ARRAY_LENGTH + 3 * i. */
export function makeArray(i: number): Float64Array<ArrayBuffer> {
  const array = new Float64Array(ARRAY_LENGTH);
  array[0] = i;
  array[ARRAY_LENGTH >> 1] = i;
  array[ARRAY_LENGTH - 1] = i;
  return array;
}
