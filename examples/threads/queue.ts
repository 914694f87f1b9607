// Queue: the main thread produces jobs, two worker threads consume them until the queue is closed
// and drained. The main thread puts with putAsync (never blocking its event loop); the workers'
// `for await` ends by itself after close().
//   node examples/threads/queue.ts [--big]

import { Queue } from '../../src/channel/index.ts';
import { task } from '../../src/index.ts';
import { ThreadPool } from '../../src/pool/index.ts';

const JOBS = process.argv.includes('--big') ? 1_000_000 : 10_000;

/** Consumes squares of what it takes; returns how many it took and their sum. */
export const consumer = task(import.meta, async (jobs: Queue<number>) => {
  let taken = 0;
  let sum = 0;
  for await (const n of jobs) {
    taken++;
    sum += n * n;
  }
  return { taken, sum };
});

async function main(): Promise<void> {
  const jobs = new Queue<number>({ capacity: 256 }); // bounded: the producer waits when it is full
  await using pool = new ThreadPool({ maxWorkers: 2 });
  const done = [pool.run(consumer, jobs), pool.run(consumer, jobs)];
  for (let n = 1; n <= JOBS; n++) await jobs.putAsync(n, { timeout: 10_000 });
  jobs.close();
  const results = await Promise.all(done);
  const sum = results.reduce((a, r) => a + r.sum, 0);
  const expected = (JOBS * (JOBS + 1) * (2 * JOBS + 1)) / 6;
  console.log(
    `${results.map((r) => r.taken).join(' + ')} = ${JOBS} jobs; sum of squares ${sum} (expected ${expected})`,
  );
  if (sum !== expected) process.exitCode = 1;
}

if (import.meta.main) {
  main().catch((error: unknown) => {
    console.error(error);
    process.exitCode = 1;
  });
}
