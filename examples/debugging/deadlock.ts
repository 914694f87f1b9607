// A deadlock caught: two threads take two locks in opposite orders (the classic lock-order
// inversion). A barrier makes sure each holds its first lock before it asks for the second, so the
// deadlock happens every run. Each acquire has a timeout, and the TimeoutError names the thread that
// holds the lock: that is the evidence to fix the order. Both threads then give up and release.
//   node examples/debugging/deadlock.ts

import { threadId } from 'node:worker_threads';
import { task } from '../../src/index.ts';
import { ThreadPool } from '../../src/pool/index.ts';
import { Barrier, Lock } from '../../src/sync/index.ts';

const ACQUIRE_TIMEOUT_MS = 500;

export const transfer = task(
  import.meta,
  (first: Lock, second: Lock, both: Barrier, name: string): string => {
    using _first = first.acquire({ timeout: 10_000 });
    both.wait({ timeout: 10_000 }); // now each thread holds its first lock
    try {
      using _second = second.acquire({ timeout: ACQUIRE_TIMEOUT_MS });
      return `thread ${threadId} (${name}) got both locks`;
    } catch (error) {
      return `thread ${threadId} (${name}) gave up: ${(error as Error & { code: string }).code}: ${(error as Error).message}`;
    }
  },
);

async function main(): Promise<void> {
  const a = new Lock();
  const b = new Lock();
  const both = new Barrier(2);
  await using pool = new ThreadPool({ maxWorkers: 2 });
  const reports = await Promise.all([
    pool.run(transfer, a, b, both, 'a then b'),
    pool.run(transfer, b, a, both, 'b then a'),
  ]);
  for (const report of reports) console.log(report);
  console.log('fix: take the locks in one global order (a before b) in every thread');
}

if (import.meta.main) {
  main().catch((error: unknown) => {
    console.error(error);
    process.exitCode = 1;
  });
}
