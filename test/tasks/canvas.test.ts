// Canvas on each engine (a real SQLite file; the machine's Redis when it runs): chain feeds each result to
// the next step, group gathers results in order, chord calls back with every result, and each nests in the
// others; the parent/child tree is stored and reaches every job, and a failing step ends what follows it.

import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { InvalidArgumentError } from '../../src/errors.ts';
import { ThreadPool } from '../../src/pool/index.ts';
import {
  type Broker,
  type Canvas,
  ChainResult,
  ChordResult,
  chain,
  chord,
  GroupResult,
  group,
  Job,
  JobFailedError,
  MAX_CANVAS_DEPTH,
  signature,
} from '../../src/tasks/index.ts';
import { newJobId } from '../../src/tasks/job-id.ts';
import { BACKOFF_DEFAULTS, resolveJobOptions } from '../../src/tasks/options.ts';
import type { JobPlan, StepSpec } from '../../src/tasks/plan.ts';
import { newJobOf, taskAddress } from '../../src/tasks/queue.ts';
import { add } from '../fixtures/add.ts';
import { failUntilAttempt } from '../fixtures/fail-until-attempt.ts';
import { logThenSum } from '../fixtures/log-then-sum.ts';
import { sleep } from '../fixtures/sleep.ts';
import { sumNested } from '../fixtures/sum-nested.ts';
import { sumNumbers } from '../fixtures/sum-numbers.ts';
import { ENGINES, lines, setup, until } from './helpers.ts';

const TIMEOUT = 10_000;

/** Every stored job reached from `root` through broker.children (and `root` itself when it is a job). */
async function reachable(broker: Broker, root: string): Promise<Set<string>> {
  const seen = new Set<string>();
  if ((await broker.get(root)) !== undefined) seen.add(root);
  const todo = [root];
  for (let id = todo.pop(); id !== undefined; id = todo.pop()) {
    for (const child of await broker.children(id)) {
      if (!seen.has(child.id)) {
        seen.add(child.id);
        todo.push(child.id);
      }
    }
  }
  return seen;
}

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
    it('runs a group step inside a chain: each member gets the previous result, the next step gets their list', async (t) => {
      const { queue, worker, broker } = await setup(t, pool, engine);
      await worker({ tasks: [add, sumNumbers], concurrency: 2 });
      const run = await chain(queue, [
        signature(add, [1, 2]),
        group([signature(add, [10]), signature(add, [20])]),
        signature(sumNumbers, [0]),
      ]);
      assert.equal(await run.result({ timeout: TIMEOUT }), 36);
      const [first, middle, last] = run.steps;
      assert.ok(first instanceof Job && middle instanceof GroupResult && last instanceof Job);
      assert.deepEqual(await middle.result({ timeout: TIMEOUT }), [13, 23]);
      assert.deepEqual((await last.info()).args, [0, [13, 23]]);
      assert.equal(middle.id, first.id, 'a group after a step hangs under that step');
      assert.deepEqual(
        (await broker.children(first.id)).map((job) => job.id),
        [...middle.ids, last.id],
      );
      assert.deepEqual(await reachable(broker, run.id), new Set(run.ids));
    });

    it('ends a chain with a group: the chain result is the list of the member results', async (t) => {
      const { queue, worker } = await setup(t, pool, engine);
      await worker({ tasks: [add], concurrency: 2 });
      const run = await chain(queue, [
        signature(add, [1, 2]),
        group([signature(add, [10]), signature(add, [20]), signature(add, [30])]),
      ]);
      assert.deepEqual(await run.result({ timeout: TIMEOUT }), [13, 23, 33]);
    });

    it('runs member chains of a group step by step and gathers each last result in member order', async (t) => {
      const { queue, worker, broker } = await setup(t, pool, engine);
      await worker({ tasks: [add], concurrency: 4 });
      const run = await group(queue, [
        chain([signature(add, [1, 1]), signature(add, [10])]),
        signature(add, [5, 5]),
        chain([signature(add, [2, 2]), signature(add, [100]), signature(add, [1000])]),
      ]);
      assert.deepEqual(await run.result({ timeout: TIMEOUT }), [12, 10, 1104]);
      const [one, two, three] = run.members;
      assert.ok(one instanceof ChainResult && two instanceof Job && three instanceof ChainResult);
      assert.deepEqual(
        (await broker.children(run.id)).map((job) => job.id),
        [one.id, two.id, three.id],
        'the first job of each member hangs under the group',
      );
      const steps = await Promise.all(three.jobs().map((job) => job.info()));
      assert.deepEqual(
        steps.map((step) => step.args),
        [
          [2, 2],
          [100, 4],
          [1000, 104],
        ],
      );
      assert.deepEqual(
        steps.map((step) => step.parentId),
        [run.id, three.ids[0], three.ids[1]],
      );
      assert.deepEqual(await reachable(broker, run.id), new Set(run.ids));
    });

    it('runs a chord whose members and callback are chains', async (t) => {
      const { queue, worker, broker } = await setup(t, pool, engine);
      await worker({ tasks: [add, sumNumbers], concurrency: 2 });
      const run = await chord(
        queue,
        [chain([signature(add, [1, 1]), signature(add, [1])]), signature(add, [3, 4])],
        chain([signature(sumNumbers, [100]), signature(add, [1000])]),
      );
      assert.equal(await run.result({ timeout: TIMEOUT }), 1110);
      assert.deepEqual(await run.group.result({ timeout: TIMEOUT }), [3, 7]);
      assert.ok(run.callback instanceof ChainResult);
      const [sum, plus] = run.callback.jobs();
      assert.deepEqual((await sum!.info()).args, [100, [3, 7]]);
      assert.equal((await sum!.info()).parentId, run.group.id);
      assert.deepEqual((await plus!.info()).args, [1000, 110]);
      assert.deepEqual(await reachable(broker, run.group.id), new Set(run.ids));
    });

    it('runs a chord as a chain step: its members get the step before, the step after gets the callback result', async (t) => {
      const { queue, worker, broker } = await setup(t, pool, engine);
      await worker({ tasks: [add, sumNumbers], concurrency: 2 });
      const run = await chain(queue, [
        signature(add, [1, 2]),
        chord([signature(add, [10]), signature(add, [20])], signature(sumNumbers, [0])),
        signature(add, [1]),
      ]);
      assert.equal(await run.result({ timeout: TIMEOUT }), 37);
      const nested = run.steps[1];
      assert.ok(nested instanceof ChordResult);
      assert.equal(await nested.result({ timeout: TIMEOUT }), 36);
      assert.deepEqual(await reachable(broker, run.id), new Set(run.ids));
    });

    it('follows a group with a group: every member of the second gets the list of the first', async (t) => {
      const { queue, worker } = await setup(t, pool, engine);
      await worker({ tasks: [add, sumNumbers], concurrency: 2 });
      const run = await chain(queue, [
        group([signature(add, [1, 1]), signature(add, [2, 2])]),
        group([signature(sumNumbers, [0]), signature(sumNumbers, [100])]),
      ]);
      assert.deepEqual(await run.result({ timeout: TIMEOUT }), [6, 106]);
    });

    it('nests groups, chains and chords several levels deep and passes nested lists on', async (t) => {
      const { queue, worker, broker } = await setup(t, pool, engine);
      await worker({ tasks: [add, sumNested], concurrency: 4 });
      const run = await chord(
        queue,
        [
          group([signature(add, [1, 1]), signature(add, [2, 2])]),
          chain([signature(add, [0, 1]), group([signature(add, [10]), signature(add, [20])])]),
        ],
        chain([group([signature(sumNested, [0]), signature(sumNested, [1000])]), signature(sumNested, [0])]),
      );
      assert.equal(await run.result({ timeout: TIMEOUT }), 1076);
      assert.deepEqual(await run.group.result({ timeout: TIMEOUT }), [
        [2, 4],
        [11, 21],
      ]);
      assert.ok(run.callback instanceof ChainResult);
      assert.deepEqual(await run.callback.steps[0]!.result({ timeout: TIMEOUT }), [38, 1038]);
      assert.deepEqual(await reachable(broker, run.group.id), new Set(run.ids));
    });

    it('ends a failing member chain at its failing step, lets the other members run and never starts the callback', async (t) => {
      const { dir, queue, worker, broker } = await setup(t, pool, engine);
      const running = await worker({ tasks: [add, sumNumbers, failUntilAttempt], concurrency: 2 });
      const run = await chord(
        queue,
        [
          chain([
            signature(add, [1, 2]),
            signature(failUntilAttempt, [join(dir, 'log'), 5], { attempts: 1 }),
            signature(add, [1]),
          ]),
          signature(add, [2, 2]),
        ],
        signature(sumNumbers, [0]),
      );
      await assert.rejects(run.result({ timeout: TIMEOUT }), (error: unknown) => {
        assert.ok(error instanceof JobFailedError);
        assert.match((error.cause as Error).message, /run 1 failed/);
        return true;
      });
      await assert.rejects(run.group.result({ timeout: TIMEOUT }), JobFailedError);
      assert.equal(await run.group.members[1]!.result({ timeout: TIMEOUT }), 4);
      // Closing the worker finishes everything it started, so no follow-up can still be on its way.
      await running.close();
      const failing = run.group.members[0];
      assert.ok(failing instanceof ChainResult);
      assert.equal((await broker.get(failing.ids[1]!))?.state, 'dead');
      assert.equal(await broker.get(failing.ids[2]!), undefined, 'the step after the failure is not stored');
      assert.equal(await broker.get(run.callback.id), undefined, 'the callback is not stored');
    });

    it('rejects with the error of a failing step inside a nested chord callback and stores nothing after it', async (t) => {
      const { dir, queue, worker, broker } = await setup(t, pool, engine);
      const running = await worker({ tasks: [add, failUntilAttempt], concurrency: 2 });
      const run = await chain(queue, [
        signature(add, [1, 2]),
        chord(
          [signature(add, [1]), signature(add, [2])],
          chain([signature(failUntilAttempt, [join(dir, 'log'), 5], { attempts: 1 }), signature(add, [1])]),
        ),
        signature(add, [1]),
      ]);
      await assert.rejects(run.result({ timeout: TIMEOUT }), (error: unknown) => {
        assert.ok(error instanceof JobFailedError);
        assert.match((error.cause as Error).message, /run 1 failed/);
        return true;
      });
      await running.close();
      const [, , , failing, afterFailing, last] = run.ids;
      assert.equal(run.ids.length, 6);
      assert.equal((await broker.get(failing!))?.state, 'dead');
      assert.equal(await broker.get(afterFailing!), undefined);
      assert.equal(await broker.get(last!), undefined);
      assert.deepEqual((await lines(join(dir, 'log'))).length, 1);
    });

    it('stores no member of a group whose step before failed', async (t) => {
      const { dir, queue, worker, broker } = await setup(t, pool, engine);
      const running = await worker({ tasks: [add, sumNumbers, failUntilAttempt] });
      const run = await chain(queue, [
        signature(failUntilAttempt, [join(dir, 'log'), 5], { attempts: 1 }),
        group([signature(add, [1]), signature(add, [2])]),
        signature(sumNumbers, [0]),
      ]);
      await assert.rejects(run.result({ timeout: TIMEOUT }), JobFailedError);
      await running.close();
      assert.deepEqual(await broker.children(run.id), []);
      for (const id of run.ids.slice(1)) assert.equal(await broker.get(id), undefined);
    });

    it('fires a nested chord callback exactly once when member chains finish together on different workers', async (t) => {
      const { dir, queue, worker } = await setup(t, pool, engine);
      const workers = await Promise.all([
        worker({ tasks: [add, logThenSum], concurrency: 4 }),
        worker({ tasks: [add, logThenSum], concurrency: 4 }),
      ]);
      const ROUNDS = 12;
      const MEMBERS = 6;
      const runs = await Promise.all(
        Array.from({ length: ROUNDS }, (_, round) =>
          chain(queue, [
            signature(add, [0, round]),
            chord(
              Array.from({ length: MEMBERS }, () => chain([signature(add, [1]), signature(add, [1])])),
              signature(logThenSum, [join(dir, `log-${round}`), 0]),
            ),
          ]),
        ),
      );
      const results = await Promise.all(runs.map((run) => run.result({ timeout: 30_000 })));
      assert.deepEqual(
        results,
        Array.from({ length: ROUNDS }, (_, round) => MEMBERS * (round + 2)),
      );
      await Promise.all(workers.map((running) => running.close()));
      for (let round = 0; round < ROUNDS; round++) {
        assert.equal(
          (await lines(join(dir, `log-${round}`))).length,
          1,
          `round ${round} ran its callback once`,
        );
      }
    });

    it('starts the callback of a chord whose members were stored with a plan from before joins', async (t) => {
      const { queue, worker, broker } = await setup(t, pool, engine);
      await worker({ tasks: [add, sumNumbers], concurrency: 2 });
      const groupId = newJobId();
      const memberIds = [newJobId(), newJobId()];
      const options = resolveJobOptions({}, Date.now(), 'options');
      const callback: StepSpec = {
        id: newJobId(),
        queue: queue.name,
        task: await taskAddress(sumNumbers),
        args: [1000],
        delay: 0,
        priority: 0,
        maxAttempts: 3,
        timeLimitMs: null,
        group: null,
        resultTtlMs: options.resultTtl,
        deadLetter: true,
        backoff: BACKOFF_DEFAULTS,
      };
      // The plan as the previous version wrote it: no join key, the callback's input not gathered.
      const plan: JobPlan = { chord: { groupId, members: memberIds, callback } };
      const address = await taskAddress(add);
      await broker.enqueue(
        memberIds.map((id, i) =>
          newJobOf(queue.name, address, [i, 10], options, { id, parentId: groupId, plan }),
        ),
      );
      const run = new ChordResult<number>(broker, new GroupResult(broker, groupId, memberIds), callback.id);
      assert.equal(await run.result({ timeout: TIMEOUT }), 1021);
      assert.deepEqual((await run.callback.info()).args, [1000, [10, 11]]);
    });

    it('fails a callback whose members were purged before it ran with SKEIN_TASKS_JOB_NOT_FOUND, naming the way out', async (t) => {
      const { queue, worker, broker } = await setup(t, pool, engine);
      await worker({ tasks: [add, sumNumbers], concurrency: 2 });
      // The members' results expire after 300 ms (purged by the next sweep, every 100 ms); the callback runs
      // 1.5 s after it is stored.
      const run = await chord(
        queue,
        [signature(add, [1, 1], { resultTtl: 300 }), signature(add, [2, 2], { resultTtl: 300 })],
        signature(sumNumbers, [0], { delay: 1500, attempts: 3 }),
      );
      await until('the callback to be stored', async () => (await broker.get(run.callback.id)) ?? undefined);
      await assert.rejects(run.callback.result({ timeout: TIMEOUT }), (error: unknown) => {
        assert.ok(error instanceof JobFailedError);
        assert.equal((error.cause as { code?: unknown }).code, 'SKEIN_TASKS_JOB_NOT_FOUND');
        assert.match(
          (error.cause as Error).message,
          /purged after its resultTtl; give the chord's members a resultTtl/,
        );
        return true;
      });
      assert.equal((await run.callback.info()).attempt, 1, 'a purged input is final, not retried');
    });

    it(`accepts ${MAX_CANVAS_DEPTH} levels of nesting and refuses one more with SKEIN_TASKS_INVALID_OPTION, storing nothing`, async (t) => {
      const { queue, worker } = await setup(t, pool, engine);
      await worker({ tasks: [add] });
      const nest = (levels: number): Canvas => {
        let canvas: Canvas = signature(add, [1, 1]);
        for (let level = 0; level < levels; level++)
          canvas = level % 2 === 0 ? chain([canvas]) : group([canvas]);
        return canvas;
      };
      await assert.rejects(chain(queue, [nest(MAX_CANVAS_DEPTH)]), (error: unknown) => {
        assert.ok(error instanceof InvalidArgumentError);
        assert.equal(error.code, 'SKEIN_TASKS_INVALID_OPTION');
        assert.match(
          error.message,
          new RegExp(`${MAX_CANVAS_DEPTH + 1} levels deep; at most ${MAX_CANVAS_DEPTH}`),
        );
        return true;
      });
      const stats = await queue.stats();
      assert.equal(stats.counts.queued + stats.counts.scheduled, 0, 'nothing was stored');
      const deepest = await chain(queue, [nest(MAX_CANVAS_DEPTH - 1)]);
      let expected: unknown = 2;
      for (let level = 0; level < MAX_CANVAS_DEPTH - 1; level++) if (level % 2 === 1) expected = [expected];
      assert.deepEqual(await deepest.result({ timeout: TIMEOUT }), expected);
    });

    it('refuses started canvases, other values, empty lists and idempotency keys as canvas parts', async (t) => {
      const { queue } = await setup(t, pool, engine);
      const code = { code: 'SKEIN_TASKS_INVALID_OPTION' };
      const started = await group(queue, [signature(add, [1, 1])]);
      await assert.rejects(chain(queue, [signature(add, [1, 1]), started as never]), {
        ...code,
        message: /steps\[1\] must be a signature.*nest canvases unstarted/,
      });
      await assert.rejects(group(queue, [add as never]), {
        ...code,
        message: /members\[0\] must be a signature/,
      });
      await assert.rejects(chain(queue, [signature(add, [1, 1], { idempotencyKey: 'once' })]), {
        ...code,
        message: /steps\[0\]\.options\.idempotencyKey is not supported in a canvas/,
      });
      assert.throws(() => group([]), { ...code, message: /group needs an array of at least 1/ });
      assert.throws(() => chord([signature(add, [1, 1])], 42 as never), {
        ...code,
        message: /chord callback/,
      });
      await assert.rejects(chord(queue, [], signature(sumNumbers, [0])), code);
      await assert.rejects(chain({} as never, [signature(add, [1, 1])]), { ...code, message: /TaskQueue/ });
      const stats = await queue.stats();
      assert.equal(stats.counts.queued, 1, 'only the started group member was stored');
    });
    it('applies one timeout to the whole canvas, not to each step, and rejects at once on an aborted signal', async (t) => {
      const { queue, worker } = await setup(t, pool, engine);
      await worker({ tasks: [sleep] });
      // Each step alone fits in the timeout; the two together do not.
      const run = await chain(queue, [signature(sleep, [300]), signature(sleep, [300])]);
      await assert.rejects(run.result({ timeout: 450 }), { code: 'SKEIN_TIMEOUT' });
      await assert.rejects(run.result({ signal: AbortSignal.abort() }), { code: 'SKEIN_ABORTED' });
      assert.equal(await run.result({ timeout: TIMEOUT }), 300);
    });
  });
}
