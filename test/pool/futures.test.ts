// asCompleted and wait: concurrent.futures parity for promises, on plain promises the test settles
// by hand and on real pool calls.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { asCompleted, ThreadPool, wait } from '../../src/pool/index.ts';
import { codeOf, range, SOON_MS, settle, within } from '../conformance/helpers.ts';
import { square } from '../fixtures/square.ts';

const T = { timeout: 20_000 };

function deferred<V>(): PromiseWithResolvers<V> {
  const handle = Promise.withResolvers<V>();
  handle.promise.catch(() => {});
  return handle;
}

describe('asCompleted', () => {
  it('yields the promises in the order they settle', T, async () => {
    const d = range(4).map(() => deferred<number>());
    const order: number[] = [];
    const iterator = asCompleted(d.map((x) => x.promise));
    d[2]?.resolve(2);
    const first = await within(iterator.next(), SOON_MS, 'first');
    order.push(await (first.value as Promise<number>));
    d[0]?.resolve(0);
    d[3]?.resolve(3);
    d[1]?.resolve(1);
    for await (const done of iterator) order.push(await done);
    assert.deepEqual(order, [2, 0, 3, 1]);
  });

  it('yields a rejected promise without throwing from the iteration', T, async () => {
    const failing = Promise.reject(new Error('one failed'));
    failing.catch(() => {});
    const outcomes: string[] = [];
    for await (const done of asCompleted([Promise.resolve('ok'), failing])) {
      const outcome = await settle(() => done);
      outcomes.push(
        outcome.status === 'fulfilled' ? String(outcome.value) : (outcome.reason as Error).message,
      );
    }
    assert.deepEqual(outcomes.sort(), ['ok', 'one failed']);
  });

  it('throws SKEIN_TIMEOUT for promises still pending when the timeout passes', T, async () => {
    const never = new Promise<number>(() => {});
    const seen: number[] = [];
    const outcome = await settle(async () => {
      for await (const done of asCompleted([Promise.resolve(1), never], { timeout: 50 }))
        seen.push(await done);
    });
    assert.deepEqual(seen, [1]);
    assert.equal(outcome.status, 'rejected');
    assert.equal(codeOf((outcome as { reason: unknown }).reason), 'SKEIN_TIMEOUT');
  });

  it('throws SKEIN_ABORTED when its signal aborts', T, async () => {
    const controller = new AbortController();
    const never = new Promise<number>(() => {});
    const outcome = settle(async () => {
      for await (const _ of asCompleted([never], { signal: controller.signal })) {
        // Nothing settles.
      }
    });
    controller.abort();
    const result = await within(outcome, SOON_MS, 'aborted asCompleted');
    assert.equal(codeOf((result as { reason: unknown }).reason), 'SKEIN_ABORTED');
  });

  it('throws SKEIN_ABORTED at once when its signal is already aborted', T, async () => {
    const early = await settle(async () => {
      for await (const _ of asCompleted([Promise.resolve(1)], { signal: AbortSignal.abort() })) {
        // Must not get here.
      }
    });
    assert.equal(codeOf((early as { reason: unknown }).reason), 'SKEIN_ABORTED');
  });

  it('yields pool calls as they complete', T, async () => {
    await using pool = new ThreadPool({ maxWorkers: 2 });
    const results: number[] = [];
    for await (const done of asCompleted(range(20).map((i) => pool.run(square, i)))) results.push(await done);
    assert.deepEqual(
      results.sort((a, b) => a - b),
      range(20).map((n) => n * n),
    );
  });
});

describe('wait', () => {
  it(
    "returns every promise done with returnWhen 'allCompleted', never rejecting for a rejection",
    T,
    async () => {
      const failing = Promise.reject(new Error('failed'));
      failing.catch(() => {});
      const all = [Promise.resolve(1), failing, Promise.resolve(3)];
      const { done, notDone } = await wait(all);
      assert.equal(done.size, 3);
      assert.equal(notDone.size, 0);
      for (const p of all) assert.ok(done.has(p));
    },
  );

  it("returns after the first settled promise with returnWhen 'firstCompleted'", T, async () => {
    const d = range(3).map(() => deferred<number>());
    const waiting = wait(
      d.map((x) => x.promise),
      { returnWhen: 'firstCompleted' },
    );
    d[1]?.resolve(1);
    const { done, notDone } = await within(waiting, SOON_MS, 'wait firstCompleted');
    assert.deepEqual([...done], [d[1]?.promise]);
    assert.equal(notDone.size, 2);
  });

  it("returns at the first rejection with returnWhen 'firstException'", T, async () => {
    const d = range(3).map(() => deferred<number>());
    const waiting = wait(
      d.map((x) => x.promise),
      { returnWhen: 'firstException' },
    );
    d[0]?.resolve(0);
    await d[0]?.promise;
    d[2]?.reject(new Error('third failed'));
    const { done, notDone } = await within(waiting, SOON_MS, 'wait firstException');
    assert.ok(done.has(d[0]!.promise) && done.has(d[2]!.promise));
    assert.deepEqual([...notDone], [d[1]?.promise]);
    const noFailures = await wait([Promise.resolve(1), Promise.resolve(2)], { returnWhen: 'firstException' });
    assert.equal(noFailures.done.size, 2, 'without a rejection it waits for all');
  });

  it('returns what is done when the timeout passes instead of rejecting', T, async () => {
    const never = new Promise<number>(() => {});
    const ready = Promise.resolve(1);
    const { done, notDone } = await wait([ready, never], { timeout: 50 });
    assert.deepEqual([...done], [ready]);
    assert.deepEqual([...notDone], [never]);
  });

  it('rejects with SKEIN_ABORTED when its signal aborts, at once if already aborted', T, async () => {
    const controller = new AbortController();
    const waiting = settle(() => wait([new Promise<number>(() => {})], { signal: controller.signal }));
    controller.abort();
    const outcome = await within(waiting, SOON_MS, 'aborted wait');
    assert.equal(codeOf((outcome as { reason: unknown }).reason), 'SKEIN_ABORTED');
    const early = await settle(() => wait([Promise.resolve(1)], { signal: AbortSignal.abort() }));
    assert.equal(codeOf((early as { reason: unknown }).reason), 'SKEIN_ABORTED');
  });

  it('rejects an unknown returnWhen with SKEIN_POOL_INVALID_OPTION', T, async () => {
    const outcome = await settle(() => wait([Promise.resolve(1)], { returnWhen: 'whenever' as never }));
    assert.equal(codeOf((outcome as { reason: unknown }).reason), 'SKEIN_POOL_INVALID_OPTION');
  });
});
