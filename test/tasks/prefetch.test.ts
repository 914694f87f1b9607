// Claiming ahead (WorkerOptions.prefetch), on both engines with jobs run inline: a worker holds more
// jobs than it runs when jobs are short, never runs more than its concurrency, gives held jobs back
// when a long job keeps its slots busy, and ends a held job cancelled before it starts without running it.
// On a thread pool, where short jobs end a few at a time and their settles wait to go out together,
// every job is still recorded exactly once, a close mid-stream included.

import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { ThreadPool } from '../../src/pool/index.ts';
import type { Broker } from '../../src/tasks/index.ts';
import { add } from '../fixtures/add.ts';
import { appendLine } from '../fixtures/append-line.ts';
import { sleep } from '../fixtures/sleep.ts';
import { concurrencyPeak, resetConcurrencyPeak, trackConcurrency } from '../fixtures/track-concurrency.ts';
import { ENGINES, lines, setup, until } from './helpers.ts';

/** The broker itself, recording the `max` of every claim the worker makes through it. */
function recordingClaims(broker: Broker, maxes: number[]): Broker {
  return new Proxy(broker, {
    get(target, key) {
      if (key === 'claim') {
        return (request: Parameters<Broker['claim']>[0]) => {
          maxes.push(request.max);
          return target.claim(request);
        };
      }
      if (key === 'settleAndClaim') {
        return (...args: Parameters<Broker['settleAndClaim']>) => {
          if (args[2] !== null) maxes.push(args[2].max);
          return target.settleAndClaim(...args);
        };
      }
      const value = Reflect.get(target, key, target) as unknown;
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
}

/** Runs `count` near-instant jobs to the end, so the worker has measured its run and call times. */
async function warmUp(queue: Awaited<ReturnType<typeof setup>>['queue'], count = 20): Promise<void> {
  const jobs = await queue.enqueueBulk(
    Array.from({ length: count }, (_, i) => ({ task: add, args: [i, 1] })),
  );
  for (const job of jobs) await job.result({ timeout: 10_000 });
}

const pool = new ThreadPool({ minWorkers: 2, maxWorkers: 2 });
after(() => pool.close());

for (const engine of ENGINES) {
  describe(`worker prefetch (${engine})`, () => {
    it('claims ahead of its concurrency for short jobs, yet never runs more than concurrency at once', async (t) => {
      const { queue, worker, broker } = await setup(t, 'inline', engine);
      const maxes: number[] = [];
      await worker({
        broker: recordingClaims(broker, maxes),
        tasks: [trackConcurrency, add],
        concurrency: 3,
      });
      await warmUp(queue);
      resetConcurrencyPeak();
      const jobs = await queue.enqueueBulk(
        Array.from({ length: 300 }, () => ({ task: trackConcurrency, args: [0] })),
      );
      for (const job of jobs) assert.equal(await job.result({ timeout: 20_000 }), 0);
      assert.ok(concurrencyPeak() <= 3, `at most 3 jobs ran at once, saw ${concurrencyPeak()}`);
      assert.ok(concurrencyPeak() >= 2, `the slots were used, peak ${concurrencyPeak()}`);
      assert.ok(Math.max(...maxes) > 3, `some claim asked for more than 3 jobs: ${maxes.join(' ')}`);
    });

    it('records each short job run on a 2-thread pool once, a close mid-stream included', async (t) => {
      const { queue, worker, broker, dir } = await setup(t, pool, engine);
      const settlesPerCall: number[] = [];
      const recording = new Proxy(broker, {
        get(target, key) {
          if (key === 'settleAndClaim') {
            return (...args: Parameters<Broker['settleAndClaim']>) => {
              settlesPerCall.push(args[1].length);
              return target.settleAndClaim(...args);
            };
          }
          const value = Reflect.get(target, key, target) as unknown;
          return typeof value === 'function' ? value.bind(target) : value;
        },
      });
      const first = await worker({ broker: recording, tasks: [appendLine, add], concurrency: 10 });
      await warmUp(queue);
      const file = join(dir, 'runs.txt');
      const count = 1500;
      const jobs = await queue.enqueueBulk(
        Array.from({ length: count }, (_, i) => ({ task: appendLine, args: [file, String(i)] })),
      );
      await until('a third of the jobs to run', async () =>
        (await lines(file)).length >= count / 3 ? true : undefined,
      );
      // Settles waiting to go out together, jobs running and jobs held ahead: close records the ended
      // ones and gives the rest back, so the next worker runs each of those once, and no lease lapses.
      await first.close();
      assert.ok(
        settlesPerCall.some((settles) => settles > 1),
        `settles went out one by one: ${settlesPerCall}`,
      );
      await worker({ tasks: [appendLine], concurrency: 10 });
      for (const [i, job] of jobs.entries()) assert.equal(await job.result({ timeout: 20_000 }), String(i));
      const ran = (await lines(file)).map(Number).sort((a, b) => a - b);
      assert.deepEqual(
        ran,
        Array.from({ length: count }, (_, i) => i),
        'every job ran exactly once',
      );
    });

    it('gives jobs it claimed ahead back to the queue when a long job holds its only slot', async (t) => {
      const { queue, worker, broker } = await setup(t, 'inline', engine);
      const maxes: number[] = [];
      const holder = await worker({
        broker: recordingClaims(broker, maxes),
        tasks: [add, sleep],
        concurrency: 1,
        prefetch: 3,
        pollInterval: 50,
      });
      const outcomes = new Map<string, string[]>();
      holder.on('jobEnded', (id, outcome) => outcomes.set(id, [...(outcomes.get(id) ?? []), outcome]));
      // It claims ahead only once its measures say jobs are shorter than a store call; a host stall
      // during a warm-up job can say otherwise, so it warms up until its last claim asked for more.
      for (let round = 1; ; round++) {
        maxes.length = 0;
        await warmUp(queue);
        if ((maxes.at(-1) ?? 0) > 1) break;
        assert.ok(
          round < 10,
          `after ${round} warm-ups the worker still claims no job ahead: ${maxes.join(' ')}`,
        );
      }
      // One enqueue, so that one claim can take the long job and the short ones behind it.
      const [long, ...short] = await queue.enqueueBulk([
        { task: sleep, args: [60_000] },
        ...Array.from({ length: 3 }, (_, i) => ({ task: add, args: [i, 100] })),
      ]);
      await until('a short job to be given back', () =>
        short.some((job) => outcomes.get(job.id)?.includes('released')) ? true : undefined,
      );
      // A second worker finds the given-back jobs while the long one still holds the first worker.
      await worker({ tasks: [add], concurrency: 1 });
      for (const [i, job] of short.entries()) assert.equal(await job.result({ timeout: 10_000 }), i + 100);
      assert.equal((await long!.info()).state, 'running');
      for (const job of short) {
        assert.ok(!outcomes.get(job.id)?.includes('succeeded'), `${job.id} did not run on the holder`);
      }
    });

    it('ends a job it holds ahead, cancelled before it starts, without running it', async (t) => {
      const { dir, queue, worker } = await setup(t, 'inline', engine);
      const log = join(dir, 'ran.log');
      // A long poll interval: the give-back must not happen first, and news brings the cancel.
      await worker({ tasks: [add, sleep, appendLine], concurrency: 1, prefetch: 3, pollInterval: 5_000 });
      await warmUp(queue);
      const [long, held] = await queue.enqueueBulk([
        { task: sleep, args: [60_000] },
        { task: appendLine, args: [log, 'ran'] },
      ]);
      await until('both jobs to be claimed', async () =>
        (await long!.info()).state === 'running' && (await held!.info()).state === 'running'
          ? true
          : undefined,
      );
      await queue.cancel(held!.id);
      await until('the held job to end cancelled', async () =>
        (await held!.info()).state === 'cancelled' ? true : undefined,
      );
      assert.deepEqual(await lines(log), []);
      assert.equal((await long!.info()).state, 'running');
    });
  });
}
