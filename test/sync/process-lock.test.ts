// ProcessLock and ProcessRLock across real child processes: exclusion (a counter in a file ends exact),
// blocking forms in children, timeouts and aborts, owner death by SIGKILL at a known point, a hub that
// dies under its clients, and the hub's socket removed when its process exits.

import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { describe, it, type TestContext } from 'node:test';
import { SkeinError } from '../../src/errors.ts';
import { ProcessPool, ThreadPool } from '../../src/pool/index.ts';
import { ProcessLock } from '../../src/sync/process-lock.ts';
import { ProcessRLock } from '../../src/sync/process-rlock.ts';
import { fromHandle, fromHandleAsync, type SharedHandle, toHandle } from '../../src/sync/shared.ts';
import { codeOf, destroyAfter, settle, within } from '../conformance/helpers.ts';
import { incrementFileUnderLock } from '../fixtures/process-lock-tasks.ts';
import { forkFixture, SOON_MS } from './process-children.ts';

const T = { timeout: 60_000 };

function counterFile(t: TestContext): string {
  const dir = mkdtempSync(join(tmpdir(), 'skein-test-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'counter');
  writeFileSync(file, '0');
  return file;
}

async function rejectsWith(promise: Promise<unknown>, code: string, what: string): Promise<void> {
  const outcome = await within(
    settle(() => promise),
    SOON_MS,
    what,
  );
  assert.equal(outcome.status, 'rejected', `${what} should reject`);
  assert.equal(codeOf((outcome as { reason: unknown }).reason), code, what);
}

describe('ProcessLock', () => {
  it(
    'keeps three child processes and its creator mutually exclusive (the counter ends exact)',
    T,
    async (t) => {
      const lock = new ProcessLock();
      const file = counterFile(t);
      const times = 150;
      const children = [false, true, false].map((blocking) => {
        const child = forkFixture(t, 'increment-file-under-lock.ts');
        child.send({ lock: toHandle(lock), file, times, blocking, reenter: false });
        return child;
      });
      for (let i = 0; i < 100; i++) {
        const held = await lock.acquireAsync({ timeout: SOON_MS });
        try {
          writeFileSync(file, String(Number(readFileSync(file, 'utf8')) + 1));
        } finally {
          held.release();
        }
      }
      for (const child of children) assert.deepEqual(await child.next('done'), { done: times });
      for (const child of children) await child.finished('exit after its increments');
      assert.equal(Number(readFileSync(file, 'utf8')), 100 + 3 * times);
      assert.equal(lock.locked(), false);
    },
  );

  it(
    'travels as a pool task argument: ThreadPool threads and ProcessPool children exclude each other',
    T,
    async (t) => {
      const lock = new ProcessLock();
      const file = counterFile(t);
      const threads = destroyAfter(t, new ThreadPool({ minWorkers: 2, maxWorkers: 2 }));
      const children = destroyAfter(t, new ProcessPool({ minWorkers: 2, maxWorkers: 2 }));
      const times = 60;
      const runs = [threads, threads, children, children].map((pool) =>
        pool.run(incrementFileUnderLock, lock, file, times),
      );
      assert.deepEqual(await within(Promise.all(runs), 3 * SOON_MS, 'the pool tasks'), [
        times,
        times,
        times,
        times,
      ]);
      assert.equal(Number(readFileSync(file, 'utf8')), 4 * times);
    },
  );

  it('rejects waits that cannot succeed in a child with typed errors, and leaks no grant', T, async (t) => {
    const lock = new ProcessLock();
    const held = await lock.acquireAsync();
    const child = forkFixture(t, 'report-lock-wait-errors.ts');
    child.send({ lock: toHandle(lock) });
    assert.deepEqual(await child.next('outcomes'), {
      asyncTimeout: 'SKEIN_TIMEOUT',
      blockingTimeout: 'SKEIN_TIMEOUT',
      aborted: 'SKEIN_ABORTED',
      tryAcquire: { value: false },
      release: 'SKEIN_SYNC_NOT_OWNER',
      locked: true,
      ownerPid: process.pid,
    });
    await child.finished('exit');
    held.release();
    assert.equal(lock.tryAcquire(), true, 'no aborted or timed-out call kept the lock');
    lock.release();
  });

  it(
    'tells the next acquirer with OwnerDiedError when the holder is SIGKILLed, then is free',
    T,
    async (t) => {
      for (const blocking of [true, false]) {
        const lock = new ProcessLock();
        const child = forkFixture(t, 'acquire-then-await-kill.ts');
        child.send({ target: toHandle(lock), blocking });
        assert.equal(await child.next('held'), 'held');
        assert.deepEqual(lock.owner, { pid: child.pid, threadId: 0 });
        const waiting = lock.acquireAsync({ timeout: SOON_MS });
        process.kill(child.pid, 'SIGKILL');
        await rejectsWith(
          waiting,
          'SKEIN_SYNC_OWNER_DIED',
          `acquire after the ${blocking ? 'blocking' : 'async'} holder died`,
        );
        assert.equal(lock.locked(), false);
        const again = await lock.acquireAsync({ timeout: SOON_MS });
        again.release();
        assert.deepEqual((await child.exited).signal, 'SIGKILL');
      }
    },
  );

  it('tells a later acquirer when the holder died while nobody waited', T, async (t) => {
    const lock = new ProcessLock();
    const child = forkFixture(t, 'acquire-then-await-kill.ts');
    child.send({ target: toHandle(lock), blocking: false });
    await child.next('held');
    process.kill(child.pid, 'SIGKILL');
    await child.exited;
    // The hub may see the connection close before or after this call arrives: either way it is told.
    await rejectsWith(
      lock.acquireAsync({ timeout: SOON_MS }),
      'SKEIN_SYNC_OWNER_DIED',
      'acquire after the death',
    );
    assert.equal(lock.tryAcquire(), true);
    lock.release();
  });

  it(
    'fails pending and later calls with SKEIN_SYNC_DISCONNECTED when its hub process is killed',
    T,
    async (t) => {
      const hub = forkFixture(t, 'create-lock-and-hold.ts');
      const { lock: handle, path } = await hub.next<{ lock: SharedHandle; path: string }>('the lock');
      // A hub killed by a signal cannot remove its socket: the test does.
      t.after(() => rmSync(dirname(path), { recursive: true, force: true }));
      const lock = await fromHandleAsync<ProcessLock>(handle);
      const pending = lock.acquireAsync();
      assert.equal(lock.locked(), true, 'the hub answers while alive');
      process.kill(hub.pid, 'SIGKILL');
      await rejectsWith(pending, 'SKEIN_SYNC_DISCONNECTED', 'the pending acquire');
      await rejectsWith(lock.acquireAsync(), 'SKEIN_SYNC_DISCONNECTED', 'a later acquireAsync');
      assert.throws(() => lock.acquire({ timeout: 1_000 }), { code: 'SKEIN_SYNC_DISCONNECTED' });
      assert.throws(() => lock.tryAcquire(), { code: 'SKEIN_SYNC_DISCONNECTED' });
      assert.throws(() => lock.release(), { code: 'SKEIN_SYNC_DISCONNECTED' });
    },
  );

  it('works from a process that did not create it, and its hub removes the socket on exit', T, async (t) => {
    const hub = forkFixture(t, 'create-lock-and-hold.ts');
    const { lock: handle, path } = await hub.next<{ lock: SharedHandle; path: string }>('the lock');
    assert.equal(existsSync(path), true);
    // Handles are plain data: they survive JSON as well as structured clone.
    const lock = fromHandle<ProcessLock>(JSON.parse(JSON.stringify(handle)) as SharedHandle);
    const waiting = lock.acquireAsync({ timeout: SOON_MS });
    hub.send('release');
    assert.equal(await hub.next('released'), 'released');
    const held = await waiting;
    assert.equal(lock.heldByCurrentThread(), true);
    assert.deepEqual(lock.owner, { pid: process.pid, threadId: 0 });
    held.release();
    lock.acquire({ timeout: SOON_MS }).release(); // the blocking form from this (client) thread
    hub.send('exit');
    await hub.finished('exit');
    assert.equal(existsSync(path), false, 'socket file removed');
    assert.equal(existsSync(dirname(path)), false, 'its private directory removed');
  });

  it('refuses a blocking wait on the thread that runs its hub, and checks the owner there', () => {
    const lock = new ProcessLock();
    assert.equal(lock.tryAcquire(), true);
    assert.equal(lock.tryAcquire(), false);
    assert.throws(() => lock.acquire(), { code: 'SKEIN_SYNC_WOULD_DEADLOCK' });
    assert.equal(lock.heldByCurrentThread(), true);
    lock.release();
    assert.throws(
      () => lock.release(),
      (error: unknown) => error instanceof SkeinError && error.code === 'SKEIN_SYNC_NOT_OWNER',
    );
    lock.acquire().release(); // free: the blocking form needs no wait
    const same = fromHandle<ProcessLock>(toHandle(lock));
    using _held = same.acquire();
    assert.equal(lock.locked(), true);
  });

  it('rejects at once for an already-aborted signal and times out on the hub thread', async () => {
    const lock = new ProcessLock();
    const held = await lock.acquireAsync();
    await rejectsWith(lock.acquireAsync({ signal: AbortSignal.abort() }), 'SKEIN_ABORTED', 'pre-aborted');
    await rejectsWith(lock.acquireAsync({ timeout: 20 }), 'SKEIN_TIMEOUT', 'timed out');
    const controller = new AbortController();
    const aborted = lock.acquireAsync({ signal: controller.signal });
    controller.abort();
    await rejectsWith(aborted, 'SKEIN_ABORTED', 'aborted while waiting');
    held.release();
    assert.equal(lock.locked(), false);
  });
});

describe('ProcessRLock', () => {
  it('is reentrant per thread and exclusive across processes (the counter ends exact)', T, async (t) => {
    const lock = new ProcessRLock();
    const file = counterFile(t);
    const times = 100;
    const children = [true, false].map((blocking) => {
      const child = forkFixture(t, 'increment-file-under-lock.ts');
      child.send({ lock: toHandle(lock), file, times, blocking, reenter: true });
      return child;
    });
    for (let i = 0; i < 50; i++) {
      const outer = await lock.acquireAsync();
      const inner = lock.acquire(); // reentrant: no wait, so allowed on the hub's thread
      assert.equal(lock.count, 2);
      writeFileSync(file, String(Number(readFileSync(file, 'utf8')) + 1));
      inner.release();
      outer.release();
    }
    for (const child of children) await child.next('done');
    for (const child of children) await child.finished('exit');
    assert.equal(Number(readFileSync(file, 'utf8')), 50 + 2 * times);
  });

  it('frees the lock whatever its count when the holding process is SIGKILLed', T, async (t) => {
    const lock = new ProcessRLock();
    const child = forkFixture(t, 'acquire-then-await-kill.ts');
    child.send({ target: toHandle(lock), blocking: true });
    await child.next('held');
    const waiting = lock.acquireAsync({ timeout: SOON_MS });
    process.kill(child.pid, 'SIGKILL');
    await rejectsWith(waiting, 'SKEIN_SYNC_OWNER_DIED', 'acquire after the death');
    const held = await lock.acquireAsync({ timeout: SOON_MS });
    assert.equal(lock.count, 1);
    held.release();
  });
});
