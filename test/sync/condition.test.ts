// Condition across real threads: a bounded queue with two conditions on one lock and notify(1) only
// loses no wake-up (every item taken exactly once), notify(n) reaches the threads waiting, wait() gives the
// lock back on timeout and abort, misuse is refused, and a lock holder's death reaches the waiter.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { AbortError, OwnerDiedError, TimeoutError } from '../../src/index.ts';
import { Condition, fromHandle, Lock, RLock, toHandle } from '../../src/sync/index.ts';
import { cellsOf, SOON_MS, terminated, untilCell, untilCellAtLeast } from './helpers.ts';
import { spawn } from './spawn.ts';

// Layout of the condition-queue fixture's buffer.
const COUNT = 2;
const TAKEN = 3;
const TOTAL = 4;
const CAPACITY = 5;
const RING = 8;
const OUT = 64;
const HEAD = 0;

for (const Kind of [Lock, RLock]) {
  test(`a bounded queue on two Conditions over one ${Kind.name} hands over every item exactly once (notify(1) only)`, async () => {
    const lock = new Kind();
    const notFull = new Condition(lock);
    const notEmpty = new Condition(lock);
    const perProducer = 1_500;
    const total = 2 * perProducer;
    const q = cellsOf(OUT + total);
    q[TOTAL] = total;
    q[CAPACITY] = 4;
    const common = { notFull: toHandle(notFull), notEmpty: toHandle(notEmpty), queue: q.buffer };
    const workers = [
      spawn<number>('condition-queue.ts', { ...common, role: 'producer', first: 0, items: perProducer }),
      spawn<number>('condition-queue.ts', {
        ...common,
        role: 'producer',
        first: perProducer,
        items: perProducer,
      }),
      spawn<number>('condition-queue.ts', { ...common, role: 'consumer', first: 0, items: 0 }),
      spawn<number>('condition-queue.ts', { ...common, role: 'consumer', first: 0, items: 0 }),
    ].map((spawned) => spawned.done);

    // The main thread consumes too, with the async forms.
    let mine = 0;
    for (;;) {
      using _held = await notEmpty.acquireAsync({ timeout: SOON_MS });
      await notEmpty.waitForAsync(() => (q[COUNT] as number) > 0 || q[TAKEN] === total, { timeout: SOON_MS });
      if (q[COUNT] === 0) break;
      const item = q[RING + (q[HEAD] as number)] as number;
      q[HEAD] = ((q[HEAD] as number) + 1) % 4;
      q[COUNT] = (q[COUNT] as number) - 1;
      q[OUT + (q[TAKEN] as number)] = item;
      q[TAKEN] = (q[TAKEN] as number) + 1;
      if (q[TAKEN] === total) notEmpty.notifyAll();
      notFull.notify();
      mine++;
    }
    const handled = await Promise.all(workers);
    assert.deepEqual(handled.slice(0, 2), [perProducer, perProducer]);
    assert.equal((handled[2] as number) + (handled[3] as number) + mine, total);
    const taken = [...q.subarray(OUT, OUT + total)].sort((a, b) => a - b);
    assert.deepEqual(
      taken,
      Array.from({ length: total }, (_, i) => i),
      'each item taken once',
    );
    assert.equal(lock.locked(), false);
  });
}

test('notify(n) wakes n of the threads waiting and notifyAll() the rest', async () => {
  const cond = new Condition(new Lock());
  const gate = cellsOf(2);
  const workers = [0, 1, 2].map(
    () => spawn('condition-wait-once.ts', { condition: toHandle(cond), gate: gate.buffer }).done,
  );
  await untilCell(gate, 0, 3, 'three workers took the lock to wait');
  {
    // Each worker counted itself while holding the lock, so holding it now means all three are waiting.
    using _held = await cond.acquireAsync({ timeout: SOON_MS });
    cond.notify(0);
    cond.notify(1);
  }
  await untilCell(gate, 1, 1, 'one worker woke');
  {
    using _held = await cond.acquireAsync({ timeout: SOON_MS });
    assert.equal(gate[1], 1, 'notify(1) woke one waiter');
    cond.notify(2);
  }
  await untilCell(gate, 1, 3, 'the other two woke');
  await Promise.all(workers);

  const more = [0, 1].map(
    () => spawn('condition-wait-once.ts', { condition: toHandle(cond), gate: gate.buffer }).done,
  );
  await untilCell(gate, 0, 5, 'two more workers took the lock to wait');
  {
    using _held = await cond.acquireAsync({ timeout: SOON_MS });
    cond.notifyAll();
  }
  await untilCell(gate, 1, 5, 'notifyAll woke both');
  await Promise.all(more);
});

test('wait() takes the lock back when it times out or is aborted, at every RLock level', async () => {
  const rlock = new RLock();
  const cond = new Condition(rlock);
  rlock.acquire();
  rlock.acquire();
  assert.throws(
    () => cond.wait({ timeout: 20 }),
    (error: unknown) => error instanceof TimeoutError,
  );
  assert.equal(rlock.count, 2);
  await assert.rejects(cond.waitAsync({ timeout: 20 }), { code: 'SKEIN_TIMEOUT' });
  assert.equal(rlock.count, 2);
  const controller = new AbortController();
  const waiting = cond.waitAsync({ signal: controller.signal });
  assert.equal(rlock.count, 0, 'the lock is released while waiting');
  controller.abort();
  await assert.rejects(
    waiting,
    (error: unknown) => error instanceof AbortError && error.code === 'SKEIN_ABORTED',
  );
  assert.equal(rlock.count, 2);
  rlock.release();
  rlock.release();

  const lock = new Lock();
  const plain = new Condition(lock);
  using _held = plain.acquire();
  assert.throws(() => plain.waitFor(() => 0, { timeout: 20 }), { code: 'SKEIN_TIMEOUT' });
  assert.equal(lock.heldByCurrentThread(), true);
  assert.equal(
    plain.waitFor(() => 'ready'),
    'ready',
    'a truthy predicate returns at once, with its value',
  );
  let calls = 0;
  const lastLook = await plain.waitForAsync(() => (++calls === 1 ? null : 7), { timeout: 20 });
  assert.equal(lastLook, 7, 'the predicate is checked once more when the time is up');
});

test('waiting or notifying without the lock throws SKEIN_SYNC_NOT_OWNER; bad arguments are refused', async () => {
  const cond = new Condition();
  assert.throws(() => cond.wait(), { code: 'SKEIN_SYNC_NOT_OWNER', message: /acquire it first/ });
  await assert.rejects(cond.waitAsync(), { code: 'SKEIN_SYNC_NOT_OWNER' });
  assert.throws(() => cond.waitFor(() => true), { code: 'SKEIN_SYNC_NOT_OWNER' });
  assert.throws(() => cond.notify(), { code: 'SKEIN_SYNC_NOT_OWNER' });
  assert.throws(() => cond.notifyAll(), { code: 'SKEIN_SYNC_NOT_OWNER' });
  assert.throws(() => cond.release(), { code: 'SKEIN_SYNC_NOT_OWNER' });
  assert.throws(() => new Condition({} as never), {
    code: 'SKEIN_SYNC_INVALID_ARGUMENT',
    message: /Lock or RLock/,
  });
  using _held = cond.acquire();
  assert.throws(() => cond.notify(-1), { code: 'SKEIN_SYNC_INVALID_ARGUMENT' });
  assert.throws(() => cond.waitFor(5 as never), {
    code: 'SKEIN_SYNC_INVALID_ARGUMENT',
    message: /predicate/,
  });
  assert.throws(() => cond.wait({ timeout: Number.NaN }), { code: 'SKEIN_SYNC_INVALID_ARGUMENT' });
});

test('a revived Condition shares its lock with the original', () => {
  const lock = new Lock();
  const cond = new Condition(lock);
  const revived = fromHandle<Condition>(toHandle(cond));
  assert.equal(revived.tryAcquire(), true);
  assert.equal(lock.locked(), true);
  assert.equal(cond.tryAcquire(), false);
  revived.notify(); // the revived object knows this thread holds the shared lock
  cond.release();
  assert.equal(lock.locked(), false);
});

test('a waiter whose lock holder died gets SKEIN_SYNC_OWNER_DIED with the lock held again', async () => {
  const lock = new Lock();
  const cond = new Condition(lock);
  const gate = cellsOf(2);
  const controller = new AbortController();
  await cond.acquireAsync({ timeout: SOON_MS });
  const waiting = cond.waitAsync({ signal: controller.signal });
  const holder = spawn('hold-lock-forever.ts', { lock: toHandle(lock), gate: gate.buffer }).worker;
  await untilCellAtLeast(gate, 0, 1, 'the worker holds the lock');
  await terminated(holder);
  controller.abort();
  await assert.rejects(waiting, (error: unknown) => {
    assert.ok(error instanceof OwnerDiedError);
    assert.equal(error.code, 'SKEIN_SYNC_OWNER_DIED');
    assert.ok(error.cause instanceof AbortError, 'the abort is the cause');
    return true;
  });
  assert.equal(lock.heldByCurrentThread(), true);
  cond.release();
});
