// The lock conformance suite: what docs/sync.md promises for Lock and RLock, registered once and run
// against the thread variants (shared memory) and the process variants (served by a hub) in
// sync-thread.test.ts and sync-process.test.ts. The other party is a pool worker, reached through its
// progress and the TCP gate, never through sleeps. Documented differences are asserted as such.

import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it, type TestContext } from 'node:test';
import type { Held } from '../../src/sync/guard.ts';
import type { WaitOptions } from '../../src/sync/wait.ts';
import { countInFileUnderLock } from '../fixtures/count-in-file-under-lock.ts';
import { holdAcquiredUntilReleased } from '../fixtures/hold-acquired-until-released.ts';
import { openGate, tempDir, within } from './helpers.ts';
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

/** What Lock and ProcessLock share. */
export interface LockLike {
  tryAcquire(): boolean;
  acquire(options?: WaitOptions): Held;
  acquireAsync(options?: WaitOptions): Promise<Held>;
  release(): void;
  locked(): boolean;
  heldByCurrentThread(): boolean;
  readonly owner: unknown;
}

/** What RLock and ProcessRLock share. */
export interface RLockLike extends LockLike {
  readonly count: number;
}

export interface LockImplementation extends Parties {
  readonly Lock: new () => LockLike;
  readonly RLock: new () => RLockLike;
  /**
   * What `owner` says for a holder thread: the thread variants give its threadId, the process variants
   * `{ pid, threadId }` (docs/sync-processes.md).
   */
  readonly ownerOf: (holder: { pid: number; threadId: number }) => unknown;
  /**
   * What `count` of an RLock held by another thread reads: RLock gives the holder's count, ProcessRLock
   * this thread's own count, 0 (the TSDoc of each).
   */
  readonly rlockCountOfOtherHolder: 'holder' | 'zero';
}

interface Holder {
  readonly pid: number;
  readonly threadId: number;
}

/** Invalid `{ timeout, signal }` arguments every waiting call must refuse. */
const INVALID_OPTIONS: readonly unknown[] = [
  5,
  null,
  { timeout: -1 },
  { timeout: Number.NaN },
  { timeout: '5' },
  { signal: 'abort' },
];

/**
 * Registers the lock conformance suite for one implementation.
 * @param impl the two classes, the pool that shares them, and the documented differences
 */
export function lockSuite(impl: LockImplementation): void {
  /** Has a pool worker take `lock` and hold it until `release()`; resolves once it holds it. */
  async function holdElsewhere(
    t: TestContext,
    lock: LockLike,
  ): Promise<{ holder: Holder; release(): Promise<void> }> {
    const gate = await openGate();
    t.after(() => gate.close());
    const { said, done } = await startOn(impl.pool(), holdAcquiredUntilReleased, lock, gate.port);
    return {
      holder: said as Holder,
      async release() {
        gate.release();
        assert.equal(await done, 'released');
      },
    };
  }

  describe(`${impl.Lock.name} and ${impl.RLock.name} (shared with ${impl.workers}): lock conformance`, () => {
    for (const Kind of [impl.Lock, impl.RLock]) {
      describe(Kind.name, () => {
        it('tryAcquire takes a free lock; locked(), heldByCurrentThread() and owner report it until release()', () => {
          const lock = new Kind();
          assert.equal(lock.locked(), false);
          assert.equal(lock.owner, null);
          assert.equal(lock.tryAcquire(), true);
          assert.equal(lock.locked(), true);
          assert.equal(lock.heldByCurrentThread(), true);
          assert.deepEqual(lock.owner, impl.ownerOf({ pid: process.pid, threadId: 0 }));
          lock.release();
          assert.equal(lock.locked(), false);
          assert.equal(lock.heldByCurrentThread(), false);
          assert.equal(lock.owner, null);
        });

        it('a using block releases the guard of acquireAsync() and of acquire() at its end', async () => {
          const lock = new Kind();
          {
            using _held = await lock.acquireAsync({ timeout: WAIT_MS });
            assert.equal(lock.heldByCurrentThread(), true);
          }
          assert.equal(lock.locked(), false);
          {
            // A free lock: the blocking form does not wait, so it works on the main thread too.
            using _held = lock.acquire({ timeout: WAIT_MS });
            assert.equal(lock.locked(), true);
          }
          assert.equal(lock.locked(), false);
          const held = await lock.acquireAsync();
          held.release();
          assert.equal(lock.locked(), false);
        });

        it('release() of a lock nobody holds throws SKEIN_SYNC_NOT_OWNER', () => {
          const lock = new Kind();
          throwsCode(() => lock.release(), 'SKEIN_SYNC_NOT_OWNER', 'release of a free lock');
          assert.equal(lock.tryAcquire(), true);
          lock.release();
          throwsCode(() => lock.release(), 'SKEIN_SYNC_NOT_OWNER', 'a second release');
          assert.equal(lock.locked(), false);
        });

        it(
          'while a worker holds it: the main thread cannot take or release it, waits time out or abort, and it is free once the worker releases',
          T,
          async (t) => {
            const lock = new Kind();
            const { holder, release } = await holdElsewhere(t, lock);
            assert.equal(lock.locked(), true);
            assert.equal(lock.heldByCurrentThread(), false);
            assert.deepEqual(lock.owner, impl.ownerOf(holder));
            assert.equal(lock.tryAcquire(), false);
            throwsCode(
              () => lock.release(),
              'SKEIN_SYNC_NOT_OWNER',
              'release by a thread that does not hold it',
            );
            await rejectsCode(
              lock.acquireAsync({ timeout: SHORT_MS }),
              'SKEIN_TIMEOUT',
              'acquireAsync with a timeout',
            );

            const controller = new AbortController();
            const waiting = track(lock.acquireAsync({ signal: controller.signal }));
            const reason = new Error('caller gave up');
            controller.abort(reason);
            const aborted = await rejectsCode(waiting, 'SKEIN_ABORTED', 'aborted acquireAsync');
            assert.equal((aborted as Error).cause, reason, 'the AbortError carries the signal reason');

            // A waiter queued behind the holder gets the lock as soon as the holder lets go; the timed-out
            // and aborted waiters before it left nothing behind.
            const next = track(lock.acquireAsync({ timeout: WAIT_MS }));
            await release();
            const held = await within(next, WAIT_MS, 'acquireAsync after the worker released');
            assert.equal(lock.heldByCurrentThread(), true);
            held.release();
            assert.equal(lock.locked(), false);
          },
        );

        it('an already-aborted signal rejects at once and takes nothing', async () => {
          const lock = new Kind();
          const signal = AbortSignal.abort(new Error('too late'));
          await rejectsCode(lock.acquireAsync({ signal }), 'SKEIN_ABORTED', 'acquireAsync');
          throwsCode(() => lock.acquire({ signal }), 'SKEIN_ABORTED', 'acquire');
          assert.equal(lock.locked(), false);
        });

        it('refuses invalid wait options with SKEIN_SYNC_INVALID_ARGUMENT and takes nothing', async () => {
          const lock = new Kind();
          for (const options of INVALID_OPTIONS) {
            const what = `options ${JSON.stringify(options) ?? String(options)}`;
            throwsCode(
              () => lock.acquire(options as WaitOptions),
              'SKEIN_SYNC_INVALID_ARGUMENT',
              `acquire, ${what}`,
            );
            await rejectsCode(
              () => lock.acquireAsync(options as WaitOptions),
              'SKEIN_SYNC_INVALID_ARGUMENT',
              `acquireAsync, ${what}`,
            );
          }
          assert.equal(lock.locked(), false);
        });

        const blockingName =
          impl.blockingOnMain === 'waits'
            ? 'a blocking acquire() on the main thread waits for a worker holding it and times out'
            : 'a blocking acquire() on the main thread, which runs the hub, refuses to wait for a worker holding it';
        it(blockingName, T, async (t) => {
          const lock = new Kind();
          const { release } = await holdElsewhere(t, lock);
          blockingOnMainFails(impl, () => lock.acquire({ timeout: SHORT_MS }), 'blocking acquire');
          assert.equal(lock.heldByCurrentThread(), false);
          await release();
        });
      });
    }

    it(
      `${impl.Lock.name} keeps a file counter exact under three async contenders on the main thread and two ${impl.workers}`,
      T,
      async (t) => {
        const dir = tempDir();
        t.after(() => dir.remove());
        const file = join(dir.path, 'counter');
        const pool = impl.pool();
        const times = 60;
        for (let round = 0; round < 3; round++) {
          writeFileSync(file, '0');
          const lock = new impl.Lock();
          const counts = await within(
            Promise.all([
              pool.run(countInFileUnderLock, lock, file, times, { blocking: true, depth: 1 }),
              pool.run(countInFileUnderLock, lock, file, times, { blocking: false, depth: 1 }),
              countInFileUnderLock(lock, file, times, { blocking: false, depth: 1 }),
              countInFileUnderLock(lock, file, times, { blocking: false, depth: 1 }),
              countInFileUnderLock(lock, file, times, { blocking: false, depth: 1 }),
            ]),
            WAIT_MS,
            'contenders',
          );
          assert.deepEqual(counts, [times, times, times, times, times]);
          assert.equal(Number(readFileSync(file, 'utf8')), 5 * times, `round ${round}`);
        }
      },
    );

    it(
      `${impl.RLock.name} keeps a file counter exact when the main thread and two ${impl.workers} each re-enter it`,
      T,
      async (t) => {
        const dir = tempDir();
        t.after(() => dir.remove());
        const file = join(dir.path, 'counter');
        const pool = impl.pool();
        const times = 60;
        for (let round = 0; round < 3; round++) {
          writeFileSync(file, '0');
          const lock = new impl.RLock();
          // One contender on the main thread: its async callers count as one owner (see below).
          const counts = await within(
            Promise.all([
              pool.run(countInFileUnderLock, lock, file, times, { blocking: true, depth: 2 }),
              pool.run(countInFileUnderLock, lock, file, times, { blocking: false, depth: 2 }),
              countInFileUnderLock(lock, file, times, { blocking: false, depth: 2 }),
            ]),
            WAIT_MS,
            'contenders',
          );
          assert.deepEqual(counts, [times, times, times]);
          assert.equal(Number(readFileSync(file, 'utf8')), 3 * times, `round ${round}`);
        }
      },
    );

    it(`async callers of one thread take turns on a ${impl.Lock.name}`, T, async () => {
      const lock = new impl.Lock();
      const first = await lock.acquireAsync();
      await rejectsCode(lock.acquireAsync({ timeout: SHORT_MS }), 'SKEIN_TIMEOUT', 'a second async caller');
      const second = track(lock.acquireAsync({ timeout: WAIT_MS }));
      first.release();
      const held = await within(second, WAIT_MS, 'the second async caller');
      assert.equal(lock.heldByCurrentThread(), true);
      held.release();
      assert.equal(lock.locked(), false);
    });

    it(`acquire() of a ${impl.Lock.name} this thread holds throws SKEIN_SYNC_WOULD_DEADLOCK; tryAcquire() says false`, () => {
      const lock = new impl.Lock();
      using _held = lock.acquire();
      throwsCode(() => lock.acquire({ timeout: SHORT_MS }), 'SKEIN_SYNC_WOULD_DEADLOCK', 'acquire again');
      assert.equal(lock.tryAcquire(), false);
      assert.equal(lock.heldByCurrentThread(), true);
    });

    it(`${impl.RLock.name} counts the re-entries of its owner and is free after as many releases`, async () => {
      const lock = new impl.RLock();
      assert.equal(lock.count, 0);
      assert.equal(lock.tryAcquire(), true);
      lock.acquire({ timeout: WAIT_MS });
      {
        using _third = await lock.acquireAsync({ timeout: WAIT_MS });
        assert.equal(lock.count, 3);
        assert.equal(lock.tryAcquire(), true);
        assert.equal(lock.count, 4);
        lock.release();
      }
      assert.equal(lock.count, 2);
      lock.release();
      assert.equal(lock.locked(), true);
      assert.equal(lock.heldByCurrentThread(), true);
      lock.release();
      assert.equal(lock.count, 0);
      assert.equal(lock.locked(), false);
      throwsCode(() => lock.release(), 'SKEIN_SYNC_NOT_OWNER', 'one release too many');
    });

    it(`${impl.RLock.name} lets async callers of its owner thread in at once: one thread is one owner`, async () => {
      const lock = new impl.RLock();
      const outer = await lock.acquireAsync();
      const inner = await within(lock.acquireAsync({ timeout: WAIT_MS }), WAIT_MS, 'second async caller');
      assert.equal(lock.count, 2);
      inner.release();
      outer.release();
      assert.equal(lock.locked(), false);
    });

    it(`${impl.RLock.name} checks the options of a re-entry too: an aborted signal or bad options fail for the owner`, async () => {
      const lock = new impl.RLock();
      using _held = await lock.acquireAsync();
      const signal = AbortSignal.abort();
      throwsCode(() => lock.acquire({ signal }), 'SKEIN_ABORTED', 'acquire');
      await rejectsCode(lock.acquireAsync({ signal }), 'SKEIN_ABORTED', 'acquireAsync');
      for (const options of INVALID_OPTIONS) {
        const what = `options ${JSON.stringify(options) ?? String(options)}`;
        throwsCode(
          () => lock.acquire(options as WaitOptions),
          'SKEIN_SYNC_INVALID_ARGUMENT',
          `acquire, ${what}`,
        );
        await rejectsCode(
          () => lock.acquireAsync(options as WaitOptions),
          'SKEIN_SYNC_INVALID_ARGUMENT',
          `acquireAsync, ${what}`,
        );
      }
      assert.equal(lock.count, 1, 'no failed re-entry was counted');
    });

    const countName =
      impl.rlockCountOfOtherHolder === 'holder'
        ? `${impl.RLock.name}.count read by another thread gives the holder's count`
        : `${impl.RLock.name}.count read by another thread gives that thread's own count, 0`;
    it(countName, T, async (t) => {
      const lock = new impl.RLock();
      const { release } = await holdElsewhere(t, lock);
      assert.equal(lock.count, impl.rlockCountOfOtherHolder === 'holder' ? 1 : 0);
      assert.equal(lock.heldByCurrentThread(), false);
      await release();
    });
  });
}
