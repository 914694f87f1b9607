// The pool's duration histogram: exact count, min, max and mean; percentiles within one sub-bucket
// (1/16 of the value) of the exact order statistic, across nine decades of durations.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DurationHistogram } from '../../src/pool/stats.ts';

function exactPercentile(sorted: number[], percent: number): number {
  return sorted[Math.max(0, Math.ceil((percent / 100) * sorted.length) - 1)]!;
}

describe('DurationHistogram', () => {
  it('keeps count, min, max and mean exact and percentiles within 1/16 of the value', () => {
    const histogram = new DurationHistogram();
    const values: number[] = [];
    let seed = 7;
    for (let i = 0; i < 20_000; i++) {
      seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31;
      // Log-uniform from 1 ns to 1000 s, in ms.
      const value = 10 ** (-6 + (seed / 2 ** 31) * 12);
      values.push(value);
      histogram.record(value);
    }
    values.sort((a, b) => a - b);
    const summary = histogram.summary();
    assert.equal(summary.count, values.length);
    assert.equal(summary.min, values[0]);
    assert.equal(summary.max, values.at(-1));
    assert.ok(
      Math.abs(summary.mean - values.reduce((a, b) => a + b, 0) / values.length) < 1e-6 * summary.mean,
    );
    for (const percent of [1, 10, 50, 90, 99, 99.9]) {
      const exact = exactPercentile(values, percent);
      const reported = histogram.percentile(percent);
      assert.ok(
        reported >= exact && reported <= exact * (1 + 1 / 16) + 1e-12,
        `p${percent}: reported ${reported}, exact ${exact}`,
      );
    }
  });

  it('summarizes an empty histogram as zeros and a zero duration without failing', () => {
    const histogram = new DurationHistogram();
    assert.deepEqual(histogram.summary(), { count: 0, min: 0, max: 0, mean: 0, p50: 0, p90: 0, p99: 0 });
    histogram.record(0);
    assert.equal(histogram.summary().count, 1);
    assert.equal(histogram.summary().max, 0);
  });
});
