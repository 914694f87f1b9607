// A plain call to a thread worker that holds nothing else goes through the worker's lone-call slot in
// shared memory (src/pool/lone-slot.ts), its answer too when it fits; everything else takes the lanes.
// These tests hold what a caller must never notice: every call settles once with its own result,
// whichever path its call and its answer took, through crashes and switches between lone calls and
// batches.

import assert from 'node:assert/strict';
import { readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it, type TestContext } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { AbortError, WorkerCrashedError } from '../../src/errors.ts';
import { ThreadPool } from '../../src/pool/index.ts';
import { destroyAfter, SOON_MS, within } from '../conformance/helpers.ts';
import { echo } from '../fixtures/echo.ts';
import { markThenAwaitAbort } from '../fixtures/mark-then-await-abort.ts';
import {
  echoAfter,
  echoLater,
  echoOrThrow,
  exitNow,
  listArgs,
  ownContext,
  reportThenEcho,
  spinLater,
  spinThenEcho,
} from './lone-fixtures.ts';

const T = { timeout: 120_000 };

const usePool = (t: TestContext, workers: number): ThreadPool =>
  destroyAfter(t, new ThreadPool({ minWorkers: workers, maxWorkers: workers }));

/** Values of every kind the slot carries, and some it does not (too large, nested), in turn. */
function valueFor(i: number): unknown {
  switch (i % 12) {
    case 0:
      return i;
    case 1:
      return i + 0.5;
    case 2:
      return `call ${i}`;
    case 3:
      return `ünïcødé ✓ ${i} \uD800`;
    case 4:
      return BigInt(i) * 2n ** 64n;
    case 5:
      return { i, label: `n${i}`, none: null, gone: undefined };
    case 6:
      return [i, `${i}`, true];
    case 7:
      return 'x'.repeat(5000) + i;
    case 8:
      return { i, inner: { deeper: [i] } };
    case 9:
      return i % 2 === 0 ? undefined : null;
    case 10:
      return -0;
    default:
      return Number.NaN;
  }
}

describe('ThreadPool lone calls', () => {
  for (const workers of [1, 2]) {
    it(
      `gives each of 6,000 awaited calls its own result, none lost or duplicated (${workers} worker(s))`,
      T,
      async (t) => {
        const pool = usePool(t, workers);
        const calls = 6000;
        for (let i = 0; i < calls; i++) {
          const value = valueFor(i);
          assert.deepStrictEqual(await pool.run(echo, value), structuredClone(value), `call ${i}`);
        }
        const stats = pool.stats();
        assert.equal(stats.completed, calls);
        assert.equal(stats.failed, 0);
        assert.equal(stats.runTime.count, calls);
      },
    );
  }

  it(
    'settles calls whose answers come before, around and after the blocking wait, back to back or after a pause',
    T,
    async (t) => {
      // The pool blocks up to blockingWaitTimeout (0.05 ms) for a lone call's answer and otherwise takes
      // it through its event loop's bell; both sides spin first only for calls that come back to back
      // (spinning.ts, BACK_TO_BACK_MS). Run times straddle the window, and pauses put both threads to
      // sleep between some calls: an answer neither path took would leave its call pending past SOON_MS.
      const pool = usePool(t, 2);
      const runMs = [0, 0.02, 0.04, 0.05, 0.06, 0.1, 0.3];
      for (let i = 0; i < 1500; i++) {
        if (i % 3 === 0) await sleep(i % 2);
        const ms = runMs[i % runMs.length]!;
        assert.equal(await within(pool.run(spinThenEcho, ms, i), SOON_MS, `call ${i} (${ms} ms)`), i);
      }
      assert.equal(pool.stats().completed, 1500);
    },
  );

  it(
    "settles lone calls that wait on the worker's event loop among quick ones, whose answers the pool blocks for",
    T,
    async (t) => {
      // A call still pending once the worker's event loop comes round rings a pool blocked for its answer
      // (one CPU: that wait has no short timeout, thread-worker-handle.ts); the quick calls around it keep
      // the pool's average run time low enough that it blocks for each of them.
      const pool = usePool(t, 1);
      let timers = 0;
      for (let i = 0; i < 600; i++) {
        const value = valueFor(i);
        if (i % 40 === 39) {
          const ticking = setInterval(() => timers++, 1);
          assert.deepStrictEqual(
            await within(pool.run(echoAfter, 1 + (i % 3), value), SOON_MS, `call ${i}`),
            value,
          );
          clearInterval(ticking);
        } else
          assert.deepStrictEqual(await pool.run(echoOrThrow, value), structuredClone(value), `call ${i}`);
      }
      assert.equal(pool.stats().completed, 600);
      assert.ok(timers > 0, "the pool's own timers ran while calls waited on the worker's event loop");
    },
  );

  it(
    'passes argument lists of numbers of any length, and mixed ones, as structured clone does',
    T,
    async (t) => {
      const pool = usePool(t, 1);
      const numbers = [-0, Number.NaN, 1.5, 2 ** 53, Number.NEGATIVE_INFINITY, -7, 0, 1e-300, 42, 3, 2, 1];
      for (let round = 0; round < 50; round++) {
        for (let count = 0; count <= numbers.length; count++) {
          const args = numbers.slice(0, count);
          assert.deepStrictEqual(await pool.run(listArgs, ...args), args, `${count} numbers`);
          const mixed = [...args, `after ${count}`];
          assert.deepStrictEqual(await pool.run(listArgs, ...mixed), mixed, `${count} numbers and a string`);
        }
      }
    },
  );

  it('settles thrown errors and async results of lone calls, and the calls after them', T, async (t) => {
    const pool = usePool(t, 1);
    for (let i = 0; i < 2000; i++) {
      if (i % 7 === 3) {
        await assert.rejects(pool.run(echoOrThrow, -i), (error: Error) => {
          assert.ok(error instanceof RangeError);
          assert.equal(error.message, `negative: ${-i}`);
          return true;
        });
      } else if (i % 7 === 5) {
        assert.equal(await pool.run(echoLater, i), i);
      } else {
        assert.equal(await pool.run(echoOrThrow, i), i);
      }
    }
    const stats = pool.stats();
    assert.equal(stats.completed + stats.failed, 2000);
    assert.equal(stats.failed, Math.floor((2000 - 4) / 7) + 1);
  });

  it(
    'answers lone calls through the event loop (blockingWaitTimeout 0) and across recycled workers',
    T,
    async (t) => {
      const pool = destroyAfter(
        t,
        new ThreadPool({ minWorkers: 0, maxWorkers: 1, blockingWaitTimeout: 0, maxTasksPerWorker: 97 }),
      );
      for (let i = 0; i < 1500; i++) {
        const value = valueFor(i);
        assert.deepStrictEqual(await pool.run(echo, value), structuredClone(value), `call ${i}`);
      }
      assert.equal(pool.stats().completed, 1500);
    },
  );

  it('gives a lone call its own task context', T, async (t) => {
    const pool = usePool(t, 1);
    for (let i = 0; i < 500; i++) {
      const [value, workerId, cancelled] = await pool.run(ownContext, i);
      assert.equal(value, i);
      assert.ok(workerId > 0);
      assert.equal(cancelled, false);
    }
  });

  it(
    'rejects a lone call whose worker exits with WorkerCrashedError, and runs the next ones on a new worker',
    T,
    async (t) => {
      const pool = usePool(t, 1);
      let expected = 0;
      for (let crash = 0; crash < 3; crash++) {
        for (let i = 0; i < 300; i++) assert.equal(await pool.run(echo, expected + i), expected + i);
        expected += 300;
        const error = await within(
          pool.run(exitNow, 40 + crash).then(
            () => undefined,
            (reason: unknown) => reason,
          ),
          SOON_MS,
          'a lone call whose worker exits',
        );
        assert.ok(error instanceof WorkerCrashedError, `crash ${crash}: ${String(error)}`);
        assert.equal(error.code, 'SKEIN_POOL_WORKER_CRASHED');
        assert.equal(error.exitCode, 40 + crash);
      }
      for (let i = 0; i < 300; i++) assert.equal(await pool.run(echo, i), i);
      assert.equal(pool.stats().completed, 3 * 300 + 300);
    },
  );

  it('runs a lone call before a batch sent behind it to the same worker', T, async (t) => {
    const pool = usePool(t, 1);
    for (let i = 0; i < 200; i++) await pool.run(echo, i);
    // The worker is kept busy in its event loop (by a timer a call left, which runs once the lone-call
    // mode ends 2 ms after the last call), so it finds the lone call and the batch sent behind it
    // together. The batch's second task ends the worker. Run in order, the lone call and the batch's
    // first task answered before the exit (in the other order the lone call would be lost in the
    // crash); the tasks after the exit run on the next worker.
    await pool.run(spinLater, 300);
    await new Promise((resolve) => setTimeout(resolve, 50));
    const lone = pool.run(echo, 'lone');
    await null;
    const batch = [pool.run(echo, 'b0'), pool.run(exitNow, 7), pool.run(echo, 'b2'), pool.run(echo, 'b3')];
    const outcomes = await within(Promise.allSettled([lone, ...batch]), SOON_MS, 'a lone call and a batch');
    assert.deepStrictEqual(outcomes[0], { status: 'fulfilled', value: 'lone' });
    assert.deepStrictEqual(outcomes[1], { status: 'fulfilled', value: 'b0' });
    assert.equal(outcomes[2]!.status, 'rejected');
    assert.ok((outcomes[2] as PromiseRejectedResult).reason instanceof WorkerCrashedError);
    assert.deepStrictEqual(outcomes[3], { status: 'fulfilled', value: 'b2' });
    assert.deepStrictEqual(outcomes[4], { status: 'fulfilled', value: 'b3' });
  });

  it(
    'delivers every progress of an awaited call with a signal and a progress callback before its result',
    T,
    async (t) => {
      const pool = usePool(t, 1);
      const controller = new AbortController();
      for (let i = 0; i < 3000; i++) {
        // 0 to 3 notes, so some calls are answered in the slot and the others behind their progress.
        const notes = Array.from({ length: i % 4 }, (_, k) =>
          k % 2 === 0 ? i * 10 + k : { note: k, of: i },
        );
        const seen: unknown[] = [];
        let seenAtResult = -1;
        const value = await pool
          .submit(reportThenEcho, [notes, valueFor(i)], {
            signal: controller.signal,
            onProgress: (note) => seen.push(note),
          })
          .then((result) => {
            seenAtResult = seen.length;
            return result;
          });
        assert.deepStrictEqual(value, structuredClone(valueFor(i)), `call ${i}`);
        assert.deepStrictEqual(seen, notes, `progress of call ${i}`);
        assert.equal(seenAtResult, notes.length, `call ${i} settled before its progress arrived`);
      }
      assert.equal(pool.stats().completed, 3000);
    },
  );

  it(
    'cancels an awaited call through its signal: the call rejects and the task sees the abort',
    T,
    async (t) => {
      const pool = usePool(t, 1);
      const log = join(tmpdir(), `skein-lone-abort-${process.pid}.log`);
      rmSync(log, { force: true });
      t.after(() => rmSync(log, { force: true }));
      const read = (): string => {
        try {
          return readFileSync(log, 'utf8');
        } catch {
          return '';
        }
      };
      const lines = (word: string): number =>
        read()
          .split('\n')
          .filter((line) => line === word).length;
      const waitFor = async (word: string, count: number): Promise<void> => {
        const until = Date.now() + SOON_MS;
        while (lines(word) < count) {
          assert.ok(Date.now() < until, `the task did not write "${word}" within ${SOON_MS} ms: ${read()}`);
          await new Promise((resolve) => setTimeout(resolve, 5));
        }
      };
      for (let round = 0; round < 3; round++) {
        assert.equal(await pool.run(echo, round), round);
        const controller = new AbortController();
        const call = pool.submit(markThenAwaitAbort, [log], { signal: controller.signal });
        await waitFor('started', round + 1);
        controller.abort();
        await assert.rejects(call, AbortError);
        await waitFor('aborted', round + 1);
        assert.equal(read(), 'started\naborted\n'.repeat(round + 1));
      }
      assert.equal(await pool.run(echo, 'after'), 'after');
    },
  );

  it(
    'switches between lone calls and batches under load without losing or repeating a result',
    T,
    async (t) => {
      const pool = usePool(t, 2);
      const seen = new Map<number, number>();
      let next = 0;
      const call = async (options?: { timeout: number }): Promise<void> => {
        const id = next++;
        const value =
          options === undefined ? await pool.run(echo, id) : await pool.submit(echo, [id], options);
        assert.equal(value, id);
        seen.set(id, (seen.get(id) ?? 0) + 1);
      };
      // Two callers awaiting one call after another (lone calls on both workers), beside a third that
      // sends bursts of 1 to 400 calls at once, some with options (which never take the slot).
      const loner = async (): Promise<void> => {
        for (let i = 0; i < 3000; i++) await call(i % 97 === 0 ? { timeout: 60_000 } : undefined);
      };
      const burster = async (): Promise<void> => {
        for (let round = 0; round < 60; round++) {
          const size = 1 + ((round * 67) % 400);
          await Promise.all(
            Array.from({ length: size }, (_, i) => call(i % 50 === 0 ? { timeout: 60_000 } : undefined)),
          );
          await call();
        }
      };
      await within(Promise.all([loner(), loner(), burster()]), 60_000, 'lone calls beside bursts');
      assert.equal(seen.size, next);
      for (const [id, count] of seen) assert.equal(count, 1, `call ${id} settled ${count} times`);
      const stats = pool.stats();
      assert.equal(stats.completed, next);
      assert.equal(stats.failed, 0);
    },
  );
});
