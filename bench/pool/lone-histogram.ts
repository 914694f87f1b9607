// The distribution of lone-call round trips: `await pool.run(noop, i)` one at a time on a ThreadPool of 2
// workers, beside the bare Atomics ping-pong (atomics-floor.ts), with and without a timeout on the
// caller's wait. Prints percentiles and the share of calls per whole microsecond. Pinned to one CPU,
// a timed kernel sleep whose timer falls before the scheduler's next tick showed up here as a second mode
// ~14 µs above the first (docs/benchmarks.md, "Pinned round trips: the short kernel timer").
// Run: taskset -c 0 node bench/pool/lone-histogram.ts [calls=100000] [floorTimeoutsMs=none,0.05,5]

import { ThreadPool } from '../../src/pool/index.ts';
import { startAtomicsFloor } from './atomics-floor.ts';
import { noop } from './skein-tasks.ts';

const WARMUP = 30_000;
const calls = Number(process.argv[2] ?? 100_000);
const floorTimeouts = (process.argv[3] ?? 'none,0.05,5')
  .split(',')
  .map((text) => (text === 'none' ? Number.POSITIVE_INFINITY : Number(text)));

function report(label: string, times: Float64Array): void {
  times.sort();
  const at = (p: number): string =>
    (times[Math.min(times.length - 1, Math.floor(p * times.length))]! * 1000).toFixed(2);
  const buckets = new Map<number, number>();
  for (const ms of times) buckets.set(Math.floor(ms * 1000), (buckets.get(Math.floor(ms * 1000)) ?? 0) + 1);
  const modes = [...buckets]
    .filter(([, count]) => count >= times.length / 200)
    .map(([us, count]) => `${us}: ${((100 * count) / times.length).toFixed(1)}%`)
    .join(', ');
  console.log(
    `${label}: p10 ${at(0.1)} p50 ${at(0.5)} p90 ${at(0.9)} p99 ${at(0.99)} µs; calls per µs: ${modes}`,
  );
}

const pool = new ThreadPool({ minWorkers: 2, maxWorkers: 2 });
for (let i = 0; i < WARMUP; i++) await pool.run(noop, i);
const times = new Float64Array(calls);
for (let i = 0; i < calls; i++) {
  const start = performance.now();
  await pool.run(noop, i);
  times[i] = performance.now() - start;
}
report('Skein ThreadPool', times);
await pool.close();

for (const timeout of floorTimeouts) {
  const floor = await startAtomicsFloor('atomics-floor', timeout);
  for (let i = 0; i < WARMUP; i++) floor.roundTrip();
  for (let i = 0; i < calls; i++) {
    const start = performance.now();
    floor.roundTrip();
    times[i] = performance.now() - start;
  }
  report(
    `Atomics ping-pong, caller's wait timeout ${Number.isFinite(timeout) ? `${timeout} ms` : 'none'}`,
    times,
  );
  await floor.stop();
}
