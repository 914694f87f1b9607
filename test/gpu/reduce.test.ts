// Reductions in both layouts (strided for GPUs, chunked for CPU adapters) against CPU references, on
// whatever adapter this machine has: every op, vec4 and scalar first passes, views at odd offsets,
// lengths around the workgroup and chunk sizes, empty, one element and a large array.

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { fromHost, type GpuDevice, maxArrayBytes, reduction, requestDevice } from '../../src/gpu/index.ts';
import { NO_ADAPTER, randomFloats } from './support.ts';

let device: GpuDevice;
before(async () => {
  if (NO_ADAPTER) return;
  device = await requestDevice();
});
after(() => device?.destroy());
const skip = NO_ADAPTER;

// Around 8-lane chunks (32 = the first vec4 length), 256-wide workgroups, 64 iterations per lane and
// 256 chunks (8 * 64 * 256 = 131072 elements, times 4 for vec4 loads).
const LENGTHS = [0, 1, 3, 7, 8, 9, 31, 32, 33, 255, 256, 257, 4097, 100_003, 131_071, 524_289, 1_000_001];

function sumOf(values: ArrayLike<number>): number {
  let total = 0;
  for (let i = 0; i < values.length; i++) total += values[i]!;
  return total;
}

function fold(
  values: ArrayLike<number>,
  combine: (a: number, b: number) => number,
  identity: number,
): number {
  let total = identity;
  for (let i = 0; i < values.length; i++) total = combine(total, values[i]!);
  return total;
}

test('the adapter picks the layout: chunked on a CPU adapter, strided on a GPU; a bad layout is a typed error', {
  skip,
}, async () => {
  const sum = await reduction(device);
  assert.equal(sum.layout, device.adapter.software ? 'chunked' : 'strided');
  assert.equal((await reduction(device, { layout: 'strided' })).layout, 'strided');
  await assert.rejects(reduction(device, { layout: 'tiled' as never }), {
    code: 'SKEIN_GPU_INVALID_ARGUMENT',
    message: /layout must be 'strided' or 'chunked' \(got tiled\)/,
  });
});

for (const layout of ['strided', 'chunked'] as const) {
  for (const subgroups of [true, false]) {
    test(`${layout} layout, subgroups ${subgroups ? 'where offered' : 'off'}: sum, min, max, custom and map match the CPU for any length`, {
      skip,
    }, async () => {
      const sum = await reduction(device, { layout, subgroups });
      const min = await reduction(device, { op: 'min', layout, subgroups });
      const max = await reduction(device, { op: 'max', dtype: 'i32', layout, subgroups });
      const usum = await reduction(device, { dtype: 'u32', layout, subgroups });
      const absMax = await reduction(device, {
        op: { combine: 'max(a, b)', identity: '0.0' },
        map: 'abs(x)',
        layout,
        subgroups,
      });
      const dot = await reduction(device, {
        map: 'x * y',
        args: { x: 'f32[]', y: 'f32[]' },
        layout,
        subgroups,
      });
      for (const n of LENGTHS) {
        const host = randomFloats(n, 7 + n);
        const other = randomFloats(n, 11 + n);
        const ints = new Int32Array(n).map((_, i) => ((i * 7919) % 100_003) - 50_000);
        const uints = new Uint32Array(n).map((_, i) => (i * 2_654_435_761) % 1000);
        using x = fromHost(device, host);
        using y = fromHost(device, other);
        using xi = fromHost(device, ints);
        using xu = fromHost(device, uints);
        const tolerance = 1e-3 * Math.max(1, Math.sqrt(n));
        const got = await sum.run(x);
        assert.ok(Math.abs(got - sumOf(host)) < tolerance, `sum n=${n}: ${got} vs ${sumOf(host)}`);
        assert.equal(await min.run(x), fold(host, Math.min, Infinity), `min n=${n}`);
        assert.equal(await max.run(xi), fold(ints, Math.max, -(2 ** 31)), `max n=${n}`);
        assert.equal(await usum.run(xu), sumOf(uints) % 2 ** 32, `u32 sum n=${n}`);
        assert.equal(await absMax.run(x), fold(host.map(Math.abs), Math.max, 0), `abs max n=${n}`);
        const products = host.map((v, i) => Math.fround(v * other[i]!));
        const dotted = await dot.run({ x, y });
        assert.ok(Math.abs(dotted - sumOf(products)) < tolerance, `dot n=${n}: ${dotted}`);
        if (n > 5) {
          // A view 1 element in: not 16-byte aligned, so the scalar first pass reads it.
          using view = x.slice(1, n - 2);
          const viewSum = await sum.run(view);
          assert.ok(Math.abs(viewSum - sumOf(host.subarray(1, n - 2))) < tolerance, `view sum n=${n}`);
        }
      }
    });
  }
}

test('the largest array the adapter binds (up to 128 MiB), one element short of it, sums and mins in both layouts', {
  skip,
}, async () => {
  // 2^25 - 1 elements on lavapipe (128 MiB bindings): odd, so the vec4 pass leaves a 3-element tail.
  const n = Math.min(maxArrayBytes(device) / 4, 2 ** 25) - 1;
  const host = randomFloats(n, 5);
  using x = fromHost(device, host);
  const reference = sumOf(host);
  const smallest = fold(host, Math.min, Infinity);
  for (const layout of ['strided', 'chunked'] as const) {
    const sum = await reduction(device, { layout });
    const min = await reduction(device, { op: 'min', layout });
    const got = await sum.run(x);
    assert.ok(Math.abs(got - reference) < 1e-3 * Math.sqrt(n), `${layout}: ${got} vs ${reference}`);
    assert.equal(await min.run(x), smallest, layout);
  }
});
