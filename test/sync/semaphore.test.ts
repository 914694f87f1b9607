// Semaphore and BoundedSemaphore across real threads: the bound holds under contention (workers blocking,
// the main thread async), over-release and bad arguments are refused, timeouts and aborts leave no trace,
// a waiter is not starved by threads re-acquiring in a loop, and permits of a thread that died are given
// back to the next waiter with OwnerDiedError.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { AbortError, OwnerDiedError, TimeoutError } from '../../src/index.ts';
import { BoundedSemaphore, fromHandle, Semaphore, toHandle } from '../../src/sync/index.ts';
import { cellsOf, SOON_MS, setCell, terminated, untilCell, untilCellAtLeast } from './helpers.ts';
import { spawn } from './spawn.ts';

// Cells of the semaphore-hammer fixture's stats buffer.
const INSIDE = 0;
const MAX_INSIDE = 1;
const ENTRIES = 2;
const STOP = 3;

function enter(stats: Int32Array): void {
  const now = Atomics.add(stats, INSIDE, 1) + 1;
  if (now > Atomics.load(stats, MAX_INSIDE)) Atomics.store(stats, MAX_INSIDE, now); // main-thread only
}

for (const Kind of [Semaphore, BoundedSemaphore]) {
  test(`${Kind.name}(2) never lets more than two holders in while three workers and the main thread contend`, async () => {
    const sem = new Kind(2);
    const stats = cellsOf(4);
    const times = 3_000;
    const workers = [0, 1, 2].map(
      () =>
        spawn<number>('semaphore-hammer.ts', { semaphore: toHandle(sem), stats: stats.buffer, times }).done,
    );
    let mine = 0;
    for (let i = 0; i < 300; i++) {
      using _permit = await sem.acquireAsync({ timeout: SOON_MS });
      enter(stats);
      await null; // let the workers run while this thread holds a permit
      Atomics.add(stats, ENTRIES, 1);
      Atomics.sub(stats, INSIDE, 1);
      mine++;
    }
    assert.deepEqual(await Promise.all(workers), [times, times, times]);
    assert.equal(stats[ENTRIES], 3 * times + mine);
    assert.ok((stats[MAX_INSIDE] as number) <= 2, `at most 2 inside at once, saw ${stats[MAX_INSIDE]}`);
    assert.equal(stats[INSIDE], 0);
    assert.equal(sem.value, 2);
  });
}

test('tryAcquire takes a permit only while one is free, and release(n) gives back n', () => {
  const sem = new Semaphore(2);
  assert.equal(sem.tryAcquire(), true);
  assert.equal(sem.tryAcquire(), true);
  assert.equal(sem.tryAcquire(), false);
  assert.equal(sem.value, 0);
  sem.release(2);
  assert.equal(sem.value, 2);
  sem.release(); // a plain Semaphore may grow past its initial value, as in Python
  assert.equal(sem.value, 3);
  {
    using _permit = sem.acquire();
    assert.equal(sem.value, 2);
  }
  assert.equal(sem.value, 3);
  assert.equal(new Semaphore().value, 1, 'one permit by default');
  assert.equal(new Semaphore(0).tryAcquire(), false);
});

test('a BoundedSemaphore refuses a release above its initial value with SKEIN_SYNC_OVER_RELEASE', () => {
  const sem = new BoundedSemaphore(2);
  assert.throws(() => sem.release(), { code: 'SKEIN_SYNC_OVER_RELEASE', message: /initial value 2/ });
  sem.acquire();
  sem.acquire();
  assert.throws(() => sem.release(3), { code: 'SKEIN_SYNC_OVER_RELEASE' });
  assert.equal(sem.value, 0, 'a refused release changes nothing');
  sem.release(2);
  assert.equal(sem.value, 2);
  const revived = fromHandle<BoundedSemaphore>(toHandle(sem));
  assert.ok(revived instanceof BoundedSemaphore);
  assert.throws(() => revived.release(), { code: 'SKEIN_SYNC_OVER_RELEASE' });
});

test('bad counts and wait options are refused with SKEIN_SYNC_INVALID_ARGUMENT', async () => {
  for (const value of [-1, 1.5, Number.NaN, 2 ** 31, '2']) {
    assert.throws(() => new Semaphore(value as number), {
      code: 'SKEIN_SYNC_INVALID_ARGUMENT',
      message: /Semaphore value must be an integer/,
    });
  }
  assert.throws(() => new BoundedSemaphore(-2), { message: /BoundedSemaphore value/ });
  const sem = new Semaphore(0);
  for (const n of [0, -1, 0.5]) assert.throws(() => sem.release(n), { code: 'SKEIN_SYNC_INVALID_ARGUMENT' });
  assert.throws(() => sem.acquire({ timeout: -1 }), { code: 'SKEIN_SYNC_INVALID_ARGUMENT' });
  await assert.rejects(sem.acquireAsync({ signal: 'no' as never }), { code: 'SKEIN_SYNC_INVALID_ARGUMENT' });
  sem.release(2 ** 31 - 1);
  assert.throws(() => sem.release(), { code: 'SKEIN_SYNC_INVALID_ARGUMENT', message: /above 2147483647/ });
});

test('an acquire that times out or is aborted takes nothing, and the next release is not lost', async () => {
  const sem = new Semaphore(0);
  await assert.rejects(sem.acquireAsync({ timeout: 20 }), (error: unknown) => {
    assert.ok(error instanceof TimeoutError);
    assert.equal(error.code, 'SKEIN_TIMEOUT');
    return true;
  });
  assert.throws(() => sem.acquire({ timeout: 20 }), { code: 'SKEIN_TIMEOUT' });
  const controller = new AbortController();
  const waiting = sem.acquireAsync({ signal: controller.signal });
  controller.abort();
  await assert.rejects(
    waiting,
    (error: unknown) => error instanceof AbortError && error.code === 'SKEIN_ABORTED',
  );
  await assert.rejects(sem.acquireAsync({ signal: AbortSignal.abort() }), { code: 'SKEIN_ABORTED' });
  assert.equal(sem.value, 0);

  const late = sem.acquireAsync({ timeout: SOON_MS });
  sem.release();
  (await late).release();
  assert.equal(sem.value, 1);
});

test('a waiter gets a permit while two workers re-acquire a Semaphore(1) in a tight loop', async () => {
  const sem = new Semaphore(1);
  const stats = cellsOf(4);
  const workers = [0, 1].map(
    () =>
      spawn<number>('semaphore-hammer.ts', { semaphore: toHandle(sem), stats: stats.buffer, times: 1e9 })
        .done,
  );
  await untilCellAtLeast(stats, ENTRIES, 1_000, 'both workers are re-acquiring');
  for (let i = 0; i < 20; i++) {
    using _permit = await sem.acquireAsync({ timeout: SOON_MS });
    enter(stats);
    Atomics.sub(stats, INSIDE, 1);
  }
  setCell(stats, STOP, 1);
  await Promise.all(workers);
  assert.equal(stats[MAX_INSIDE], 1);
  assert.equal(sem.value, 1);
});

test('permits of a thread that died holding them go back to the next waiter with SKEIN_SYNC_OWNER_DIED', async () => {
  const sem = new BoundedSemaphore(3);
  const gates = [cellsOf(2), cellsOf(2)];
  const holders = gates.map(
    (gate, i) =>
      spawn('acquire-then-block.ts', {
        what: 'permits',
        handle: toHandle(sem),
        gate: gate.buffer,
        permits: i + 1,
      }).worker,
  );
  for (const gate of gates) await untilCell(gate, 0, 1, 'the worker holds its permits');
  assert.equal(sem.value, 0);

  // The main thread waits (async, so the worker's 'exit' can be recorded here) while the holder dies.
  const waiting = sem.acquireAsync({ timeout: SOON_MS });
  void holders[0]!.terminate();
  await assert.rejects(waiting, (error: unknown) => {
    assert.ok(error instanceof OwnerDiedError);
    assert.equal(error.code, 'SKEIN_SYNC_OWNER_DIED');
    assert.match(error.message, /1 permit\(s\)/);
    return true;
  });
  assert.equal(sem.value, 1, 'the dead thread’s permit is back');
  sem.acquire({ timeout: SOON_MS });

  // A holder already known dead: the blocking form reclaims its two permits, then acquires.
  await terminated(holders[1]!);
  assert.throws(() => sem.acquire({ timeout: SOON_MS }), {
    code: 'SKEIN_SYNC_OWNER_DIED',
    message: /2 permit/,
  });
  assert.equal(sem.value, 2);
  assert.equal(sem.tryAcquire(), true);
  sem.release(2);
  assert.throws(() => sem.release(), { code: 'SKEIN_SYNC_OVER_RELEASE' }, 'the bound still holds');
});
