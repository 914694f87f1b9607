// ProcessBarrier across real child processes: rounds whose arrival indices are always 0..parties-1,
// the action run by the last arrival, a party SIGKILLed while waiting breaking the barrier for the
// others, and timeouts, abort() and reset() as in Python.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { setImmediate as yieldToLoop } from 'node:timers/promises';
import { ProcessBarrier } from '../../src/sync/process-barrier.ts';
import { toHandle } from '../../src/sync/shared.ts';
import { codeOf, settle, within } from '../conformance/helpers.ts';
import { forkFixture, SOON_MS } from './process-children.ts';

const T = { timeout: 60_000 };

/** Resolves once `parties` parties wait at the barrier (a hub-side fact, so no race with the arrival). */
async function waiting(barrier: ProcessBarrier, parties: number): Promise<void> {
  const deadline = performance.now() + SOON_MS;
  while (barrier.nWaiting < parties) {
    if (performance.now() > deadline) throw new Error(`${parties} parties never waited at the barrier`);
    await yieldToLoop();
  }
}

describe('ProcessBarrier', () => {
  it('passes rounds with distinct arrival indices and runs the action of the last arrival', T, async (t) => {
    const rounds = 15;
    let actions = 0;
    const barrier = new ProcessBarrier(3, { action: () => actions++ });
    const children = [true, false].map((blocking) => {
      const child = forkFixture(t, 'meet-at-barrier.ts');
      child.send({ barrier: toHandle(barrier), rounds, blocking });
      return child;
    });
    const mine: number[] = [];
    for (let round = 0; round < rounds; round++) mine.push(await barrier.waitAsync({ timeout: SOON_MS }));
    const theirs: { indices: number[] }[] = [];
    for (const child of children) {
      assert.equal(await child.next('arriving'), 'arriving');
      theirs.push(await child.next<{ indices: number[] }>('indices'));
    }
    for (const child of children) await child.finished('exit');
    for (let round = 0; round < rounds; round++) {
      const indices = [mine[round], theirs[0]?.indices[round], theirs[1]?.indices[round]];
      assert.deepEqual(indices.toSorted(), [0, 1, 2], `round ${round}`);
    }
    assert.equal(
      actions,
      mine.filter((index) => index === 2).length,
      'the action ran exactly when this party came last',
    );
  });

  it('breaks for the others when a waiting party is SIGKILLed, until reset()', T, async (t) => {
    const barrier = new ProcessBarrier(3);
    const child = forkFixture(t, 'meet-at-barrier.ts');
    child.send({ barrier: toHandle(barrier), rounds: 1, blocking: true });
    await child.next('arriving');
    await waiting(barrier, 1);
    const mine = barrier.waitAsync({ timeout: SOON_MS });
    process.kill(child.pid, 'SIGKILL');
    const outcome = await within(
      settle(() => mine),
      SOON_MS,
      'the wait of the surviving party',
    );
    assert.equal(codeOf((outcome as { reason?: unknown }).reason), 'SKEIN_SYNC_BROKEN_BARRIER');
    assert.equal(barrier.broken, true);
    await assert.rejects(barrier.waitAsync(), { code: 'SKEIN_SYNC_BROKEN_BARRIER' });
    barrier.reset();
    assert.equal(barrier.broken, false);
  });

  it('is broken by a timed-out or aborted wait, and by abort()', async () => {
    const barrier = new ProcessBarrier(3);
    const other = barrier.waitAsync();
    await assert.rejects(barrier.waitAsync({ timeout: 10 }), { code: 'SKEIN_TIMEOUT' });
    await assert.rejects(other, { code: 'SKEIN_SYNC_BROKEN_BARRIER' });
    barrier.reset();
    const controller = new AbortController();
    const aborted = barrier.waitAsync({ signal: controller.signal });
    controller.abort();
    await assert.rejects(aborted, { code: 'SKEIN_ABORTED' });
    assert.equal(barrier.broken, true);
    barrier.reset();
    const pending = barrier.waitAsync();
    barrier.abort();
    await assert.rejects(pending, { code: 'SKEIN_SYNC_BROKEN_BARRIER' });
    barrier.reset();
    assert.throws(() => barrier.wait(), { code: 'SKEIN_SYNC_WOULD_DEADLOCK' });
    assert.equal(barrier.nWaiting, 0, 'a refused blocking wait leaves no trace');
    assert.equal(barrier.broken, false);
    assert.throws(() => new ProcessBarrier(0), { code: 'SKEIN_SYNC_INVALID_ARGUMENT' });
  });
});
