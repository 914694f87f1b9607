// Latch across real threads: it opens exactly when the last count-down lands, for blocking workers and an
// async main thread alike; counts never go below zero; waits time out or abort cleanly.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { AbortError, TimeoutError } from '../../src/index.ts';
import { fromHandle, Latch, toHandle } from '../../src/sync/index.ts';
import { eventually } from './eventually.ts';
import { SOON_MS } from './helpers.ts';
import { spawn } from './spawn.ts';

test('three workers counting down 200 times each, plus one last step here, open the latch for everyone', async () => {
  const latch = new Latch(3 * 200 + 1);
  const opened = latch.waitAsync({ timeout: SOON_MS });
  const workers = [0, 1, 2].map(
    () => spawn<number>('latch-count-down.ts', { latch: toHandle(latch), times: 200 }).done,
  );
  await eventually(() => latch.count === 1, 'the workers counted down');
  latch.countDown();
  await opened;
  assert.deepEqual(await Promise.all(workers), [0, 0, 0]);
  assert.equal(latch.count, 0);
});

test('countDown(n) stops at zero, an open latch stays open, and bad counts are refused', async () => {
  const latch = new Latch(3);
  latch.countDown(2);
  assert.equal(latch.count, 1);
  latch.countDown(5);
  assert.equal(latch.count, 0);
  latch.countDown();
  assert.equal(latch.count, 0);
  latch.wait({ timeout: 0 });
  await latch.waitAsync();
  assert.equal(fromHandle<Latch>(toHandle(latch)).count, 0);
  new Latch(0).wait();
  for (const count of [-1, 1.5, '3', 2 ** 31]) {
    assert.throws(() => new Latch(count as number), {
      code: 'SKEIN_SYNC_INVALID_ARGUMENT',
      message: /Latch count/,
    });
  }
  assert.throws(() => latch.countDown(0), { code: 'SKEIN_SYNC_INVALID_ARGUMENT' });
});

test('a wait on a closed latch times out or aborts, naming the count left', async () => {
  const latch = new Latch(2);
  assert.throws(
    () => latch.wait({ timeout: 20 }),
    (error: unknown) => {
      assert.ok(error instanceof TimeoutError);
      assert.match(error.message, /count is still 2/);
      return true;
    },
  );
  await assert.rejects(latch.waitAsync({ timeout: 20 }), { code: 'SKEIN_TIMEOUT' });
  const controller = new AbortController();
  const waiting = latch.waitAsync({ signal: controller.signal });
  controller.abort();
  await assert.rejects(
    waiting,
    (error: unknown) => error instanceof AbortError && error.code === 'SKEIN_ABORTED',
  );
  assert.equal(latch.count, 2);
});
