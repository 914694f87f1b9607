// Executors and futures: Python's `concurrent.futures`. `pool.run` is `executor.submit` (a Promise is
// the future); `asCompleted` yields them as they finish; `wait` returns done/not-done sets for
// 'firstCompleted', 'firstException' or 'allCompleted', never rejecting because one future failed.
//   node examples/async/futures.ts

import { setTimeout as sleep } from 'node:timers/promises';
import { task } from '../../src/index.ts';
import { asCompleted, ThreadPool, wait } from '../../src/pool/index.ts';

/** Sleeps `ms` then answers `ms`; a negative `ms` fails instead. */
export const nap = task(import.meta, async (ms: number): Promise<number> => {
  if (ms < 0) throw new Error(`bad nap ${ms}`);
  await sleep(ms);
  return ms;
});

async function main(): Promise<void> {
  await using pool = new ThreadPool({ minWorkers: 3, maxWorkers: 3 });
  await pool.broadcast(nap, 0); // all three threads up before the race between naps starts

  const order: number[] = [];
  for await (const future of asCompleted(
    [300, 10, 150].map((ms) => pool.run(nap, ms)),
    { timeout: 10_000 },
  )) {
    order.push(await future);
  }
  console.log(`asCompleted: ${order.join(' ')}`);

  const first = [pool.run(nap, 20), pool.run(nap, 400)];
  const r1 = await wait(first, { returnWhen: 'firstCompleted', timeout: 10_000 });
  console.log(`wait firstCompleted: ${r1.done.size} done, ${r1.notDone.size} not done`);
  await Promise.all(first);

  const failing = [pool.run(nap, -1), pool.run(nap, 400)];
  const r2 = await wait(failing, { returnWhen: 'firstException', timeout: 10_000 });
  const errors = await Promise.all(
    [...r2.done].map((f) =>
      f.then(
        () => 'ok',
        (e: Error) => e.message,
      ),
    ),
  );
  console.log(
    `wait firstException: ${r2.done.size} done (${errors.join(', ')}), ${r2.notDone.size} not done`,
  );
  await Promise.allSettled(failing);

  const all = await wait(
    [10, 20, 30].map((ms) => pool.run(nap, ms)),
    { timeout: 10_000 },
  );
  console.log(`wait allCompleted: ${all.done.size} done, ${all.notDone.size} not done`);
}

if (import.meta.main) {
  main().catch((error: unknown) => {
    console.error(error);
    process.exitCode = 1;
  });
}
