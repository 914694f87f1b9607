// Baseline for the 1 ms workload: a bare worker thread that pulls task indices from a shared counter
// (no library, no message per task). The ideal a pool can approach. Protocol in run-variant.ts.

import { parentPort, workerData } from 'node:worker_threads';
import { spin } from './work.ts';

const { shared, tasks, ms } = workerData as { shared: SharedArrayBuffer; tasks: number; ms: number };
// [0] start flag, [1] next task index.
const state = new Int32Array(shared);
parentPort!.postMessage('ready');
while (Atomics.load(state, 0) === 0) Atomics.wait(state, 0, 0);
let spent = 0;
let count = 0;
for (let i = Atomics.add(state, 1, 1); i < tasks; i = Atomics.add(state, 1, 1)) {
  spent += spin(ms);
  count++;
}
parentPort!.postMessage({ spent, count });
