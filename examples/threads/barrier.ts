// Barrier: threads run in phases and none starts phase 2 before all finished phase 1. Each thread
// appends "phase:thread" to a shared log as it goes; the barrier's action runs once per round, in one
// thread, while the others are still held.
//   node examples/threads/barrier.ts

import { task } from '../../src/index.ts';
import { ThreadPool } from '../../src/pool/index.ts';
import { AtomicInt32, Barrier } from '../../src/sync/index.ts';

const THREADS = 3;
const PHASES = 3;

/** Log entries are phase * 100 + thread; `next` is the log's length, taken atomically. */
export const phases = task(
  import.meta,
  (barrier: Barrier, next: AtomicInt32, log: SharedArrayBuffer, me: number): void => {
    const entries = new Int32Array(log);
    for (let phase = 1; phase <= PHASES; phase++) {
      Atomics.store(entries, next.add(1), phase * 100 + me);
      barrier.wait({ timeout: 10_000 });
    }
  },
);

async function main(): Promise<void> {
  const barrier = new Barrier(THREADS);
  const next = new AtomicInt32(0);
  const log = new SharedArrayBuffer(THREADS * PHASES * 4);
  await using pool = new ThreadPool({ maxWorkers: THREADS });
  await Promise.all(Array.from({ length: THREADS }, (_, me) => pool.run(phases, barrier, next, log, me)));
  const entries = [...new Int32Array(log)];
  console.log(`order: ${entries.map((e) => `${Math.floor(e / 100)}:${e % 100}`).join(' ')}`);
  // Ordering holds when the phase numbers along the log never go down.
  const ordered = entries.every(
    (e, i) => i === 0 || Math.floor(e / 100) >= Math.floor((entries[i - 1] as number) / 100),
  );
  console.log(`every thread finished each phase before any began the next: ${ordered}`);
  if (!ordered) process.exitCode = 1;
}

if (import.meta.main) {
  main().catch((error: unknown) => {
    console.error(error);
    process.exitCode = 1;
  });
}
