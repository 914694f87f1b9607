// ProcessCondition across real child processes: waiters in two processes (blocking and async) see a
// state change made under the lock and notified, a timed-out wait returns holding the lock, a holder's
// death is told to the waiter taking the lock back, and misuse is reported.

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { setImmediate as yieldToLoop } from 'node:timers/promises';
import { ProcessCondition } from '../../src/sync/process-condition.ts';
import { ProcessLock } from '../../src/sync/process-lock.ts';
import { fromHandle, toHandle } from '../../src/sync/shared.ts';
import { codeOf, settle, within } from '../conformance/helpers.ts';
import { forkFixture, SOON_MS } from './process-children.ts';

const T = { timeout: 60_000 };

describe('ProcessCondition', () => {
  it('wakes waiters in other processes once the state they wait for changed', T, async (t) => {
    const condition = new ProcessCondition();
    const dir = mkdtempSync(join(tmpdir(), 'skein-test-'));
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    const file = join(dir, 'state');
    writeFileSync(file, 'not yet');
    const children = [true, false].map((blocking) => {
      const child = forkFixture(t, 'wait-on-condition.ts');
      child.send({ condition: toHandle(condition), file, blocking });
      return child;
    });
    for (const child of children) await child.next('started');
    {
      using _held = await condition.acquireAsync();
      writeFileSync(file, 'ready');
      condition.notifyAll();
    }
    for (const child of children) assert.equal(await child.next('saw ready'), 'saw ready');
    for (const child of children)
      assert.deepEqual(await child.next('timed out'), { timedOut: 'SKEIN_TIMEOUT' });
    for (const child of children) await child.finished('exit');
  });

  it("tells a waiter taking the lock back that the lock's holder was SIGKILLed", T, async (t) => {
    const condition = new ProcessCondition(new ProcessLock());
    await condition.acquireAsync();
    const controller = new AbortController();
    const waiting = condition.waitAsync({ signal: controller.signal });
    const child = forkFixture(t, 'acquire-then-await-kill.ts');
    child.send({ target: toHandle(condition), blocking: false });
    await child.next('held');
    assert.throws(() => condition.notify(), { code: 'SKEIN_SYNC_NOT_OWNER' });
    process.kill(child.pid, 'SIGKILL');
    await child.exited;
    // The abort sends the wait back into the lock's line, before or after the hub noticed the death:
    // either way it is the one told.
    controller.abort();
    const outcome = await within(
      settle(() => waiting),
      SOON_MS,
      'the waiter',
    );
    assert.equal(codeOf((outcome as { reason?: unknown }).reason), 'SKEIN_SYNC_OWNER_DIED');
    assert.equal(condition.tryAcquire(), true, 'the lock is free again');
    condition.release();
  });

  it('notifies in FIFO order, returns holding the lock after a timeout or abort, and checks misuse', async () => {
    const lock = new ProcessLock();
    const condition = new ProcessCondition(lock);
    assert.throws(() => condition.notify(), { code: 'SKEIN_SYNC_NOT_OWNER' });
    assert.throws(() => condition.wait(), { code: 'SKEIN_SYNC_NOT_OWNER' });
    await assert.rejects(condition.waitAsync(), { code: 'SKEIN_SYNC_NOT_OWNER' });
    const order: number[] = [];
    const waiter = async (id: number): Promise<void> => {
      using _held = await condition.acquireAsync();
      await condition.waitAsync({ timeout: SOON_MS });
      order.push(id);
    };
    const first = waiter(1);
    await yieldToLoop();
    const second = waiter(2);
    await yieldToLoop();
    {
      using _held = await condition.acquireAsync();
      assert.throws(() => condition.wait(), { code: 'SKEIN_SYNC_WOULD_DEADLOCK' });
      assert.equal(lock.heldByCurrentThread(), true, 'a refused wait keeps the lock');
      condition.notify();
    }
    await first;
    {
      using _held = await condition.acquireAsync();
      condition.notifyAll();
    }
    await second;
    assert.deepEqual(order, [1, 2]);
    await condition.acquireAsync();
    await assert.rejects(condition.waitAsync({ timeout: 10 }), { code: 'SKEIN_TIMEOUT' });
    assert.equal(lock.heldByCurrentThread(), true);
    const controller = new AbortController();
    const aborted = condition.waitAsync({ signal: controller.signal });
    controller.abort();
    await assert.rejects(aborted, { code: 'SKEIN_ABORTED' });
    assert.equal(lock.heldByCurrentThread(), true);
    assert.equal(await condition.waitForAsync(() => 'at once'), 'at once');
    await assert.rejects(
      condition.waitForAsync(() => false, { timeout: 10 }),
      { code: 'SKEIN_TIMEOUT' },
    );
    condition.release();
    const revived = fromHandle<ProcessCondition>(JSON.parse(JSON.stringify(toHandle(condition))));
    assert.equal(revived.tryAcquire(), true, 'a revived condition shares the lock');
    assert.equal(lock.locked(), true);
    revived.release();
    assert.throws(() => new ProcessCondition({} as never), { code: 'SKEIN_SYNC_INVALID_ARGUMENT' });
  });
});
