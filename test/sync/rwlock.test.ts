// RWLock across real threads: no writer overlaps a reader or another writer under contention, readers do
// share the lock, a waiting writer holds back new readers, misuse is refused, and the death of a writer
// (OwnerDiedError) or a reader (given back silently) does not block the others.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { AbortError, OwnerDiedError, TimeoutError } from '../../src/index.ts';
import { fromHandle, RWLock, toHandle } from '../../src/sync/index.ts';
import { cellsOf, SOON_MS, terminated, untilCell } from './helpers.ts';
import { spawn } from './spawn.ts';

// Cells of the rwlock-hammer fixture's stats buffer.
const READERS = 0;
const WRITERS = 1;
const VIOLATIONS = 2;
const MAX_READERS = 3;
const COUNTER = 4;
const WRITES = 5;

function holding(
  what: 'read' | 'write',
  lock: RWLock,
): { gate: Int32Array; worker: ReturnType<typeof spawn>['worker'] } {
  const gate = cellsOf(2);
  const { worker } = spawn('acquire-then-block.ts', { what, handle: toHandle(lock), gate: gate.buffer });
  return { gate, worker };
}

test('no writer overlaps anyone while three workers and the main thread read and write', async () => {
  const lock = new RWLock();
  const stats = cellsOf(6);
  const times = 4_000;
  const workers = [0, 1, 2].map(
    () =>
      spawn<number>('rwlock-hammer.ts', { rwlock: toHandle(lock), stats: stats.buffer, times, writeEvery: 5 })
        .done,
  );
  let mine = 0;
  for (let i = 0; i < 400; i++) {
    if (i % 4 === 0) {
      using _write = await lock.acquireWriteAsync({ timeout: SOON_MS });
      if (Atomics.load(stats, READERS) !== 0 || Atomics.load(stats, WRITERS) !== 0)
        Atomics.add(stats, VIOLATIONS, 1);
      const seen = stats[COUNTER] as number;
      await null;
      stats[COUNTER] = seen + 1;
      mine++;
    } else {
      using _read = await lock.acquireReadAsync({ timeout: SOON_MS });
      if (Atomics.load(stats, WRITERS) !== 0) Atomics.add(stats, VIOLATIONS, 1);
      await null;
    }
  }
  assert.deepEqual(await Promise.all(workers), [times, times, times]);
  assert.equal(stats[VIOLATIONS], 0);
  assert.equal(stats[COUNTER], (stats[WRITES] as number) + mine, 'no write was lost');
  assert.equal(stats[WRITES], 3 * (times / 5));
  assert.ok((stats[MAX_READERS] as number) >= 1);
  assert.equal(lock.readers, 0);
  assert.equal(lock.writer, null);
});

test('readers hold the lock together', async () => {
  const lock = new RWLock();
  const gate = cellsOf(1);
  const readers = [0, 1, 2].map(
    () => spawn('rwlock-read-together.ts', { rwlock: toHandle(lock), gate: gate.buffer, readers: 3 }).done,
  );
  assert.deepEqual(await Promise.all(readers), ['together', 'together', 'together']);
  assert.equal(lock.readers, 0);
});

test('a waiting writer holds back new readers, and goes first when the readers leave', async () => {
  const lock = new RWLock();
  const reader = lock.acquireRead();
  const writing = lock.acquireWriteAsync({ timeout: SOON_MS });
  assert.equal(lock.tryAcquireRead(), true, 'a thread that holds a read lock may nest another');
  lock.releaseRead();
  const fromHandleSide = fromHandle<RWLock>(toHandle(lock));
  assert.equal(fromHandleSide.readers, 1);
  reader.release();
  (await writing).release();
  assert.equal(lock.readers, 0);

  const other = holding('read', lock);
  await untilCell(other.gate, 0, 1, 'the worker reads');
  const controller = new AbortController();
  const waitingWriter = lock.acquireWriteAsync({ signal: controller.signal });
  assert.equal(lock.tryAcquireRead(), false, 'no new reader while a writer waits');
  controller.abort();
  await assert.rejects(waitingWriter, (error: unknown) => error instanceof AbortError);
  assert.equal(lock.tryAcquireRead(), true, 'readers come in again once the writer gave up');
  lock.releaseRead();
  await terminated(other.worker);
});

test('misuse throws SKEIN_SYNC_NOT_OWNER or SKEIN_SYNC_WOULD_DEADLOCK; a blocked acquire times out naming the holder', async () => {
  const lock = new RWLock();
  assert.throws(() => lock.releaseRead(), { code: 'SKEIN_SYNC_NOT_OWNER', message: /not held/ });
  assert.throws(() => lock.releaseWrite(), { code: 'SKEIN_SYNC_NOT_OWNER' });
  {
    using _read = lock.acquireRead();
    assert.throws(() => lock.releaseWrite(), { code: 'SKEIN_SYNC_NOT_OWNER', message: /1 read lock/ });
    assert.throws(() => lock.acquireWrite({ timeout: SOON_MS }), {
      code: 'SKEIN_SYNC_WOULD_DEADLOCK',
      message: /cannot be upgraded/,
    });
    assert.equal(lock.tryAcquireWrite(), false);
  }
  {
    using _write = lock.acquireWrite();
    assert.throws(() => lock.acquireRead({ timeout: SOON_MS }), { code: 'SKEIN_SYNC_WOULD_DEADLOCK' });
    assert.throws(() => lock.releaseRead(), { code: 'SKEIN_SYNC_NOT_OWNER', message: /held by this thread/ });
    assert.equal(lock.writer, 0);
  }
  const other = holding('write', lock);
  await untilCell(other.gate, 0, 1, 'the worker writes');
  assert.throws(() => lock.releaseWrite(), { code: 'SKEIN_SYNC_NOT_OWNER', message: /held by thread \d+/ });
  await assert.rejects(lock.acquireReadAsync({ timeout: 20 }), (error: unknown) => {
    assert.ok(error instanceof TimeoutError);
    assert.match(error.message, /write-locked by thread \d+/);
    return true;
  });
  assert.throws(() => lock.acquireWrite({ timeout: 20 }), { code: 'SKEIN_TIMEOUT' });
  await assert.rejects(lock.acquireWriteAsync({ signal: AbortSignal.abort() }), { code: 'SKEIN_ABORTED' });
  await terminated(other.worker);
  assert.throws(() => lock.tryAcquireRead(), { code: 'SKEIN_SYNC_OWNER_DIED' }, 'the dead writer is found');
  assert.equal(lock.tryAcquireRead(), true);
  lock.releaseRead();
});

test('a writer that died holding the lock is reported to the next acquirer with SKEIN_SYNC_OWNER_DIED', async () => {
  const lock = new RWLock();
  const first = holding('write', lock);
  await untilCell(first.gate, 0, 1, 'the worker writes');
  const waiting = lock.acquireReadAsync({ timeout: SOON_MS });
  void first.worker.terminate();
  await assert.rejects(waiting, (error: unknown) => {
    assert.ok(error instanceof OwnerDiedError);
    assert.equal(error.code, 'SKEIN_SYNC_OWNER_DIED');
    assert.match(error.message, /write lock was held by thread \d+/);
    return true;
  });
  assert.equal(lock.writer, null);
  (await lock.acquireReadAsync({ timeout: SOON_MS })).release();

  const second = holding('write', lock);
  await untilCell(second.gate, 0, 1, 'another worker writes');
  await terminated(second.worker);
  assert.throws(() => lock.acquireWrite({ timeout: SOON_MS }), { code: 'SKEIN_SYNC_OWNER_DIED' });
  lock.acquireWrite({ timeout: SOON_MS }).release();
});

test('read locks of a reader that died are given back without an error', async () => {
  const lock = new RWLock();
  const reader = holding('read', lock);
  await untilCell(reader.gate, 0, 1, 'the worker reads');
  const writing = lock.acquireWriteAsync({ timeout: SOON_MS });
  void reader.worker.terminate();
  const held = await writing;
  assert.equal(lock.writer, 0);
  assert.equal(lock.readers, 0);
  held.release();
});
