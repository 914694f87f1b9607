// The GPU benchmark driver: skein/gpu beside TF.js's WebGPU backend (same Dawn adapter), gpu.js 2.24's
// WebGPU mode, PyOpenCL on pocl (the book's API on this CPU), cuBLAS through CuPy where CUDA is, and plain
// TypeScript on the CPU; the empty-dispatch round trip beside raw Dawn. matmul-4096 runs by default only on
// a hardware adapter. Each variant runs in a fresh process, the order reversed
// every other round; results are checked against the CPU's checksum. Prints a header line and one
// Markdown table per case with medians, min–max, the raw rounds and Skein's speed-up over each peer:
// the ratio of the medians, and the median of the per-round ratios (each round runs the variants back
// to back, so a load burst from other processes on the machine tends to hit both sides of a pair).
//
//   node bench/gpu.ts [--rounds 5] [--cases matmul-512,sum-16m] [--variants skein,tfjs-webgpu] [--out gpu.jsonl]

import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import os from 'node:os';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { listAdapters } from '../src/gpu/index.ts';

interface Metric {
  readonly key: string;
  readonly label: string;
  readonly higherIsBetter: boolean;
}

interface Case {
  readonly id: string;
  readonly title: string;
  readonly metrics: readonly Metric[];
  readonly variants: readonly string[];
  /** Relative tolerance of the checksum against cpu-ts's (or the first variant's). */
  readonly tolerance: number;
  /** Run only on a hardware adapter unless named in --cases (too slow on lavapipe for a default run). */
  readonly gpuOnly?: boolean;
}

const GFLOPS: Metric[] = [
  { key: 'computeGflops', label: 'GFLOP/s compute-only', higherIsBetter: true },
  { key: 'endToEndGflops', label: 'GFLOP/s end to end (upload, multiply, read back)', higherIsBetter: true },
];
const MATMUL_VARIANTS = ['skein', 'tfjs-webgpu', 'gpujs-webgpu', 'pyopencl-pocl', 'cupy-cublas', 'cpu-ts'];

const CASES: readonly Case[] = [
  {
    id: 'matmul-512',
    title: 'matmul 512×512 f32',
    metrics: GFLOPS,
    variants: MATMUL_VARIANTS,
    tolerance: 1e-3,
  },
  {
    id: 'matmul-1024',
    title: 'matmul 1024×1024 f32',
    metrics: GFLOPS,
    variants: MATMUL_VARIANTS,
    tolerance: 1e-3,
  },
  {
    // The issue's NVIDIA goal: ≥ 15 TFLOP/s and ≥ 2× TF.js-webgpu. Peers that run on the CPU would take
    // minutes here, so only TF.js and cuBLAS (where CUDA is) run beside Skein.
    id: 'matmul-4096',
    title: 'matmul 4096×4096 f32',
    metrics: GFLOPS,
    variants: ['skein', 'tfjs-webgpu', 'cupy-cublas'],
    tolerance: 1e-3,
    gpuOnly: true,
  },
  {
    id: 'sum-16m',
    title: 'sum of 16M f32 (input on the device, the scalar read back)',
    metrics: [{ key: 'ms', label: 'ms', higherIsBetter: false }],
    variants: ['skein', 'tfjs-webgpu', 'pyopencl-pocl', 'cpu-ts'],
    tolerance: 1e-4,
  },
  {
    id: 'saxpy-16m',
    title: 'saxpy y = 2x + y on 16M f32 (inputs on the device; gpu.js uploads and reads back)',
    metrics: [
      { key: 'ms', label: 'ms compute', higherIsBetter: false },
      { key: 'endToEndMs', label: 'ms end to end', higherIsBetter: false },
    ],
    variants: ['skein', 'tfjs-webgpu', 'gpujs-webgpu', 'pyopencl-pocl', 'cpu-ts'],
    tolerance: 1e-3,
  },
  {
    id: 'empty-dispatch',
    title:
      'empty dispatch round trip (dispatch, submit, wait for completion): 300 after 1,000 warm-up (steady state), and round trips 20-320 of a fresh process (start-up)',
    metrics: [
      { key: 'p50Us', label: 'µs p50, steady state', higherIsBetter: false },
      { key: 'coldP50Us', label: 'µs p50, start-up (round trips 20-320)', higherIsBetter: false },
    ],
    variants: ['skein', 'raw-dawn'],
    tolerance: 0,
  },
];

const { values: flags } = parseArgs({
  options: {
    rounds: { type: 'string', default: '5' },
    cases: { type: 'string' },
    variants: { type: 'string' },
    out: { type: 'string' },
    timeout: { type: 'string', default: '300' },
  },
});
const ROUNDS = Number(flags.rounds);
const TIMEOUT_MS = Number(flags.timeout) * 1000;
const PYTHON = '/usr/bin/python3'; // Debian's python3 with python3-pyopencl, not the pyenv one on PATH
const VARIANT_SCRIPT = fileURLToPath(new URL('./gpu/run-variant.ts', import.meta.url));
const PYOPENCL_SCRIPT = fileURLToPath(new URL('./gpu/pyopencl_bench.py', import.meta.url));
const CUPY_SCRIPT = fileURLToPath(new URL('./gpu/cupy_bench.py', import.meta.url));
const wantedCases = flags.cases?.split(',');
const wantedVariants = flags.variants?.split(',');
const adapters = await listAdapters();
const cases = CASES.filter((c) =>
  wantedCases === undefined ? !c.gpuOnly || adapters[0]?.software === false : wantedCases.includes(c.id),
);
const wanted = (variant: string): boolean =>
  cases.some((c) => c.variants.includes(variant)) &&
  (wantedVariants === undefined || wantedVariants.includes(variant));

/** PyOpenCL on pocl: installed from Debian with apt-get when missing (as root), else skipped with the reason. */
function ensurePyopencl(): string | undefined {
  const probe = () =>
    spawnSync(PYTHON, ['-c', 'import pyopencl as cl; cl.create_some_context(interactive=False)'], {
      encoding: 'utf8',
    });
  if (probe().status === 0) return undefined;
  if (process.getuid?.() === 0) {
    const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
    spawnSync('apt-get', ['update', '-qq'], { stdio: 'inherit', env });
    spawnSync(
      'apt-get',
      ['install', '-y', '-qq', '--no-install-recommends', 'python3-pyopencl', 'pocl-opencl-icd'],
      { stdio: 'inherit', env },
    );
    if (probe().status === 0) return undefined;
  }
  return `PyOpenCL on pocl is not available (${probe().stderr.trim().split('\n').at(-1)}); install python3-pyopencl and pocl-opencl-icd`;
}

/** CuPy with a CUDA device (cuBLAS), the vendor reference on NVIDIA machines; else the reason it is skipped. */
function cupyMissing(): string | undefined {
  const probe = spawnSync('python3', ['-c', 'import cupy; cupy.cuda.runtime.getDeviceCount()'], {
    encoding: 'utf8',
  });
  if (probe.status === 0) return undefined;
  return `CuPy with a CUDA device is not available (${(probe.stderr ?? probe.error?.message ?? '').trim().split('\n').at(-1)})`;
}

type Row = Record<string, number | string>;

function runVariant(variant: string, id: string): Row {
  const [command, args] =
    variant === 'pyopencl-pocl'
      ? [PYTHON, [PYOPENCL_SCRIPT, id]]
      : variant === 'cupy-cublas'
        ? ['python3', [CUPY_SCRIPT, id]]
        : [process.execPath, [VARIANT_SCRIPT, variant, id]];
  const child = spawnSync(command, args, { encoding: 'utf8', timeout: TIMEOUT_MS, maxBuffer: 1 << 24 });
  const line = child.stdout
    ?.trim()
    .split('\n')
    .reverse()
    .find((candidate) => candidate.startsWith('{'));
  if (child.status !== 0 || line === undefined) {
    const why = child.error?.message ?? child.stderr?.trim().split('\n').slice(-3).join(' | ') ?? 'no output';
    return { variant, case: id, error: `exit ${child.status}: ${why}` };
  }
  return JSON.parse(line) as Row;
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

const format = (value: number): string =>
  value >= 100 ? value.toFixed(0) : value >= 10 ? value.toFixed(1) : value.toFixed(2);

const load = os
  .loadavg()
  .map((v) => v.toFixed(2))
  .join(' ');
const header = {
  type: 'header',
  node: process.version,
  cpu: os.cpus()[0]?.model ?? 'unknown',
  cores: os.availableParallelism(),
  loadavg: load,
  adapter: adapters[0]?.name ?? 'none',
  rounds: ROUNDS,
};
const jsonLines: string[] = [JSON.stringify(header)];
console.log(
  `GPU benchmark: Node ${header.node}, ${header.cpu} × ${header.cores}, load ${load}, adapter ${header.adapter}, ${ROUNDS} rounds`,
);
const pyopenclMissing = wanted('pyopencl-pocl') ? ensurePyopencl() : 'not asked for';
if (wanted('pyopencl-pocl') && pyopenclMissing !== undefined)
  console.log(`skipping pyopencl-pocl: ${pyopenclMissing}`);
const cupyAbsent = wanted('cupy-cublas') ? cupyMissing() : 'not asked for';
if (wanted('cupy-cublas') && cupyAbsent !== undefined) console.log(`skipping cupy-cublas: ${cupyAbsent}`);

const plan = cases.flatMap((c) =>
  c.variants
    .filter(
      (variant) => wantedVariants === undefined || variant === 'skein' || wantedVariants.includes(variant),
    )
    .filter((variant) => variant !== 'pyopencl-pocl' || pyopenclMissing === undefined)
    .filter((variant) => variant !== 'cupy-cublas' || cupyAbsent === undefined)
    .map((variant) => ({ id: c.id, variant })),
);
const results = new Map<string, Row[]>();
for (let round = 0; round < ROUNDS; round++) {
  const order = round % 2 === 0 ? plan : [...plan].reverse();
  for (const { id, variant } of order) {
    const row = runVariant(variant, id);
    jsonLines.push(JSON.stringify({ type: 'result', round, ...row }));
    const key = `${id}/${variant}`;
    results.set(key, [...(results.get(key) ?? []), { ...row, round }]);
    process.stderr.write(`round ${round + 1}/${ROUNDS} ${key}: ${row.error ?? 'ok'}\n`);
  }
}

for (const c of cases) {
  const reference = (results.get(`${c.id}/cpu-ts`) ?? results.get(`${c.id}/${c.variants[0]}`) ?? []).find(
    (row) => typeof row.checksum === 'number',
  )?.checksum as number | undefined;
  console.log(`\n### ${c.title}\n`);
  for (const metric of c.metrics) {
    const skeinRows = (results.get(`${c.id}/skein`) ?? []).filter(
      (row) => row.error === undefined && typeof row[metric.key] === 'number',
    );
    const skeinRounds = skeinRows.map((row) => row[metric.key] as number);
    const skeinMedian = skeinRounds.length > 0 ? median(skeinRounds) : undefined;
    const lines: string[] = [];
    for (const variant of c.variants) {
      const rows = results.get(`${c.id}/${variant}`);
      if (rows === undefined) continue;
      const ok = rows.filter(
        (row) =>
          row.error === undefined &&
          typeof row[metric.key] === 'number' &&
          (reference === undefined ||
            Math.abs((row.checksum as number) - reference) <= c.tolerance * Math.max(1, Math.abs(reference))),
      );
      const bad = rows.filter(
        (row) => row.error !== undefined || (typeof row[metric.key] === 'number' && !ok.includes(row)),
      );
      if (ok.length === 0) {
        if (bad.length > 0)
          lines.push(
            `| ${variant} | failed: ${String(bad[0]!.error ?? `checksum ${bad[0]!.checksum} ≠ ${reference}`).slice(0, 120)} | | | | |`,
          );
        continue;
      }
      const values = ok.map((row) => row[metric.key] as number);
      const mid = median(values);
      const speedup =
        skeinMedian === undefined || variant === 'skein'
          ? '—'
          : `${format(metric.higherIsBetter ? skeinMedian / mid : mid / skeinMedian)}×`;
      const perRound =
        variant === 'skein'
          ? []
          : ok.flatMap((row) => {
              const skeinValue = skeinRows.find((other) => other.round === row.round)?.[metric.key] as
                | number
                | undefined;
              if (skeinValue === undefined) return [];
              const value = row[metric.key] as number;
              return [metric.higherIsBetter ? skeinValue / value : value / skeinValue];
            });
      const paired = perRound.length === 0 ? '—' : `${format(median(perRound))}×`;
      lines.push(
        `| ${variant} | ${format(mid)} | ${format(Math.min(...values))}–${format(Math.max(...values))} | ${values.map(format).join(', ')}${bad.length > 0 ? ` (${bad.length} failed)` : ''} | ${speedup} | ${paired} |`,
      );
      jsonLines.push(
        JSON.stringify({
          type: 'summary',
          case: c.id,
          metric: metric.key,
          variant,
          median: mid,
          min: Math.min(...values),
          max: Math.max(...values),
          ...(perRound.length === 0 ? {} : { pairedSpeedup: median(perRound) }),
        }),
      );
    }
    if (lines.length === 0) continue;
    console.log(
      `| ${metric.label} | median | min–max | rounds | Skein speed-up | median of per-round speed-ups |`,
    );
    console.log('| --- | ---: | ---: | --- | ---: | ---: |');
    for (const line of lines) console.log(line);
    console.log('');
  }
}
jsonLines.push(
  JSON.stringify({
    type: 'footer',
    loadavg: os
      .loadavg()
      .map((v) => v.toFixed(2))
      .join(' '),
  }),
);
console.log(
  `load average at the end: ${os
    .loadavg()
    .map((v) => v.toFixed(2))
    .join(' ')}`,
);
if (flags.out !== undefined) writeFileSync(flags.out, `${jsonLines.join('\n')}\n`);
