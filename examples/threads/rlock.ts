// RLock: a re-entrant lock. A recursive function takes the lock at every level; a plain Lock would
// refuse the second acquire (SKEIN_SYNC_WOULD_DEADLOCK), an RLock counts the holds and is free again
// only after as many releases.
//   node examples/threads/rlock.ts

import { task } from '../../src/index.ts';
import { ThreadPool } from '../../src/pool/index.ts';
import { Lock, RLock } from '../../src/sync/index.ts';

/** Sums 1..depth recursively, holding the lock at every level; returns the sum and the deepest count. */
export const nestedSum = task(import.meta, (lock: RLock, depth: number) => {
  let deepest = 0;
  const sum = (n: number): number => {
    using _held = lock.acquire();
    deepest = Math.max(deepest, lock.count);
    return n === 0 ? 0 : n + sum(n - 1);
  };
  return { sum: sum(depth), deepest, freeAfter: !lock.locked() };
});

async function main(): Promise<void> {
  const rlock = new RLock();
  await using pool = new ThreadPool({ maxWorkers: 1 });
  const r = await pool.run(nestedSum, rlock, 5);
  console.log(`sum ${r.sum}, held ${r.deepest} times at the deepest level, free after: ${r.freeAfter}`);
  // The same shape with a plain Lock fails fast instead of hanging: a thread's blocking acquire of a
  // Lock it already holds throws at once.
  const lock = new Lock();
  using _held = lock.acquire();
  try {
    lock.acquire({ timeout: 1000 });
  } catch (error) {
    console.log(`a plain Lock taken twice: ${(error as { code: string }).code}`);
  }
}

if (import.meta.main) {
  main().catch((error: unknown) => {
    console.error(error);
    process.exitCode = 1;
  });
}
