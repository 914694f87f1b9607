// Testing concurrent code with node:test: run the concurrent operation many times and assert an
// invariant that must hold for every interleaving (here: the multiset of items taken from a queue by
// two consumer threads equals the multiset put in: nothing lost, nothing doubled). Every wait is
// bounded, so a bug fails the test instead of hanging it. The file is a test and a recipe at once:
//   node examples/debugging/testing.ts        (or: node --test examples/debugging/testing.ts)

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Queue } from '../../src/channel/index.ts';
import { task } from '../../src/index.ts';
import { ThreadPool } from '../../src/pool/index.ts';

const ROUNDS = 20;
const ITEMS = 500;

export const drain = task(import.meta, async (queue: Queue<number>): Promise<number[]> => {
  const taken: number[] = [];
  for await (const item of queue) taken.push(item);
  return taken;
});

// Only the program defines tests: a pool worker imports this module to find `drain`, and must not
// run them too.
if (import.meta.main) {
  test('two consumers take every item exactly once, in every round', { timeout: 60_000 }, async () => {
    await using pool = new ThreadPool({ maxWorkers: 2 });
    for (let round = 0; round < ROUNDS; round++) {
      const queue = new Queue<number>({ capacity: 64 });
      const consumers = [pool.run(drain, queue), pool.run(drain, queue)];
      for (let i = 0; i < ITEMS; i++) await queue.putAsync(i, { timeout: 10_000 });
      queue.close();
      const taken = (await Promise.all(consumers)).flat().sort((a, b) => a - b);
      assert.deepEqual(
        taken,
        Array.from({ length: ITEMS }, (_, i) => i),
        `round ${round}`,
      );
    }
  });
}
