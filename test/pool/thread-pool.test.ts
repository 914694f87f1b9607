// ThreadPool specifics: workers are threads of this process, transfers move memory, and the
// worker-thread crash details (out-of-memory error, uncaught error) reach WorkerCrashedError.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { once } from 'node:events';
import { describe, it, type TestContext } from 'node:test';
import { threadId } from 'node:worker_threads';
import { WorkerCrashedError } from '../../src/index.ts';
import { type PoolOptions, ThreadPool } from '../../src/pool/index.ts';
import { codeOf, destroyAfter, SOON_MS, settle, within } from '../conformance/helpers.ts';
import { allocateUntilOom } from '../fixtures/allocate-until-oom.ts';
import { countIntoShared } from '../fixtures/count-into-shared.ts';
import { echo } from '../fixtures/echo.ts';
import { emitProgress } from '../fixtures/emit-progress.ts';
import { flagLater } from '../fixtures/flag-later.ts';
import { edgeBytes, sumBytes } from '../fixtures/make-buffer.ts';
import { throwUncaught } from '../fixtures/throw-uncaught.ts';
import { whoami } from '../fixtures/whoami.ts';

const T = { timeout: 20_000 };

const usePool = (t: TestContext, options?: PoolOptions): ThreadPool =>
  destroyAfter(t, new ThreadPool(options));

describe('ThreadPool', () => {
  it("reports kind 'thread' and runs tasks on other threads of this process", T, async (t) => {
    const pool = usePool(t, { minWorkers: 2, maxWorkers: 2 });
    assert.equal(pool.kind, 'thread');
    const infos = await pool.broadcast(whoami);
    assert.equal(infos.length, 2);
    for (const info of infos) {
      assert.equal(info.pid, process.pid);
      assert.notEqual(info.threadId, threadId);
    }
    assert.equal(new Set(infos.map((info) => info.threadId)).size, 2);
  });

  it('hands tasks to workers while the caller is still submitting in one synchronous burst', T, async (t) => {
    const pool = usePool(t, { minWorkers: 2, maxWorkers: 2 });
    await pool.run(countIntoShared, new Int32Array(new SharedArrayBuffer(4)));
    const counter = new Int32Array(new SharedArrayBuffer(4));
    const calls: Promise<void>[] = [];
    for (let i = 0; i < 2000; i++) calls.push(pool.run(countIntoShared, counter));
    // Still inside the burst (no await yet): workers must already be running some of it. Without
    // dispatching during the burst, nothing could run before the first await and this would time out.
    const deadline = Date.now() + 10_000;
    while (Atomics.load(counter, 0) === 0 && Date.now() < deadline) Atomics.wait(counter, 0, 0, 10);
    const ranDuringBurst = Atomics.load(counter, 0);
    for (let i = 0; i < 2000; i++) calls.push(pool.run(countIntoShared, counter));
    await Promise.all(calls);
    assert.ok(ranDuringBurst > 0, 'no task ran before the caller yielded');
    assert.equal(Atomics.load(counter, 0), 4000, 'every task ran exactly once');
  });

  it(
    'settles calls while the caller is still submitting, but runs no callback before it yields',
    T,
    async (t) => {
      const pool = usePool(t, { minWorkers: 2, maxWorkers: 2 });
      await pool.broadcast(echo, 0);
      const before = pool.stats().completed;
      const progress: unknown[] = [];
      const reporting = pool.submit(emitProgress, [3], { onProgress: (value) => progress.push(value) });
      const calls: Promise<unknown>[] = [];
      const pause = new Int32Array(new SharedArrayBuffer(4));
      // One synchronous run: submit, give the workers a moment, submit more, until some calls settled.
      const deadline = Date.now() + 10_000;
      while (pool.stats().completed < before + 10 && Date.now() < deadline) {
        for (let i = 0; i < 256; i++) calls.push(pool.run(echo, i));
        Atomics.wait(pause, 0, 0, 1);
      }
      const settledInBurst = pool.stats().completed - before;
      const progressInBurst = progress.length;
      const results = await Promise.all(calls);
      assert.equal(await reporting, 'done');
      assert.ok(settledInBurst >= 10, `only ${settledInBurst} calls settled before the caller yielded`);
      assert.equal(progressInBurst, 0, "an onProgress callback ran inside the caller's synchronous run");
      assert.deepEqual(progress, [1, 2, 3], 'progress arrived in order once the caller yielded');
      for (let i = 0; i < results.length; i++) assert.equal(results[i], i % 256);
    },
  );

  it('moves transferred buffers to the worker instead of copying them', T, async (t) => {
    const pool = usePool(t, { maxWorkers: 1 });
    const bytes = new Uint8Array(4096).fill(1);
    assert.equal(await pool.submit(sumBytes, [bytes], { transfer: [bytes.buffer] }), 4096);
    assert.equal(bytes.buffer.byteLength, 0, 'the caller no longer owns the buffer');
  });

  it(
    'keeps transferred calls on the worker they were moved to while idle workers take work back',
    T,
    async (t) => {
      // Eight callers keep two workers' hands full of transfers, so idle workers keep asking busy ones for
      // unstarted tasks; a task whose buffer already moved must never be sent a second time.
      const pool = usePool(t, { minWorkers: 2, maxWorkers: 2 });
      let next = 0;
      let sum = 0;
      const lane = async () => {
        while (next < 400) {
          const bytes = new Uint8Array(1_048_576).fill(1);
          next++;
          const got = await pool.submit(edgeBytes, [bytes], { transfer: [bytes.buffer] });
          sum += got;
          assert.equal(bytes.buffer.byteLength, 0);
        }
      };
      await within(Promise.all(Array.from({ length: 8 }, lane)), SOON_MS, 'transferring callers');
      assert.equal(sum, 400 * 2);
    },
  );

  it("publishes every finished task on the 'skein:pool:task' diagnostics channel", T, async (t) => {
    const seen: { name: string; workerId: number; ok: boolean; runMs: number; waitMs: number }[] = [];
    const listener = (message: unknown) => seen.push(message as (typeof seen)[number]);
    subscribe('skein:pool:task', listener);
    t.after(() => unsubscribe('skein:pool:task', listener));
    const pool = usePool(t, { maxWorkers: 1, name: 'observed' });
    assert.deepEqual(await Promise.all([1, 2, 3].map((i) => pool.run(echo, i))), [1, 2, 3]);
    assert.equal(seen.length, 3);
    for (const message of seen) {
      assert.equal(message.name, 'echo');
      assert.equal(message.ok, true);
      assert.ok(message.workerId >= 1);
      assert.ok(message.runMs >= 0 && message.waitMs >= 0);
    }
  });

  it(
    'a worker that slept between lone calls returns to its event loop once they stop: timers a task left run',
    T,
    async (t) => {
      const pool = usePool(t, { minWorkers: 1, maxWorkers: 1 });
      // One call after another: the worker serves lone calls and sleeps between them with no timeout.
      // Its own warm-up too: a first, slow run of it would end the lone mode by itself.
      const warm = new Int32Array(new SharedArrayBuffer(4));
      for (let i = 0; i < 200; i++) await pool.run(flagLater, warm, 0);
      const flag = new Int32Array(new SharedArrayBuffer(4));
      await pool.run(flagLater, flag, 20);
      // No call follows: the flag goes up only once the pool has sent the worker back to its event loop.
      const raised = Atomics.waitAsync(flag, 0, 0, SOON_MS);
      assert.equal(
        raised.async ? await raised.value : raised.value,
        'ok',
        'the timer left by the last call never ran',
      );
      assert.equal(await pool.run(echo, 'after'), 'after');
    },
  );

  it(
    'destroy() stops a worker asleep between lone calls, and an exit without close() does not wait for it',
    T,
    async (t) => {
      const pool = new ThreadPool({ minWorkers: 1, maxWorkers: 1 });
      for (let i = 0; i < 200; i++) await pool.run(echo, i);
      await within(pool.destroy(), SOON_MS, 'destroy() of a pool whose worker sleeps in lone mode');
      // A child process that makes lone calls and then leaves its pool open must still exit.
      const script = `import { ThreadPool } from ${JSON.stringify(new URL('../../src/pool/index.ts', import.meta.url).href)};
import { echo } from ${JSON.stringify(new URL('../fixtures/echo.ts', import.meta.url).href)};
const pool = new ThreadPool({ minWorkers: 1, maxWorkers: 1 });
for (let i = 0; i < 200; i++) await pool.run(echo, i);
console.log('done');`;
      const child = spawn(process.execPath, ['--input-type=module', '-e', script], {
        stdio: ['ignore', 'pipe', 'inherit'],
      });
      t.after(() => child.kill('SIGKILL'));
      let output = '';
      child.stdout.on('data', (chunk: Buffer) => (output += chunk));
      const [code] = (await within(once(child, 'exit'), SOON_MS, 'a process that left its pool open')) as [
        number,
      ];
      assert.equal(code, 0);
      assert.equal(output.trim(), 'done');
    },
  );

  it('keeps the out-of-memory error as the cause of WorkerCrashedError', T, async (t) => {
    const pool = usePool(t, { maxWorkers: 1, resourceLimits: { maxOldGenerationSizeMb: 32 } });
    const outcome = await within(
      settle(() => pool.run(allocateUntilOom)),
      SOON_MS,
      'out-of-memory call',
    );
    const error = (outcome as { reason: unknown }).reason;
    assert.ok(error instanceof WorkerCrashedError, String(error));
    assert.equal(codeOf(error.cause), 'ERR_WORKER_OUT_OF_MEMORY');
    assert.equal(await pool.run(echo, 'alive'), 'alive');
  });

  it('keeps the uncaught error as the cause of WorkerCrashedError', T, async (t) => {
    const pool = usePool(t, { maxWorkers: 1 });
    const outcome = await within(
      settle(() => pool.run(throwUncaught, 'uncaught in a thread')),
      SOON_MS,
      'crashing call',
    );
    const error = (outcome as { reason: unknown }).reason;
    assert.ok(error instanceof WorkerCrashedError, String(error));
    assert.ok(error.cause instanceof Error);
    assert.equal(error.cause.message, 'uncaught in a thread');
    assert.equal(error.signal, null);
  });
});
