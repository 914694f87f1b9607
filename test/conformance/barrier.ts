// The barrier conformance suite: what docs/sync.md promises for Barrier, registered once and run against
// Barrier and ProcessBarrier (sync-thread.test.ts, sync-process.test.ts). Parties are async callers on
// the main thread and blocking callers on pool workers; arrivals are seen through nWaiting.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { WaitOptions } from '../../src/sync/wait.ts';
import { waitAtBarrierEachRound } from '../fixtures/wait-at-barrier-each-round.ts';
import { range, sortedNumbers, within } from './helpers.ts';
import {
  blockingOnMainFails,
  eventually,
  type Parties,
  rejectsCode,
  SHORT_MS,
  T,
  throwsCode,
  track,
  WAIT_MS,
} from './shared-objects.ts';

/** What Barrier and ProcessBarrier share. */
export interface BarrierLike {
  readonly parties: number;
  readonly nWaiting: number;
  readonly broken: boolean;
  wait(options?: WaitOptions): number;
  waitAsync(options?: WaitOptions): Promise<number>;
  reset(): void;
  abort(): void;
}

export interface BarrierImplementation extends Parties {
  readonly Barrier: new (parties: number, options?: { action?: () => void; timeout?: number }) => BarrierLike;
}

const BROKEN = 'SKEIN_SYNC_BROKEN_BARRIER';

/**
 * Registers the barrier conformance suite for one implementation.
 * @param impl the class, the pool that shares it, and the documented differences
 */
export function barrierSuite(impl: BarrierImplementation): void {
  /** Starts `count` async waits and resolves once all of them are counted in nWaiting. */
  async function arrive(
    barrier: BarrierLike,
    count: number,
    options?: WaitOptions,
  ): Promise<Promise<number>[]> {
    const waits = range(count).map(() => track(barrier.waitAsync(options ?? { timeout: WAIT_MS })));
    await eventually(() => barrier.nWaiting === count, `${count} parties waiting`);
    return waits;
  }

  describe(`${impl.Barrier.name} (shared with ${impl.workers}): barrier conformance`, () => {
    it('gives the parties of each round the indices 0 to parties - 1, round after round', T, async () => {
      const barrier = new impl.Barrier(3);
      assert.equal(barrier.parties, 3);
      assert.equal(barrier.nWaiting, 0);
      for (let round = 0; round < 4; round++) {
        const indices = await within(
          Promise.all(range(3).map(() => barrier.waitAsync({ timeout: WAIT_MS }))),
          WAIT_MS,
          `round ${round}`,
        );
        assert.deepEqual(sortedNumbers(indices), [0, 1, 2], `round ${round}`);
        assert.equal(barrier.nWaiting, 0);
      }
      assert.equal(barrier.broken, false);
    });

    it(`meets two ${impl.workers} and the main thread for several rounds`, T, async () => {
      const barrier = new impl.Barrier(3);
      const pool = impl.pool();
      const rounds = 5;
      const workers = [
        track(pool.run(waitAtBarrierEachRound, barrier, rounds)),
        track(pool.run(waitAtBarrierEachRound, barrier, rounds)),
      ];
      const mine: number[] = [];
      for (let round = 0; round < rounds; round++) mine.push(await barrier.waitAsync({ timeout: WAIT_MS }));
      const [first, second] = await within(Promise.all(workers), WAIT_MS, 'worker parties');
      for (let round = 0; round < rounds; round++) {
        assert.deepEqual(
          sortedNumbers([mine[round]!, first![round]!, second![round]!]),
          [0, 1, 2],
          `round ${round}`,
        );
      }
    });

    it('the last party may use the blocking wait() on the main thread: it need not wait', T, async () => {
      const barrier = new impl.Barrier(2);
      const [waiting] = await arrive(barrier, 1);
      assert.equal(barrier.wait({ timeout: WAIT_MS }), 1);
      assert.equal(await within(waiting!, WAIT_MS, 'the first party'), 0);
    });

    it(
      'reset() while parties wait breaks the round for them with SKEIN_SYNC_BROKEN_BARRIER, then the barrier works again',
      T,
      async () => {
        const barrier = new impl.Barrier(3);
        const waits = await arrive(barrier, 2);
        barrier.reset();
        for (const waiting of waits) await rejectsCode(waiting, BROKEN, 'a party waiting at reset()');
        assert.equal(barrier.broken, false);
        assert.equal(barrier.nWaiting, 0);
        const indices = await within(
          Promise.all(range(3).map(() => barrier.waitAsync({ timeout: WAIT_MS }))),
          WAIT_MS,
          'a round after reset()',
        );
        assert.deepEqual(sortedNumbers(indices), [0, 1, 2]);
      },
    );

    it(
      'abort() breaks the barrier for the waiting parties and every later wait until reset()',
      T,
      async () => {
        const barrier = new impl.Barrier(2);
        const [waiting] = await arrive(barrier, 1);
        barrier.abort();
        await rejectsCode(waiting!, BROKEN, 'the party waiting at abort()');
        assert.equal(barrier.broken, true);
        assert.equal(barrier.nWaiting, 0);
        await rejectsCode(barrier.waitAsync({ timeout: WAIT_MS }), BROKEN, 'waitAsync on a broken barrier');
        throwsCode(() => barrier.wait({ timeout: WAIT_MS }), BROKEN, 'wait on a broken barrier');
        barrier.reset();
        assert.equal(barrier.broken, false);
        const indices = await Promise.all([
          barrier.waitAsync({ timeout: WAIT_MS }),
          barrier.waitAsync({ timeout: WAIT_MS }),
        ]);
        assert.deepEqual(sortedNumbers(indices), [0, 1]);
      },
    );

    it('a wait that times out throws SKEIN_TIMEOUT and breaks the barrier for the others', T, async () => {
      const barrier = new impl.Barrier(3);
      const [patient] = await arrive(barrier, 1);
      await rejectsCode(barrier.waitAsync({ timeout: SHORT_MS }), 'SKEIN_TIMEOUT', 'the impatient party');
      await rejectsCode(patient!, BROKEN, 'the patient party');
      assert.equal(barrier.broken, true);
      barrier.reset();
      assert.equal(barrier.broken, false);
    });

    it('the timeout option is the default of every wait', T, async () => {
      const barrier = new impl.Barrier(2, { timeout: SHORT_MS });
      await rejectsCode(barrier.waitAsync(), 'SKEIN_TIMEOUT', 'a lone party');
      assert.equal(barrier.broken, true);
    });

    it(
      'a wait aborted while waiting throws SKEIN_ABORTED and breaks the barrier for the others',
      T,
      async () => {
        const barrier = new impl.Barrier(3);
        const [patient] = await arrive(barrier, 1);
        const controller = new AbortController();
        const leaving = track(barrier.waitAsync({ signal: controller.signal }));
        await eventually(() => barrier.nWaiting === 2, 'the aborted party waiting');
        controller.abort();
        await rejectsCode(leaving, 'SKEIN_ABORTED', 'the aborted party');
        await rejectsCode(patient!, BROKEN, 'the patient party');
      },
    );

    it('an already-aborted signal rejects at once and does not arrive', async () => {
      const barrier = new impl.Barrier(2);
      const signal = AbortSignal.abort();
      await rejectsCode(barrier.waitAsync({ signal }), 'SKEIN_ABORTED', 'waitAsync');
      throwsCode(() => barrier.wait({ signal }), 'SKEIN_ABORTED', 'wait');
      assert.equal(barrier.nWaiting, 0);
      assert.equal(barrier.broken, false);
    });

    it('runs the action once per round in the last party, before the others are released', T, async () => {
      const order: string[] = [];
      const barrier = new impl.Barrier(2, { action: () => order.push('action') });
      for (let round = 0; round < 3; round++) {
        const [first] = await arrive(barrier, 1);
        const first_ = first!.then((index) => order.push(`released ${index}`));
        assert.equal(await barrier.waitAsync({ timeout: WAIT_MS }), 1);
        await within(first_, WAIT_MS, 'the first party');
      }
      assert.deepEqual(order, ['action', 'released 0', 'action', 'released 0', 'action', 'released 0']);
    });

    it(
      'an action that throws breaks the barrier: its party gets the error, the others SKEIN_SYNC_BROKEN_BARRIER',
      T,
      async () => {
        const failure = new Error('action failed');
        const barrier = new impl.Barrier(2, {
          action: () => {
            throw failure;
          },
        });
        const [first] = await arrive(barrier, 1);
        await assert.rejects(barrier.waitAsync({ timeout: WAIT_MS }), (error) => error === failure);
        await rejectsCode(first!, BROKEN, 'the party released by the failed action');
        assert.equal(barrier.broken, true);
      },
    );

    it('refuses bad parties, options or wait options with SKEIN_SYNC_INVALID_ARGUMENT', async () => {
      for (const parties of [0, -1, 1.5, Number.NaN, '2']) {
        throwsCode(
          () => new impl.Barrier(parties as number),
          'SKEIN_SYNC_INVALID_ARGUMENT',
          `parties ${String(parties)}`,
        );
      }
      for (const options of [5, { action: 'run' }, { timeout: -1 }]) {
        throwsCode(
          () => new impl.Barrier(2, options as { timeout?: number }),
          'SKEIN_SYNC_INVALID_ARGUMENT',
          `options ${JSON.stringify(options)}`,
        );
      }
      const barrier = new impl.Barrier(2);
      for (const options of [5, { timeout: -1 }, { signal: 'abort' }]) {
        throwsCode(
          () => barrier.wait(options as WaitOptions),
          'SKEIN_SYNC_INVALID_ARGUMENT',
          `wait ${JSON.stringify(options)}`,
        );
        await rejectsCode(
          () => barrier.waitAsync(options as WaitOptions),
          'SKEIN_SYNC_INVALID_ARGUMENT',
          `waitAsync ${JSON.stringify(options)}`,
        );
      }
      assert.equal(barrier.nWaiting, 0);
      assert.equal(barrier.broken, false);
    });

    const blockingName =
      impl.blockingOnMain === 'waits'
        ? 'a blocking wait() on the main thread that is not the last party waits, times out and breaks the barrier'
        : 'a blocking wait() on the main thread, which runs the hub, refuses to wait unless it is the last party';
    it(blockingName, () => {
      const barrier = new impl.Barrier(2);
      blockingOnMainFails(impl, () => barrier.wait({ timeout: SHORT_MS }), 'blocking wait');
      // A timed-out party breaks the barrier; a refused one never arrived.
      assert.equal(barrier.broken, impl.blockingOnMain === 'waits');
      assert.equal(barrier.nWaiting, 0);
    });
  });
}
