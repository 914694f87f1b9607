// Event: one thread waits until another says "go". The waiters block in their threads; the main
// thread sets the event once they all wait (it never blocks its own event loop).
//   node examples/threads/event.ts

import { performance } from 'node:perf_hooks';
import { task } from '../../src/index.ts';
import { ThreadPool } from '../../src/pool/index.ts';
import { AtomicInt32, Event } from '../../src/sync/index.ts';

/** Says it waits, waits for the event (bounded: a bug fails fast), returns when it woke. */
export const waitForGo = task(import.meta, (go: Event, waiting: AtomicInt32): number => {
  waiting.increment();
  go.wait({ timeout: 10_000 });
  return performance.timeOrigin + performance.now();
});

async function main(): Promise<void> {
  const go = new Event();
  const waiting = new AtomicInt32(0);
  await using pool = new ThreadPool({ maxWorkers: 3 });
  const woke = Array.from({ length: 3 }, () => pool.run(waitForGo, go, waiting));
  // Wait (without blocking) until all three threads are inside wait(); then set.
  for (let n = waiting.load(); n < 3; n = waiting.load())
    await waiting.waitUntilChangedAsync(n, { timeout: 10_000 });
  console.log(`3 threads waiting; event set: ${go.isSet()}`);
  const setAt = performance.timeOrigin + performance.now();
  go.set();
  const times = await Promise.all(woke);
  console.log(`event set; ${times.filter((t) => t >= setAt - 1).length} of 3 threads woke after it`);
}

if (import.meta.main) {
  main().catch((error: unknown) => {
    console.error(error);
    process.exitCode = 1;
  });
}
