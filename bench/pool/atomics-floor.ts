// The floor of a round trip between two threads: this thread and one worker (atomics-worker.ts)
// answering through Atomics.wait/notify, nothing else. The pool benchmarks print it beside each pool.

import { Worker } from 'node:worker_threads';

export interface AtomicsFloor {
  /** One round trip: blocks this thread until the worker has answered. A plain closure (no `this`). */
  readonly roundTrip: () => void;
  /** Round trips completed so far. */
  readonly trips: () => number;
  stop(): Promise<void>;
}

/**
 * Starts the worker (`name`: its thread name, for per-thread CPU accounting) and waits until it listens.
 * `waitTimeoutMs`: the timeout of this thread's Atomics.wait for each answer (none by default), to see
 * what a timed kernel sleep costs (bench/pool/lone-histogram.ts).
 */
export async function startAtomicsFloor(
  name = 'atomics-floor',
  waitTimeoutMs = Number.POSITIVE_INFINITY,
): Promise<AtomicsFloor> {
  const shared = new SharedArrayBuffer(4);
  const state = new Int32Array(shared);
  const worker = new Worker(new URL('./atomics-worker.ts', import.meta.url), { workerData: shared, name });
  await new Promise((resolve) => worker.once('message', resolve));
  // The worker answers each odd value with the next even one.
  let value = 0;
  return {
    roundTrip: () => {
      Atomics.store(state, 0, value + 1);
      Atomics.notify(state, 0);
      while (Atomics.load(state, 0) === value + 1) Atomics.wait(state, 0, value + 1, waitTimeoutMs);
      value = Atomics.load(state, 0);
    },
    trips: () => value / 2,
    async stop() {
      Atomics.store(state, 0, -1);
      Atomics.notify(state, 0);
      await worker.terminate();
    },
  };
}
