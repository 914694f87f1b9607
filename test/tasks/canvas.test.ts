// Canvas on each engine (a real SQLite file; the machine's Redis when it runs): chain feeds each result to
// the next step, group gathers results in order, chord calls back with every result; the parent/child tree
// is stored and queryable, and a failing step stops the chain with its error.

import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { ThreadPool } from '../../src/pool/index.ts';
import { chain, chord, group, JobFailedError, signature } from '../../src/tasks/index.ts';
import { add } from '../fixtures/add.ts';
import { failUntilAttempt } from '../fixtures/fail-until-attempt.ts';
import { sumNumbers } from '../fixtures/sum-numbers.ts';
import { ENGINES, setup } from './helpers.ts';

const pool = new ThreadPool({ minWorkers: 2, maxWorkers: 2 });
after(() => pool.close());

for (const engine of ENGINES) {
  describe(`canvas (${engine})`, () => {
    it('chains steps, appending each result to the next step and linking each step to the one before', async (t) => {
      const { queue, worker } = await setup(t, pool, engine);
      await worker({ tasks: [add] });
      const run = await chain(queue, [signature(add, [1, 2]), signature(add, [10]), signature(add, [100])]);
      assert.equal(await run.result({ timeout: 10_000 }), 113);
      const [first, second, third] = run.jobs();
      assert.deepEqual(
        (await first!.children()).map((job) => job.id),
        [second!.id],
      );
      assert.deepEqual(
        (await second!.children()).map((job) => job.id),
        [third!.id],
      );
      assert.deepEqual((await third!.info()).args, [100, 13]);
      assert.equal((await third!.info()).parentId, second!.id);
    });

    it('stops a chain at a failing step and rejects with its error', async (t) => {
      const { dir, queue, worker } = await setup(t, pool, engine);
      await worker({ tasks: [add, failUntilAttempt] });
      const run = await chain(queue, [
        signature(add, [1, 2]),
        signature(failUntilAttempt, [join(dir, 'log')], { attempts: 1 }),
        signature(add, [1]),
      ]);
      await assert.rejects(run.result({ timeout: 10_000 }), (error: unknown) => {
        assert.ok(error instanceof JobFailedError);
        assert.match((error.cause as Error).message, /run 1 failed/);
        return true;
      });
      assert.deepEqual(await run.jobs()[1]!.children(), []);
    });

    it('runs a group in parallel and gathers the results in member order, all children of the group id', async (t) => {
      const { queue, worker, broker } = await setup(t, pool, engine);
      await worker({ tasks: [add], concurrency: 2 });
      const members = Array.from({ length: 6 }, (_, i) => signature(add, [i, i]));
      const run = await group(queue, members);
      assert.deepEqual(await run.result({ timeout: 10_000 }), [0, 2, 4, 6, 8, 10]);
      assert.deepEqual(
        (await broker.children(run.id)).map((job) => job.id),
        run.ids,
      );
    });

    it('calls a chord callback once with every member result, in order', async (t) => {
      const { queue, worker, broker } = await setup(t, pool, engine);
      await worker({ tasks: [add, sumNumbers], concurrency: 2 });
      const run = await chord(
        queue,
        Array.from({ length: 5 }, (_, i) => signature(add, [i, 1])),
        signature(sumNumbers, [1000]),
      );
      assert.equal(await run.result({ timeout: 10_000 }), 1015);
      assert.deepEqual((await run.callback.info()).args, [1000, [1, 2, 3, 4, 5]]);
      const children = await broker.children(run.group.id);
      assert.equal(children.length, 6, 'five members and one callback under the group');
      assert.equal(children.filter((job) => job.task.endsWith('#sumNumbers')).length, 1);
    });
  });
}
