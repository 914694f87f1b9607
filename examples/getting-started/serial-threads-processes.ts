// Chapter 1: one CPU-bound workload (counting primes below a bound, in ranges) run serially, on a
// ThreadPool and on a ProcessPool, with wall times and the speedup over the serial run. All three must
// count the same primes; the recipe exits 1 if they do not.
//   node examples/getting-started/serial-threads-processes.ts          (short: primes below 300,000)
//   node examples/getting-started/serial-threads-processes.ts --big    (primes below 5,000,000)

import { availableParallelism } from 'node:os';
import { performance } from 'node:perf_hooks';
import { task } from '../../src/index.ts';
import { ProcessPool, ThreadPool } from '../../src/pool/index.ts';

const LIMIT = process.argv.includes('--big') ? 5_000_000 : 300_000;
const CHUNKS = 16;
const WORKERS = Math.min(4, availableParallelism());

/** The workload: primes in [from, to) by trial division. A task, so any pool can run it by reference. */
export const countPrimes = task(import.meta, (from: number, to: number): number => {
  let count = 0;
  for (let n = Math.max(2, from); n < to; n++) {
    let prime = true;
    for (let d = 2; d * d <= n && prime; d++) prime = n % d !== 0;
    if (prime) count++;
  }
  return count;
});

const ranges = Array.from({ length: CHUNKS }, (_, i): [number, number] => [
  Math.floor((i * LIMIT) / CHUNKS),
  Math.floor(((i + 1) * LIMIT) / CHUNKS),
]);

async function timed(run: () => Promise<number[]> | number[]): Promise<{ total: number; ms: number }> {
  const start = performance.now();
  const counts = await run();
  return { total: counts.reduce((a, b) => a + b, 0), ms: performance.now() - start };
}

// No top-level await: each pool worker imports this module to find `countPrimes`, and a module still
// evaluating a top-level await cannot be imported.
async function main(): Promise<void> {
  const serial = await timed(() => ranges.map(([from, to]) => countPrimes(from, to)));
  // Pools are started with all their workers (minWorkers; a pool otherwise starts one when work comes)
  // and warmed up before timing, so the numbers compare the work, not process start-up.
  await using threads = new ThreadPool({ minWorkers: WORKERS, maxWorkers: WORKERS });
  await threads.broadcast(countPrimes, 0, 10);
  const threaded = await timed(() => threads.starmap(countPrimes, ranges));
  await using processes = new ProcessPool({ minWorkers: WORKERS, maxWorkers: WORKERS });
  await processes.broadcast(countPrimes, 0, 10);
  const forked = await timed(() => processes.starmap(countPrimes, ranges));

  console.log(`primes below ${LIMIT}, ${CHUNKS} chunks, ${WORKERS} workers`);
  for (const [name, r] of [
    ['serial', serial],
    ['threads', threaded],
    ['processes', forked],
  ] as const) {
    const speedup = serial.ms / r.ms;
    console.log(`${name}: ${r.total} primes in ${r.ms.toFixed(1)} ms, speedup ${speedup.toFixed(2)}x`);
  }
  const same = threaded.total === serial.total && forked.total === serial.total;
  console.log(same ? 'all three agree' : 'MISMATCH');
  if (!same) process.exitCode = 1;
}

if (import.meta.main) {
  main().catch((error: unknown) => {
    console.error(error);
    process.exitCode = 1;
  });
}
