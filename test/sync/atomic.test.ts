// AtomicInt32 and AtomicBigInt64 across real threads: counts stay exact under contention, workers blocked
// in waitUntilChanged wake on a store from the main thread, and every operation returns what it documents.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { AbortError, TimeoutError } from '../../src/index.ts';
import { AtomicBigInt64, AtomicInt32, fromHandle, toHandle } from '../../src/sync/index.ts';
import { SOON_MS } from './helpers.ts';
import { spawn } from './spawn.ts';

test('counters stay exact while three workers (woken by a store from here) and the main thread update them', async () => {
  const small = new AtomicInt32(-1);
  const big = new AtomicBigInt64(-1n);
  const times = 20_000;
  const workers = [0, 1, 2].map(
    () => spawn<number>('atomic-hammer.ts', { int32: toHandle(small), int64: toHandle(big), times }).done,
  );
  big.store(0n);
  small.store(0);
  for (let i = 0; i < 1_000; i++) {
    small.add(3);
    big.add(2n ** 33n + 1n);
    if (i % 100 === 0) await null;
  }
  assert.deepEqual(await Promise.all(workers), [times, times, times]);
  assert.equal(small.load(), 2 * 3 * times + 3 * 1_000);
  assert.equal(big.load(), (2n ** 33n + 1n) * BigInt(3 * times + 1_000));
});

test('waitUntilChangedAsync resolves with the first other value, and times out or aborts while it stays', async () => {
  const cell = new AtomicInt32(7);
  assert.equal(cell.waitUntilChanged(6), 7, 'returns at once when it already differs');
  const changed = cell.waitUntilChangedAsync(7, { timeout: SOON_MS });
  fromHandle<AtomicInt32>(toHandle(cell)).store(8);
  assert.equal(await changed, 8);
  assert.throws(
    () => cell.waitUntilChanged(8, { timeout: 20 }),
    (error: unknown) => {
      assert.ok(error instanceof TimeoutError);
      assert.match(error.message, /stayed 8/);
      return true;
    },
  );
  const controller = new AbortController();
  const waiting = cell.waitUntilChangedAsync(8, { signal: controller.signal });
  controller.abort();
  await assert.rejects(
    waiting,
    (error: unknown) => error instanceof AbortError && error.code === 'SKEIN_ABORTED',
  );

  const big = new AtomicBigInt64(5n);
  const bigChanged = big.waitUntilChangedAsync(5n, { timeout: SOON_MS });
  big.increment();
  assert.equal(await bigChanged, 6n);
  await assert.rejects(big.waitUntilChangedAsync(6n, { timeout: 20 }), { code: 'SKEIN_TIMEOUT' });
});

test('AtomicInt32 operations return the previous value (increment/decrement the new one) and wrap around', () => {
  const cell = new AtomicInt32();
  assert.equal(cell.load(), 0);
  assert.equal(cell.add(5), 0);
  assert.equal(cell.sub(2), 5);
  assert.equal(cell.increment(), 4);
  assert.equal(cell.decrement(), 3);
  assert.equal(cell.exchange(12), 3);
  assert.equal(cell.compareExchange(11, 1), 12, 'no swap: returns what it found');
  assert.equal(cell.compareExchange(12, 0b1010), 12);
  assert.equal(cell.and(0b0110), 0b1010);
  assert.equal(cell.or(0b0001), 0b0010);
  assert.equal(cell.xor(0xffff_ffff), 0b0011);
  assert.equal(cell.load(), ~0b0011);
  cell.store(2 ** 31 - 1);
  assert.equal(cell.increment(), -(2 ** 31));
  assert.equal(String(cell), String(-(2 ** 31)));
});

test('AtomicBigInt64 holds values past 32 bits and wraps at 64', () => {
  const cell = new AtomicBigInt64(2n ** 40n);
  assert.equal(cell.add(1n), 2n ** 40n);
  assert.equal(cell.load(), 2n ** 40n + 1n);
  assert.equal(cell.sub(1n), 2n ** 40n + 1n);
  assert.equal(cell.exchange(3n), 2n ** 40n);
  assert.equal(cell.compareExchange(3n, 2n ** 62n), 3n);
  assert.equal(cell.and(2n ** 62n), 2n ** 62n);
  assert.equal(cell.or(1n), 2n ** 62n);
  assert.equal(cell.xor(1n), 2n ** 62n + 1n);
  cell.store(2n ** 63n - 1n);
  assert.equal(cell.increment(), -(2n ** 63n));
  assert.equal(cell.decrement(), 2n ** 63n - 1n);
  assert.equal(fromHandle<AtomicBigInt64>(toHandle(cell)).load(), 2n ** 63n - 1n);
  assert.equal(new AtomicBigInt64().load(), 0n);
});

test('values of the wrong type or range are refused with SKEIN_SYNC_INVALID_ARGUMENT', () => {
  for (const value of [1.5, 2 ** 31, -(2 ** 31) - 1, '1', 1n, Number.NaN]) {
    assert.throws(() => new AtomicInt32(value as number), {
      code: 'SKEIN_SYNC_INVALID_ARGUMENT',
      message: /32-bit signed integer/,
    });
  }
  const cell = new AtomicInt32();
  assert.throws(() => cell.add(0.5), {
    code: 'SKEIN_SYNC_INVALID_ARGUMENT',
    message: /AtomicInt32.add\(\) operand/,
  });
  assert.throws(() => cell.and(2 ** 32), { code: 'SKEIN_SYNC_INVALID_ARGUMENT' });
  assert.throws(() => cell.waitUntilChanged(0, { timeout: -1 }), { code: 'SKEIN_SYNC_INVALID_ARGUMENT' });
  for (const value of [1, 2n ** 63n, -(2n ** 63n) - 1n, '1']) {
    assert.throws(() => new AtomicBigInt64(value as bigint), {
      code: 'SKEIN_SYNC_INVALID_ARGUMENT',
      message: /bigint/,
    });
  }
  assert.throws(() => new AtomicBigInt64().add(1 as never), { code: 'SKEIN_SYNC_INVALID_ARGUMENT' });
});
