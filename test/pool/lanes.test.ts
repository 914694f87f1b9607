// Messages between a ThreadPool and its threads travel through shared-memory lanes when their values
// survive that exactly, else by postMessage. These tests hold what a caller must never notice: values
// arrive as structured clone gives them, and the two paths together keep every message in order.

import assert from 'node:assert/strict';
import { describe, it, type TestContext } from 'node:test';
import { ThreadPool } from '../../src/pool/index.ts';
import { destroyAfter } from '../conformance/helpers.ts';
import { echo } from '../fixtures/echo.ts';
import { progressThenEcho, sameObject } from '../fixtures/lane-probes.ts';

const T = { timeout: 60_000 };

const usePool = (t: TestContext, workers = 2): ThreadPool =>
  destroyAfter(t, new ThreadPool({ minWorkers: workers, maxWorkers: workers }));

class Point {
  x = 1;
  y = 2;
}

// biome-ignore lint/suspicious/noSparseArray: the hole is the point: structured clone keeps it
const sparse = [1, , 3];
const withExtra = Object.assign([1, 2], { label: 'extra' });
const nullProto = Object.assign(Object.create(null) as object, { a: 1 });

/** Values a tree copy through UTF-8 would change, beside plain ones: each must come back as structuredClone gives it. */
const TRICKY: readonly [string, unknown][] = [
  ['a number', 42],
  ['-0', -0],
  ['NaN', Number.NaN],
  ['a bigint', 2n ** 70n],
  ['undefined', undefined],
  ['a string with a lone surrogate', 'a\uD800b'],
  ['a well-formed non-ASCII string', 'héllo ✓ 𝄞'],
  ['a flat object', { a: 1, b: 'two', c: null, d: undefined }],
  ['a sparse array', sparse],
  ['an array with an extra property', withExtra],
  ['a RegExp match (index, input, groups)', /b(?<rest>c)/.exec('abc')],
  ['a null-prototype object', nullProto],
  ['a class instance', new Point()],
  ['a Map', new Map([[1, { deep: true }]])],
  ['a nested object', { inner: { deeper: [1, 2, { x: 3 }] } }],
  ['a long array', Array.from({ length: 100 }, (_, i) => i)],
  ['a Date', new Date(1_700_000_000_000)],
  ['a typed array view', new Uint8Array(new ArrayBuffer(16), 4, 8)],
];

describe('ThreadPool message lanes', () => {
  for (const [what, value] of TRICKY) {
    it(`gives back ${what} exactly as structured clone does, as argument and as result`, T, async (t) => {
      const pool = usePool(t, 1);
      assert.deepStrictEqual(await pool.run(echo, value), structuredClone(value));
    });
  }

  it('copies only own properties when Object.prototype has an enumerable one (pollution)', T, async (t) => {
    const pool = usePool(t, 1);
    Object.defineProperty(Object.prototype, 'polluted', { value: 1, enumerable: true, configurable: true });
    try {
      const value = { a: 1 };
      assert.deepStrictEqual(Object.keys((await pool.run(echo, value)) as object), ['a']);
    } finally {
      delete (Object.prototype as { polluted?: number }).polluted;
    }
  });

  it('keeps one object passed twice as one object in the worker', T, async (t) => {
    const pool = usePool(t, 1);
    const shared = { n: 1 };
    assert.equal(await pool.run(sameObject, shared, shared), true);
    assert.equal(await pool.run(sameObject, shared, { n: 1 }), false);
  });

  it('keeps results, progress and their order when lane and port messages interleave', T, async (t) => {
    const pool = usePool(t, 2);
    // Every kind of message on both paths: small values (lane), values that need structured clone,
    // transfers, messages too large for a lane, and progress of either kind.
    const big = 'x'.repeat(300 * 1024);
    for (let round = 0; round < 20; round++) {
      const expected: unknown[] = [];
      const calls: Promise<unknown>[] = [];
      const progress: unknown[][] = [];
      for (let i = 0; i < 400; i++) {
        const mode = (i * 7 + round) % 6;
        const value =
          mode === 0
            ? i
            : mode === 1
              ? { i, nested: { i } }
              : mode === 2
                ? new Map([[i, i]])
                : mode === 3
                  ? `${i}`
                  : mode === 4 && i % 50 === 0
                    ? big + i
                    : { i };
        const note = i % 3 === 0 ? i : i % 3 === 1 ? { note: [i] } : undefined;
        const seen: unknown[] = [];
        progress.push(seen);
        expected.push(structuredClone(value));
        // Small waves: batches of a few tasks, so lane and port messages alternate.
        if (i % 4 === 3) await new Promise((resolve) => setImmediate(resolve));
        if (mode === 5 && i % 10 === 5) {
          const bytes = new Uint8Array([i & 0xff]);
          calls.push(
            pool
              .submit(echo, [bytes], { transfer: [bytes.buffer] })
              .then((echoed) => ((echoed as Uint8Array)[0] === (i & 0xff) ? value : 'wrong bytes')),
          );
        } else {
          calls.push(pool.submit(progressThenEcho, [value, note], { onProgress: (p) => seen.push(p) }));
        }
      }
      assert.deepStrictEqual(await Promise.all(calls), expected);
      for (let i = 0; i < progress.length; i++) {
        const note = i % 3 === 0 ? i : i % 3 === 1 ? { note: [i] } : undefined;
        const isTransfer = (i * 7 + round) % 6 === 5 && i % 10 === 5;
        assert.deepStrictEqual(
          progress[i],
          note === undefined || isTransfer ? [] : [note],
          `progress of call ${i}`,
        );
      }
    }
  });

  it('keeps map results in order when chunks take either path', T, async (t) => {
    const pool = usePool(t, 2);
    const items = Array.from({ length: 50_000 }, (_, i) => (i % 4999 === 0 ? { i, deep: { i } } : i));
    assert.deepStrictEqual(await pool.map(echo, items, { chunkSize: 100 }), items);
  });

  it('falls back to postMessage when a lane is full, losing nothing', T, async (t) => {
    const pool = usePool(t, 1);
    // About 4 MiB of arguments in one burst: far more than a lane holds at once.
    const chunk = 'y'.repeat(8 * 1024);
    const calls = Array.from({ length: 500 }, (_, i) => pool.run(echo, chunk + i));
    const results = await Promise.all(calls);
    for (let i = 0; i < results.length; i++) assert.equal(results[i], chunk + i);
  });
});
