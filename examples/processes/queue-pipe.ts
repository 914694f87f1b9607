// Exchanging objects between processes: a ProcessQueue carries jobs from the parent to two child
// processes and results back; a ProcessPipe is a two-ended conversation with one child. The objects
// live in the parent (which serves them); the children get live copies as task arguments.
//   node examples/processes/queue-pipe.ts

import { type ProcessConnection, ProcessPipe, ProcessQueue } from '../../src/channel/index.ts';
import { task } from '../../src/index.ts';
import { ProcessPool } from '../../src/pool/index.ts';

interface Job {
  readonly id: number;
  readonly text: string;
}

export const shout = task(import.meta, async (jobs: ProcessQueue<Job>, results: ProcessQueue<string>) => {
  let n = 0;
  for await (const job of jobs) {
    await results.putAsync(`${job.id}:${job.text.toUpperCase()}`);
    n++;
  }
  return n;
});

/** Answers every number received on its end with its double, until the parent closes the pipe. */
export const doubler = task(import.meta, async (end: ProcessConnection<number, number>) => {
  for await (const n of end) await end.sendAsync(n * 2);
});

async function main(): Promise<void> {
  await using pool = new ProcessPool({ maxWorkers: 3 });

  const jobs = new ProcessQueue<Job>({ capacity: 16 });
  const results = new ProcessQueue<string>();
  const workers = [pool.run(shout, jobs, results), pool.run(shout, jobs, results)];
  const words = ['alpha', 'beta', 'gamma', 'delta', 'epsilon', 'zeta'];
  for (const [id, text] of words.entries()) await jobs.putAsync({ id, text });
  jobs.close();
  const handled = await Promise.all(workers);
  const got: string[] = [];
  while (!results.empty()) got.push(await results.getAsync({ timeout: 5000 }));
  got.sort((a, b) => Number.parseInt(a, 10) - Number.parseInt(b, 10));
  console.log(`queue: ${got.join(' ')} (children handled ${handled.join(' + ')})`);

  const [mine, theirs] = ProcessPipe<number, number>();
  const child = pool.run(doubler, theirs);
  const doubled: number[] = [];
  for (const n of [1, 2, 3]) {
    await mine.sendAsync(n);
    doubled.push(await mine.recvAsync({ timeout: 5000 }));
  }
  mine.close();
  await child;
  console.log(`pipe: sent 1 2 3, got back ${doubled.join(' ')}`);
}

if (import.meta.main) {
  main().catch((error: unknown) => {
    console.error(error);
    process.exitCode = 1;
  });
}
