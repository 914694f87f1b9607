// A deadlock caught: two threads take two locks in opposite orders (the classic lock-order
// inversion). A barrier makes sure each holds its first lock before it asks for the second, so the
// deadlock happens every run. The second acquires have timeouts, the first thread's much shorter: it
// gives up first, and its TimeoutError names the thread that holds the lock, the evidence to fix the
// order; releasing its first lock then lets the other thread through.
//   node examples/debugging/deadlock.ts

import { threadId } from 'node:worker_threads';
import { task } from '../../src/index.ts';
import { ThreadPool } from '../../src/pool/index.ts';
import { Barrier, Lock } from '../../src/sync/index.ts';

const ACQUIRE_TIMEOUT_MS = 500;
// Long enough that the first thread's timeout always comes first, even on a loaded machine.
const PATIENT_TIMEOUT_MS = 30_000;

export const transfer = task(
  import.meta,
  (first: Lock, second: Lock, both: Barrier, name: string, timeout: number): string => {
    using _first = first.acquire({ timeout: 10_000 });
    both.wait({ timeout: 10_000 }); // now each thread holds its first lock
    try {
      using _second = second.acquire({ timeout });
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
    pool.run(transfer, a, b, both, 'a then b', ACQUIRE_TIMEOUT_MS),
    pool.run(transfer, b, a, both, 'b then a', PATIENT_TIMEOUT_MS),
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
