// The event conformance suite: what docs/sync.md promises for Event, registered once and run against
// Event and ProcessEvent (sync-thread.test.ts, sync-process.test.ts). Waiters are async callers on the
// main thread and blocking callers on pool workers, which report before they wait.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { WaitOptions } from '../../src/sync/wait.ts';
import { reportThenWaitForEvent } from '../fixtures/report-then-wait-for-event.ts';
import { within } from './helpers.ts';
import {
  blockingOnMainFails,
  type Parties,
  rejectsCode,
  SHORT_MS,
  startOn,
  T,
  throwsCode,
  track,
  WAIT_MS,
} from './shared-objects.ts';

/** What Event and ProcessEvent share. */
export interface EventLike {
  isSet(): boolean;
  set(): void;
  clear(): void;
  wait(options?: WaitOptions): void;
  waitAsync(options?: WaitOptions): Promise<void>;
}

export interface EventImplementation extends Parties {
  readonly Event: new () => EventLike;
}

/**
 * Registers the event conformance suite for one implementation.
 * @param impl the class, the pool that shares it, and the documented differences
 */
export function eventSuite(impl: EventImplementation): void {
  describe(`${impl.Event.name} (shared with ${impl.workers}): event conformance`, () => {
    it('isSet() follows set() and clear(); waits return at once while it is set', async () => {
      const event = new impl.Event();
      assert.equal(event.isSet(), false);
      event.set();
      event.set();
      assert.equal(event.isSet(), true);
      await within(event.waitAsync(), WAIT_MS, 'waitAsync on a set event');
      // Set: the blocking form does not wait, so it works on the main thread too.
      event.wait({ timeout: WAIT_MS });
      event.clear();
      assert.equal(event.isSet(), false);
      await rejectsCode(event.waitAsync({ timeout: SHORT_MS }), 'SKEIN_TIMEOUT', 'waitAsync after clear()');
    });

    it(
      `set() wakes every waiter: three async ones on the main thread and two on ${impl.workers}`,
      T,
      async () => {
        const event = new impl.Event();
        const pool = impl.pool();
        const workers = await Promise.all([
          startOn(pool, reportThenWaitForEvent, event),
          startOn(pool, reportThenWaitForEvent, event),
        ]);
        const mine = [
          track(event.waitAsync()),
          track(event.waitAsync({ timeout: WAIT_MS })),
          track(event.waitAsync({ timeout: WAIT_MS })),
        ];
        event.set();
        await within(Promise.all(mine), WAIT_MS, 'main-thread waiters');
        assert.deepEqual(await Promise.all(workers.map((worker) => worker.done)), [true, true]);
      },
    );

    it('a waiter that was waiting when set() ran returns even if clear() follows at once', T, async () => {
      const event = new impl.Event();
      const waiting = track(event.waitAsync({ timeout: WAIT_MS }));
      event.set();
      event.clear();
      await within(waiting, WAIT_MS, 'the waiter of the cleared set()');
      assert.equal(event.isSet(), false);
    });

    it('a waitAsync() aborted while waiting rejects with SKEIN_ABORTED carrying the reason', T, async () => {
      const event = new impl.Event();
      const controller = new AbortController();
      const waiting = track(event.waitAsync({ signal: controller.signal }));
      const reason = new Error('caller gave up');
      controller.abort(reason);
      const aborted = await rejectsCode(waiting, 'SKEIN_ABORTED', 'aborted waitAsync');
      assert.equal((aborted as Error).cause, reason);
    });

    it('an already-aborted signal rejects at once, whether or not the event is set', async () => {
      const event = new impl.Event();
      const signal = AbortSignal.abort();
      for (const set of [false, true]) {
        if (set) event.set();
        await rejectsCode(event.waitAsync({ signal }), 'SKEIN_ABORTED', `waitAsync, set: ${set}`);
        throwsCode(() => event.wait({ signal }), 'SKEIN_ABORTED', `wait, set: ${set}`);
      }
    });

    it('refuses invalid wait options with SKEIN_SYNC_INVALID_ARGUMENT, whether or not the event is set', async () => {
      const event = new impl.Event();
      for (const set of [false, true]) {
        if (set) event.set();
        for (const options of [5, { timeout: -1 }, { timeout: Number.NaN }, { signal: 'abort' }]) {
          const what = `${JSON.stringify(options)}, set: ${set}`;
          throwsCode(() => event.wait(options as WaitOptions), 'SKEIN_SYNC_INVALID_ARGUMENT', `wait ${what}`);
          await rejectsCode(
            () => event.waitAsync(options as WaitOptions),
            'SKEIN_SYNC_INVALID_ARGUMENT',
            `waitAsync ${what}`,
          );
        }
      }
    });

    const blockingName =
      impl.blockingOnMain === 'waits'
        ? 'a blocking wait() on the main thread for a clear event waits and times out'
        : 'a blocking wait() on the main thread, which runs the hub, refuses to wait for a clear event';
    it(blockingName, () => {
      const event = new impl.Event();
      blockingOnMainFails(impl, () => event.wait({ timeout: SHORT_MS }), 'blocking wait');
      assert.equal(event.isSet(), false);
    });
  });
}
