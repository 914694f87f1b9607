// Threads moving money between shared accounts under one Lock: the total never changes, however the
// transfers interleave. Each pool worker gets the same lock and the same account memory.
//   node examples/bank-transfers.ts

import { task } from '../src/index.ts';
import { ThreadPool } from '../src/pool/index.ts';
import { Lock } from '../src/sync/index.ts';

const ACCOUNTS = 8;
const OPENING_BALANCE = 1_000;

/** Makes `count` random transfers between the accounts, each under the lock. */
export const transfer = task(
  import.meta,
  (lock: Lock, balances: SharedArrayBuffer, count: number, seed: number): number => {
    const accounts = new Int32Array(balances);
    let state = seed;
    const random = (n: number) => {
      state = (state * 1_103_515_245 + 12_345) >>> 0;
      return state % n;
    };
    for (let i = 0; i < count; i++) {
      const from = random(ACCOUNTS);
      const to = random(ACCOUNTS);
      const amount = random(50);
      using _held = lock.acquire();
      // Read, check, write: two steps another thread must not see half-done.
      if ((accounts[from] as number) >= amount) {
        accounts[from] = (accounts[from] as number) - amount;
        accounts[to] = (accounts[to] as number) + amount;
      }
    }
    return count;
  },
);

// Run only when this file is the program, not when a worker imports it to find the task. No top-level
// await: a pool resolves the task's export name by importing this module, which must finish first.
async function main(): Promise<void> {
  const lock = new Lock();
  const balances = new SharedArrayBuffer(ACCOUNTS * 4);
  new Int32Array(balances).fill(OPENING_BALANCE);
  await using pool = new ThreadPool({ maxWorkers: 4 });
  const done = await Promise.all(
    [1, 2, 3, 4].map((seed) => pool.run(transfer, lock, balances, 50_000, seed)),
  );
  const total = new Int32Array(balances).reduce((sum, balance) => sum + balance, 0);
  console.log(
    `${done.reduce((a, b) => a + b)} transfers; total ${total} (expected ${ACCOUNTS * OPENING_BALANCE})`,
  );
  if (total !== ACCOUNTS * OPENING_BALANCE) process.exitCode = 1;
}

if (import.meta.main) {
  main().catch((error: unknown) => {
    console.error(error);
    process.exitCode = 1;
  });
}
