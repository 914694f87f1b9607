// GPU arrays: transfers in both directions for every dtype, shapes and views, empty and one-element
// arrays, fill, the largest array the adapter binds, and typed errors for destroyed arrays and
// mismatched shapes and dtypes.

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import {
  empty,
  fromHost,
  full,
  type GpuArray,
  type GpuDevice,
  maxArrayBytes,
  reduction,
  requestDevice,
  zeros,
} from '../../src/gpu/index.ts';
import { NO_ADAPTER } from './support.ts';

let device: GpuDevice;
before(async () => {
  if (!NO_ADAPTER) device = await requestDevice();
});
after(() => device?.destroy());
const skip = NO_ADAPTER;

test('fromHost and toHost round-trip f32, i32 and u32 arrays of awkward lengths', { skip }, async () => {
  for (const n of [0, 1, 3, 257, 10_007]) {
    const f = new Float32Array(n).map((_, i) => i * 0.5 - 7);
    const i32 = new Int32Array(n).map((_, i) => i * -3);
    const u32 = new Uint32Array(n).map((_, i) => 4_000_000_000 - i);
    using a = fromHost(device, f);
    using b = fromHost(device, i32);
    using c = fromHost(device, u32);
    assert.deepEqual(await a.toHost(), f);
    assert.deepEqual(await b.toHost(), i32);
    assert.deepEqual(await c.toHost(), u32);
    assert.deepEqual([a.dtype, b.dtype, c.dtype], ['f32', 'i32', 'u32']);
    assert.equal(a.length, n);
  }
});

test('f16 arrays round-trip where the adapter has shader-f16, odd lengths included', { skip }, async (t) => {
  if (!device.f16) return t.skip(`adapter ${device.adapter.name} lacks shader-f16`);
  for (const n of [1, 3, 8]) {
    const data = new Float16Array(n).map((_, i) => i + 0.5);
    using a = fromHost(device, data);
    assert.deepEqual(await a.toHost(), data);
    using filled = full(device, [n], 1.5, 'f16');
    assert.deepEqual([...(await filled.toHost())], new Array(n).fill(1.5));
  }
});

test('shapes, slices and reshapes are views of the same memory', { skip }, async () => {
  using m = fromHost(device, new Float32Array([1, 2, 3, 4, 5, 6]), { shape: [3, 2] });
  assert.deepEqual(m.shape, [3, 2]);
  const rows = m.slice(1, 3);
  assert.deepEqual(rows.shape, [2, 2]);
  assert.deepEqual([...(await rows.toHost())], [3, 4, 5, 6]);
  assert.deepEqual([...(await m.slice(-1).toHost())], [5, 6]);
  const flat = m.reshape([6]).slice(1, 4);
  flat.write(new Float32Array([20, 30, 40]));
  assert.deepEqual([...(await m.toHost())], [1, 20, 30, 40, 5, 6]);
  const copy = m.copy();
  m.fill(0);
  assert.deepEqual([...(await copy.toHost())], [1, 20, 30, 40, 5, 6]);
  copy.destroy();
});

test('empty, zeros, full and fill set every element, including empty and one-element arrays', {
  skip,
}, async () => {
  using z = zeros(device, [5], 'i32');
  assert.deepEqual([...(await z.toHost())], [0, 0, 0, 0, 0]);
  using f = full(device, [2, 3], -2.25);
  assert.deepEqual([...(await f.toHost())], new Array(6).fill(-2.25));
  using one = full(device, 1, 7, 'u32');
  assert.deepEqual([...(await one.toHost())], [7]);
  using none = empty(device, [0]);
  assert.equal((await none.fill(3).toHost()).length, 0);
  using big = full(device, 100_003, 9, 'i32');
  const host = await big.toHost();
  assert.ok(host.every((v) => v === 9));
});

test('the largest array the adapter binds is usable and one element more throws SKEIN_GPU_BUFFER_TOO_LARGE', {
  skip,
}, async () => {
  const maxElements = Math.floor(maxArrayBytes(device) / 4);
  // Filled and summed on the GPU (no host transfer of the whole array), so this stays fast.
  using huge = full(device, [maxElements], 1, 'u32');
  const sum = await reduction(device, { dtype: 'u32' });
  assert.equal(await sum.run(huge), maxElements);
  assert.deepEqual([...(await huge.slice(maxElements - 2).toHost())], [1, 1]);
  assert.throws(() => empty(device, [maxElements + 1], 'u32'), {
    code: 'SKEIN_GPU_BUFFER_TOO_LARGE',
    message: /maxStorageBufferBindingSize/,
  });
});

test('a destroyed array, its views and arrays of a destroyed device throw SKEIN_GPU_DESTROYED', {
  skip,
}, async () => {
  const a = fromHost(device, [1, 2, 3, 4]);
  const view = a.slice(1, 3);
  a.destroy();
  a.destroy();
  await assert.rejects(a.toHost(), { code: 'SKEIN_GPU_DESTROYED', message: /destroyed/ });
  await assert.rejects(view.toHost(), { code: 'SKEIN_GPU_DESTROYED', message: /it views was destroyed/ });
  assert.throws(() => a.fill(1), { code: 'SKEIN_GPU_DESTROYED' });
  const other = await requestDevice();
  const b = fromHost(other, [1, 2]);
  const pending = b.toHost();
  other.destroy();
  // A read queued before the device went away either finished first or fails with the code.
  await pending.then(
    (values) => assert.deepEqual([...values], [1, 2]),
    (error: { code: string }) => assert.equal(error.code, 'SKEIN_GPU_DESTROYED'),
  );
  assert.equal(b.destroyed, true);
  await assert.rejects(b.toHost(), { code: 'SKEIN_GPU_DESTROYED', message: /its device was destroyed/ });
  assert.throws(() => fromHost(other, [1]), { code: 'SKEIN_GPU_DESTROYED' });
});

test('`using` destroys an array at the end of its block', { skip }, async () => {
  let kept: GpuArray | undefined;
  {
    using a = zeros(device, 4);
    kept = a;
    assert.equal(kept.destroyed, false);
  }
  assert.equal(kept.destroyed, true);
});

test('mismatched shapes and dtypes throw SKEIN_GPU_SHAPE_MISMATCH and SKEIN_GPU_DTYPE_MISMATCH', {
  skip,
}, () => {
  assert.throws(() => fromHost(device, new Float32Array(5), { shape: [2, 3] }), {
    code: 'SKEIN_GPU_SHAPE_MISMATCH',
    message: /5 elements for shape \[2, 3\]/,
  });
  assert.throws(() => fromHost(device, new Int32Array(2) as never, { dtype: 'f32' }), {
    code: 'SKEIN_GPU_DTYPE_MISMATCH',
    message: /Int32Array/,
  });
  using a = zeros(device, [2, 3]);
  assert.throws(() => a.reshape([4, 2]), { code: 'SKEIN_GPU_SHAPE_MISMATCH' });
  assert.throws(() => a.write(new Float32Array(5)), { code: 'SKEIN_GPU_SHAPE_MISMATCH' });
  assert.throws(() => a.write(new Uint32Array(6) as never), { code: 'SKEIN_GPU_DTYPE_MISMATCH' });
  assert.throws(() => a.slice(2, 1), { code: 'SKEIN_GPU_INVALID_ARGUMENT', message: /slice\(2, 1\)/ });
  assert.throws(() => zeros(device, [-1]), { code: 'SKEIN_GPU_INVALID_ARGUMENT', message: /shape/ });
  assert.throws(() => zeros(device, [2], 'f64' as never), {
    code: 'SKEIN_GPU_INVALID_ARGUMENT',
    message: /f64/,
  });
  assert.throws(() => full(device, [2], 1.5, 'i32'), {
    code: 'SKEIN_GPU_INVALID_ARGUMENT',
    message: /integer/,
  });
});

test('f16 arrays on a device without shader-f16, and features the adapter lacks, throw SKEIN_GPU_UNSUPPORTED', {
  skip,
}, async () => {
  using baseline = await requestDevice({ features: [] });
  assert.equal(baseline.f16, false);
  assert.throws(() => zeros(baseline, [4], 'f16'), { code: 'SKEIN_GPU_UNSUPPORTED', message: /shader-f16/ });
  await assert.rejects(requestDevice({ features: ['no-such-feature'] }), {
    code: 'SKEIN_GPU_UNSUPPORTED',
    message: /lacks the feature no-such-feature/,
  });
});
