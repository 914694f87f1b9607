// TaskQueue and Worker on each engine (a real SQLite file; the machine's Redis when it runs): results,
// delays, priorities, retries with backoff, dead letters kept with their error and retried by hand,
// idempotency keys, time limits, cancel of waiting and running jobs, progress, unknown tasks and corrupt
// payloads dead-lettered, bad input refused at enqueue, and graceful close giving unfinished work back.

import assert from 'node:assert/strict';
import { AsyncLocalStorage } from 'node:async_hooks';
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { SkeinError } from '../../src/index.ts';
import { ThreadPool } from '../../src/pool/index.ts';
import { task, taskContext } from '../../src/task.ts';
import { JobCancelledError, JobFailedError, TaskQueue } from '../../src/tasks/index.ts';
import { inlineRunner } from '../../src/tasks/inline-runner.ts';
import { newJobId } from '../../src/tasks/job-id.ts';
import { codeOf } from '../conformance/helpers.ts';
import { add } from '../fixtures/add.ts';
import { appendLine } from '../fixtures/append-line.ts';
import { appendThenWaitIfFirst } from '../fixtures/append-then-wait-if-first.ts';
import { echo } from '../fixtures/echo.ts';
import { emitProgress } from '../fixtures/emit-progress.ts';
import { failUntilAttempt } from '../fixtures/fail-until-attempt.ts';
import { markThenAwaitAbort } from '../fixtures/mark-then-await-abort.ts';
import { sleep } from '../fixtures/sleep.ts';
import { throwValidationError } from '../fixtures/throw-error.ts';
import { ENGINES, lines, setup, until } from './helpers.ts';

const pool = new ThreadPool({ minWorkers: 2, maxWorkers: 2 });
after(() => pool.close());

const NO_JITTER = { type: 'fixed', delay: 10, jitter: 'none' } as const;

// Every test runs with jobs on a thread pool and in the worker's own thread (pool: 'inline').
const RUNNERS = [
  ['thread pool', pool],
  ['inline', 'inline'],
] as const;

for (const engine of ENGINES)
  for (const [runnerName, runner] of RUNNERS) {
    describe(`task queue and worker (${engine}, ${runnerName})`, () => {
      it('runs an enqueued task on a worker and returns its result', async (t) => {
        const { queue, worker } = await setup(t, runner, engine);
        await worker({ tasks: [add] });
        const job = await queue.enqueue(add, 2, 3);
        assert.equal(await job.result({ timeout: 10_000 }), 5);
        assert.equal(await job.state(), 'succeeded');
        const info = await job.info();
        assert.deepEqual(info.args, [2, 3]);
        assert.equal(info.attempt, 1);
        assert.match(info.task, /fixtures\/add\.ts#add$/);
      });

      it('takes jobs of tasks added while it runs (addTasks), and refuses a bad task or a closed worker', async (t) => {
        const { queue, worker } = await setup(t, runner, engine);
        const w = await worker({ tasks: [add], unknownTasks: 'leave' });
        const job = await queue.enqueue(echo, 'hello');
        await assert.rejects(w.addTasks([(() => 1) as never]), (error: unknown) => {
          assert.equal(codeOf(error), 'SKEIN_TASKS_INVALID_TASK');
          return true;
        });
        assert.equal(await job.state(), 'queued', 'not claimed before its task is added');
        await w.addTasks([echo, add]);
        assert.equal(await job.result({ timeout: 10_000 }), 'hello');
        assert.equal(await (await queue.enqueue(add, 1, 2)).result({ timeout: 10_000 }), 3);
        await w.close();
        await assert.rejects(w.addTasks([echo]), (error: unknown) => codeOf(error) === 'SKEIN_TASKS_CLOSED');
      });

      it('lets running jobs finish on close(), then publishes each end on skein:tasks:job', async (t) => {
        const { queue, worker } = await setup(t, runner, engine);
        const published: unknown[] = [];
        const listen = (message: unknown): void => {
          published.push(message);
        };
        subscribe('skein:tasks:job', listen);
        t.after(() => unsubscribe('skein:tasks:job', listen));
        const w = await worker({ tasks: [sleep] });
        const job = await queue.enqueue(sleep, 50);
        await until('the job to run', async () => ((await job.state()) === 'running' ? true : undefined));
        await w.close();
        assert.equal(await job.state(), 'succeeded');
        assert.equal(await job.result(), 50);
        assert.equal(w.close(), w.close(), 'close() is idempotent');
        assert.equal(published.length, 1);
        assert.deepEqual(
          { ...(published[0] as object), runMs: 0 },
          {
            worker: w.id,
            queue: 'default',
            jobId: job.id,
            task: (await job.info()).task,
            attempt: 1,
            outcome: 'succeeded',
            runMs: 0,
          },
        );
      });

      it('holds a delayed job as scheduled and runs it no earlier than its runAt', async (t) => {
        const { queue, worker } = await setup(t, runner, engine);
        const delayed = await queue.submit(add, [1, 1], { delay: 300 });
        const atEta = await queue.submit(add, [2, 2], { eta: new Date(Date.now() + 200) });
        assert.equal(await delayed.state(), 'scheduled');
        await worker({ tasks: [add] });
        assert.equal(await delayed.result({ timeout: 10_000 }), 2);
        assert.equal(await atEta.result({ timeout: 10_000 }), 4);
        for (const job of [delayed, atEta]) {
          const info = await job.info();
          assert.ok(
            info.startedAt! >= info.runAt,
            `${job.id} started ${info.startedAt} before ${info.runAt}`,
          );
        }
      });

      it('runs higher priorities first, FIFO among equals', async (t) => {
        const { dir, queue, worker } = await setup(t, runner, engine);
        const log = join(dir, 'order.log');
        const jobs = [
          await queue.submit(appendLine, [log, 'low'], { priority: -5 }),
          await queue.submit(appendLine, [log, 'high-1'], { priority: 10 }),
          await queue.submit(appendLine, [log, 'normal'], {}),
          await queue.submit(appendLine, [log, 'high-2'], { priority: 10 }),
        ];
        assert.equal((await jobs[1]!.info()).priority, 10);
        await worker({ tasks: [appendLine], concurrency: 1 });
        for (const job of jobs) await job.result({ timeout: 10_000 });
        assert.deepEqual(await lines(log), ['high-1', 'high-2', 'normal', 'low']);
      });

      it('retries a failing job with backoff until it succeeds', async (t) => {
        const { dir, queue, worker } = await setup(t, runner, engine);
        await worker({ tasks: [failUntilAttempt] });
        const log = join(dir, 'runs.log');
        const job = await queue.submit(failUntilAttempt, [log, 3], { attempts: 3, backoff: NO_JITTER });
        assert.equal(await job.result({ timeout: 10_000 }), 3);
        assert.equal((await job.info()).attempt, 3);
      });

      it('dead-letters a job out of attempts with the error and stack kept, then runs it again on retry()', async (t) => {
        const { dir, queue, worker } = await setup(t, runner, engine);
        const events: string[] = [];
        const w = await worker({ tasks: [failUntilAttempt] });
        w.on('jobEnded', (_id, outcome) => events.push(outcome));
        const log = join(dir, 'runs.log');
        const job = await queue.submit(failUntilAttempt, [log, 3], { attempts: 2, backoff: NO_JITTER });
        const failure = await job.result({ timeout: 10_000 }).then(
          () => assert.fail('the job should have failed'),
          (error: unknown) => error,
        );
        assert.ok(failure instanceof JobFailedError);
        assert.equal(codeOf(failure), 'SKEIN_TASKS_JOB_FAILED');
        const cause = failure.cause as Error;
        assert.equal(cause.name, 'RangeError');
        assert.equal(cause.message, 'run 2 failed');
        assert.match(cause.stack ?? '', /fail-until-attempt\.ts/);
        assert.equal(await job.state(), 'dead');
        // The result comes from the store; the worker hears back from its own settle a moment later.
        await until('the worker to record the final failure', () => (events.length >= 2 ? true : undefined));
        assert.deepEqual(events, ['retrying', 'failed']);
        const dead = await queue.list('dead');
        assert.deepEqual(
          dead.map((info) => [info.id, info.error?.message]),
          [[job.id, 'run 2 failed']],
        );

        assert.equal(await queue.retry(job.id), true);
        assert.equal(await job.result({ timeout: 10_000 }), 3);
        assert.equal(await queue.retry(job.id), false, 'a succeeded job is not retried');
      });

      it('ends a job failed, not dead, when deadLetter is false, keeping the task error class and fields', async (t) => {
        const { queue, worker } = await setup(t, runner, engine);
        await worker({ tasks: [throwValidationError] });
        const job = await queue.submit(throwValidationError, ['bad email'], {
          deadLetter: false,
          attempts: 1,
        });
        await assert.rejects(job.result({ timeout: 10_000 }), (error: unknown) => {
          assert.ok(error instanceof JobFailedError);
          assert.equal((error.cause as Error).name, 'ValidationError');
          assert.equal((error.cause as { code?: string }).code, 'E_VALIDATION');
          return true;
        });
        assert.equal(await job.state(), 'failed');
      });

      it('returns the first job for a second enqueue with the same idempotency key, and runs it once', async (t) => {
        const { dir, queue, worker } = await setup(t, runner, engine);
        const log = join(dir, 'once.log');
        const first = await queue.submit(appendLine, [log, 'a'], { idempotencyKey: 'order-42' });
        const second = await queue.submit(appendLine, [log, 'b'], { idempotencyKey: 'order-42' });
        assert.equal(second.id, first.id);
        await worker({ tasks: [appendLine] });
        assert.equal(await second.result({ timeout: 10_000 }), 'a');
        assert.deepEqual(await lines(log), ['a']);
      });

      it('fails an attempt that runs past its time limit with SKEIN_TIMEOUT', async (t) => {
        const { queue, worker } = await setup(t, runner, engine);
        await worker({ tasks: [sleep] });
        const job = await queue.submit(sleep, [60_000], { timeLimit: 100, attempts: 1 });
        await assert.rejects(job.result({ timeout: 10_000 }), (error: unknown) => {
          assert.ok(error instanceof JobFailedError);
          assert.equal(codeOf(error.cause), 'SKEIN_TIMEOUT');
          return true;
        });
      });

      it('cancels a waiting job at once and a running one through its signal', async (t) => {
        const { dir, queue, worker } = await setup(t, runner, engine);
        const waiting = await queue.submit(add, [1, 2], { delay: 60_000 });
        assert.equal(await queue.cancel(waiting.id), 'cancelled');
        await assert.rejects(waiting.result({ timeout: 10_000 }), JobCancelledError);
        await assert.rejects(
          waiting.result(),
          (error: unknown) => codeOf(error) === 'SKEIN_TASKS_JOB_CANCELLED',
        );

        const w = await worker({ tasks: [markThenAwaitAbort, add] });
        const ended = new Promise<unknown>((resolve) => w.on('jobEnded', (_id, outcome) => resolve(outcome)));
        const log = join(dir, 'cancel.log');
        const running = await queue.enqueue(markThenAwaitAbort, log);
        await until('the task to start', async () =>
          (await lines(log)).includes('started') ? true : undefined,
        );
        assert.equal(await queue.cancel(running.id), 'requested');
        await assert.rejects(running.result({ timeout: 10_000 }), JobCancelledError);
        assert.equal(await ended, 'cancelled');
        await until('the task to see its signal abort', async () =>
          (await lines(log)).includes('aborted') ? true : undefined,
        );
        assert.equal(await queue.cancel(running.id), 'finished');
      });

      it('stores the last progress value the task reported', async (t) => {
        const { queue, worker, broker } = await setup(t, runner, engine);
        const seen: string[] = [];
        const events = new AbortController();
        const watching = (async () => {
          for await (const event of queue.events(events.signal))
            if (event.type === 'progress') seen.push(event.type);
        })().catch(() => undefined);
        await worker({ tasks: [emitProgress] });
        const job = await queue.enqueue(emitProgress, 25);
        assert.equal(await job.result({ timeout: 10_000 }), 'done');
        assert.equal(await job.progress(), 25);
        await until('a progress event', () => (seen.length > 0 ? true : undefined));
        events.abort();
        await watching;
        assert.ok((await broker.get(job.id))?.progress !== null);
      });

      it('dead-letters jobs of a task the worker does not know, and corrupt payloads, and keeps going', async (t) => {
        const { queue, worker, broker } = await setup(t, runner, engine);
        const unknown = await queue.enqueue(echo, 'nobody runs me');
        // A job of a known task whose stored arguments are damaged, written behind the queue's back.
        const template = await queue.submit(add, [1, 1], { delay: 60_000 });
        const record = (await broker.get(template.id))!;
        await queue.cancel(template.id);
        const [stored] = await broker.enqueue([
          {
            ...record,
            id: newJobId(),
            runAt: Date.now(),
            payload: new Uint8Array([0xc1]),
            idempotencyKey: null,
          },
        ]);
        const id = stored!.id;
        await worker({ tasks: [add] });
        await assert.rejects(unknown.result({ timeout: 10_000 }), (error: unknown) => {
          assert.equal(codeOf((error as Error).cause), 'SKEIN_TASKS_UNKNOWN_TASK');
          assert.match(((error as Error).cause as Error).message, /echo\.ts#echo/);
          return true;
        });
        await assert.rejects(queue.job(id).result({ timeout: 10_000 }), (error: unknown) => {
          assert.equal(codeOf((error as Error).cause), 'SKEIN_TASKS_CORRUPT_PAYLOAD');
          return true;
        });
        const dead = await queue.list('dead');
        assert.deepEqual(dead.map((info) => info.id).sort(), [unknown.id, id].sort());
        assert.equal(
          dead.find((info) => info.id === id)?.args,
          undefined,
          'damaged arguments are shown as undefined',
        );
        assert.equal(await (await queue.enqueue(add, 20, 22)).result({ timeout: 10_000 }), 42);
      });

      it('refuses bad options, unencodable arguments and non-task functions at enqueue, storing nothing', async (t) => {
        const { queue, broker } = await setup(t, undefined, engine);
        await assert.rejects(queue.submit(add, [1, 2], { attempts: 0 }), (error: unknown) => {
          assert.equal(codeOf(error), 'SKEIN_TASKS_INVALID_OPTION');
          assert.match((error as Error).message, /options\.attempts must be an integer >= 1/);
          return true;
        });
        await assert.rejects(queue.submit(add, [1, (() => 2) as never]), (error: unknown) => {
          assert.equal(codeOf(error), 'SKEIN_TASKS_NOT_ENCODABLE');
          assert.match((error as Error).message, /args\[1\]/);
          return true;
        });
        await assert.rejects(queue.enqueue(((a: number) => a) as never, 1), (error: unknown) => {
          assert.equal(codeOf(error), 'SKEIN_TASKS_INVALID_TASK');
          return true;
        });
        assert.throws(
          () => new TaskQueue({ broker, name: '' }),
          (error: unknown) => codeOf(error) === 'SKEIN_TASKS_INVALID_OPTION',
        );
        const counts = (await queue.stats()).counts;
        assert.equal(
          Object.values(counts).reduce((a, b) => a + b, 0),
          0,
        );
        await assert.rejects(
          queue.job('no-such-job').state(),
          (error: unknown) => codeOf(error) === 'SKEIN_TASKS_JOB_NOT_FOUND',
        );
        await assert.rejects(
          queue.cancel('no-such-job'),
          (error: unknown) => codeOf(error) === 'SKEIN_TASKS_JOB_NOT_FOUND',
        );
        await queue.close();
        await assert.rejects(queue.enqueue(add, 1, 2), (error: unknown) => {
          assert.ok(error instanceof SkeinError);
          assert.equal(error.code, 'SKEIN_TASKS_CLOSED');
          return true;
        });
      });

      it('gives a running job back unfinished when close() outlasts closeTimeout; another worker completes it', async (t) => {
        const { dir, queue, worker } = await setup(t, runner, engine);
        const log = join(dir, 'runs.log');
        const first = await worker({ tasks: [appendThenWaitIfFirst], closeTimeout: 0 });
        const outcomes: string[] = [];
        first.on('jobEnded', (_id, outcome) => outcomes.push(outcome));
        const job = await queue.enqueue(appendThenWaitIfFirst, log);
        await until('the first run to start', async () =>
          (await lines(log)).length === 1 ? true : undefined,
        );
        await first.close();
        assert.deepEqual(outcomes, ['released']);
        const info = await job.info();
        assert.equal(info.state, 'queued');
        assert.equal(info.attempt, 0, 'a released attempt is not counted');
        await assert.rejects(first.start(), (error: unknown) => codeOf(error) === 'SKEIN_TASKS_CLOSED');
        await worker({ tasks: [appendThenWaitIfFirst] });
        assert.equal(await job.result({ timeout: 10_000 }), 2);
      });

      it('aborts a job whose lease it lost with SKEIN_TASKS_LEASE_EXPIRED', async (t) => {
        const { dir, queue, worker, broker } = await setup(t, runner, engine);
        const log = join(dir, 'lease.log');
        const w = await worker({ tasks: [markThenAwaitAbort], leaseTimeout: 300 });
        const lost = new Promise<Error | undefined>((resolve) =>
          w.on('jobEnded', (_id, outcome, error) => {
            if (outcome === 'lost') resolve(error);
          }),
        );
        await queue.submit(markThenAwaitAbort, [log], { attempts: 5 });
        await until('the task to start', async () =>
          (await lines(log)).includes('started') ? true : undefined,
        );
        // Pretend an hour passed: the store sends the job back, and the worker finds it no longer holds it.
        assert.equal(await broker.recoverExpiredLeases(Date.now() + 3_600_000), 1);
        assert.equal(codeOf(await lost), 'SKEIN_TASKS_LEASE_EXPIRED');
        await until('the task to see its signal abort', async () =>
          (await lines(log)).includes('aborted') ? true : undefined,
        );
      });
    });
  }

describe('jobs run inline', () => {
  it('see their own task context, in async continuations too; the code that ran them keeps its own', async () => {
    // The async context the runner was made in (a Worker's, for its jobs) is what a job runs in, plus its
    // own task context; whoever called submit() keeps theirs.
    const ambient = new AsyncLocalStorage<string>();
    const runner = ambient.run('where the runner was made', () => inlineRunner());
    const seen: unknown[] = [];
    const probe = task(import.meta, async (label: string) => {
      const { progress, throwIfCancelled } = taskContext();
      await new Promise((resolve) => setTimeout(resolve, 1));
      throwIfCancelled();
      progress(`${label} after a wait`);
      seen.push([label, taskContext().workerId, ambient.getStore()]);
      return label;
    });
    const progressOf: unknown[] = [];
    const controller = new AbortController();
    const running = ambient.run('the caller', () => {
      const calls = ['a', 'b'].map((label) =>
        runner.submit(probe, [label], {
          signal: controller.signal,
          onProgress: (value) => progressOf.push(value),
        }),
      );
      assert.equal(ambient.getStore(), 'the caller');
      return calls;
    });
    // Back in the caller, no job's context is left entered: the local one (its progress goes nowhere,
    // and stays one function).
    assert.equal(taskContext().progress, taskContext().progress);
    assert.deepEqual(await Promise.all(running), ['a', 'b']);
    assert.deepEqual(progressOf.sort(), ['a after a wait', 'b after a wait']);
    assert.deepEqual(seen.sort(), [
      ['a', -1, 'where the runner was made'],
      ['b', -1, 'where the runner was made'],
    ]);
  });
});
