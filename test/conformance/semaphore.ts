// The semaphore conformance suite: what docs/sync.md promises for Semaphore and BoundedSemaphore,
// registered once and run against the thread variants and the process variants (sync-thread.test.ts,
// sync-process.test.ts). The bound is checked from a log that every holder, on the main thread and on
// pool workers, appends to while it holds a permit.

import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it, type TestContext } from 'node:test';
import type { Held } from '../../src/sync/guard.ts';
import type { WaitOptions } from '../../src/sync/wait.ts';
import { holdAcquiredUntilReleased } from '../fixtures/hold-acquired-until-released.ts';
import { logPermitHolds } from '../fixtures/log-permit-holds.ts';
import { openGate, tempDir, within } from './helpers.ts';
import {
  blockingOnMainFails,
  eventually,
  type Parties,
  rejectsCode,
  SHORT_MS,
  startOn,
  T,
  throwsCode,
  track,
  WAIT_MS,
} from './shared-objects.ts';

/** What Semaphore and ProcessSemaphore share (and their bounded subclasses). */
export interface SemaphoreLike {
  readonly value: number;
  tryAcquire(): boolean;
  acquire(options?: WaitOptions): Held;
  acquireAsync(options?: WaitOptions): Promise<Held>;
  release(n?: number): void;
}

export interface SemaphoreImplementation extends Parties {
  readonly Semaphore: new (value?: number) => SemaphoreLike;
  readonly BoundedSemaphore: new (value?: number) => SemaphoreLike;
}

/** The most holders seen at once in a log of '+' (took a permit) and '-' (about to release) lines. */
function mostAtOnce(log: string): { most: number; entries: number } {
  let inside = 0;
  let most = 0;
  let entries = 0;
  for (const line of log.split('\n')) {
    if (line === '+') {
      inside++;
      entries++;
      most = Math.max(most, inside);
    } else if (line === '-') {
      inside--;
    }
  }
  assert.equal(inside, 0, 'every holder logged its release');
  return { most, entries };
}

/**
 * Registers the semaphore conformance suite for one implementation.
 * @param impl the two classes, the pool that shares them, and the documented differences
 */
export function semaphoreSuite(impl: SemaphoreImplementation): void {
  /** Has a pool worker take one permit and hold it until `release()`; resolves once it holds it. */
  async function holdElsewhere(t: TestContext, semaphore: SemaphoreLike): Promise<() => Promise<void>> {
    const gate = await openGate();
    t.after(() => gate.close());
    const { done } = await startOn(impl.pool(), holdAcquiredUntilReleased, semaphore, gate.port);
    return async () => {
      gate.release();
      assert.equal(await done, 'released');
    };
  }

  describe(`${impl.Semaphore.name} and ${impl.BoundedSemaphore.name} (shared with ${impl.workers}): semaphore conformance`, () => {
    for (const Kind of [impl.Semaphore, impl.BoundedSemaphore]) {
      describe(Kind.name, () => {
        it('hands out value permits, then tryAcquire() says false until a release', async () => {
          const semaphore = new Kind(2);
          assert.equal(semaphore.value, 2);
          assert.equal(semaphore.tryAcquire(), true);
          const second = await semaphore.acquireAsync({ timeout: WAIT_MS });
          assert.equal(semaphore.value, 0);
          assert.equal(semaphore.tryAcquire(), false);
          second.release();
          assert.equal(semaphore.value, 1);
          {
            // A permit is free: the blocking form does not wait, so it works on the main thread too.
            using _permit = semaphore.acquire({ timeout: WAIT_MS });
            assert.equal(semaphore.value, 0);
          }
          semaphore.release();
          assert.equal(semaphore.value, 2);
          assert.equal(new Kind().value, 1, 'one permit by default');
        });

        it('a waiting acquireAsync() takes the permit a release() gives back', T, async () => {
          const semaphore = new Kind(1);
          const held = await semaphore.acquireAsync();
          const waiting = track(semaphore.acquireAsync({ timeout: WAIT_MS }));
          held.release();
          const next = await within(waiting, WAIT_MS, 'the waiting acquireAsync');
          assert.equal(semaphore.value, 0);
          next.release();
          assert.equal(semaphore.value, 1);
        });

        it(
          'while a worker holds the only permit: waits time out or abort, and the permit comes back when it releases',
          T,
          async (t) => {
            const semaphore = new Kind(1);
            const release = await holdElsewhere(t, semaphore);
            assert.equal(semaphore.value, 0);
            assert.equal(semaphore.tryAcquire(), false);
            await rejectsCode(
              semaphore.acquireAsync({ timeout: SHORT_MS }),
              'SKEIN_TIMEOUT',
              'acquireAsync with a timeout',
            );
            const controller = new AbortController();
            const waiting = track(semaphore.acquireAsync({ signal: controller.signal }));
            const reason = new Error('caller gave up');
            controller.abort(reason);
            const aborted = await rejectsCode(waiting, 'SKEIN_ABORTED', 'aborted acquireAsync');
            assert.equal((aborted as Error).cause, reason, 'the AbortError carries the signal reason');

            const next = track(semaphore.acquireAsync({ timeout: WAIT_MS }));
            await release();
            const held = await within(next, WAIT_MS, 'acquireAsync after the worker released');
            held.release();
            assert.equal(semaphore.value, 1, 'the timed-out and aborted waiters took no permit');
          },
        );

        it('an already-aborted signal rejects at once and takes no permit', async () => {
          const semaphore = new Kind(1);
          const signal = AbortSignal.abort();
          await rejectsCode(semaphore.acquireAsync({ signal }), 'SKEIN_ABORTED', 'acquireAsync');
          throwsCode(() => semaphore.acquire({ signal }), 'SKEIN_ABORTED', 'acquire');
          assert.equal(semaphore.value, 1);
        });

        it('refuses a bad value, release count or wait options with SKEIN_SYNC_INVALID_ARGUMENT', async () => {
          for (const value of [-1, 1.5, Number.NaN, '2', 2 ** 31]) {
            throwsCode(
              () => new Kind(value as number),
              'SKEIN_SYNC_INVALID_ARGUMENT',
              `value ${String(value)}`,
            );
          }
          const semaphore = new Kind(1);
          for (const n of [0, -1, 1.5, '1']) {
            throwsCode(
              () => semaphore.release(n as number),
              'SKEIN_SYNC_INVALID_ARGUMENT',
              `release(${String(n)})`,
            );
          }
          for (const options of [5, { timeout: -1 }, { signal: {} }]) {
            throwsCode(
              () => semaphore.acquire(options as WaitOptions),
              'SKEIN_SYNC_INVALID_ARGUMENT',
              `acquire(${JSON.stringify(options)})`,
            );
            await rejectsCode(
              () => semaphore.acquireAsync(options as WaitOptions),
              'SKEIN_SYNC_INVALID_ARGUMENT',
              `acquireAsync(${JSON.stringify(options)})`,
            );
          }
          assert.equal(semaphore.value, 1);
        });

        const blockingName =
          impl.blockingOnMain === 'waits'
            ? 'a blocking acquire() on the main thread with no permit free waits and times out'
            : 'a blocking acquire() on the main thread, which runs the hub, refuses to wait for a permit';
        it(blockingName, () => {
          const semaphore = new Kind(0);
          blockingOnMainFails(impl, () => semaphore.acquire({ timeout: SHORT_MS }), 'blocking acquire');
          assert.equal(semaphore.value, 0);
        });

        it(
          `never lets more than value hold a permit at once: two async holders on the main thread and two ${impl.workers}`,
          T,
          async (t) => {
            const dir = tempDir();
            t.after(() => dir.remove());
            const pool = impl.pool();
            const times = 60;
            for (let round = 0; round < 3; round++) {
              const log = join(dir.path, `log-${round}`);
              writeFileSync(log, '');
              const semaphore = new Kind(2);
              const counts = await within(
                Promise.all([
                  pool.run(logPermitHolds, semaphore, log, times, true),
                  pool.run(logPermitHolds, semaphore, log, times, false),
                  logPermitHolds(semaphore, log, times, false),
                  logPermitHolds(semaphore, log, times, false),
                ]),
                WAIT_MS,
                'holders',
              );
              assert.deepEqual(counts, [times, times, times, times]);
              const { most, entries } = mostAtOnce(readFileSync(log, 'utf8'));
              assert.equal(entries, 4 * times);
              assert.ok(most <= 2, `round ${round}: ${most} held a permit at once`);
              // A worker's last release may reach a hub after the task's result does: a release that
              // cannot fail is sent without waiting for an answer (docs/sync-processes.md).
              await eventually(() => semaphore.value === 2, 'every permit came back');
            }
          },
        );
      });
    }

    it(`${impl.BoundedSemaphore.name}.release() above the initial value throws SKEIN_SYNC_OVER_RELEASE and changes nothing`, () => {
      const semaphore = new impl.BoundedSemaphore(2);
      throwsCode(() => semaphore.release(), 'SKEIN_SYNC_OVER_RELEASE', 'release with nothing taken');
      assert.equal(semaphore.tryAcquire(), true);
      throwsCode(() => semaphore.release(2), 'SKEIN_SYNC_OVER_RELEASE', 'release(2) with one taken');
      assert.equal(semaphore.value, 1);
      semaphore.release();
      assert.equal(semaphore.value, 2);
    });

    it(`${impl.Semaphore.name}.release() may raise the value above the initial one`, async () => {
      const semaphore = new impl.Semaphore(1);
      semaphore.release(2);
      assert.equal(semaphore.value, 3);
      const held = await Promise.all([
        semaphore.acquireAsync({ timeout: WAIT_MS }),
        semaphore.acquireAsync({ timeout: WAIT_MS }),
        semaphore.acquireAsync({ timeout: WAIT_MS }),
      ]);
      assert.equal(semaphore.value, 0);
      for (const permit of held) permit.release();
      assert.equal(semaphore.value, 3);
    });
  });
}
