// Futures across threads: asyncio's `run_in_executor` / `wrap_future`. A CPU-bound call runs on a
// worker thread while the event loop keeps serving timers; the loop awaits its future like any other.
// Run inline instead, the same call would starve the timer.
//   node examples/async/futures-across-threads.ts

import { task } from '../../src/index.ts';
import { ThreadPool } from '../../src/pool/index.ts';

/** Busy for about `ms` milliseconds of CPU. */
export const burn = task(import.meta, (ms: number): number => {
  const end = Date.now() + ms;
  let spins = 0;
  while (Date.now() < end) spins++;
  return spins > 0 ? ms : 0;
});

async function ticksDuring(work: () => Promise<unknown>): Promise<number> {
  let ticks = 0;
  const timer = setInterval(() => ticks++, 5);
  try {
    await work();
  } finally {
    clearInterval(timer);
  }
  return ticks;
}

async function main(): Promise<void> {
  await using pool = new ThreadPool({ maxWorkers: 1 });
  await pool.run(burn, 1); // start the thread before measuring
  const inline = await ticksDuring(async () => burn(200));
  const threaded = await ticksDuring(() => pool.run(burn, 200));
  console.log(`timer ticks while 200 ms of work ran inline: ${inline}; on a thread: ${threaded}`);
}

if (import.meta.main) {
  main().catch((error: unknown) => {
    console.error(error);
    process.exitCode = 1;
  });
}
