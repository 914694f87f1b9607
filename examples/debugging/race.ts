// A race made visible: two threads increment one shared counter with a plain read, then a write.
// When one thread writes between the other's read and write, an increment is lost. The window is
// widened on purpose (a little work between read and write) so the loss shows on every machine; the
// fixed version uses Atomics.add, one indivisible step, and loses nothing.
//   node examples/debugging/race.ts [--big]

import { task } from '../../src/index.ts';
import { ThreadPool } from '../../src/pool/index.ts';
import { Barrier } from '../../src/sync/index.ts';

const INCREMENTS = process.argv.includes('--big') ? 2_000_000 : 200_000;
const MAX_ROUNDS = 20;

export const increment = task(
  import.meta,
  (memory: SharedArrayBuffer, start: Barrier, times: number, atomic: boolean): number => {
    const counter = new Int32Array(memory);
    let work = 0;
    start.wait({ timeout: 10_000 }); // both threads start together, so they overlap
    for (let i = 0; i < times; i++) {
      if (atomic) {
        Atomics.add(counter, 0, 1);
      } else {
        const seen = counter[0] as number; // read …
        for (let k = 0; k < 20; k++) work += k; // … the other thread may write here …
        counter[0] = seen + 1; // … and this write erases its increment
      }
    }
    return work;
  },
);

async function race(pool: ThreadPool, atomic: boolean): Promise<number> {
  const memory = new SharedArrayBuffer(4);
  const start = new Barrier(2);
  await Promise.all([
    pool.run(increment, memory, start, INCREMENTS, atomic),
    pool.run(increment, memory, start, INCREMENTS, atomic),
  ]);
  return new Int32Array(memory)[0] as number;
}

async function main(): Promise<void> {
  await using pool = new ThreadPool({ minWorkers: 2, maxWorkers: 2 });
  const expected = 2 * INCREMENTS;
  // A race is intermittent: on a busy machine one thread may run its whole loop while the other
  // waits for a CPU, and then nothing is lost. Run rounds until the loss shows (bounded).
  let racy = expected;
  let round = 0;
  while (racy === expected && round < MAX_ROUNDS) {
    round++;
    racy = await race(pool, false);
  }
  console.log(`read-then-write: ${racy} of ${expected}, ${expected - racy} increments lost (round ${round})`);
  const fixed = await race(pool, true);
  console.log(`Atomics.add: ${fixed} of ${expected}, ${expected - fixed} increments lost`);
  if (fixed !== expected) process.exitCode = 1;
}

if (import.meta.main) {
  main().catch((error: unknown) => {
    console.error(error);
    process.exitCode = 1;
  });
}
