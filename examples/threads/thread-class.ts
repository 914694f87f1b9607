// A thread class: Python subclasses `threading.Thread` to keep state next to its run(). In Skein the
// class is an actor: `actor(import.meta, class …)` is constructed inside one worker thread, its state
// stays there, and every method call is a message answered in call order.
//   node examples/threads/thread-class.ts

import { threadId } from 'node:worker_threads';
import { actor } from '../../src/index.ts';
import { ThreadPool } from '../../src/pool/index.ts';

export const Accumulator = actor(
  import.meta,
  class Accumulator {
    readonly name: string;
    total = 0;
    constructor(name: string) {
      this.name = name;
    }
    add(n: number): number {
      this.total += n;
      return this.total;
    }
    describe(): string {
      return `${this.name} lives in thread ${threadId} with total ${this.total}`;
    }
  },
);

async function main(): Promise<void> {
  await using pool = new ThreadPool({ maxWorkers: 2 });
  // `await using`: the actor is freed (its worker may be recycled) when the block ends.
  await using acc = await pool.actor(Accumulator, 'acc');
  for (let n = 1; n <= 10; n++) await acc.add(n);
  console.log(await acc.describe());
  console.log(`total ${await acc.add(0)} (expected 55); main thread is ${threadId}`);
}

if (import.meta.main) {
  main().catch((error: unknown) => {
    console.error(error);
    process.exitCode = 1;
  });
}
