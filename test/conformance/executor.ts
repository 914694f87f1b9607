// The executor conformance suite: every behaviour docs/pool.md promises for the Executor contract,
// registered once and run against ThreadPool and ProcessPool (thread-pool.test.ts, process-pool.test.ts).
// Tests reach known points through handshakes (progress values, a TCP gate), never through sleeps.

import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it, type TestContext } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import {
  AbortError,
  InvalidArgumentError,
  SkeinError,
  TimeoutError,
  task,
  WorkerCrashedError,
} from '../../src/index.ts';
import type { Executor, ExecutorEvents, RunOptions } from '../../src/pool/executor.ts';
import type { PoolOptions } from '../../src/pool/options.ts';
import { writeChromeTrace } from '../../src/trace/index.ts';
import { add } from '../fixtures/add.ts';
import { allocateUntilOom } from '../fixtures/allocate-until-oom.ts';
import { appendLine } from '../fixtures/append-line.ts';
import { blockUntilReleased, type GatedItem, passOrBlock } from '../fixtures/block-until-released.ts';
import { countArgs } from '../fixtures/count-args.ts';
import { Counter } from '../fixtures/counter-actor.ts';
import { echo } from '../fixtures/echo.ts';
import { emitProgress } from '../fixtures/emit-progress.ts';
import { exitWithCode } from '../fixtures/exit-with-code.ts';
import { ExitingActor } from '../fixtures/exiting-actor.ts';
import { initialize, readInitState } from '../fixtures/init-state.ts';
import { makeBuffer, sumBytes } from '../fixtures/make-buffer.ts';
import { lastSleepOutcome, notifyThenSleep } from '../fixtures/notify-then-sleep.ts';
import { notifyThenSpin } from '../fixtures/notify-then-spin.ts';
import { printLines } from '../fixtures/print-output.ts';
import { readEnv } from '../fixtures/read-env.ts';
import { rejectThirteen } from '../fixtures/reject-thirteen.ts';
import { delayedEcho, jitterEcho, sleep } from '../fixtures/sleep.ts';
import { lastSpinOutcome, spinUntilCancelled } from '../fixtures/spin-until-cancelled.ts';
import { square } from '../fixtures/square.ts';
import { throwSkeinError, throwTypeError, throwValidationError } from '../fixtures/throw-error.ts';
import { throwValue } from '../fixtures/throw-string.ts';
import { throwStringUncaught } from '../fixtures/throw-string-uncaught.ts';
import { throwUncaught } from '../fixtures/throw-uncaught.ts';
import { getHiddenActor, getHiddenTask } from '../fixtures/unexported-references.ts';
import { tagWithWorker, whoami } from '../fixtures/whoami.ts';
import { getWorkerState, setWorkerState } from '../fixtures/worker-state.ts';
import {
  codeOf,
  destroyAfter,
  firstProgress,
  type Gate,
  openGate,
  range,
  runCancellable,
  SOON_MS,
  settle,
  sortedNumbers,
  tempDir,
  within,
} from './helpers.ts';

/** An executor plus the typed events docs/pool.md lists (`pool.on`). */
export type PoolUnderTest = Executor & {
  on<K extends keyof ExecutorEvents>(event: K, listener: (...args: ExecutorEvents[K]) => void): unknown;
  off<K extends keyof ExecutorEvents>(event: K, listener: (...args: ExecutorEvents[K]) => void): unknown;
};

export type MakePool = (options?: PoolOptions) => PoolUnderTest;

/** A group's tests run one after another (a describe inherits its parent's concurrency otherwise). */
const ONE_AT_A_TIME = { concurrency: 1 };

/** Per-test bound: a bug fails its test within this, not the whole run. */
const TEST_TIMEOUT_MS = 20_000;
const T = { timeout: TEST_TIMEOUT_MS };

interface Ready {
  state: 'ready';
  workerId: number;
  pid: number;
}

const FIXTURES = fileURLToPath(new URL('../fixtures/', import.meta.url));
const fixtureUrl = (file: string): string => new URL(`../fixtures/${file}`, import.meta.url).href;

/** Marks a promise as handled now (it is awaited later) and returns it unchanged. */
function track<T>(promise: Promise<T>): Promise<T> {
  promise.catch(() => {});
  return promise;
}

async function rejectsWithCode(call: () => unknown, code: string, what?: string): Promise<unknown> {
  const outcome = await within(
    settle(async () => call()),
    SOON_MS,
    what ?? `call expected to reject with ${code}`,
  );
  assert.equal(outcome.status, 'rejected', `${what ?? 'call'} should reject with ${code}`);
  const reason = (outcome as { reason: unknown }).reason;
  assert.equal(codeOf(reason), code, `${what ?? 'call'}: expected code ${code}, got ${String(reason)}`);
  return reason;
}

function runNode(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      args,
      { timeout: 15_000, maxBuffer: 16 * 2 ** 20 },
      (error, stdout, stderr) => {
        const code = error === null ? 0 : typeof error.code === 'number' ? error.code : null;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

/**
 * Registers the conformance suite for one executor implementation.
 * @param name shown in the test names, e.g. 'ThreadPool'
 * @param makePool builds a fresh pool from options; each test destroys what it made
 */
export function executorSuite(name: string, makePool: MakePool): void {
  function usePool(t: TestContext, options?: PoolOptions): PoolUnderTest {
    return destroyAfter(t, makePool(options));
  }

  async function useGate(t: TestContext): Promise<Gate> {
    const gate = await openGate();
    t.after(() => gate.close());
    return gate;
  }

  /** Occupies the only worker of `pool` with a gated task; resolves once it runs. */
  async function occupy(pool: PoolUnderTest, gate: Gate): Promise<{ blocker: Promise<unknown> }> {
    const blocker = track(pool.run(blockUntilReleased, gate.port, 'blocker'));
    await gate.connected(1);
    return { blocker };
  }

  // The groups run side by side, their tests one after another: every test makes and destroys pools
  // of its own, and most of the time is spent starting workers and waiting on them. Three at once, so
  // that the bounds (SOON_MS) keep their slack on two loaded cores.
  describe(`${name}: executor conformance`, { concurrency: 3 }, () => {
    describe('running tasks', ONE_AT_A_TIME, () => {
      it('runs a task reference and resolves with its result', T, async (t) => {
        const pool = usePool(t, { maxWorkers: 2 });
        assert.equal(await pool.run(add, 2, 3), 5);
        assert.equal(await pool.submit(add, [40, 2]), 42);
      });

      it('round-trips structured-clone arguments and results unchanged', T, async (t) => {
        const pool = usePool(t, { maxWorkers: 1 });
        const value = {
          map: new Map<unknown, unknown>([
            [1, { deep: [1, 2, { deeper: 'yes' }] }],
            ['k', new Set([1, 'two'])],
          ]),
          date: new Date('2024-02-29T12:34:56.789Z'),
          regexp: /sk(e)in/giu,
          floats: new Float64Array([0.5, -1.25, Number.MAX_VALUE]),
          bytes: new Uint8Array([0, 1, 254, 255]),
          bigint: 2n ** 70n,
          specials: [Number.NaN, -0, Number.POSITIVE_INFINITY, null, undefined, true],
          nested: { a: { b: { c: { d: ['e'] } } } },
          text: 'ünïcødé ✓',
          buffer: new Uint16Array([1, 2, 3]).buffer,
        };
        assert.deepStrictEqual(await pool.run(echo, value), value);
        assert.equal(await pool.run(countArgs, 1, 'two', [3], { four: 4 }, undefined), 5);
      });

      it(
        'accepts a transfer list and moves buffers back from a task that returns transfer()',
        T,
        async (t) => {
          const pool = usePool(t, { maxWorkers: 1 });
          const bytes = new Uint8Array(1024).map((_, i) => i % 256);
          const expected = bytes.reduce((sum, b) => sum + b, 0);
          assert.equal(await pool.submit(sumBytes, [bytes], { transfer: [bytes.buffer] }), expected);
          const array = await pool.run(makeBuffer, 1000);
          assert.ok(array instanceof Float64Array);
          assert.equal(array.length, 1000);
          assert.equal(array[999], 499.5);
        },
      );

      it('delivers every result exactly once with many workers and thousands of tasks', T, async (t) => {
        const pool = usePool(t, { maxWorkers: 4 });
        let next = 0;
        for (let round = 0; round < 5; round++) {
          const viaRun = range(400, next);
          const viaMap = range(400, next + 400);
          const viaUnordered = range(200, next + 800);
          next += 1000;
          const [runResults, mapResults, unordered] = await Promise.all([
            Promise.all(viaRun.map((i) => pool.run(tagWithWorker, i))),
            pool.map(tagWithWorker, viaMap, { chunkSize: 7 }),
            (async () => {
              const seen: [number, number][] = [];
              for await (const result of pool.imapUnordered(tagWithWorker, viaUnordered, { chunkSize: 3 })) {
                seen.push(result);
              }
              return seen;
            })(),
          ]);
          assert.deepEqual(
            runResults.map(([item]) => item),
            viaRun,
          );
          assert.deepEqual(
            mapResults.map(([item]) => item),
            viaMap,
          );
          assert.deepEqual(sortedNumbers(unordered.map(([item]) => item)), viaUnordered);
          for (const [, workerId] of [...runResults, ...mapResults, ...unordered]) {
            assert.ok(Number.isInteger(workerId) && workerId >= 0, `workerId ${workerId} is a pool id`);
          }
        }
      });

      it('delivers each progress value in order before the call settles', T, async (t) => {
        const pool = usePool(t, { maxWorkers: 2 });
        for (let round = 0; round < 3; round++) {
          const seen: unknown[] = [];
          const result = await pool.submit(emitProgress, [200], { onProgress: (value) => seen.push(value) });
          assert.equal(result, 'done');
          assert.deepEqual(seen, range(200, 1));
        }
      });

      it('delivers what a call prints to its onOutput, in order, before the call settles', T, async (t) => {
        const pool = usePool(t, { maxWorkers: 2 });
        const calls = ['x', 'y', 'z'].map(async (tag) => {
          const seen: string[] = [];
          const result = await pool.submit(printLines, [tag, 20], {
            onOutput: (stream, text) => {
              for (const line of text.split('\n')) if (line !== '') seen.push(`${stream} ${line}`);
            },
          });
          assert.equal(result, 20);
          assert.deepEqual(
            seen,
            range(20, 1).flatMap((i) => [`stdout ${tag} out ${i}`, `stderr ${tag} err ${i}`]),
          );
        });
        await within(Promise.all(calls), SOON_MS, 'printing calls');
      });

      it('runs higher priority tasks first and equal priorities in submission order', T, async (t) => {
        const pool = usePool(t, { maxWorkers: 1 });
        const gate = await useGate(t);
        const { blocker } = await occupy(pool, gate);
        const order: string[] = [];
        const submit = (label: string, priority: number): Promise<unknown> =>
          track(pool.submit(echo, [label], { priority }).then((value) => order.push(value as string)));
        // A filler of the lowest priority first: a pool that hands one task to the busy worker ahead of
        // time hands this one; otherwise it simply runs last.
        const calls = [
          submit('filler', -100),
          submit('a0', 0),
          submit('b5', 5),
          submit('c1', 1),
          submit('d5', 5),
          submit('e10', 10),
          submit('f0', 0),
        ];
        gate.release();
        await blocker;
        await within(Promise.all(calls), SOON_MS, 'prioritized calls');
        assert.deepEqual(
          order.filter((label) => label !== 'filler'),
          ['e10', 'b5', 'd5', 'c1', 'a0', 'f0'],
        );
      });
    });

    describe('parallelism', ONE_AT_A_TIME, () => {
      it(
        'gives a task submitted while the only started worker runs a long task a new worker, not a place behind it',
        T,
        async (t) => {
          const pool = usePool(t, { maxWorkers: 2 });
          const gate = await useGate(t);
          assert.equal(await pool.run(add, 1, 2), 3); // one worker started, and a run time on record
          const { blocker } = await occupy(pool, gate);
          assert.equal(
            await within(pool.run(add, 3, 4), SOON_MS, 'the short task beside the blocked one'),
            7,
          );
          gate.release();
          assert.equal(await blocker, 'blocker');
        },
      );

      it(
        'starts a second task on another worker while the first one blocks, from a cold start',
        T,
        async (t) => {
          const pool = usePool(t, { minWorkers: 2, maxWorkers: 2 });
          const gate = await useGate(t);
          const first = track(pool.run(blockUntilReleased, gate.port, 'first'));
          const second = track(pool.run(blockUntilReleased, gate.port, 'second'));
          // Both must be running at once: neither waits behind the other while a worker is free.
          await gate.connected(2);
          gate.release();
          assert.deepEqual(await Promise.all([first, second]), ['first', 'second']);
        },
      );

      it(
        'lets an idle worker take back short calls handed whole to a worker that then blocks',
        T,
        async (t) => {
          const pool = usePool(t, { minWorkers: 2, maxWorkers: 2 });
          // The blocker's task resolved once (a first call of a task waits for that, and would be
          // queued after the short calls), then short calls on record: a few of them together now go
          // to one worker whole.
          const opened = await useGate(t);
          opened.release();
          assert.equal(await pool.run(blockUntilReleased, opened.port, 'warm'), 'warm');
          for (let i = 0; i < 30; i++) await Promise.all(range(3).map((k) => pool.run(add, i, k)));
          const gate = await useGate(t);
          // One synchronous burst, so one batch: the blocker, then short calls behind it.
          const blocked = track(pool.run(blockUntilReleased, gate.port, 'blocked'));
          const short = range(4).map((i) => pool.run(add, i, 10));
          await gate.connected(1);
          assert.deepEqual(
            await within(Promise.all(short), SOON_MS, 'short calls behind a blocked one'),
            [10, 11, 12, 13],
          );
          gate.release();
          assert.equal(await blocked, 'blocked');
        },
      );

      it('runs queued tasks on whichever worker frees up first', T, async (t) => {
        const pool = usePool(t, { minWorkers: 2, maxWorkers: 2 });
        assert.equal((await pool.broadcast(whoami)).length, 2);
        const gate = await useGate(t);
        const blocked = track(pool.run(blockUntilReleased, gate.port, 'blocked'));
        await gate.connected(1);
        // One worker is held for the whole test: every other call must complete on the other one.
        const results = await within(
          Promise.all(range(30).map((i) => pool.run(jitterEcho, i))),
          SOON_MS,
          'calls beside a blocked worker',
        );
        assert.deepEqual(results, range(30));
        gate.release();
        assert.equal(await blocked, 'blocked');
      });
    });

    describe('map, imap, imapUnordered and starmap', ONE_AT_A_TIME, () => {
      it('map returns results in input order while completion order differs', T, async (t) => {
        const pool = usePool(t, { maxWorkers: 3 });
        const items = range(300);
        assert.deepEqual(await pool.map(jitterEcho, items, { chunkSize: 1 }), items);
        assert.deepEqual(
          await pool.map(square, items, { chunkSize: 16 }),
          items.map((n) => n * n),
        );
        assert.deepEqual(
          await pool.map(square, items),
          items.map((n) => n * n),
        );
        assert.deepEqual(await pool.map(square, []), []);
      });

      it('imap yields results in input order', T, async (t) => {
        const pool = usePool(t, { maxWorkers: 3 });
        const seen: number[] = [];
        for await (const value of pool.imap(jitterEcho, range(200), { chunkSize: 2 })) seen.push(value);
        assert.deepEqual(seen, range(200));
      });

      it('imapUnordered yields every result once, in completion order', T, async (t) => {
        const pool = usePool(t, { minWorkers: 2, maxWorkers: 2 });
        await pool.broadcast(whoami);
        const gate = await useGate(t);
        const items: GatedItem[] = range(10).map((value) => ({ port: gate.port, value, block: value === 0 }));
        const seen: number[] = [];
        for await (const value of pool.imapUnordered(passOrBlock, items, { chunkSize: 1 })) {
          seen.push(value);
          // Item 0 holds its worker until released, so a later item completes and is yielded first.
          if (seen.length === 1) gate.release();
        }
        assert.notEqual(seen[0], 0);
        assert.deepEqual(sortedNumbers(seen), range(10));
        const many: number[] = [];
        for await (const value of pool.imapUnordered(jitterEcho, range(500))) many.push(value);
        assert.deepEqual(sortedNumbers(many), range(500));
      });

      it('starmap calls the task with each argument list, in input order', T, async (t) => {
        const pool = usePool(t, { maxWorkers: 2 });
        assert.deepEqual(
          await pool.starmap(add, [
            [1, 2],
            [3, 4],
            [5, 6],
          ]),
          [3, 7, 11],
        );
        const argLists = range(60).map((i): [number, number] => [i, (i * 7) % 5]);
        assert.deepEqual(await pool.starmap(delayedEcho, argLists, { chunkSize: 1 }), range(60));
      });

      it('takes async iterables as sources', T, async (t) => {
        const pool = usePool(t, { maxWorkers: 2 });
        async function* numbers(count: number): AsyncGenerator<number> {
          for (let i = 0; i < count; i++) {
            if (i % 10 === 0) await delay(0);
            yield i;
          }
        }
        async function* pairs(): AsyncGenerator<[number, number]> {
          for (let i = 0; i < 20; i++) yield [i, i];
        }
        assert.deepEqual(
          await pool.map(square, numbers(100), { chunkSize: 4 }),
          range(100).map((n) => n * n),
        );
        assert.deepEqual(
          await pool.starmap(add, pairs()),
          range(20).map((n) => 2 * n),
        );
        const unordered: number[] = [];
        for await (const value of pool.imapUnordered(square, numbers(50))) unordered.push(value);
        assert.deepEqual(
          sortedNumbers(unordered),
          range(50).map((n) => n * n),
        );
      });

      it(
        'sends items in chunks of chunkSize to one worker and reports progress after each chunk',
        T,
        async (t) => {
          const pool = usePool(t, { maxWorkers: 3 });
          const done: number[] = [];
          const results = await pool.map(tagWithWorker, range(100), {
            chunkSize: 25,
            onProgress: (count) => done.push(count),
          });
          assert.deepEqual(
            results.map(([item]) => item),
            range(100),
          );
          for (let chunk = 0; chunk < 4; chunk++) {
            const workers = new Set(
              results.slice(chunk * 25, chunk * 25 + 25).map(([, workerId]) => workerId),
            );
            assert.equal(workers.size, 1, `chunk ${chunk} ran in one worker`);
          }
          assert.deepEqual(done, [25, 50, 75, 100]);
        },
      );

      it('pulls from a lazy source no faster than results are consumed (backpressure)', T, async (t) => {
        const pool = usePool(t, { maxWorkers: 2 });
        const maxInFlight = 2;
        const chunkSize = 3;
        // Items pulled but not yet consumed: at most maxInFlight chunks outstanding plus one being filled.
        const bound = (maxInFlight + 1) * chunkSize;
        let pulled = 0;
        function* naturals(): Generator<number> {
          for (let i = 0; ; i++) {
            pulled++;
            yield i;
          }
        }
        let consumed = 0;
        let worst = 0;
        for await (const value of pool.imap(square, naturals(), { maxInFlight, chunkSize })) {
          assert.equal(value, consumed * consumed);
          consumed++;
          worst = Math.max(worst, pulled - consumed);
          // A slow consumer: give the pool ample time to read ahead if it would.
          if (consumed % 10 === 0) await delay(25);
          else await new Promise((resolve) => setImmediate(resolve));
          if (consumed === 60) break;
        }
        assert.ok(worst <= bound, `pulled ran ${worst} items ahead of consumption; bound ${bound}`);
        const pulledAtBreak = pulled;
        // More work through the pool after the break: the abandoned source is not read again.
        assert.deepEqual(
          await pool.map(square, range(20)),
          range(20).map((n) => n * n),
        );
        assert.equal(pulled, pulledAtBreak, 'the source was read after the loop broke');
      });

      it('bounds an async source the same way while the consumer is slow', T, async (t) => {
        const pool = usePool(t, { maxWorkers: 2 });
        const maxInFlight = 1;
        const chunkSize = 4;
        const bound = (maxInFlight + 1) * chunkSize;
        let pulled = 0;
        async function* naturals(): AsyncGenerator<number> {
          for (let i = 0; ; i++) {
            pulled++;
            yield i;
          }
        }
        let consumed = 0;
        let worst = 0;
        for await (const value of pool.imapUnordered(square, naturals(), { maxInFlight, chunkSize })) {
          assert.equal(typeof value, 'number');
          consumed++;
          worst = Math.max(worst, pulled - consumed);
          if (consumed % 8 === 0) await delay(25);
          if (consumed === 40) break;
        }
        assert.ok(worst <= bound, `pulled ran ${worst} items ahead of consumption; bound ${bound}`);
      });

      it('rejects the map with the error of a failing item', T, async (t) => {
        const pool = usePool(t, { maxWorkers: 2 });
        const outcome = await settle(() => pool.map(rejectThirteen, range(40), { chunkSize: 4 }));
        assert.equal(outcome.status, 'rejected');
        const reason = (outcome as { reason: Error }).reason;
        assert.equal(reason.name, 'RangeError');
        assert.equal(reason.message, 'item 13 is unlucky');
        const ordered = await settle(async () => {
          for await (const _ of pool.imap(rejectThirteen, range(40))) {
            // Drain.
          }
        });
        assert.equal(ordered.status, 'rejected');
        assert.equal((ordered as { reason: Error }).reason.message, 'item 13 is unlucky');
        assert.deepEqual(await pool.map(square, [3]), [9], 'the pool keeps working');
      });

      it('rejects the map with the error a source throws', T, async (t) => {
        const pool = usePool(t, { maxWorkers: 2 });
        async function* broken(): AsyncGenerator<number> {
          yield 1;
          yield 2;
          throw new Error('source broke');
        }
        const outcome = await settle(() => pool.map(square, broken()));
        assert.equal(outcome.status, 'rejected');
        assert.equal((outcome as { reason: Error }).reason.message, 'source broke');
      });

      it('rejects a map with SKEIN_ABORTED when its signal aborts', T, async (t) => {
        const pool = usePool(t, { maxWorkers: 2 });
        const controller = new AbortController();
        const reason = await rejectsWithCode(
          () =>
            pool.map(
              sleep,
              Array.from({ length: 200 }, () => 100),
              {
                chunkSize: 1,
                signal: controller.signal,
                onProgress: () => controller.abort(new Error('enough')),
              },
            ),
          'SKEIN_ABORTED',
        );
        assert.ok(reason instanceof AbortError);
      });

      it('rejects a map at once with SKEIN_ABORTED when its signal is already aborted', T, async (t) => {
        const pool = usePool(t, { maxWorkers: 1 });
        const error = await rejectsWithCode(
          () => pool.map(square, range(5), { signal: AbortSignal.abort() }),
          'SKEIN_ABORTED',
        );
        assert.ok(error instanceof AbortError);
        const ordered = pool.imap(square, range(5), { signal: AbortSignal.abort() });
        await rejectsWithCode(() => ordered.next(), 'SKEIN_ABORTED', 'imap with an already aborted signal');
      });
    });

    describe('limits and cancellation', ONE_AT_A_TIME, () => {
      it('rejects calls beyond maxQueue at once with SKEIN_POOL_QUEUE_FULL', T, async (t) => {
        const pool = usePool(t, { maxWorkers: 1, maxQueue: 2 });
        const gate = await useGate(t);
        const { blocker } = await occupy(pool, gate);
        const calls = range(10).map((i) => {
          const call = { settled: false, outcome: settle(() => pool.run(echo, i)) };
          void call.outcome.then(() => {
            call.settled = true;
          });
          return call;
        });
        // The worker is held, so accepted calls stay pending; refusals settle at once (within one turn).
        await new Promise((resolve) => setImmediate(resolve));
        const refused = calls.filter((call) => call.settled);
        const accepted = calls.filter((call) => !call.settled);
        for (const call of refused) {
          const outcome = await call.outcome;
          assert.equal(outcome.status, 'rejected');
          const reason = (outcome as { reason: unknown }).reason;
          assert.equal(codeOf(reason), 'SKEIN_POOL_QUEUE_FULL');
          assert.ok(reason instanceof SkeinError);
        }
        // Two wait in the queue; a pool may also have handed one to the busy worker ahead of time.
        assert.ok(
          accepted.length >= 2 && accepted.length <= 3,
          `${accepted.length} of 10 accepted with maxQueue 2`,
        );
        gate.release();
        await blocker;
        for (const call of accepted) assert.equal((await call.outcome).status, 'fulfilled');
      });

      it('removes a cancelled queued task so it never runs', T, async (t) => {
        const dir = tempDir();
        t.after(() => dir.remove());
        const file = join(dir.path, 'ran.txt');
        writeFileSync(file, '');
        const pool = usePool(t, { maxWorkers: 1 });
        const gate = await useGate(t);
        const { blocker } = await occupy(pool, gate);
        const controller = new AbortController();
        const cancelled = settle(() =>
          pool.submit(appendLine, [file, 'cancelled'], { signal: controller.signal }),
        );
        const kept = track(pool.run(appendLine, file, 'kept'));
        const reason = new Error('changed my mind');
        controller.abort(reason);
        const outcome = await within(cancelled, SOON_MS, 'cancelled queued call');
        assert.equal(outcome.status, 'rejected');
        const error = (outcome as { reason: unknown }).reason;
        assert.ok(error instanceof AbortError);
        assert.equal(codeOf(error), 'SKEIN_ABORTED');
        assert.equal((error as Error).cause, reason);
        gate.release();
        await blocker;
        await kept;
        await pool.run(appendLine, file, 'after');
        assert.equal(readFileSync(file, 'utf8'), 'kept\nafter\n');
      });

      it(
        'rejects at once with SKEIN_ABORTED and sends nothing when the signal is already aborted',
        T,
        async (t) => {
          const dir = tempDir();
          t.after(() => dir.remove());
          const file = join(dir.path, 'ran.txt');
          writeFileSync(file, '');
          const pool = usePool(t, { maxWorkers: 1 });
          const reason = new Error('aborted before the call');
          const error = await rejectsWithCode(
            () => pool.submit(appendLine, [file, 'must not run'], { signal: AbortSignal.abort(reason) }),
            'SKEIN_ABORTED',
          );
          assert.ok(error instanceof AbortError);
          assert.equal((error as Error).cause, reason);
          await pool.run(appendLine, file, 'after');
          assert.equal(readFileSync(file, 'utf8'), 'after\n');
        },
      );

      it(
        "cancels a running task through its signal in cancelMode 'signal' and keeps the worker",
        T,
        async (t) => {
          const pool = usePool(t, { maxWorkers: 1 });
          const { call, ready, controller } = await runCancellable<Ready>((options) =>
            pool.submit(notifyThenSleep, [60_000], options),
          );
          controller.abort(new Error('stop now'));
          const outcome = await within(call, SOON_MS, 'cancelled running call');
          assert.equal(outcome.status, 'rejected');
          assert.equal(codeOf((outcome as { reason: unknown }).reason), 'SKEIN_ABORTED');
          const seen = await pool.run(lastSleepOutcome);
          assert.equal(seen.outcome, 'aborted', 'the task saw its signal abort');
          assert.equal(seen.cancelledFlag, true, 'taskContext().cancelled is true after cancellation');
          assert.equal(seen.workerId, ready.workerId);
          assert.equal(seen.readerWorkerId, ready.workerId, 'the same worker lives on');
        },
      );

      it('sets taskContext().cancelled for a task spinning in a synchronous loop', T, async (t) => {
        const pool = usePool(t, { maxWorkers: 1 });
        const { call, ready, controller } = await runCancellable<Ready>((options) =>
          pool.submit(spinUntilCancelled, [20_000], options),
        );
        controller.abort();
        const outcome = await within(call, SOON_MS, 'cancelled spinning call');
        assert.equal(codeOf((outcome as { reason: unknown }).reason), 'SKEIN_ABORTED');
        const seen = await within(pool.run(lastSpinOutcome), SOON_MS, 'reading the spin outcome');
        assert.equal(seen.ended, 'cancelled', 'the loop saw the cancelled flag');
        assert.equal(seen.readerWorkerId, ready.workerId);
      });

      it(
        "stops a running task that never checks by replacing its worker in cancelMode 'terminate'",
        T,
        async (t) => {
          const pool = usePool(t, { maxWorkers: 1 });
          const { call, ready, controller } = await runCancellable<Ready>((options) =>
            pool.submit(notifyThenSpin, [120_000], { ...options, cancelMode: 'terminate' }),
          );
          controller.abort();
          const outcome = await within(call, SOON_MS, 'terminated call');
          assert.equal(outcome.status, 'rejected');
          assert.ok((outcome as { reason: unknown }).reason instanceof AbortError);
          const after = await within(pool.run(whoami), SOON_MS, 'a task after the terminate');
          assert.notEqual(after.workerId, ready.workerId, 'the worker was replaced');
        },
      );

      it('times out a running task with SKEIN_TIMEOUT and aborts its signal', T, async (t) => {
        const pool = usePool(t, { maxWorkers: 1 });
        const progress = firstProgress<Ready>();
        const error = await rejectsWithCode(
          () => pool.submit(notifyThenSleep, [60_000], { timeout: 200, onProgress: progress.onProgress }),
          'SKEIN_TIMEOUT',
        );
        assert.ok(error instanceof TimeoutError);
        const ready = await progress.next;
        const seen = await pool.run(lastSleepOutcome);
        assert.equal(seen.outcome, 'aborted');
        assert.equal(seen.readerWorkerId, ready.workerId, 'the worker lives on');
      });

      it('counts the timeout from the moment the task starts, not from queueing', T, async (t) => {
        const pool = usePool(t, { maxWorkers: 1 });
        const blocker = track(pool.run(sleep, 2000));
        // Queued behind two seconds of work with a one second timeout: only the run time counts.
        const queued = pool.submit(echo, ['queued'], { timeout: 1000 });
        assert.equal(await queued, 'queued');
        assert.equal(await blocker, 2000);
      });

      it("applies the pool's taskTimeout and cancelMode as defaults", T, async (t) => {
        const pool = usePool(t, { maxWorkers: 1, taskTimeout: 300, cancelMode: 'terminate' });
        const progress = firstProgress<Ready>();
        await rejectsWithCode(
          () => pool.submit(notifyThenSpin, [120_000], { onProgress: progress.onProgress }),
          'SKEIN_TIMEOUT',
        );
        const ready = await progress.next;
        const after = await within(pool.run(whoami), SOON_MS, 'a task after the timeout');
        assert.notEqual(after.workerId, ready.workerId, 'the spinning worker was terminated');
        assert.equal(await pool.run(echo, 'fast'), 'fast');
      });
    });

    describe('errors from tasks and bad input', ONE_AT_A_TIME, () => {
      it(
        'keeps class name, message, stack, cause chain and own properties of a thrown error',
        T,
        async (t) => {
          const pool = usePool(t, { maxWorkers: 1 });
          const outcome = await settle(() => pool.run(throwValidationError, 'email is invalid'));
          assert.equal(outcome.status, 'rejected');
          const error = (outcome as { reason: Error & Record<string, unknown> }).reason;
          assert.ok(error instanceof Error);
          assert.equal(error.name, 'ValidationError');
          assert.equal(error.constructor.name, 'ValidationError');
          assert.equal(error.message, 'email is invalid');
          assert.match(error.stack ?? '', /email is invalid/);
          assert.match(error.stack ?? '', /throw-error\.ts/, 'the stack shows where the task threw');
          assert.equal(error.code, 'E_VALIDATION');
          assert.equal(error.statusCode, 422);
          assert.deepEqual(error.details, { field: 'email', rules: ['required', 'format'] });
          const middle = error.cause as Error;
          assert.ok(middle instanceof Error);
          assert.equal(middle.message, 'middle cause');
          const root = middle.cause as Error;
          assert.ok(root instanceof Error);
          assert.equal(root.name, 'RangeError');
          assert.equal(root.message, 'root cause');
          const typeError = await settle(() => pool.run(throwTypeError, 'not a number'));
          const reason = (typeError as { reason: Error }).reason;
          assert.equal(reason.name, 'TypeError');
          assert.equal(reason.constructor.name, 'TypeError');
          assert.equal(reason.message, 'not a number');
        },
      );

      it("returns Skein's own errors from a task as their classes", T, async (t) => {
        const pool = usePool(t, { maxWorkers: 1 });
        const error = await rejectsWithCode(() => pool.run(throwSkeinError), 'SKEIN_TASK_INVALID');
        assert.ok(error instanceof InvalidArgumentError);
        assert.ok(error instanceof SkeinError);
      });

      it('rejects a thrown non-Error with SKEIN_NON_ERROR_THROWN, the value in cause', T, async (t) => {
        const pool = usePool(t, { maxWorkers: 1 });
        for (const value of ['plain string', 42, { reason: 'object', list: [1, 2] }, null]) {
          const error = await rejectsWithCode(() => pool.run(throwValue, value), 'SKEIN_NON_ERROR_THROWN');
          assert.ok(error instanceof Error);
          assert.deepEqual((error as Error).cause, value);
        }
        assert.equal(await pool.run(echo, 'alive'), 'alive', 'a non-Error throw does not kill the worker');
      });

      it('runs self-contained inline functions', T, async (t) => {
        const pool = usePool(t, { maxWorkers: 2 });
        assert.equal(await pool.run((a: number, b: number) => a + b, 2, 3), 5);
        function multiply(a: number, b: number): number {
          return a * b;
        }
        assert.equal(await pool.run(multiply, 6, 7), 42);
        const kind = await pool.run(async () => {
          const os = await import('node:os');
          return typeof os.availableParallelism;
        });
        assert.equal(kind, 'function');
        assert.deepEqual(await pool.map((n: number) => n + 1, [1, 2, 3]), [2, 3, 4]);
      });

      it('fails an inline function that uses a closure variable with the error it raises', T, async (t) => {
        const pool = usePool(t, { maxWorkers: 1 });
        const offset = 10;
        const outcome = await settle(() => pool.run((n: number) => n + offset, 1));
        assert.equal(outcome.status, 'rejected');
        assert.equal((outcome as { reason: Error }).reason.name, 'ReferenceError');
      });

      it('refuses bound and native functions with SKEIN_POOL_INVALID_TASK', T, async (t) => {
        const pool = usePool(t, { maxWorkers: 1 });
        function plus(this: unknown, a: number, b: number): number {
          return a + b;
        }
        const error = await rejectsWithCode(() => pool.run(plus.bind(null), 1, 2), 'SKEIN_POOL_INVALID_TASK');
        assert.ok(error instanceof InvalidArgumentError);
        await rejectsWithCode(() => pool.run(Math.max, 1, 2), 'SKEIN_POOL_INVALID_TASK');
        await rejectsWithCode(() => pool.run(parseInt, '1'), 'SKEIN_POOL_INVALID_TASK');
      });

      it('refuses values that are not functions with SKEIN_POOL_INVALID_TASK', T, async (t) => {
        const pool = usePool(t, { maxWorkers: 1 });
        for (const value of [42, 'return 1', {}, null, undefined, [echo]]) {
          await rejectsWithCode(
            () => pool.run(value as never),
            'SKEIN_POOL_INVALID_TASK',
            `run(${String(value)})`,
          );
        }
        await rejectsWithCode(
          () => pool.map('x' as never, [1]),
          'SKEIN_POOL_INVALID_TASK',
          'map of a string',
        );
      });

      it('rejects with SKEIN_POOL_TASK_NOT_FOUND when the task module cannot be imported', T, async (t) => {
        const pool = usePool(t, { maxWorkers: 1 });
        const missing = task({ url: fixtureUrl('no-such-module.ts') }, () => 1, { name: 'missing' });
        await rejectsWithCode(() => pool.run(missing), 'SKEIN_POOL_TASK_NOT_FOUND', 'missing module');
        const broken = task({ url: fixtureUrl('throws-on-import.ts') }, () => 1, { name: 'broken' });
        await rejectsWithCode(
          () => pool.run(broken),
          'SKEIN_POOL_TASK_NOT_FOUND',
          'module that throws on import',
        );
        assert.equal(await pool.run(echo, 'alive'), 'alive');
      });

      it('rejects with SKEIN_POOL_TASK_NOT_FOUND naming an export the module lacks', T, async (t) => {
        const pool = usePool(t, { maxWorkers: 1 });
        const absent = task({ url: fixtureUrl('echo.ts') }, () => 1, { name: 'noSuchExport' });
        const error = await rejectsWithCode(() => pool.run(absent), 'SKEIN_POOL_TASK_NOT_FOUND');
        assert.match((error as Error).message, /noSuchExport/);
      });

      it(
        'rejects a task or actor that its module does not export with SKEIN_TASK_NOT_EXPORTED',
        T,
        async (t) => {
          const pool = usePool(t, { maxWorkers: 1 });
          await rejectsWithCode(
            () => pool.run(getHiddenTask()),
            'SKEIN_TASK_NOT_EXPORTED',
            'unexported task',
          );
          await rejectsWithCode(
            () => pool.actor(getHiddenActor()),
            'SKEIN_TASK_NOT_EXPORTED',
            'unexported actor',
          );
        },
      );

      it('rejects an uncloneable argument with SKEIN_POOL_NOT_CLONEABLE naming its index', T, async (t) => {
        const pool = usePool(t, { maxWorkers: 1 });
        const error = await rejectsWithCode(
          () => pool.run(countArgs, 1, 'two', { nested: { callback: () => 3 } }),
          'SKEIN_POOL_NOT_CLONEABLE',
        );
        assert.ok(error instanceof InvalidArgumentError);
        assert.match((error as Error).message, /\b2\b/, 'the message names argument 2');
        assert.equal(await pool.run(countArgs, 1, 2), 2, 'the pool keeps working');
      });

      it('rejects an uncloneable result with SKEIN_POOL_NOT_CLONEABLE', T, async (t) => {
        const pool = usePool(t, { maxWorkers: 1 });
        await rejectsWithCode(() => pool.run(() => ({ f: () => 1 })), 'SKEIN_POOL_NOT_CLONEABLE');
        assert.equal(await pool.run(echo, 'alive'), 'alive');
      });

      it('throws SKEIN_POOL_INVALID_OPTION naming the option for invalid pool options', T, () => {
        const cases: [PoolOptions, RegExp][] = [
          [{ maxWorkers: 0 }, /maxWorkers/],
          [{ maxWorkers: 1.5 }, /maxWorkers/],
          [{ minWorkers: 3, maxWorkers: 2 }, /minWorkers/],
          [{ idleTimeout: -1 }, /idleTimeout/],
          [{ maxQueue: -1 }, /maxQueue/],
          [{ taskTimeout: -5 }, /taskTimeout/],
          [{ closeTimeout: -1 }, /closeTimeout/],
          [{ maxTasksPerWorker: 0 }, /maxTasksPerWorker/],
          [{ cancelMode: 'kill' as never }, /cancelMode/],
          [{ resourceLimits: { maxOldGenerationSizeMb: 0 } }, /resourceLimits\.maxOldGenerationSizeMb/],
          [{ initializer: { task: () => 0 } }, /initializer/],
          [{ env: { A: 1 as never } }, /env\.A/],
          [{ execArgv: '--inspect' as never }, /execArgv/],
          [{ name: '' }, /name/],
          [{ trace: 'yes' as never }, /trace/],
        ];
        for (const [options, mentions] of cases) {
          assert.throws(
            () => makePool(options),
            (error: unknown) => {
              assert.ok(
                error instanceof InvalidArgumentError,
                `${JSON.stringify(options)}: InvalidArgumentError`,
              );
              assert.equal(codeOf(error), 'SKEIN_POOL_INVALID_OPTION');
              assert.match((error as Error).message, mentions);
              return true;
            },
          );
        }
      });

      it('rejects invalid call options with SKEIN_POOL_INVALID_OPTION', T, async (t) => {
        const pool = usePool(t, { maxWorkers: 1 });
        const calls: [string, () => unknown][] = [
          ['timeout', () => pool.submit(echo, [1], { timeout: -1 })],
          ['cancelMode', () => pool.submit(echo, [1], { cancelMode: 'kill' as never })],
          ['priority', () => pool.submit(echo, [1], { priority: 'high' as never })],
          ['chunkSize', () => pool.map(echo, [1], { chunkSize: 0 })],
          ['maxInFlight', () => pool.map(echo, [1], { maxInFlight: 0 })],
        ];
        for (const [option, call] of calls) {
          const error = await rejectsWithCode(call, 'SKEIN_POOL_INVALID_OPTION', option);
          assert.match((error as Error).message, new RegExp(option));
        }
      });
    });

    describe('worker crashes', ONE_AT_A_TIME, () => {
      interface CrashKind {
        label: string;
        options?: PoolOptions;
        start(pool: PoolUnderTest, port: number, options: RunOptions): Promise<unknown>;
        check?(error: WorkerCrashedError): void;
      }
      const kinds: CrashKind[] = [
        {
          label: 'calls process.exit()',
          start: (pool, port, options) => pool.submit(exitWithCode, [7, port], options),
          check: (error) => assert.equal(error.exitCode, 7),
        },
        {
          label: 'throws an uncaught Error from a timer',
          start: (pool, port, options) => pool.submit(throwUncaught, ['boom from a timer', port], options),
        },
        {
          label: 'throws a non-Error to the top level',
          start: (pool, port, options) => pool.submit(throwStringUncaught, ['a bare string', port], options),
        },
        {
          label: 'runs out of memory under resourceLimits',
          options: { resourceLimits: { maxOldGenerationSizeMb: 32 } },
          start: (pool, port, options) => pool.submit(allocateUntilOom, [port], options),
        },
      ];
      for (const kind of kinds) {
        it(
          `rejects only the running call with SKEIN_POOL_WORKER_CRASHED when its worker ${kind.label}`,
          T,
          async (t) => {
            const pool = usePool(t, { minWorkers: 2, maxWorkers: 2, ...kind.options });
            assert.equal((await pool.broadcast(whoami)).length, 2);
            const gate = await useGate(t);
            const crashProgress = firstProgress<Ready>();
            const crash = settle(() => kind.start(pool, gate.port, { onProgress: crashProgress.onProgress }));
            // The known point: the crashing task runs and waits on the gate.
            await gate.connected(1);
            const crashReady = await crashProgress.next;
            // Calls made while it runs: the sibling blocks on the gate too; the rest are plain. Whichever
            // were handed to the doomed worker but not started must be given to another worker.
            const sibling = track(pool.run(blockUntilReleased, gate.port, 'sibling'));
            const waiting = range(20).map((i) => track(pool.run(echo, i)));
            gate.release();
            const outcome = await within(crash, SOON_MS, 'the crashing call');
            assert.equal(outcome.status, 'rejected');
            const error = (outcome as { reason: unknown }).reason;
            assert.ok(
              error instanceof WorkerCrashedError,
              `expected WorkerCrashedError, got ${String(error)}`,
            );
            assert.equal(error.code, 'SKEIN_POOL_WORKER_CRASHED');
            assert.equal(error.workerId, crashReady.workerId);
            kind.check?.(error);
            assert.equal(await within(sibling, SOON_MS, 'the sibling call'), 'sibling');
            assert.deepEqual(
              await within(Promise.all(waiting), SOON_MS, 'calls queued during the crash'),
              range(20),
            );
            const after = await within(
              pool.map(tagWithWorker, range(20), { chunkSize: 1 }),
              SOON_MS,
              'work after',
            );
            assert.deepEqual(
              after.map(([item]) => item),
              range(20),
            );
            assert.ok(
              !after.some(([, workerId]) => workerId === crashReady.workerId),
              'the dead worker ran nothing',
            );
            assert.ok(pool.stats().workers <= 2);
          },
        );
      }

      it('settles every call when crashes and ordinary tasks mix, repeatedly', T, async (t) => {
        const pool = usePool(t, { maxWorkers: 2 });
        for (let round = 0; round < 4; round++) {
          const crash = settle(() => pool.run(exitWithCode, 3));
          const ordinary = range(50).map((i) => pool.run(jitterEcho, i));
          const outcome = await within(crash, SOON_MS, `crash in round ${round}`);
          assert.equal(codeOf((outcome as { reason: unknown }).reason), 'SKEIN_POOL_WORKER_CRASHED');
          const settled = await within(
            Promise.allSettled(ordinary),
            SOON_MS,
            `ordinary calls in round ${round}`,
          );
          const fulfilled = settled.filter((s) => s.status === 'fulfilled').map((s) => s.value);
          for (const s of settled) {
            if (s.status === 'rejected') assert.equal(codeOf(s.reason), 'SKEIN_POOL_WORKER_CRASHED');
          }
          // No duplicates, nothing invented: the results are a subset of the inputs, once each.
          assert.equal(new Set(fulfilled).size, fulfilled.length);
          for (const value of fulfilled) assert.ok(value >= 0 && value < 50);
        }
        assert.deepEqual(
          await pool.map(square, range(10)),
          range(10).map((n) => n * n),
        );
      });
    });

    describe('actors', ONE_AT_A_TIME, () => {
      it('keeps actor state between calls and runs calls in call order', T, async (t) => {
        const pool = usePool(t, { maxWorkers: 2 });
        const counter = await pool.actor(Counter, 10);
        assert.equal(await counter.add(5), 15);
        assert.equal(await counter.get(), 15);
        const adds = range(100).map(() => counter.add(1));
        assert.deepEqual(await Promise.all(adds), range(100, 16));
        const records = [40, 30, 20, 10, 0].map((ms, i) => counter.record(i, ms));
        assert.deepEqual(await Promise.all(records), range(5));
        assert.deepEqual(await counter.recorded(), range(5), 'each call ran after the previous one');
        const other = await pool.actor(Counter);
        assert.equal(await other.add(1), 1, 'two actors keep separate state');
        assert.equal(await counter.get(), 115);
      });

      it('rejects calls after disposal with SKEIN_POOL_ACTOR_RELEASED', T, async (t) => {
        const pool = usePool(t, { maxWorkers: 1 });
        const counter = await pool.actor(Counter, 1);
        assert.equal(await counter.add(1), 2);
        await counter[Symbol.asyncDispose]();
        await rejectsWithCode(() => counter.get(), 'SKEIN_POOL_ACTOR_RELEASED');
      });

      it('rejects an unknown method name with SKEIN_POOL_ACTOR_METHOD', T, async (t) => {
        const pool = usePool(t, { maxWorkers: 1 });
        const counter = await pool.actor(Counter, 1);
        const loose = counter as unknown as Record<string, (...args: unknown[]) => Promise<unknown>>;
        const error = await rejectsWithCode(() => loose.noSuchMethod?.(1), 'SKEIN_POOL_ACTOR_METHOD');
        assert.match((error as Error).message, /noSuchMethod/);
        assert.equal(await counter.get(), 1, 'the actor lives on');
      });

      it('frees an actor at the end of an await using block', T, async (t) => {
        const pool = usePool(t, { maxWorkers: 1 });
        let escaped: { get(): Promise<number> } | undefined;
        {
          await using counter = await pool.actor(Counter, 3);
          escaped = counter;
          assert.equal(await counter.add(1), 4);
        }
        const released = escaped;
        await rejectsWithCode(() => released.get(), 'SKEIN_POOL_ACTOR_RELEASED');
      });

      it(
        'rejects pending and later calls with SKEIN_POOL_WORKER_CRASHED when the actor worker dies',
        T,
        async (t) => {
          const pool = usePool(t, { maxWorkers: 2 });
          const doomed = await pool.actor(ExitingActor);
          assert.equal(await doomed.ping(), 'pong');
          const exit = settle(() => doomed.exit(5));
          const pending = settle(() => doomed.ping());
          for (const outcome of await within(Promise.all([exit, pending]), SOON_MS, 'actor calls')) {
            assert.equal(outcome.status, 'rejected');
            assert.ok((outcome as { reason: unknown }).reason instanceof WorkerCrashedError);
          }
          await rejectsWithCode(() => doomed.ping(), 'SKEIN_POOL_WORKER_CRASHED', 'a call after the crash');
          assert.equal(await pool.run(echo, 'alive'), 'alive');
        },
      );

      it('never recycles a worker that holds a live actor', T, async (t) => {
        const pool = usePool(t, { maxWorkers: 1, maxTasksPerWorker: 2 });
        const counter = await pool.actor(Counter, 0);
        const home = await counter.workerId();
        for (let i = 0; i < 5; i++) {
          assert.equal(await counter.add(1), i + 1);
          assert.equal(await pool.run(echo, i), i);
        }
        assert.equal(await counter.workerId(), home);
        assert.equal(await counter.get(), 5);
      });
    });

    describe('workers', ONE_AT_A_TIME, () => {
      it('broadcast runs a task once on every live worker', T, async (t) => {
        const pool = usePool(t, { minWorkers: 3, maxWorkers: 3 });
        const ids = await pool.broadcast(setWorkerState, 'hello');
        assert.equal(ids.length, 3);
        assert.equal(new Set(ids).size, 3, 'distinct workers');
        const states = await pool.map(getWorkerState, range(30), { chunkSize: 1 });
        for (const state of states) assert.equal(state.value, 'hello');
        const lazy = usePool(t, { maxWorkers: 2 });
        assert.ok((await lazy.broadcast(whoami)).length >= 1, 'starts at least one worker');
      });

      it('runs the initializer once in every new worker before its first task', T, async (t) => {
        const pool = usePool(t, {
          minWorkers: 2,
          maxWorkers: 2,
          initializer: { task: initialize, args: ['ready'] },
        });
        const states = await pool.map(readInitState, range(40), { chunkSize: 1 });
        for (const state of states) assert.deepEqual([state.tag, state.initCount], ['ready', 1]);
        const everyWorker = await pool.broadcast(readInitState);
        assert.equal(new Set(everyWorker.map((s) => s.workerId)).size, 2);
        for (const state of everyWorker) assert.deepEqual([state.tag, state.initCount], ['ready', 1]);
        const recycling = usePool(t, {
          maxWorkers: 1,
          maxTasksPerWorker: 1,
          initializer: { task: initialize, args: ['again'] },
        });
        const replaced = [];
        for (let i = 0; i < 3; i++) replaced.push(await recycling.run(readInitState));
        assert.equal(new Set(replaced.map((s) => s.workerId)).size, 3);
        for (const state of replaced) assert.deepEqual([state.tag, state.initCount], ['again', 1]);
      });

      it('replaces a worker after maxTasksPerWorker tasks', T, async (t) => {
        const pool = usePool(t, { maxWorkers: 1, maxTasksPerWorker: 3 });
        const ids: number[] = [];
        for (let i = 0; i < 7; i++) ids.push((await pool.run(whoami)).workerId);
        assert.equal(ids[0], ids[2]);
        assert.notEqual(ids[3], ids[2]);
        assert.equal(ids[3], ids[5]);
        assert.notEqual(ids[6], ids[5]);
        assert.equal(new Set(ids).size, 3);
      });

      it('replaces a worker whose heap is above maxHeapUsedBytes after its task', T, async (t) => {
        const pool = usePool(t, { maxWorkers: 1, maxHeapUsedBytes: 1 });
        const ids: number[] = [];
        for (let i = 0; i < 3; i++) ids.push((await pool.run(whoami)).workerId);
        assert.equal(new Set(ids).size, 3);
      });

      it('passes env, execArgv and resourceLimits to every worker', T, async (t) => {
        const pool = usePool(t, {
          maxWorkers: 2,
          env: { SKEIN_TEST_MARK: 'from-env-option' },
          execArgv: ['--no-deprecation'],
          resourceLimits: { maxOldGenerationSizeMb: 48 },
        });
        assert.equal(await pool.run(readEnv, 'SKEIN_TEST_MARK'), 'from-env-option');
        const info = await pool.run(whoami);
        assert.ok(info.execArgv.includes('--no-deprecation'), `execArgv ${info.execArgv.join(' ')}`);
        // heap_size_limit adds the young generation to the old one: far below the default of gigabytes.
        assert.ok(info.heapLimitMb < 512, `heap limit ${info.heapLimitMb} MiB under a 48 MiB old generation`);
      });

      it('stops idle workers after idleTimeout and starts new ones on demand', T, async (t) => {
        const pool = usePool(t, { maxWorkers: 1, idleTimeout: 100 });
        const exited = Promise.withResolvers<number>();
        pool.on('workerExit', (workerId) => exited.resolve(workerId));
        const first = await pool.run(whoami);
        assert.equal(await within(exited.promise, SOON_MS, 'idle worker exit'), first.workerId);
        assert.equal(pool.stats().workers, 0);
        const second = await pool.run(whoami);
        assert.notEqual(second.workerId, first.workerId);
      });

      it('emits workerStart, workerExit and drain', T, async (t) => {
        const pool = makePool({ maxWorkers: 2 });
        t.after(() => pool.destroy());
        const started = new Set<number>();
        const exited = new Set<number>();
        pool.on('workerStart', (id) => started.add(id));
        pool.on('workerExit', (id) => exited.add(id));
        const drained = Promise.withResolvers<void>();
        pool.on('drain', () => drained.resolve());
        const results = await Promise.all(range(20).map((i) => pool.run(jitterEcho, i)));
        assert.deepEqual(results, range(20));
        await within(drained.promise, SOON_MS, 'drain event');
        await pool.close();
        assert.ok(started.size >= 1);
        assert.deepEqual([...exited].sort(), [...started].sort(), 'every started worker exited');
      });
    });

    describe('lifecycle', ONE_AT_A_TIME, () => {
      it(
        'close() finishes queued and running work, then refuses new calls with SKEIN_POOL_CLOSED',
        T,
        async (t) => {
          const pool = usePool(t, { maxWorkers: 1 });
          const gate = await useGate(t);
          const events: string[] = [];
          const blocker = track((await occupy(pool, gate)).blocker.then(() => events.push('blocker')));
          const queued = range(5).map((i) => track(pool.run(echo, i).then((v) => events.push(`task ${v}`))));
          const closing = pool.close().then(() => events.push('closed'));
          const refused = await rejectsWithCode(() => pool.run(echo, 'late'), 'SKEIN_POOL_CLOSED');
          assert.ok(refused instanceof SkeinError);
          gate.release();
          await within(closing, SOON_MS, 'close()');
          await Promise.all([blocker, ...queued]);
          assert.equal(events.at(-1), 'closed', `close() resolved last: ${events.join(', ')}`);
          assert.deepEqual(events.slice(0, -1).sort(), [
            'blocker',
            'task 0',
            'task 1',
            'task 2',
            'task 3',
            'task 4',
          ]);
          assert.equal(pool.stats().workers, 0);
        },
      );

      it(
        'destroy() rejects queued and running calls with SKEIN_POOL_DESTROYED and stops the workers',
        T,
        async (t) => {
          const pool = usePool(t, { maxWorkers: 1 });
          const gate = await useGate(t);
          const running = [settle(() => pool.run(blockUntilReleased, gate.port, 1))];
          await gate.connected(1);
          const queued = range(5).map((i) => settle(() => pool.run(echo, i)));
          await within(pool.destroy(), SOON_MS, 'destroy()');
          for (const outcome of await Promise.all([...running, ...queued])) {
            assert.equal(outcome.status, 'rejected');
            assert.equal(codeOf((outcome as { reason: unknown }).reason), 'SKEIN_POOL_DESTROYED');
          }
          assert.equal(pool.stats().workers, 0);
          const late = await settle(() => pool.run(echo, 'late'));
          assert.equal(late.status, 'rejected');
          assert.ok(
            ['SKEIN_POOL_CLOSED', 'SKEIN_POOL_DESTROYED'].includes(
              codeOf((late as { reason: unknown }).reason) as string,
            ),
          );
        },
      );

      it('destroy() during close() rejects the work still draining', T, async (t) => {
        const pool = usePool(t, { maxWorkers: 1 });
        const gate = await useGate(t);
        const running = settle(() => pool.run(blockUntilReleased, gate.port, 'never'));
        await gate.connected(1);
        const closing = pool.close();
        await within(pool.destroy(), SOON_MS, 'destroy()');
        await within(closing, SOON_MS, 'close() after destroy()');
        const outcome = await running;
        assert.equal(codeOf((outcome as { reason: unknown }).reason), 'SKEIN_POOL_DESTROYED');
        assert.equal(pool.stats().workers, 0);
      });

      it('close() and destroy() are idempotent and return the same promise', T, async (t) => {
        const closing = makePool({ maxWorkers: 1 });
        t.after(() => closing.destroy());
        await closing.run(echo, 1);
        const first = closing.close();
        assert.equal(closing.close(), first);
        await first;
        assert.equal(closing.close(), first);
        const destroying = makePool({ maxWorkers: 1 });
        await destroying.run(echo, 1);
        const gone = destroying.destroy();
        assert.equal(destroying.destroy(), gone);
        await gone;
        assert.equal(destroying.destroy(), gone);
        assert.equal(destroying.stats().workers, 0);
      });

      it('closes the pool at the end of an await using block', T, async () => {
        let escaped: PoolUnderTest | undefined;
        {
          await using pool = makePool({ maxWorkers: 2 });
          escaped = pool;
          assert.deepEqual(
            await pool.map(square, range(10)),
            range(10).map((n) => n * n),
          );
        }
        const closed = escaped;
        assert.equal(closed.stats().workers, 0);
        await rejectsWithCode(() => closed.run(echo, 1), 'SKEIN_POOL_CLOSED');
      });

      it('asyncDispose destroys the pool when close() outlasts closeTimeout', T, async (t) => {
        const pool = usePool(t, { maxWorkers: 1, closeTimeout: 200 });
        const gate = await useGate(t);
        const stuck = settle(() => pool.run(blockUntilReleased, gate.port, 'never'));
        await gate.connected(1);
        await within(Promise.resolve(pool[Symbol.asyncDispose]()), SOON_MS, 'asyncDispose');
        const outcome = await stuck;
        assert.equal(codeOf((outcome as { reason: unknown }).reason), 'SKEIN_POOL_DESTROYED');
        assert.equal(pool.stats().workers, 0);
      });

      it('never keeps the process alive once the pool is quiet', T, async () => {
        const kind = probeKind();
        const child = await runNode([join(FIXTURES, 'idle-pool-main.ts'), kind]);
        assert.equal(child.stdout.trim(), 'sum 5');
        assert.equal(child.code, 0, `exit code ${child.code}; stderr: ${child.stderr}`);
      });
    });

    describe('observability', ONE_AT_A_TIME, () => {
      it('stats() counts completed, failed, cancelled, queued and running work', T, async (t) => {
        const pool = usePool(t, { maxWorkers: 1 });
        const fresh = pool.stats();
        assert.deepEqual(
          [fresh.completed, fresh.failed, fresh.cancelled, fresh.queued, fresh.running],
          [0, 0, 0, 0, 0],
        );
        await Promise.all(range(10).map((i) => pool.run(echo, i)));
        await Promise.all(range(3).map(() => settle(() => pool.run(throwTypeError, 'x'))));
        const gate = await useGate(t);
        const { blocker } = await occupy(pool, gate);
        const queued = range(3).map((i) => track(pool.run(echo, i)));
        const controller = new AbortController();
        const dropped = settle(() => pool.submit(echo, ['dropped'], { signal: controller.signal }));
        const busy = pool.stats();
        assert.equal(busy.running, 1);
        assert.equal(busy.busyWorkers, 1);
        assert.equal(busy.queued, 4, 'four calls wait to start');
        controller.abort();
        assert.equal((await dropped).status, 'rejected');
        gate.release();
        await Promise.all([blocker, ...queued]);
        const stats = pool.stats();
        assert.equal(stats.completed, 14);
        assert.equal(stats.failed, 3);
        assert.equal(stats.cancelled, 1, 'the call cancelled before it started');
        assert.equal(stats.queued, 0);
        assert.equal(stats.running, 0);
        assert.equal(stats.workers, 1);
        assert.ok(stats.utilization >= 0 && stats.utilization <= 1, `utilization ${stats.utilization}`);
        assert.ok(stats.runTime.count >= 14);
        assert.ok(stats.waitTime.count >= 14);
        assert.ok(stats.runTime.min <= stats.runTime.p50 && stats.runTime.p50 <= stats.runTime.max);
        assert.ok(stats.waitTime.min >= 0);
      });

      it('spans() records queued, task and worker spans when trace is on', T, async (t) => {
        const dir = tempDir();
        t.after(() => dir.remove());
        const pool = usePool(t, { maxWorkers: 2, trace: true });
        await Promise.all(range(3).map((i) => pool.run(echo, i)));
        await pool.close();
        const spans = pool.spans();
        const tasks = spans.filter((s) => s.kind === 'task');
        assert.equal(tasks.length, 3);
        for (const span of tasks) {
          assert.ok(span.track >= 0, 'a task span sits on its worker track');
          assert.ok(span.end >= span.start);
        }
        assert.ok(spans.some((s) => s.kind === 'queued'));
        assert.ok(spans.some((s) => s.kind === 'worker'));
        const file = join(dir.path, 'trace.json');
        await writeChromeTrace(file, spans);
        const trace = JSON.parse(readFileSync(file, 'utf8')) as {
          traceEvents: { ph: string; cat: string }[];
        };
        assert.equal(trace.traceEvents.filter((e) => e.ph === 'X' && e.cat === 'task').length, 3);
        const quiet = usePool(t, { maxWorkers: 1 });
        await quiet.run(echo, 1);
        assert.deepEqual(quiet.spans(), [], 'no spans without trace: true');
      });

      // Runs a program whose task logs `count` lines, then returns or exits; checks every line arrived in
      // order and gives back all stdout lines for the caller's own checks.
      async function logLinesThen(mode: 'return' | 'exit', count: number): Promise<string[]> {
        const child = await runNode([join(FIXTURES, 'log-lines-main.ts'), probeKind(), String(count), mode]);
        assert.equal(child.code, 0, child.stderr);
        const lines = child.stdout.split('\n').filter((line) => line !== '');
        assert.deepEqual(
          lines.filter((line) => line.startsWith('worker line ')),
          range(count, 1).map((i) => `worker line ${i}`),
        );
        return lines;
      }

      it('keeps worker stdout complete and in order', T, async () => {
        const count = 2000;
        const lines = await logLinesThen('return', count);
        assert.equal(lines.at(-1), 'main done');
        assert.ok(lines.includes(`main result ${count}`));
      });

      it('keeps worker stdout complete and in order when the task then calls process.exit', T, async () => {
        const lines = await logLinesThen('exit', 2000);
        assert.ok(lines.includes('main rejected SKEIN_POOL_WORKER_CRASHED'), lines.slice(-3).join(' | '));
        assert.equal(lines.at(-1), 'main done');
      });
    });
  });

  let kindCache: 'thread' | 'process' | undefined;
  function probeKind(): 'thread' | 'process' {
    if (kindCache === undefined) {
      const probe = makePool({ maxWorkers: 1 });
      kindCache = probe.kind;
      void probe.destroy();
    }
    return kindCache;
  }
}
