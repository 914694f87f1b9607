// Lock and RLock across real threads: exact counters under contention (pool workers blocking, the main
// thread async), misuse errors, timeouts that name the holder, aborts, a holder's death recovered,
// no starvation under a tight re-acquire loop, and handles that refuse to cross into another process.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Worker } from 'node:worker_threads';
import { OwnerDiedError, type SkeinError, TimeoutError } from '../../src/index.ts';
import { ProcessPool, ThreadPool } from '../../src/pool/index.ts';
import { fromHandle, Lock, RLock, toHandle } from '../../src/sync/index.ts';
import {
  HELD,
  hammerUntilStopped,
  holdUntilOpened,
  incrementFromState,
  incrementReentrant,
  incrementUnderLock,
  OPEN,
} from '../fixtures/lock-tasks.ts';
import { cellsOf, SOON_MS, setCell, terminated, untilCell, untilCellAtLeast } from './helpers.ts';

const HOLD_FOREVER = new URL('../fixtures/hold-lock-forever.ts', import.meta.url);

for (const Kind of [Lock, RLock]) {
  test(`${Kind.name} keeps a plain counter exact under two pool workers and the main thread`, async () => {
    await using pool = new ThreadPool({ minWorkers: 2, maxWorkers: 2 });
    for (let round = 0; round < 3; round++) {
      const lock = new Kind();
      const counter = cellsOf(2);
      const perWorker = 20_000;
      const workers = [
        pool.run(incrementUnderLock, lock, counter.buffer as SharedArrayBuffer, perWorker),
        pool.run(incrementUnderLock, lock, counter.buffer as SharedArrayBuffer, perWorker),
      ];
      let mine = 0;
      for (let i = 0; i < 2_000; i++) {
        using _held = await lock.acquireAsync({ timeout: SOON_MS });
        const seen = counter[0] as number;
        await null; // give the other side a chance to break in if it could
        counter[0] = seen + 1;
        mine++;
      }
      assert.deepEqual(await Promise.all(workers), [perWorker, perWorker]);
      assert.equal(counter[0], 2 * perWorker + mine, `round ${round}`);
      assert.equal(lock.locked(), false);
    }
  });
}

test('a Lock nested in an object argument reaches the worker as the same lock', async () => {
  await using pool = new ThreadPool({ minWorkers: 2, maxWorkers: 2 });
  const lock = new Lock();
  const counter = cellsOf(1);
  const state = { lock, counter: counter.buffer as SharedArrayBuffer, times: 10_000 };
  assert.deepEqual(
    await Promise.all([pool.run(incrementFromState, state), pool.run(incrementFromState, state)]),
    [10_000, 10_000],
  );
  assert.equal(counter[0], 20_000);
  assert.equal(state.lock, lock, 'the caller object is left as it was');
});

test('RLock can be re-entered by its owner and counts the levels', async () => {
  const lock = new RLock();
  assert.equal(lock.count, 0);
  lock.acquire();
  lock.acquire();
  assert.equal(lock.tryAcquire(), true);
  assert.equal(lock.count, 3);
  assert.equal(lock.owner, 0);
  lock.release();
  lock.release();
  assert.equal(lock.locked(), true);
  lock.release();
  assert.equal(lock.locked(), false);
  assert.equal(lock.owner, null);

  await using pool = new ThreadPool({ minWorkers: 2, maxWorkers: 2 });
  const counter = cellsOf(1);
  const done = await Promise.all([
    pool.run(incrementReentrant, lock, counter.buffer as SharedArrayBuffer, 5_000, 3),
    pool.run(incrementReentrant, lock, counter.buffer as SharedArrayBuffer, 5_000, 4),
  ]);
  assert.deepEqual(done, [5_000, 5_000]);
  assert.equal(counter[0], 10_000);
});

test('releasing a lock that is not held, or held by another thread, throws SKEIN_SYNC_NOT_OWNER', async () => {
  for (const lock of [new Lock(), new RLock()]) {
    assert.throws(() => lock.release(), { code: 'SKEIN_SYNC_NOT_OWNER', message: /not held/ });
  }
  await using pool = new ThreadPool({ maxWorkers: 1 });
  const lock = new Lock();
  const gate = cellsOf(2);
  const holder = pool.run(holdUntilOpened, lock, gate.buffer as SharedArrayBuffer);
  await untilCell(gate, HELD, 1, 'the worker takes the lock');
  assert.throws(
    () => lock.release(),
    (error: SkeinError) => {
      assert.equal(error.code, 'SKEIN_SYNC_NOT_OWNER');
      assert.match(error.message, /held by thread \d+, not by this thread \(0\)/);
      return true;
    },
  );
  assert.equal(lock.tryAcquire(), false);
  setCell(gate, OPEN, 1);
  assert.equal(typeof (await holder), 'number');
});

test('a thread that acquires a Lock it holds gets SKEIN_SYNC_WOULD_DEADLOCK instead of hanging', () => {
  const lock = new Lock();
  using _held = lock.acquire();
  assert.equal(lock.tryAcquire(), false);
  assert.throws(() => lock.acquire({ timeout: SOON_MS }), { code: 'SKEIN_SYNC_WOULD_DEADLOCK' });
  assert.equal(lock.heldByCurrentThread(), true);
});

test('async callers on one thread take turns on a Lock like threads do', async () => {
  const lock = new Lock();
  let inside = 0;
  let maxInside = 0;
  await Promise.all(
    Array.from({ length: 20 }, async () => {
      for (let i = 0; i < 20; i++) {
        using _held = await lock.acquireAsync({ timeout: SOON_MS });
        inside++;
        maxInside = Math.max(maxInside, inside);
        await new Promise<void>((resolve) => setImmediate(resolve));
        inside--;
      }
    }),
  );
  assert.equal(maxInside, 1);
  assert.equal(lock.locked(), false);
});

test('a timed-out acquire throws TimeoutError naming the thread that holds the lock', async () => {
  await using pool = new ThreadPool({ maxWorkers: 1 });
  for (const lock of [new Lock(), new RLock()]) {
    const gate = cellsOf(2);
    const holder = pool.run(holdUntilOpened, lock, gate.buffer as SharedArrayBuffer);
    await untilCell(gate, HELD, 1, 'the worker takes the lock');
    const owner = lock.owner;
    assert.ok(typeof owner === 'number' && owner > 0);
    await assert.rejects(lock.acquireAsync({ timeout: 30 }), (error: Error) => {
      assert.ok(error instanceof TimeoutError);
      assert.match(error.message, new RegExp(`within 30 ms \\(held by thread ${owner}\\)`));
      return true;
    });
    assert.throws(() => lock.acquire({ timeout: 30 }), { code: 'SKEIN_TIMEOUT' });
    assert.throws(() => lock.acquire({ timeout: 0 }), { code: 'SKEIN_TIMEOUT' });
    setCell(gate, OPEN, 1);
    assert.equal(await holder, owner);
  }
});

test('an aborted async acquire rejects with AbortError and leaves the lock usable', async () => {
  await using pool = new ThreadPool({ maxWorkers: 1 });
  const lock = new Lock();
  const gate = cellsOf(2);
  const holder = pool.run(holdUntilOpened, lock, gate.buffer as SharedArrayBuffer);
  await untilCell(gate, HELD, 1, 'the worker takes the lock');
  const controller = new AbortController();
  const attempt = lock.acquireAsync({ signal: controller.signal });
  controller.abort(new Error('user gave up'));
  await assert.rejects(attempt, (error: SkeinError) => {
    assert.equal(error.code, 'SKEIN_ABORTED');
    assert.equal((error.cause as Error).message, 'user gave up');
    return true;
  });
  await assert.rejects(lock.acquireAsync({ signal: controller.signal }), { code: 'SKEIN_ABORTED' });
  assert.throws(() => lock.acquire({ signal: controller.signal }), { code: 'SKEIN_ABORTED' });
  setCell(gate, OPEN, 1);
  await holder;
  using _held = await lock.acquireAsync({ timeout: SOON_MS });
  assert.equal(lock.owner, 0);
});

test('invalid wait options are refused with SKEIN_SYNC_INVALID_ARGUMENT', async () => {
  const lock = new Lock();
  for (const options of [{ timeout: -1 }, { timeout: Number.NaN }, { timeout: '5' }, { signal: {} }]) {
    assert.throws(() => lock.acquire(options as never), { code: 'SKEIN_SYNC_INVALID_ARGUMENT' });
    await assert.rejects(lock.acquireAsync(options as never), { code: 'SKEIN_SYNC_INVALID_ARGUMENT' });
  }
  assert.equal(lock.locked(), false);
});

for (const Kind of [Lock, RLock]) {
  test(`when a thread holding a ${Kind.name} is terminated, the next acquirer gets OwnerDiedError and the lock works again`, async () => {
    const lock = new Kind();
    const gate = cellsOf(2);
    const worker = new Worker(HOLD_FOREVER, { workerData: { lock: toHandle(lock), gate: gate.buffer } });
    try {
      await untilCell(gate, 0, 1, 'the worker takes the lock');
      const dyingOwner = lock.owner;
      const attempt = lock.acquireAsync({ timeout: 3 * SOON_MS });
      await terminated(worker);
      await assert.rejects(attempt, (error: Error) => {
        assert.ok(error instanceof OwnerDiedError);
        assert.equal((error as OwnerDiedError).code, 'SKEIN_SYNC_OWNER_DIED');
        assert.match(error.message, new RegExp(`thread ${dyingOwner}, which exited`));
        return true;
      });
      assert.equal(lock.locked(), false);
      using _held = await lock.acquireAsync({ timeout: SOON_MS });
      assert.equal(lock.owner, 0);
    } finally {
      await worker.terminate();
    }
  });
}

test('a waiter is not starved by two threads re-acquiring the lock in a tight loop', async () => {
  await using pool = new ThreadPool({ minWorkers: 2, maxWorkers: 2 });
  const lock = new Lock();
  const stop = cellsOf(3);
  const hammers = [
    pool.run(hammerUntilStopped, lock, stop.buffer as SharedArrayBuffer),
    pool.run(hammerUntilStopped, lock, stop.buffer as SharedArrayBuffer),
  ];
  try {
    await untilCell(stop, 2, 2, 'both hammers start');
    await untilCellAtLeast(stop, 1, 20, 'the hammers run');
    for (let i = 0; i < 50; i++) {
      const held = await lock.acquireAsync({ timeout: SOON_MS });
      held.release();
    }
  } finally {
    setCell(stop, 0, 1);
  }
  // What is under test is the main thread's waits, each bounded above; the hammers only have to have
  // competed (both started, and together took the lock many times), not to have shared it evenly in
  // the ~100 ms the test lasts.
  const rounds = await Promise.all(hammers);
  assert.ok(rounds[0]! + rounds[1]! >= 20 * 1024, `hammer rounds ${rounds.join(', ')}`);
});

test('a Lock handle revives in another thread, and refuses to cross into a process', async () => {
  const lock = new Lock();
  const handle = toHandle(lock);
  const again = fromHandle<Lock>(handle);
  using _held = again.acquire();
  assert.equal(lock.locked(), true);
  assert.equal(lock.heldByCurrentThread(), true);

  assert.throws(() => fromHandle(JSON.parse(JSON.stringify(handle))), { code: 'SKEIN_SYNC_FOREIGN_HANDLE' });
  assert.throws(() => fromHandle({ nope: 1 } as never), { code: 'SKEIN_SYNC_INVALID_ARGUMENT' });
  assert.throws(() => toHandle({} as never), { code: 'SKEIN_SYNC_INVALID_ARGUMENT' });

  await using pool = new ProcessPool({ maxWorkers: 1 });
  const gate = cellsOf(2);
  await assert.rejects(
    pool.run(holdUntilOpened, lock, gate.buffer as SharedArrayBuffer),
    (error: SkeinError) => {
      assert.equal(error.code, 'SKEIN_SYNC_FOREIGN_HANDLE');
      assert.match(error.message, /ProcessLock/);
      return true;
    },
  );
});
