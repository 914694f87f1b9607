// A two-stage pipeline on a Queue: the main thread produces numbers, pool workers take them, square
// them and put the results on a second queue, which the main thread drains with `for await`.
//   node examples/queue-pipeline.ts

import { Queue } from '../src/channel/index.ts';
import { task } from '../src/index.ts';
import { ThreadPool } from '../src/pool/index.ts';

/** Takes numbers until the input queue is closed and drained; returns how many it squared. */
export const squareAll = task(import.meta, (input: Queue<number>, output: Queue<number>): number => {
  let handled = 0;
  for (;;) {
    let n: number;
    try {
      n = input.get({ timeout: 30_000 });
    } catch (error) {
      if ((error as { code?: string }).code === 'SKEIN_CHANNEL_CLOSED') return handled;
      throw error;
    }
    output.put(n * n);
    handled++;
  }
});

// Run only when this file is the program, not when a worker imports it to find the task. No top-level
// await: a pool resolves the task's export name by importing this module, which must finish first.
async function main(): Promise<void> {
  const COUNT = 10_000;
  const input = new Queue<number>({ capacity: 256 }); // producers wait when consumers fall behind
  const output = new Queue<number>();
  await using pool = new ThreadPool({ maxWorkers: 2 });
  const workers = [pool.run(squareAll, input, output), pool.run(squareAll, input, output)];
  const producing = (async () => {
    for (let n = 1; n <= COUNT; n++) await input.putAsync(n);
    input.close();
  })();
  let sum = 0;
  let received = 0;
  for await (const square of output) {
    sum += square;
    if (++received === COUNT) output.close();
  }
  await producing;
  const handled = await Promise.all(workers);
  const expected = (COUNT * (COUNT + 1) * (2 * COUNT + 1)) / 6;
  console.log(`${received} squares (workers took ${handled.join(' + ')}); sum ${sum} (expected ${expected})`);
  if (sum !== expected) process.exitCode = 1;
}

if (import.meta.main) {
  main().catch((error: unknown) => {
    console.error(error);
    process.exitCode = 1;
  });
}
