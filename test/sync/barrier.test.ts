// Barrier across real threads: rounds in step under three workers and the main thread (indexes distinct
// per round, nobody through early, the action run by the last party before the others go), and every way
// to break it (a timed-out or aborted wait, abort(), reset() under waiting parties, a throwing action).

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { AbortError, BrokenBarrierError, TimeoutError } from '../../src/index.ts';
import { Barrier, fromHandle, toHandle } from '../../src/sync/index.ts';
import { eventually } from './eventually.ts';
import { cellsOf, SOON_MS, untilCell } from './helpers.ts';
import { spawn } from './spawn.ts';

interface Outcome {
  readonly index?: number;
  readonly code?: string;
}

function waitOnce(barrier: Barrier): { gate: Int32Array; outcome: Promise<Outcome> } {
  const gate = cellsOf(1);
  const outcome = spawn<Outcome>('barrier-wait-once.ts', {
    barrier: toHandle(barrier),
    gate: gate.buffer,
  }).done;
  return { gate, outcome };
}

test('four parties (three workers, the main thread async) pass 1000 rounds in step', async () => {
  const parties = 4;
  const rounds = 1_000;
  const arrivals = cellsOf(rounds);
  const log = cellsOf(rounds * parties);
  const violations = cellsOf(1);
  const main = parties - 1;
  let actions = 0;
  let actionSawSomeoneThrough = false;
  let round = 0;
  const barrier = new Barrier(parties, {
    action: () => {
      actions++;
      for (let party = 0; party < main; party++) {
        if (Atomics.load(log, round * parties + party) !== 0) actionSawSomeoneThrough = true;
      }
    },
  });
  const workers = [0, 1, 2].map(
    (party) =>
      spawn<number>('barrier-rounds.ts', {
        barrier: toHandle(barrier),
        rounds,
        parties,
        party,
        arrivals: arrivals.buffer,
        log: log.buffer,
        violations: violations.buffer,
      }).done,
  );
  let lastByMain = 0;
  for (; round < rounds; round++) {
    Atomics.add(arrivals, round, 1);
    const index = await barrier.waitAsync({ timeout: SOON_MS });
    if (Atomics.load(arrivals, round) !== parties) Atomics.add(violations, 0, 1);
    Atomics.store(log, round * parties + main, index + 1);
    if (index === parties - 1) lastByMain++;
  }
  assert.deepEqual(await Promise.all(workers), [rounds, rounds, rounds]);
  assert.equal(violations[0], 0, 'no party got through a round before all had arrived');
  for (let r = 0; r < rounds; r++) {
    const indexes = [...log.subarray(r * parties, (r + 1) * parties)].sort();
    assert.deepEqual(indexes, [1, 2, 3, 4], `round ${r}: each index once`);
  }
  assert.equal(actions, lastByMain, 'the action runs exactly when this object’s party arrives last');
  assert.equal(actionSawSomeoneThrough, false, 'the action runs before anyone is released');
  assert.equal(barrier.broken, false);
  assert.equal(barrier.nWaiting, 0);
});

test('the last party runs the action before the others go on, and gets index parties - 1', async () => {
  let waitingDuringAction = -1;
  const barrier = new Barrier(3, { action: () => (waitingDuringAction = barrier.nWaiting) });
  const first = waitOnce(barrier);
  const second = waitOnce(barrier);
  await eventually(() => barrier.nWaiting === 2, 'two workers wait on the barrier');
  assert.equal(barrier.wait({ timeout: SOON_MS }), 2);
  assert.equal(waitingDuringAction, 2);
  const indexes = [(await first.outcome).index, (await second.outcome).index].sort();
  assert.deepEqual(indexes, [0, 1]);
  const revived = fromHandle<Barrier>(toHandle(barrier));
  assert.equal(revived.parties, 3);
  assert.equal(new Barrier(1).wait(), 0, 'a single party passes at once');
});

test('a wait that times out breaks the barrier for the waiting parties and every later wait until reset()', async () => {
  const barrier = new Barrier(3);
  const other = waitOnce(barrier);
  await untilCell(other.gate, 0, 1, 'the worker is about to wait');
  await eventually(() => barrier.nWaiting === 1, 'the worker waits');
  await assert.rejects(barrier.waitAsync({ timeout: 30 }), (error: unknown) => {
    assert.ok(error instanceof TimeoutError);
    assert.match(error.message, /now broken/);
    return true;
  });
  assert.deepEqual(await other.outcome, { code: 'SKEIN_SYNC_BROKEN_BARRIER' });
  assert.equal(barrier.broken, true);
  assert.throws(
    () => barrier.wait(),
    (error: unknown) => {
      assert.ok(error instanceof BrokenBarrierError);
      assert.equal(error.code, 'SKEIN_SYNC_BROKEN_BARRIER');
      return true;
    },
  );
  barrier.reset();
  assert.equal(barrier.broken, false);

  const timed = new Barrier(2, { timeout: 20 });
  assert.throws(() => timed.wait(), { code: 'SKEIN_TIMEOUT' }, 'the constructor timeout applies');
  assert.equal(timed.broken, true);
  assert.equal(fromHandle<Barrier>(toHandle(timed)).broken, true);
});

test('reset() with parties waiting gives them SKEIN_SYNC_BROKEN_BARRIER and leaves the barrier usable', async () => {
  const barrier = new Barrier(2);
  const other = waitOnce(barrier);
  await eventually(() => barrier.nWaiting === 1, 'the worker waits');
  barrier.reset();
  assert.deepEqual(await other.outcome, { code: 'SKEIN_SYNC_BROKEN_BARRIER' });
  assert.equal(barrier.broken, false);
  const again = waitOnce(barrier);
  assert.equal(await barrier.waitAsync({ timeout: SOON_MS }), 1 - ((await again.outcome).index as number));
});

test('abort(), an aborted wait and a throwing action each break the barrier', async () => {
  const barrier = new Barrier(2);
  const other = waitOnce(barrier);
  await eventually(() => barrier.nWaiting === 1, 'the worker waits');
  barrier.abort();
  assert.deepEqual(await other.outcome, { code: 'SKEIN_SYNC_BROKEN_BARRIER' });
  await assert.rejects(barrier.waitAsync(), { code: 'SKEIN_SYNC_BROKEN_BARRIER' });
  barrier.reset();

  const controller = new AbortController();
  const waiting = barrier.waitAsync({ signal: controller.signal });
  controller.abort();
  await assert.rejects(
    waiting,
    (error: unknown) => error instanceof AbortError && error.code === 'SKEIN_ABORTED',
  );
  assert.equal(barrier.broken, true);
  barrier.reset();

  const failing = new Barrier(2, {
    action: () => {
      throw new Error('action failed');
    },
  });
  const partner = waitOnce(failing);
  await eventually(() => failing.nWaiting === 1, 'the worker waits');
  assert.throws(() => failing.wait({ timeout: SOON_MS }), { message: 'action failed' });
  assert.deepEqual(await partner.outcome, { code: 'SKEIN_SYNC_BROKEN_BARRIER' });
  assert.equal(failing.broken, true);
});

test('bad parties and options are refused with SKEIN_SYNC_INVALID_ARGUMENT', () => {
  for (const parties of [0, -1, 1.5, 65_536, Number.NaN]) {
    assert.throws(() => new Barrier(parties), { code: 'SKEIN_SYNC_INVALID_ARGUMENT', message: /parties/ });
  }
  assert.throws(() => new Barrier(2, { action: 5 as never }), { message: /action must be a function/ });
  assert.throws(() => new Barrier(2, { timeout: -1 }), { code: 'SKEIN_SYNC_INVALID_ARGUMENT' });
  assert.throws(() => new Barrier(2, null as never), { code: 'SKEIN_SYNC_INVALID_ARGUMENT' });
});
