// Semaphore: at most N threads in a section at once (a connection limit, a rate of disk readers).
// Four threads want in, the semaphore lets two at a time; an atomic counter records the most inside.
//   node examples/threads/semaphore.ts

import { task } from '../../src/index.ts';
import { ThreadPool } from '../../src/pool/index.ts';
import { AtomicInt32, Semaphore } from '../../src/sync/index.ts';

const SLOTS = 2;
const THREADS = 4;

export const useSlot = task(import.meta, (slots: Semaphore, inside: AtomicInt32, most: AtomicInt32): void => {
  for (let round = 0; round < 5; round++) {
    using _slot = slots.acquire();
    const now = inside.increment();
    let seen = most.load();
    while (now > seen && most.compareExchange(seen, now) !== seen) seen = most.load();
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 5); // hold the slot 5 ms
    inside.decrement();
  }
});

async function main(): Promise<void> {
  const slots = new Semaphore(SLOTS);
  const inside = new AtomicInt32(0);
  const most = new AtomicInt32(0);
  await using pool = new ThreadPool({ maxWorkers: THREADS });
  await Promise.all(Array.from({ length: THREADS }, () => pool.run(useSlot, slots, inside, most)));
  console.log(`${THREADS} threads, ${SLOTS} slots: at most ${most.load()} inside at once`);
  if (most.load() > SLOTS) process.exitCode = 1;
}

if (import.meta.main) {
  main().catch((error: unknown) => {
    console.error(error);
    process.exitCode = 1;
  });
}
