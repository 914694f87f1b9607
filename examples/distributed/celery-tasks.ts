// Celery-style tasks on Skein's queue: add a task, chain, chord, retry, schedule. The broker here is
// the embedded SQLite one (one file; several worker processes may share it); RedisBroker is the same
// contract across machines. Producer and worker live in one file to keep the recipe short: in real
// use they are separate processes that import the same task module.
//   node examples/distributed/celery-tasks.ts

import { once } from 'node:events';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { task } from '../../src/index.ts';
import {
  chain,
  chord,
  Scheduler,
  SqliteBroker,
  signature,
  TaskQueue,
  Worker,
} from '../../src/tasks/index.ts';

export const add = task(import.meta, (a: number, b: number): number => a + b);
export const double = task(import.meta, (n: number): number => n * 2);
export const total = task(import.meta, (values: number[]): number => values.reduce((a, b) => a + b, 0));

/** Fails on its first two attempts (a flaky service, simulated with a counter file), then answers. */
export const flaky = task(import.meta, async (counterFile: string): Promise<string> => {
  const attempt = Number(await readFile(counterFile, 'utf8')) + 1;
  await writeFile(counterFile, String(attempt));
  if (attempt < 3) throw new Error(`service unavailable (attempt ${attempt})`);
  return `answered on attempt ${attempt}`;
});

export const tick = task(import.meta, (label: string): string => label);

async function main(): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'skein-cookbook-tasks-'));
  try {
    await using broker = new SqliteBroker({ path: join(dir, 'tasks.db') });
    await using queue = new TaskQueue({ broker });
    await using worker = new Worker({ broker, tasks: [add, double, total, flaky, tick], concurrency: 2 });
    await worker.start();

    const job = await queue.enqueue(add, 2, 3); // Celery: add.delay(2, 3)
    console.log(`add: ${await job.result({ timeout: 10_000 })}`);

    // chain: each step gets the previous result appended to its arguments: double(add(2, 3)).
    const steps = await chain(queue, [signature(add, [2, 3]), signature(double)]);
    console.log(`chain: ${await steps.result({ timeout: 10_000 })}`);

    // chord: a group of adds, then total() of their results.
    const sums = await chord(
      queue,
      [1, 2, 3, 4].map((n) => signature(add, [n, n])),
      signature(total),
    );
    console.log(`chord: ${await sums.result({ timeout: 10_000 })}`);

    // retry: three attempts with a short fixed backoff; the third succeeds.
    const counter = join(dir, 'attempts');
    await writeFile(counter, '0');
    const retried = await queue.submit(flaky, [counter], {
      attempts: 3,
      backoff: { type: 'fixed', delay: 50 },
    });
    console.log(`retry: ${await retried.result({ timeout: 10_000 })}`);

    // schedule: a tick every 200 ms (Celery beat); each tick fires once however many schedulers run.
    await using beat = new Scheduler({
      broker,
      schedules: [{ id: 'heartbeat', task: tick, args: ['tick'], every: 200 }],
    });
    beat.start();
    const [scheduleId, , jobId] = (await once(beat, 'fired', { signal: AbortSignal.timeout(10_000) })) as [
      string,
      number,
      string,
    ];
    console.log(
      `schedule: ${scheduleId} fired, its job returned ${await queue.job(jobId).result({ timeout: 10_000 })}`,
    );
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

if (import.meta.main) {
  main().catch((error: unknown) => {
    console.error(error);
    process.exitCode = 1;
  });
}
