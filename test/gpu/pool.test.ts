// GPU work inside pool workers: each worker thread opens its own device (one per worker) and the pool's
// tasks mix CPU and GPU work in one program.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ThreadPool } from '../../src/pool/index.ts';
import { gpuSumOfSquares } from './fixtures/gpu-sum.ts';
import { NO_ADAPTER } from './support.ts';

test('ThreadPool tasks run GPU kernels on a device of their own worker and return correct results', {
  skip: NO_ADAPTER,
}, async () => {
  await using pool = new ThreadPool({ maxWorkers: 2 });
  const inputs = Array.from({ length: 6 }, (_, k) =>
    new Float32Array(1000 + k * 37).map((_, i) => (i % 10) - 4.5),
  );
  const results = await Promise.all(inputs.map((values) => pool.run(gpuSumOfSquares, values)));
  for (const [k, result] of results.entries()) {
    let expected = 0;
    for (const v of inputs[k]!) expected += v * v;
    assert.ok(Math.abs(result.sum - expected) < 1e-2, `task ${k}: ${result.sum} vs ${expected}`);
    assert.ok(result.adapter.length > 0);
  }
});
