// The pools and limits under a Worker: a crash of the pool worker running a job counts as a failed
// attempt (then dead with SKEIN_POOL_WORKER_CRASHED), a task can be sent to its own ProcessPool,
// concurrency caps and group rate limits pass through to claims, a queue outlives a restart of
// producer and worker, and bad worker options are refused by path.

import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { ProcessPool, ThreadPool } from '../../src/pool/index.ts';
import { JobFailedError, SqliteBroker, TaskQueue, Worker } from '../../src/tasks/index.ts';
import { codeOf } from '../conformance/helpers.ts';
import { add } from '../fixtures/add.ts';
import { appendLine } from '../fixtures/append-line.ts';
import { exitWithCode } from '../fixtures/exit-with-code.ts';
import { markThenAwaitAbort } from '../fixtures/mark-then-await-abort.ts';
import { whoami } from '../fixtures/whoami.ts';
import { lines, setup, until } from './helpers.ts';

const pool = new ThreadPool({ minWorkers: 2, maxWorkers: 2 });
after(() => pool.close());

describe('worker pools', () => {
  it('counts a crash of the pool worker as a failed attempt and dead-letters after the last', async (t) => {
    const { queue, worker } = await setup(t, pool);
    const outcomes: string[] = [];
    (await worker({ tasks: [exitWithCode] })).on('jobEnded', (_id, outcome) => outcomes.push(outcome));
    const job = await queue.submit(exitWithCode, [3], {
      attempts: 2,
      backoff: { type: 'fixed', delay: 1, jitter: 'none' },
    });
    await assert.rejects(job.result({ timeout: 15_000 }), (error: unknown) => {
      assert.ok(error instanceof JobFailedError);
      assert.equal(codeOf(error.cause), 'SKEIN_POOL_WORKER_CRASHED');
      return true;
    });
    // The result comes from the store; the worker hears back from its own settle a moment later.
    await until('the worker to record the final failure', () => (outcomes.length >= 2 ? true : undefined));
    assert.deepEqual(outcomes, ['retrying', 'failed']);
    assert.equal((await job.info()).attempt, 2);
  });

  it('runs a task given its own ProcessPool in a child process, and the others on the thread pool', async (t) => {
    const processes = new ProcessPool({ maxWorkers: 1 });
    t.after(() => processes.close());
    const { queue, worker } = await setup(t, pool);
    await worker({ tasks: [whoami, add], taskPools: [{ task: whoami, pool: processes }] });
    const info = await (await queue.enqueue(whoami)).result({ timeout: 15_000 });
    assert.notEqual(info.pid, process.pid);
    assert.equal(await (await queue.enqueue(add, 1, 2)).result({ timeout: 10_000 }), 3);
  });

  it('passes a per-task concurrency cap to its claims', async (t) => {
    const { dir, queue, worker, broker } = await setup(t, pool);
    const log = join(dir, 'started.log');
    await worker({
      tasks: [markThenAwaitAbort, add],
      concurrency: 2,
      concurrencyLimits: [{ task: markThenAwaitAbort, limit: 1 }],
    });
    const blocked = [
      await queue.enqueue(markThenAwaitAbort, log),
      await queue.enqueue(markThenAwaitAbort, log),
    ];
    await until('one blocking job to start', async () =>
      (await lines(log)).length === 1 ? true : undefined,
    );
    // The free slot still takes other tasks; once add ran, the cap alone keeps the second job queued.
    assert.equal(await (await queue.enqueue(add, 2, 2)).result({ timeout: 10_000 }), 4);
    const states = await Promise.all(blocked.map((job) => job.state()));
    assert.deepEqual(states.toSorted(), ['queued', 'running']);
    assert.equal((await broker.stats('default')).counts.running, 1);
    await Promise.all(blocked.map((job) => queue.cancel(job.id)));
  });

  it('refuses bad worker options by path', async (t) => {
    const { broker } = await setup(t);
    const cases: [Record<string, unknown>, RegExp][] = [
      [{ tasks: [] }, /tasks must be a non-empty array/],
      [{ tasks: [add], concurrency: 0 }, /concurrency must be an integer/],
      [{ tasks: [add], pool: 'solo' }, /pool must be a ThreadPool, a ProcessPool or 'inline'/],
      [{ tasks: [add], rateLimits: [{ task: add, limit: 0, interval: 10 }] }, /rateLimits\[0\]\.limit/],
      [
        { tasks: [add], rateLimits: [{ limit: 1, interval: 10 }] },
        /rateLimits\[0\]\.task must be a task reference \(or give 'group'\)/,
      ],
      [
        { tasks: [add], taskPools: [{ task: add, pool: {} }] },
        /taskPools\[0\]\.pool must be a ThreadPool or ProcessPool/,
      ],
      [{ tasks: [add], unknownTasks: 'drop' }, /unknownTasks must be 'dead-letter' or 'leave'/],
      [{ tasks: [add], queue: '' }, /queue must be a non-empty string/],
    ];
    for (const [options, message] of cases) {
      assert.throws(
        () => new Worker({ broker, pool, ...options } as never),
        (error: unknown) =>
          codeOf(error) === 'SKEIN_TASKS_INVALID_OPTION' && message.test((error as Error).message),
        String(message),
      );
    }
    const notATask = new Worker({ broker, pool, tasks: [((x: number) => x) as never] });
    await assert.rejects(notATask.start(), (error: unknown) => codeOf(error) === 'SKEIN_TASKS_INVALID_TASK');
    await notATask.close();
  });
});

describe('worker limits and restarts', () => {
  it('skips jobs of a rate-limited group for later ones, across the group', async (t) => {
    const { dir, queue, worker } = await setup(t, pool);
    const log = join(dir, 'calls.log');
    const grouped = [];
    for (const name of ['a', 'b', 'c'])
      grouped.push(await queue.submit(appendLine, [log, name], { group: 'api' }));
    const free = await queue.enqueue(appendLine, log, 'free');
    await worker({
      tasks: [appendLine],
      concurrency: 4,
      rateLimits: [{ group: 'api', limit: 2, interval: 3_600_000 }],
    });
    // The free job is claimed after the third grouped one in claim order, so that one was passed over.
    assert.equal(await free.result({ timeout: 10_000 }), 'free');
    assert.deepEqual(await grouped[0]!.result({ timeout: 10_000 }), 'a');
    assert.deepEqual(await grouped[1]!.result({ timeout: 10_000 }), 'b');
    assert.equal(await grouped[2]!.state(), 'queued');
  });

  it('keeps the queue across a restart of producer and worker on the same file', async (t) => {
    const { db, worker } = await setup(t, pool);
    const first = new SqliteBroker({ path: db });
    const job = await new TaskQueue({ broker: first }).enqueue(add, 40, 2);
    await first.close();
    const again = new SqliteBroker({ path: db });
    t.after(() => again.close());
    await worker({ tasks: [add], broker: again });
    assert.equal(await new TaskQueue({ broker: again }).job(job.id).result({ timeout: 10_000 }), 42);
  });
});
