// Retry timing: fixed and exponential growth, the cap, and both jitters, as a pure function.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { backoffDelay, nextRetryAt, resolveBackoff } from '../../src/tasks/index.ts';

const none = (type: 'fixed' | 'exponential', delay: number, maxDelay = 1e9) =>
  resolveBackoff({ type, delay, maxDelay, jitter: 'none' });

describe('backoff', () => {
  it('waits the same delay after every failure when fixed', () => {
    const policy = none('fixed', 250);
    assert.deepEqual(
      [1, 2, 3, 10].map((n) => backoffDelay(policy, n)),
      [250, 250, 250, 250],
    );
  });

  it('doubles the delay after each failure when exponential, starting from delay after the first', () => {
    const policy = none('exponential', 100);
    assert.deepEqual(
      [1, 2, 3, 4, 5].map((n) => backoffDelay(policy, n)),
      [100, 200, 400, 800, 1600],
    );
  });

  it('caps the delay at maxDelay, even after thousands of failures', () => {
    const policy = none('exponential', 100, 1000);
    assert.equal(backoffDelay(policy, 4), 800);
    assert.equal(backoffDelay(policy, 5), 1000);
    assert.equal(backoffDelay(policy, 5000), 1000);
  });

  it('spreads full jitter over [0, delay] and equal jitter over [delay/2, delay]', () => {
    const full = resolveBackoff({ type: 'fixed', delay: 1000, jitter: 'full' });
    const equal = resolveBackoff({ type: 'fixed', delay: 1000, jitter: 'equal' });
    assert.equal(
      backoffDelay(full, 1, () => 0),
      0,
    );
    assert.equal(
      backoffDelay(full, 1, () => 0.5),
      500,
    );
    assert.equal(
      backoffDelay(full, 1, () => 0.999999),
      1000,
    );
    assert.equal(
      backoffDelay(equal, 1, () => 0),
      500,
    );
    assert.equal(
      backoffDelay(equal, 1, () => 0.999999),
      1000,
    );
    for (let i = 0; i < 1000; i++) {
      const d = backoffDelay(equal, 3);
      assert.ok(d >= 500 && d <= 1000, String(d));
    }
  });

  it('jitters after capping, so the cap bounds the jittered delay too', () => {
    const policy = resolveBackoff({ type: 'exponential', delay: 100, maxDelay: 300, jitter: 'equal' });
    assert.equal(
      backoffDelay(policy, 10, () => 0),
      150,
    );
    assert.equal(
      backoffDelay(policy, 10, () => 0.999999),
      300,
    );
  });

  it('gives the next attempt time counted from now', () => {
    assert.equal(nextRetryAt(none('exponential', 100), 3, 1_000_000), 1_000_400);
  });
});
