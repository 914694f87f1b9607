// A process class: Python subclasses `multiprocessing.Process`. In Skein the class is an actor
// constructed in one child process of a ProcessPool; its state lives there, calls are answered in
// order, and `await using` frees it.
//   node examples/processes/process-class.ts

import { actor } from '../../src/index.ts';
import { ProcessPool } from '../../src/pool/index.ts';

export const WordCounter = actor(
  import.meta,
  class WordCounter {
    readonly counts = new Map<string, number>();
    feed(text: string): number {
      for (const word of text.toLowerCase().split(/\W+/).filter(Boolean)) {
        this.counts.set(word, (this.counts.get(word) ?? 0) + 1);
      }
      return this.counts.size;
    }
    top(n: number): { pid: number; top: [string, number][] } {
      const top = [...this.counts].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0])).slice(0, n);
      return { pid: process.pid, top };
    }
  },
);

async function main(): Promise<void> {
  await using pool = new ProcessPool({ maxWorkers: 1 });
  await using counter = await pool.actor(WordCounter);
  await counter.feed('the quick brown fox jumps over the lazy dog');
  await counter.feed('The dog sleeps; the fox runs.');
  const { pid, top } = await counter.top(3);
  console.log(`in process ${pid} (main is ${process.pid}): ${top.map(([w, c]) => `${w}=${c}`).join(' ')}`);
}

if (import.meta.main) {
  main().catch((error: unknown) => {
    console.error(error);
    process.exitCode = 1;
  });
}
