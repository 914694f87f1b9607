// Event across real threads: set() wakes every waiter (blocking workers and an async main thread), a
// waiter that was waiting when set() ran returns even if clear() follows at once, and waits time out or
// abort cleanly.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { AbortError, TimeoutError } from '../../src/index.ts';
import { Event, fromHandle, toHandle } from '../../src/sync/index.ts';
import { cellsOf, SOON_MS, untilCell } from './helpers.ts';
import { spawn } from './spawn.ts';

test('set() wakes every thread waiting for the Event', async () => {
  for (let round = 0; round < 3; round++) {
    const event = new Event();
    const gate = cellsOf(2);
    const workers = [0, 1, 2].map(
      () => spawn('event-waiter.ts', { event: toHandle(event), gate: gate.buffer }).done,
    );
    const mine = event.waitAsync({ timeout: SOON_MS });
    await untilCell(gate, 0, 3, 'three workers are about to wait');
    assert.equal(event.isSet(), false);
    event.set();
    await mine;
    await untilCell(gate, 1, 3, `round ${round}: every worker woke`);
    assert.deepEqual(await Promise.all(workers), ['woken', 'woken', 'woken']);
  }
});

test('a waiter that was waiting when set() ran returns even if clear() comes right after', async () => {
  const event = new Event();
  const waiting = [event.waitAsync({ timeout: SOON_MS }), event.waitAsync({ timeout: SOON_MS })];
  event.set();
  event.clear();
  await Promise.all(waiting);
  assert.equal(event.isSet(), false);
});

test('wait returns at once while set; after clear() it times out or aborts', async () => {
  const event = new Event();
  event.set();
  event.set();
  event.wait({ timeout: 0 });
  await event.waitAsync({ timeout: 0 });
  assert.equal(fromHandle<Event>(toHandle(event)).isSet(), true, 'a revived Event shares the flag');
  event.clear();
  assert.throws(
    () => event.wait({ timeout: 20 }),
    (error: unknown) => {
      assert.ok(error instanceof TimeoutError);
      assert.equal(error.code, 'SKEIN_TIMEOUT');
      return true;
    },
  );
  await assert.rejects(event.waitAsync({ timeout: 20 }), { code: 'SKEIN_TIMEOUT' });
  const controller = new AbortController();
  const waiting = event.waitAsync({ signal: controller.signal });
  controller.abort();
  await assert.rejects(
    waiting,
    (error: unknown) => error instanceof AbortError && error.code === 'SKEIN_ABORTED',
  );
  assert.throws(() => event.wait({ timeout: -1 }), { code: 'SKEIN_SYNC_INVALID_ARGUMENT' });
  assert.throws(() => event.wait('soon' as never), { code: 'SKEIN_SYNC_INVALID_ARGUMENT' });
});
