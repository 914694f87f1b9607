// ProcessEvent across real child processes: set() wakes a blocking and an async waiter in two other
// processes, clear() makes later waits wait (they time out), and the hub's own thread may not block.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ProcessEvent } from '../../src/sync/process-event.ts';
import { toHandle } from '../../src/sync/shared.ts';
import { forkFixture } from './process-children.ts';

const T = { timeout: 60_000 };

describe('ProcessEvent', () => {
  it('wakes waiters in other processes on set(), and later waits wait again after clear()', T, async (t) => {
    const event = new ProcessEvent();
    const children = [true, false].map((blocking) => {
      const child = forkFixture(t, 'wait-for-event.ts');
      child.send({ event: toHandle(event), blocking });
      return child;
    });
    for (const child of children) assert.equal(await child.next('waiting'), 'waiting');
    event.set();
    for (const child of children) assert.deepEqual(await child.next('woken'), { woken: true, isSet: true });
    event.clear();
    assert.equal(event.isSet(), false);
    for (const child of children) child.send('cleared');
    for (const child of children)
      assert.deepEqual(await child.next('second wait'), { second: 'SKEIN_TIMEOUT' });
    for (const child of children) await child.finished('exit');
  });

  it('returns at once when set, and refuses to block its hub thread while clear', async () => {
    const event = new ProcessEvent();
    assert.throws(() => event.wait(), { code: 'SKEIN_SYNC_WOULD_DEADLOCK' });
    await assert.rejects(event.waitAsync({ timeout: 10 }), { code: 'SKEIN_TIMEOUT' });
    const waiting = event.waitAsync();
    event.set();
    await waiting;
    event.wait();
    await event.waitAsync({ signal: AbortSignal.timeout(1_000) });
  });
});
