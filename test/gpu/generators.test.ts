// Generated kernels against CPU references with tolerances: elementwise, reduce (sum/min/max/custom,
// with and without subgroups), scan (inclusive/exclusive), matmul (every variant), transpose, axpy and
// dot, for sizes that are not multiples of the workgroup size and for empty and one-element inputs.

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import {
  elementwise,
  fromHost,
  type GpuArray,
  type GpuDevice,
  type Linalg,
  linalg,
  reduction,
  requestDevice,
  scan,
  zeros,
} from '../../src/gpu/index.ts';
import { matmulReference, maxError, NO_ADAPTER, randomFloats } from './support.ts';

let device: GpuDevice;
let la: Linalg;
before(async () => {
  if (NO_ADAPTER) return;
  device = await requestDevice();
  la = await linalg(device);
});
after(() => device?.destroy());
const skip = NO_ADAPTER;
const SIZES = [0, 1, 255, 257, 100_003];

test('elementwise runs an expression over arrays and scalars of any length', { skip }, async () => {
  const axpb = await elementwise(device, 'y = a * x + b', { y: 'f32[]', x: 'f32[]', a: 'f32', b: 'f32' });
  for (const n of SIZES) {
    const host = randomFloats(n, n + 1);
    using x = fromHost(device, host);
    using y = zeros(device, n);
    axpb.run({ y, x, a: 3, b: -1 });
    const expected = host.map((v) => Math.fround(3 * v) - 1);
    assert.ok(maxError(await y.toHost(), expected) < 1e-6, `n=${n}`);
  }
  const mixed = await elementwise(device, 'let t = f32(k) * 0.5;\nout = t + f32(n)', {
    k: 'i32[]',
    out: 'f32[]',
  });
  using k = fromHost(device, new Int32Array([2, 4, 6]));
  using out = zeros(device, 3);
  mixed.run({ k, out });
  assert.deepEqual([...(await out.toHost())], [4, 5, 6]);
  using short = zeros(device, 2);
  assert.throws(() => axpb.run({ y: short, x: out, a: 1, b: 1 }), {
    code: 'SKEIN_GPU_SHAPE_MISMATCH',
    message: /equal lengths/,
  });
  assert.throws(() => axpb.run({ y: k, x: out, a: 1, b: 1 } as never), { code: 'SKEIN_GPU_DTYPE_MISMATCH' });
});

for (const subgroups of [true, false]) {
  test(`reduce sums, mins, maxes and custom-combines any length (subgroups ${subgroups ? 'where offered' : 'off'})`, {
    skip,
  }, async () => {
    const sum = await reduction(device, { subgroups });
    const min = await reduction(device, { op: 'min', subgroups });
    const max = await reduction(device, { op: 'max', dtype: 'i32', subgroups });
    const product = await reduction(device, {
      op: { combine: 'a * b', identity: '1.0' },
      map: 'x',
      subgroups,
    });
    for (const n of [...SIZES, 1_000_001]) {
      const host = randomFloats(n, 7 + n);
      const ints = new Int32Array(n).map((_, i) => ((i * 7919) % 100_003) - 50_000);
      using x = fromHost(device, host);
      using xi = fromHost(device, ints);
      let reference = 0;
      for (const v of host) reference += v;
      assert.ok(Math.abs((await sum.run(x)) - reference) < 1e-3 * Math.max(1, Math.sqrt(n)), `sum n=${n}`);
      assert.equal(
        await min.run(x),
        host.reduce((a, b) => Math.min(a, b), Infinity),
        `min n=${n}`,
      );
      assert.equal(
        await max.run(xi),
        ints.reduce((a, b) => Math.max(a, b), -(2 ** 31)),
        `max n=${n}`,
      );
    }
    using twos = fromHost(device, new Float32Array(10).fill(2));
    assert.equal(await product.run(twos), 1024);
  });
}

test('scan computes inclusive and exclusive prefix sums across block boundaries', { skip }, async () => {
  const inclusive = await scan(device, { dtype: 'i32' });
  const exclusive = await scan(device, { dtype: 'i32', inclusive: false });
  const maxScan = await scan(device, { op: { combine: 'max(a, b)', identity: '-1e30' } });
  for (const n of [...SIZES, 1024, 1025, 1_050_000]) {
    const host = new Int32Array(n).map((_, i) => (i % 9) - 4);
    using x = fromHost(device, host);
    using inc = inclusive.apply(x);
    using exc = exclusive.apply(x);
    const [a, b] = await Promise.all([inc.toHost(), exc.toHost()]);
    let running = 0;
    for (let i = 0; i < n; i++) {
      assert.equal(b[i], running, `exclusive[${i}] n=${n}`);
      running += host[i]!;
      assert.equal(a[i], running, `inclusive[${i}] n=${n}`);
    }
  }
  using f = fromHost(device, new Float32Array([1, 3, 2, 5, 4]));
  using m = maxScan.apply(f);
  assert.deepEqual([...(await m.toHost())], [1, 3, 3, 5, 5]);
  assert.throws(() => inclusive.apply(f), { code: 'SKEIN_GPU_DTYPE_MISMATCH' });
});

test('matmul matches the CPU for every variant and awkward shapes; the adapter picks its variant', {
  skip,
}, async () => {
  assert.equal(la.matmulVariant, device.adapter.software ? 'blocked-vec4' : 'tiled-vec4');
  for (const [m, k, n] of [
    [1, 1, 1],
    [5, 7, 3],
    [64, 64, 64],
    [33, 20, 36],
    [130, 68, 92],
    // Several 128 x 128 tiles and K steps, with partial ones on every side.
    [260, 44, 264],
    [129, 12, 132],
  ] as const) {
    const ah = randomFloats(m * k, m);
    const bh = randomFloats(k * n, n);
    using a = fromHost(device, ah, { shape: [m, k] });
    using b = fromHost(device, bh, { shape: [k, n] });
    const expected = matmulReference(ah, bh, m, k, n);
    for (const variant of ['blocked-vec4', 'blocked', 'tiled-vec4', 'tiled'] as const) {
      using c = la.matmul(a, b, { variant });
      assert.ok(maxError(await c.toHost(), expected) < 1e-4 * k, `${variant} ${m}x${k}x${n}`);
    }
  }
  using a = zeros(device, [2, 3]);
  using b = zeros(device, [4, 2]);
  assert.throws(() => la.matmul(a, b), {
    code: 'SKEIN_GPU_SHAPE_MISMATCH',
    message: /a's columns must equal b's rows/,
  });
  using ints = zeros(device, [3, 2], 'i32');
  assert.throws(() => la.matmul(a, ints), { code: 'SKEIN_GPU_DTYPE_MISMATCH' });
});

test('matmul tile shapes: each generated shape matches the CPU, clamped and exact; a bad shape is a typed error', {
  skip,
}, async () => {
  const matrices = new Map<string, { a: GpuArray; b: GpuArray; expected: Float32Array; k: number }>();
  const product = (m: number, k: number, n: number) => {
    const key = `${m}x${k}x${n}`;
    let found = matrices.get(key);
    if (found === undefined) {
      const ah = randomFloats(m * k, 11 + m);
      const bh = randomFloats(k * n, 13 + n);
      found = {
        a: fromHost(device, ah, { shape: [m, k] }),
        b: fromHost(device, bh, { shape: [k, n] }),
        expected: matmulReference(ah, bh, m, k, n),
        k,
      };
      matrices.set(key, found);
    }
    return found;
  };
  try {
    // Small unrolls only: lavapipe compiles a kernel at its first dispatch, and a 128 x 128 x 16 tile with
    // 8 x 8 per invocation takes it 15-50 s with a cold shader cache (the generator is the same code for
    // every shape; the large default shape is checked on the GPU by bench/gpu/matmul-tiles.ts).
    for (const matmulTile of [
      { bm: 64, bn: 64, bk: 16, tm: 4, tn: 4 },
      { bm: 32, bn: 64, bk: 8, tm: 4, tn: 8, swizzle: 3, peel: true },
      { bm: 64, bn: 64, bk: 16, tm: 4, tn: 4, stages: 2 },
      { bm: 64, bn: 64, bk: 16, tm: 4, tn: 4, lanes: 'blocks', swizzle: 2 },
    ] as const) {
      // The same shape for small grids too, so this shape runs whatever the product's size. The first
      // product leaves every tile edge partly empty (the clamped kernel); the second fills a 3 x 2 grid
      // of tiles exactly (the kernel without clamps), with the swizzle's last band short; the third is
      // shallower than one K step (no loop turn at all when the last step is peeled).
      const tuned = await linalg(device, { matmulTile, matmulSmallTile: matmulTile });
      assert.deepEqual(tuned.matmulTile, matmulTile);
      for (const [m, k, n] of [
        [150, 36, 200],
        [matmulTile.bm * 3, matmulTile.bk * 2, matmulTile.bn * 2],
        [33, 4, 20],
      ] as const) {
        const { a, b, expected } = product(m, k, n);
        using c = tuned.matmul(a, b, { variant: 'tiled-vec4' });
        assert.ok(
          maxError(await c.toHost(), expected) < 1e-4 * k,
          `${JSON.stringify(matmulTile)} ${m}x${k}x${n}`,
        );
      }
    }
  } finally {
    for (const { a, b } of matrices.values()) {
      a.destroy();
      b.destroy();
    }
  }
  await assert.rejects(
    linalg(device, { matmulTile: { bm: 64, bn: 32, bk: 8, tm: 4, tn: 8, lanes: 'blocks' } }),
    { code: 'SKEIN_GPU_INVALID_ARGUMENT', message: /lanes 'blocks' needs/ },
  );
  await assert.rejects(
    linalg(device, { matmulTile: { bm: 64, bn: 64, bk: 8, tm: 4, tn: 4, swizzle: 1.5 } }),
    {
      code: 'SKEIN_GPU_INVALID_ARGUMENT',
      message: /swizzle must be a whole number/,
    },
  );
  await assert.rejects(
    linalg(device, {
      matmulTile: { bm: 64, bn: 64, bk: 16, tm: 4, tn: 4, peel: 'yes' as unknown as boolean },
    }),
    { code: 'SKEIN_GPU_INVALID_ARGUMENT', message: /peel must be true or false/ },
  );
  await assert.rejects(
    linalg(device, { matmulTile: { bm: 64, bn: 64, bk: 16, tm: 4, tn: 4, stages: 2, peel: true } }),
    { code: 'SKEIN_GPU_INVALID_ARGUMENT', message: /peel needs stages: 1/ },
  );
  await assert.rejects(linalg(device, { matmulTile: { bm: 128, bn: 128, bk: 8, tm: 6, tn: 8 } }), {
    code: 'SKEIN_GPU_INVALID_ARGUMENT',
    message: /tm must be a multiple of 4/,
  });
  await assert.rejects(linalg(device, { matmulTile: { bm: 256, bn: 256, bk: 8, tm: 4, tn: 4 } }), {
    code: 'SKEIN_GPU_INVALID_ARGUMENT',
    message: /4096 invocations per workgroup/,
  });
  await assert.rejects(
    linalg(device, { matmulSmallTile: { bm: 64, bn: 64, bk: 8, tm: 8, tn: 8, stages: 3 as 2 } }),
    {
      code: 'SKEIN_GPU_INVALID_ARGUMENT',
      message: /matmulSmallTile: stages must be 1 or 2/,
    },
  );
});

test('transpose, axpy and dot match the CPU', { skip }, async () => {
  const rows = 37;
  const cols = 19;
  const host = randomFloats(rows * cols, 3);
  using x = fromHost(device, host, { shape: [rows, cols] });
  using t = la.transpose(x);
  assert.deepEqual(t.shape, [cols, rows]);
  const out = await t.toHost();
  for (let r = 0; r < rows; r++)
    for (let c = 0; c < cols; c++) assert.equal(out[c * rows + r], host[r * cols + c]);
  const n = 1001;
  const xh = randomFloats(n, 11);
  const yh = randomFloats(n, 12);
  using xv = fromHost(device, xh);
  using yv = fromHost(device, yh);
  let dot = 0;
  for (let i = 0; i < n; i++) dot += xh[i]! * yh[i]!;
  assert.ok(Math.abs((await la.dot(xv, yv)) - dot) < 1e-3);
  la.axpy(2, xv, yv);
  assert.ok(
    maxError(
      await yv.toHost(),
      yh.map((v, i) => Math.fround(2 * xh[i]!) + v),
    ) < 1e-6,
  );
});

test('elementwise, reduce and scan work on f16 arrays where the adapter has shader-f16', {
  skip,
}, async (t) => {
  if (!device.f16) return t.skip(`adapter ${device.adapter.name} lacks shader-f16`);
  const half = await elementwise(device, 'y = x * 2.0 + 0.5', { x: 'f16[]', y: 'f16[]' });
  const host = new Float16Array(301).map((_, i) => (i % 8) - 4);
  using x = fromHost(device, host);
  using y = fromHost(device, new Float16Array(301));
  half.run({ x, y });
  assert.deepEqual(
    [...(await y.toHost())],
    [...host].map((v) => v * 2 + 0.5),
  );
  const max = await reduction(device, { dtype: 'f16', op: 'max' });
  assert.equal(await max.run(y), 6.5);
  const cumsum = await scan(device, { dtype: 'f16' });
  using ones = fromHost(device, new Float16Array(1500).fill(1));
  using sums = cumsum.apply(ones);
  assert.deepEqual([...(await sums.toHost())].slice(-3), [1498, 1499, 1500]);
});
