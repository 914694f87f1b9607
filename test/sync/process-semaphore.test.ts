// ProcessSemaphore and ProcessBoundedSemaphore across real child processes: the bound holds (a log of
// entries and exits never shows more inside than permits), a holder's death gives its permit back and
// is told to the next acquirer, and misuse is reported with typed errors.

import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { setImmediate as yieldToLoop } from 'node:timers/promises';
import { ProcessBoundedSemaphore, ProcessSemaphore } from '../../src/sync/process-semaphore.ts';
import { toHandle } from '../../src/sync/shared.ts';
import { codeOf, settle, within } from '../conformance/helpers.ts';
import { forkFixture, SOON_MS } from './process-children.ts';

const T = { timeout: 60_000 };

describe('ProcessSemaphore', () => {
  it('never lets more holders in than it has permits, across processes', T, async (t) => {
    const semaphore = new ProcessSemaphore(2);
    const dir = mkdtempSync(join(tmpdir(), 'skein-test-'));
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    const log = join(dir, 'log');
    writeFileSync(log, '');
    const times = 40;
    const children = [true, false, false].map((blocking) => {
      const child = forkFixture(t, 'log-inside-semaphore.ts');
      child.send({ semaphore: toHandle(semaphore), log, times, blocking });
      return child;
    });
    for (const child of children) await child.next('done');
    for (const child of children) await child.finished('exit');
    let inside = 0;
    let most = 0;
    let entries = 0;
    for (const line of readFileSync(log, 'utf8').split('\n')) {
      if (line === '+') {
        inside++;
        entries++;
        most = Math.max(most, inside);
      } else if (line === '-') inside--;
    }
    assert.equal(entries, 3 * times);
    assert.equal(inside, 0);
    assert.ok(most <= 2, `at most 2 inside at once, saw ${most}`);
    assert.equal(semaphore.value, 2);
  });

  it('gives back the permit of a SIGKILLed holder and tells the next acquirer', T, async (t) => {
    const semaphore = new ProcessSemaphore(1);
    const child = forkFixture(t, 'acquire-then-await-kill.ts');
    child.send({ target: toHandle(semaphore), blocking: false });
    await child.next('held');
    assert.equal(semaphore.value, 0);
    const waiting = semaphore.acquireAsync({ timeout: SOON_MS });
    process.kill(child.pid, 'SIGKILL');
    const outcome = await within(
      settle(() => waiting),
      SOON_MS,
      'acquire after the death',
    );
    assert.equal(codeOf((outcome as { reason?: unknown }).reason), 'SKEIN_SYNC_OWNER_DIED');
    assert.equal(semaphore.value, 1, 'the permit is back');
    const permit = await semaphore.acquireAsync({ timeout: SOON_MS });
    permit.release();
  });

  it('serves waiters first come, first served, and times out or aborts on the hub thread', async () => {
    const semaphore = new ProcessSemaphore(0);
    assert.equal(semaphore.tryAcquire(), false);
    const order: number[] = [];
    const first = semaphore.acquireAsync().then(() => order.push(1));
    const second = semaphore.acquireAsync().then(() => order.push(2));
    await yieldToLoop();
    semaphore.release(2);
    await Promise.all([first, second]);
    assert.deepEqual(order, [1, 2]);
    await assert.rejects(semaphore.acquireAsync({ timeout: 10 }), { code: 'SKEIN_TIMEOUT' });
    const controller = new AbortController();
    const aborted = semaphore.acquireAsync({ signal: controller.signal });
    controller.abort();
    await assert.rejects(aborted, { code: 'SKEIN_ABORTED' });
    assert.throws(() => semaphore.acquire(), { code: 'SKEIN_SYNC_WOULD_DEADLOCK' });
    semaphore.release();
    assert.equal(semaphore.value, 1, 'no aborted or timed-out call took a permit');
    assert.throws(() => new ProcessSemaphore(-1), { code: 'SKEIN_SYNC_INVALID_ARGUMENT' });
    assert.throws(() => semaphore.release(0), { code: 'SKEIN_SYNC_INVALID_ARGUMENT' });
  });
});

describe('ProcessBoundedSemaphore', () => {
  it('reports a release beyond its initial value with SKEIN_SYNC_OVER_RELEASE', () => {
    const semaphore = new ProcessBoundedSemaphore(2);
    assert.throws(() => semaphore.release(), { code: 'SKEIN_SYNC_OVER_RELEASE' });
    const permit = semaphore.acquire();
    permit.release();
    assert.throws(() => semaphore.release(), { code: 'SKEIN_SYNC_OVER_RELEASE' });
    assert.equal(semaphore.value, 2);
    assert.equal(Object.prototype.toString.call(semaphore), '[object ProcessBoundedSemaphore]');
  });
});
