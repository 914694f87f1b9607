// Lock: two threads add to one shared counter with a read-then-write that is not atomic; the Lock
// makes each read-modify-write one step, so no increment is lost. `using` releases it at block end,
// even when the block throws.
//   node examples/threads/lock.ts [--big]

import { task } from '../../src/index.ts';
import { ThreadPool } from '../../src/pool/index.ts';
import { Lock } from '../../src/sync/index.ts';

const INCREMENTS = process.argv.includes('--big') ? 1_000_000 : 20_000;

export const addMany = task(import.meta, (lock: Lock, memory: SharedArrayBuffer, times: number): number => {
  const counter = new Int32Array(memory);
  for (let i = 0; i < times; i++) {
    using _held = lock.acquire(); // blocks this worker thread; the main thread would use acquireAsync
    const seen = counter[0] as number;
    counter[0] = seen + 1;
  }
  return times;
});

async function main(): Promise<void> {
  const lock = new Lock();
  const memory = new SharedArrayBuffer(4);
  await using pool = new ThreadPool({ maxWorkers: 2 });
  await Promise.all([
    pool.run(addMany, lock, memory, INCREMENTS),
    pool.run(addMany, lock, memory, INCREMENTS),
  ]);
  const total = new Int32Array(memory)[0];
  console.log(`counter ${total} (expected ${2 * INCREMENTS})`);
  if (total !== 2 * INCREMENTS) process.exitCode = 1;
}

if (import.meta.main) {
  main().catch((error: unknown) => {
    console.error(error);
    process.exitCode = 1;
  });
}
