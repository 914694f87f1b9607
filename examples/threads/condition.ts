// Condition, producer/consumer: a producer thread appends to a shared buffer and notifies; a consumer
// thread waits on the condition until there is something to take. `waitFor(predicate)` re-checks the
// state after every wake-up, so a spurious or stolen wake-up never reads an empty buffer.
//   node examples/threads/condition.ts [--big]

import { task } from '../../src/index.ts';
import { ThreadPool } from '../../src/pool/index.ts';
import { Condition } from '../../src/sync/index.ts';

const ITEMS = process.argv.includes('--big') ? 100_000 : 1_000;
const CAPACITY = 8; // a small buffer, so the producer also waits for the consumer

// Layout of the shared memory: [head, tail, ...ring of CAPACITY slots].
export const produce = task(
  import.meta,
  (cond: Condition, memory: SharedArrayBuffer, items: number): number => {
    const m = new Int32Array(memory);
    for (let i = 1; i <= items; i++) {
      using _held = cond.acquire();
      cond.waitFor(() => (m[1] as number) - (m[0] as number) < CAPACITY, { timeout: 10_000 });
      m[2 + ((m[1] as number) % CAPACITY)] = i;
      m[1] = (m[1] as number) + 1;
      cond.notifyAll();
    }
    return items;
  },
);

export const consume = task(
  import.meta,
  (cond: Condition, memory: SharedArrayBuffer, items: number): number => {
    const m = new Int32Array(memory);
    let sum = 0;
    for (let taken = 0; taken < items; taken++) {
      using _held = cond.acquire();
      cond.waitFor(() => (m[1] as number) > (m[0] as number), { timeout: 10_000 });
      sum += m[2 + ((m[0] as number) % CAPACITY)] as number;
      m[0] = (m[0] as number) + 1;
      cond.notifyAll();
    }
    return sum;
  },
);

async function main(): Promise<void> {
  const cond = new Condition();
  const memory = new SharedArrayBuffer((2 + CAPACITY) * 4);
  await using pool = new ThreadPool({ maxWorkers: 2 });
  const [produced, sum] = await Promise.all([
    pool.run(produce, cond, memory, ITEMS),
    pool.run(consume, cond, memory, ITEMS),
  ]);
  const expected = (ITEMS * (ITEMS + 1)) / 2;
  console.log(`produced ${produced} items, consumed sum ${sum} (expected ${expected})`);
  if (sum !== expected) process.exitCode = 1;
}

if (import.meta.main) {
  main().catch((error: unknown) => {
    console.error(error);
    process.exitCode = 1;
  });
}
