// Baseline for round-trip latency: the worker side of an Atomics.wait/notify ping-pong. The main thread
// writes an odd value to [0] and waits; this worker answers with the next even value. The floor under
// any pool that wakes a sleeping worker and is woken back.

import { parentPort, workerData } from 'node:worker_threads';

const state = new Int32Array(workerData as SharedArrayBuffer);
parentPort!.postMessage('ready');
let seen = 0;
for (;;) {
  // Re-check after every wake: a wait can return with the value unchanged (measured here: a run whose
  // round trips did not add up), and answering then would put the two sides out of step.
  while (Atomics.load(state, 0) === seen) Atomics.wait(state, 0, seen);
  const value = Atomics.load(state, 0);
  if (value < 0) break;
  seen = value + 1;
  Atomics.store(state, 0, seen);
  Atomics.notify(state, 0);
}
