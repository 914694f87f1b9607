// Round trips of single calls with a pause between them, as a task-queue worker makes them (jobs come
// off a socket one at a time): both threads are asleep when each call comes. Beside them the bare
// Atomics ping-pong with the same pauses, the floor. Per call: p50 and p90 in µs, after 30,000
// back-to-back calls of warm-up (V8's compiling is not what this measures).
// Usage: node bench/pool/spaced-calls.ts [gapMs=1] [calls=1000]

import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { ThreadPool } from '../../src/pool/index.ts';
import { noop } from './skein-tasks.ts';

const gapMs = Number(process.argv[2] ?? 1);
const calls = Number(process.argv[3] ?? 1000);
const WARM_UP = 30_000;

async function spaced(call: (i: number) => unknown): Promise<string> {
  const times: number[] = [];
  for (let i = 0; i < calls; i++) {
    await sleep(gapMs);
    const start = performance.now();
    await call(i);
    times.push((performance.now() - start) * 1000);
  }
  times.sort((a, b) => a - b);
  return `p50 ${times[calls >> 1]!.toFixed(1)} µs, p90 ${times[Math.floor(calls * 0.9)]!.toFixed(1)} µs`;
}

const shared = new SharedArrayBuffer(4);
const state = new Int32Array(shared);
const floorWorker = new Worker(fileURLToPath(new URL('./atomics-worker.ts', import.meta.url)), {
  workerData: shared,
});
await new Promise((resolve) => floorWorker.once('message', resolve));
let value = 0;
const roundTrip = (): void => {
  Atomics.store(state, 0, value + 1);
  Atomics.notify(state, 0);
  while (Atomics.load(state, 0) === value + 1) Atomics.wait(state, 0, value + 1);
  value = Atomics.load(state, 0);
};

const pool = new ThreadPool({ minWorkers: 2, maxWorkers: 2 });
const signal = new AbortController().signal;
const withOptions = (i: number) => pool.submit(noop, [i], { signal, onProgress: () => {} });
for (let i = 0; i < WARM_UP; i++) await pool.run(noop, i);
for (let i = 0; i < WARM_UP; i++) await withOptions(i);
for (let i = 0; i < WARM_UP; i++) roundTrip();

console.log(`${calls} calls, ${gapMs} ms apart`);
console.log(`Atomics ping-pong (floor): ${await spaced(roundTrip)}`);
console.log(`Skein pool.run: ${await spaced((i) => pool.run(noop, i))}`);
console.log(`Skein pool.submit with a signal and onProgress: ${await spaced(withOptions)}`);
await pool.close();
Atomics.store(state, 0, -1);
Atomics.notify(state, 0);
await floorWorker.terminate();
