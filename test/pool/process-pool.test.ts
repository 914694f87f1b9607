// ProcessPool specifics: workers are child processes; a SIGKILL from outside is a crash like any other,
// and close()/destroy() leave no child process behind.

import assert from 'node:assert/strict';
import { describe, it, type TestContext } from 'node:test';
import { WorkerCrashedError } from '../../src/index.ts';
import { type PoolOptions, ProcessPool } from '../../src/pool/index.ts';
import {
  destroyAfter,
  firstProgress,
  openGate,
  processExists,
  range,
  SOON_MS,
  settle,
  within,
} from '../conformance/helpers.ts';
import { blockUntilReleased } from '../fixtures/block-until-released.ts';
import { echo } from '../fixtures/echo.ts';
import { sumBytes } from '../fixtures/make-buffer.ts';
import { notifyThenSleep } from '../fixtures/notify-then-sleep.ts';
import { whoami } from '../fixtures/whoami.ts';

const T = { timeout: 20_000 };

const usePool = (t: TestContext, options?: PoolOptions): ProcessPool =>
  destroyAfter(t, new ProcessPool(options));

interface Ready {
  workerId: number;
  pid: number;
}

describe('ProcessPool', () => {
  it("reports kind 'process' and runs tasks in child processes", T, async (t) => {
    const pool = usePool(t, { minWorkers: 2, maxWorkers: 2 });
    assert.equal(pool.kind, 'process');
    const infos = await pool.broadcast(whoami);
    assert.equal(infos.length, 2);
    for (const info of infos) assert.notEqual(info.pid, process.pid);
    assert.equal(new Set(infos.map((info) => info.pid)).size, 2);
  });

  it('names each child process after the pool and its worker id, as threads are named', T, async (t) => {
    const pool = usePool(t, { minWorkers: 2, maxWorkers: 2, name: 'named' });
    const infos = await pool.broadcast(whoami);
    assert.deepEqual(
      infos.map((info) => info.title).sort(),
      infos.map((info) => `named-${info.workerId}`).sort(),
    );
  });

  it('rejects only the running call when its child is killed with SIGKILL from outside', T, async (t) => {
    const pool = usePool(t, { minWorkers: 2, maxWorkers: 2 });
    const gate = await openGate();
    t.after(() => gate.close());
    const victimProgress = firstProgress<Ready>();
    await pool.broadcast(whoami);
    const victim = settle(() =>
      pool.submit(notifyThenSleep, [60_000], { onProgress: victimProgress.onProgress }),
    );
    const ready = await victimProgress.next;
    // Calls made while the victim runs; any handed to its process but not started must move elsewhere.
    const sibling = settle(() => pool.run(blockUntilReleased, gate.port, 'sibling'));
    const waiting = range(10).map((i) => settle(() => pool.run(echo, i)));
    process.kill(ready.pid, 'SIGKILL');
    const outcome = await within(victim, SOON_MS, 'killed call');
    const error = (outcome as { reason: unknown }).reason;
    assert.ok(error instanceof WorkerCrashedError, String(error));
    assert.equal(error.signal, 'SIGKILL');
    assert.equal(error.exitCode, null);
    assert.equal(error.workerId, ready.workerId);
    gate.release();
    assert.deepEqual(await within(sibling, SOON_MS, 'sibling'), { status: 'fulfilled', value: 'sibling' });
    const results = await within(Promise.all(waiting), SOON_MS, 'queued calls');
    assert.deepEqual(
      results.map((r) => (r.status === 'fulfilled' ? r.value : r.reason)),
      range(10),
    );
    const after = await pool.run(whoami);
    assert.notEqual(after.pid, ready.pid);
  });

  it('copies buffers named in the transfer list', T, async (t) => {
    const pool = usePool(t, { maxWorkers: 1 });
    const bytes = new Uint8Array(4096).fill(2);
    assert.equal(await pool.submit(sumBytes, [bytes], { transfer: [bytes.buffer] }), 8192);
  });

  it('leaves no child process alive after close()', T, async () => {
    const pool = new ProcessPool({ minWorkers: 2, maxWorkers: 2 });
    const pids = new Set((await pool.broadcast(whoami)).map((info) => info.pid));
    assert.equal(pids.size, 2);
    await within(pool.close(), SOON_MS, 'close()');
    assert.equal(pool.stats().workers, 0);
    for (const pid of pids) assert.equal(processExists(pid), false, `child ${pid} still exists`);
  });

  it('leaves no child process alive after destroy(), even one busy in a task', T, async () => {
    const pool = new ProcessPool({ minWorkers: 2, maxWorkers: 2 });
    const pids = new Set((await pool.broadcast(whoami)).map((info) => info.pid));
    const busy = firstProgress<Ready>();
    const running = settle(() => pool.submit(notifyThenSleep, [60_000], { onProgress: busy.onProgress }));
    pids.add((await busy.next).pid);
    await within(pool.destroy(), SOON_MS, 'destroy()');
    assert.equal((await running).status, 'rejected');
    assert.equal(pool.stats().workers, 0);
    for (const pid of pids) assert.equal(processExists(pid), false, `child ${pid} still exists`);
  });
});
