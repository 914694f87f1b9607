// Tunes the 'tiled-vec4' matmul's tile shape on this machine's adapter: every candidate shape (and the
// other variants, for reference) multiplies the same n x n f32 matrices, is checked against the CPU on
// sampled elements, and is timed compute-only (inputs on the device; dispatch, submit, wait). Prints a
// table sorted by speed; the best shape is what GPU_TILE_SHAPE (src/gpu/matmul-tiles.ts) should be.
//
// Candidates take turns (--passes rounds over all of them, after --warmup-ms of the default kernel so the
// GPU's clock has risen), and each one's time is the median of all its repetitions.
//
//   node bench/gpu/matmul-tiles.ts [--sizes 2048,4096] [--reps 10] [--passes 3] [--warmup-ms 2000]
//                                  [--only <label substring>] [--shapes '<JSON list of TileShape>']
//                                  [--adapter <name>] [--json] [--out rows.jsonl]

import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { fromHost, linalg, type MatmulVariant, requestDevice } from '../../src/gpu/index.ts';
import type { TileShape } from '../../src/gpu/matmul-tiles.ts';

const { values: flags } = parseArgs({
  options: {
    sizes: { type: 'string', default: '4096' },
    reps: { type: 'string', default: '10' },
    passes: { type: 'string', default: '3' },
    'warmup-ms': { type: 'string', default: '2000' },
    only: { type: 'string' },
    shapes: { type: 'string' },
    adapter: { type: 'string' },
    json: { type: 'boolean', default: false },
    out: { type: 'string' },
  },
});
const SIZES = flags.sizes.split(',').map(Number);
const REPS = Number(flags.reps);
const PASSES = Number(flags.passes);
const WARMUP_MS = Number(flags['warmup-ms']);
const SAMPLES = 256;

const BASE_SHAPES: readonly TileShape[] = [
  { bm: 128, bn: 128, bk: 8, tm: 8, tn: 8 },
  { bm: 128, bn: 64, bk: 16, tm: 8, tn: 8 },
  { bm: 128, bn: 128, bk: 16, tm: 8, tn: 8 },
  { bm: 64, bn: 128, bk: 16, tm: 8, tn: 8 },
  { bm: 128, bn: 128, bk: 8, tm: 8, tn: 8, stages: 2 },
  { bm: 256, bn: 128, bk: 8, tm: 16, tn: 8 },
  { bm: 64, bn: 64, bk: 16, tm: 4, tn: 4 },
];
// Each base shape as is, and with the lane layout, exact (unclamped) loads and a swizzled walk over C.
const SHAPES: readonly TileShape[] =
  flags.shapes !== undefined
    ? (JSON.parse(flags.shapes) as TileShape[])
    : BASE_SHAPES.flatMap((base) => [
        base,
        { ...base, exact: true },
        { ...base, lanes: 'blocks' as const },
        { ...base, lanes: 'blocks' as const, exact: true },
        { ...base, lanes: 'blocks' as const, exact: true, swizzle: 8 },
        { ...base, exact: true, swizzle: 8 },
      ]);

function shapeLabel(shape: TileShape): string {
  const extras = [
    shape.stages === 2 ? '2-stage' : '',
    shape.lanes === 'blocks' ? 'blocks' : '',
    shape.exact === true ? 'exact' : '',
    shape.peel === true ? 'peel' : '',
    (shape.swizzle ?? 0) > 0 ? `swizzle ${shape.swizzle}` : '',
  ].filter((extra) => extra !== '');
  return `tiled-vec4 ${shape.bm}x${shape.bn}x${shape.bk} / ${shape.tm}x${shape.tn}${extras.length > 0 ? ` ${extras.join(' ')}` : ''}`;
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

function randomMatrix(n: number, seed: number): Float32Array {
  const out = new Float32Array(n * n);
  let state = seed;
  for (let i = 0; i < out.length; i++) {
    state = (state * 1664525 + 1013904223) >>> 0;
    out[i] = state / 2 ** 32 - 0.5;
  }
  return out;
}

const device = await requestDevice(flags.adapter === undefined ? {} : { adapter: flags.adapter });
console.error(
  `adapter: ${device.adapter.name} (${device.adapter.vendor}, ${device.adapter.architecture})${device.adapter.software ? ' [software]' : ''}`,
);
const rows: Record<string, unknown>[] = [];
for (const n of SIZES) {
  const ah = randomMatrix(n, 7);
  const bh = randomMatrix(n, 5);
  // Sampled elements of the exact product, in f64, to check every candidate against.
  const samples = Array.from({ length: SAMPLES }, (_, s) => {
    const i = (s * 7919) % n;
    const j = (s * 104729 + 13) % n;
    let sum = 0;
    for (let k = 0; k < n; k++) sum += ah[i * n + k]! * bh[k * n + j]!;
    return { i, j, sum };
  });
  using a = fromHost(device, ah, { shape: [n, n] });
  using b = fromHost(device, bh, { shape: [n, n] });
  const candidates: { label: string; shape?: TileShape; variant: MatmulVariant }[] = [
    { label: 'default (the shape linalg picks for this size)', variant: 'tiled-vec4' as MatmulVariant },
    ...SHAPES.map((shape) => ({ label: shapeLabel(shape), shape, variant: 'tiled-vec4' as const })),
    { label: 'tiled (scalar 64x64)', variant: 'tiled' as const },
    { label: 'blocked-vec4', variant: 'blocked-vec4' as const },
  ].filter((candidate) => flags.only === undefined || candidate.label.includes(flags.only));
  using c = fromHost(device, new Float32Array(n * n), { shape: [n, n] });
  const ready: {
    label: string;
    shape?: TileShape;
    variant: MatmulVariant;
    la: Awaited<ReturnType<typeof linalg>>;
    worst: number;
    times: number[];
  }[] = [];
  for (const candidate of candidates) {
    try {
      const la = await linalg(
        device,
        candidate.shape === undefined
          ? {}
          : { matmulTile: candidate.shape, matmulSmallTile: candidate.shape },
      );
      c.fill(Number.NaN);
      la.matmul(a, b, { out: c, variant: candidate.variant });
      const product = await c.toHost();
      let worst = 0;
      for (const { i, j, sum } of samples) {
        const error = Math.abs(product[i * n + j]! - sum);
        worst = Number.isNaN(error) ? Number.POSITIVE_INFINITY : Math.max(worst, error);
      }
      ready.push({ ...candidate, la, worst, times: [] });
    } catch (error) {
      rows.push({ n, label: candidate.label, error: (error as Error).message });
    }
  }
  // The GPU's clock rises under load: run the default kernel for a while before anything is timed.
  const warm = await linalg(device);
  const warmUntil = performance.now() + WARMUP_MS;
  while (performance.now() < warmUntil) {
    warm.matmul(a, b, { out: c });
    await device.flush();
  }
  for (let pass = 0; pass < PASSES; pass++) {
    for (const candidate of ready) {
      for (let rep = 0; rep < REPS; rep++) {
        const started = performance.now();
        candidate.la.matmul(a, b, { out: c, variant: candidate.variant });
        await device.flush();
        candidate.times.push(performance.now() - started);
      }
    }
  }
  for (const candidate of ready) {
    const ms = median(candidate.times);
    const tflops = (2 * n ** 3) / (ms / 1000) / 1e12;
    const worst = candidate.worst;
    rows.push({
      n,
      label: candidate.label,
      shape: candidate.shape,
      variant: candidate.variant,
      ms,
      tflops,
      maxError: worst,
      ok: worst < 1e-3 * Math.sqrt(n),
    });
    console.error(
      `${n} ${candidate.label}: ${ms.toFixed(2)} ms, ${tflops.toFixed(2)} TFLOP/s, max error ${worst.toExponential(1)}`,
    );
  }
}
if (flags.out !== undefined) writeFileSync(flags.out, rows.map((row) => `${JSON.stringify(row)}\n`).join(''));
if (flags.json) {
  for (const row of rows) console.log(JSON.stringify(row));
} else {
  for (const n of SIZES) {
    console.log(`\n#### ${n}×${n} f32 on ${device.adapter.name}\n`);
    console.log('| kernel | ms | TFLOP/s | max error (sampled) |');
    console.log('|---|---:|---:|---:|');
    const ofSize = rows.filter((row) => row.n === n);
    ofSize.sort((x, y) => ((y.tflops as number) ?? -1) - ((x.tflops as number) ?? -1));
    for (const row of ofSize) {
      if (row.error !== undefined) console.log(`| ${row.label} | – | – | ${row.error} |`);
      else
        console.log(
          `| ${row.label} | ${(row.ms as number).toFixed(2)} | ${(row.tflops as number).toFixed(2)} | ${(row.maxError as number).toExponential(1)}${row.ok ? '' : ' WRONG'} |`,
        );
    }
  }
}
device.destroy();
