// Type tests (checked by `npm run typecheck`, never run): argument and result types flow from a task
// reference through enqueue, submit and Job.result, and misuse does not compile.

import { type Job, type JobState, SqliteBroker, TaskQueue, Worker } from '../../src/tasks/index.ts';
import { add } from '../fixtures/add.ts';
import { echo } from '../fixtures/echo.ts';

export async function typeChecks(): Promise<void> {
  const broker = new SqliteBroker({ path: ':memory:' });
  const queue = new TaskQueue({ broker });
  const job: Job<number> = await queue.enqueue(add, 1, 2);
  const sum: number = await job.result({ timeout: 1000 });
  const state: JobState = await job.state();
  // @ts-expect-error add takes numbers
  await queue.enqueue(add, '1', 2);
  // @ts-expect-error add takes two arguments
  await queue.submit(add, [1]);
  await queue.submit(add, [1, 2], { priority: 3, backoff: { type: 'fixed', delay: 10 } });
  // @ts-expect-error backoff types are 'fixed' or 'exponential'
  await queue.submit(add, [1, 2], { backoff: { type: 'linear' } });
  // @ts-expect-error the result of add is a number
  const wrong: string = await (await queue.enqueue(add, 1, 2)).result();
  await queue.enqueueBulk([
    { task: add, args: [1, 2] },
    { task: echo, args: ['x'], options: { delay: 5 } },
  ]);
  await using worker = new Worker({ broker, tasks: [add, echo], concurrency: 2 });
  await worker.start();
  void [sum, state, wrong];
}
