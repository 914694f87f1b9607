// Tunes the 'tiled-vec4' matmul's tile shape on this machine's adapter: every candidate shape (and the
// other variants, for reference) multiplies the same n x n f32 matrices, is checked against the CPU on
// sampled elements, and is timed compute-only (inputs on the device; dispatch, submit, wait). Prints a
// table sorted by speed; the best shape is what GPU_TILE_SHAPE (src/gpu/matmul-tiles.ts) should be.
//
//   node bench/gpu/matmul-tiles.ts [--sizes 2048,4096] [--reps 10] [--adapter <name>] [--json] [--out rows.jsonl]

import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { fromHost, linalg, type MatmulVariant, requestDevice } from '../../src/gpu/index.ts';
import type { TileShape } from '../../src/gpu/matmul-tiles.ts';

const { values: flags } = parseArgs({
  options: {
    sizes: { type: 'string', default: '4096' },
    reps: { type: 'string', default: '10' },
    adapter: { type: 'string' },
    json: { type: 'boolean', default: false },
    out: { type: 'string' },
  },
});
const SIZES = flags.sizes.split(',').map(Number);
const REPS = Number(flags.reps);
const SAMPLES = 256;

const SHAPES: readonly TileShape[] = [
  { bm: 128, bn: 128, bk: 8, tm: 8, tn: 8 },
  { bm: 128, bn: 128, bk: 8, tm: 8, tn: 8, stages: 2 },
  { bm: 128, bn: 128, bk: 16, tm: 8, tn: 8 },
  { bm: 128, bn: 128, bk: 16, tm: 8, tn: 8, stages: 2 },
  { bm: 128, bn: 128, bk: 32, tm: 8, tn: 8 },
  { bm: 64, bn: 128, bk: 16, tm: 4, tn: 8, stages: 2 },
  { bm: 128, bn: 64, bk: 16, tm: 8, tn: 8, stages: 2 },
  { bm: 64, bn: 128, bk: 16, tm: 8, tn: 8 },
  { bm: 128, bn: 64, bk: 16, tm: 8, tn: 8 },
  { bm: 64, bn: 64, bk: 8, tm: 8, tn: 8 },
  { bm: 64, bn: 64, bk: 8, tm: 8, tn: 8, stages: 2 },
  { bm: 64, bn: 64, bk: 16, tm: 8, tn: 8, stages: 2 },
  { bm: 64, bn: 64, bk: 16, tm: 4, tn: 4 },
  { bm: 256, bn: 128, bk: 8, tm: 16, tn: 8 },
];

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
    { label: 'default (the shape linalg picks for this size)', variant: 'tiled-vec4' },
    ...SHAPES.map((shape) => ({
      label: `tiled-vec4 ${shape.bm}x${shape.bn}x${shape.bk} / ${shape.tm}x${shape.tn}${shape.stages === 2 ? ' 2-stage' : ''}`,
      shape,
      variant: 'tiled-vec4' as const,
    })),
    { label: 'tiled (scalar 64x64)', variant: 'tiled' },
    { label: 'blocked-vec4', variant: 'blocked-vec4' },
  ];
  for (const candidate of candidates) {
    let la: Awaited<ReturnType<typeof linalg>>;
    try {
      la = await linalg(
        device,
        candidate.shape === undefined
          ? {}
          : { matmulTile: candidate.shape, matmulSmallTile: candidate.shape },
      );
    } catch (error) {
      rows.push({ n, label: candidate.label, error: (error as Error).message });
      continue;
    }
    using c = la.matmul(a, b, { variant: candidate.variant });
    await device.flush();
    const product = await c.toHost();
    let worst = 0;
    for (const { i, j, sum } of samples) worst = Math.max(worst, Math.abs(product[i * n + j]! - sum));
    const times: number[] = [];
    for (let rep = 0; rep < REPS; rep++) {
      const started = performance.now();
      la.matmul(a, b, { out: c, variant: candidate.variant });
      await device.flush();
      times.push(performance.now() - started);
    }
    const ms = median(times);
    const tflops = (2 * n ** 3) / (ms / 1000) / 1e12;
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
