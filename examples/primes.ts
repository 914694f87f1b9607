// The README's quick start: one task, run here, on a thread, and across a pool with starmap.
//   node examples/primes.ts

import { task } from '../src/index.ts';
import { ThreadPool } from '../src/pool/index.ts';

export const countPrimes = task(import.meta, (from: number, to: number): number => {
  let count = 0;
  for (let n = Math.max(2, from); n < to; n++) {
    let prime = true;
    for (let d = 2; d * d <= n && prime; d++) prime = n % d !== 0;
    if (prime) count++;
  }
  return count;
});

// Run only when this file is the program, not when a worker imports it to find the task. No top-level
// await: a pool resolves the task's export name by importing this module, which must finish first.
async function main(): Promise<void> {
  console.log(countPrimes(0, 1000)); // 168, in this thread
  await using pool = new ThreadPool({ maxWorkers: 4 });
  console.log(await pool.run(countPrimes, 0, 1_000_000)); // 78498, in a worker
  const ranges = Array.from({ length: 10 }, (_, i): [number, number] => [i * 100_000, (i + 1) * 100_000]);
  const counts = await pool.starmap(countPrimes, ranges);
  console.log(counts.reduce((a, b) => a + b)); // 78498
}

if (import.meta.main) {
  main().catch((error: unknown) => {
    console.error(error);
    process.exitCode = 1;
  });
}
