// Round trips of single calls with a pause between them, as a task-queue worker makes them (jobs come
// off a socket one at a time): both threads are asleep when each call comes. Beside them the bare
// Atomics ping-pong with the same pauses, the floor. Per call: p50 and p90 in µs, after 30,000
// back-to-back calls of warm-up (V8's compiling is not what this measures).
// Usage: node bench/pool/spaced-calls.ts [gapMs=1] [calls=1000]

import { setTimeout as sleep } from 'node:timers/promises';
import { ThreadPool } from '../../src/pool/index.ts';
import { startAtomicsFloor } from './atomics-floor.ts';
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

const floor = await startAtomicsFloor();
const { roundTrip } = floor;

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
await floor.stop();
