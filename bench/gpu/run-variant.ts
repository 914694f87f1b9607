// One variant of one GPU benchmark case, in its own process: prints one JSON line with the metrics and a
// checksum of the result. Variants: skein, raw-dawn (empty dispatch only), tfjs-webgpu, gpujs-webgpu
// and cpu-ts. TF.js and gpu.js get navigator.gpu from the same Dawn build Skein uses.
//
//   node bench/gpu/run-variant.ts <variant> <case>      cases: matmul-<n> sum-16m saxpy-16m empty-dispatch

import { dawn } from '../../src/gpu/dawn.ts';
import { compileKernel, fromHost, linalg, reduction, requestDevice } from '../../src/gpu/index.ts';

const [variant, benchCase] = process.argv.slice(2) as [string, string];
const INNER_REPS = 3;
const MAX_REPS = 30;
const WARM_UP_MS = 1000;
const MEASURE_MS = 500;
const EMPTY_DISPATCHES = 300;
// Round trips before the steady-state window: V8 first optimises Skein's dispatch path only after a few
// hundred runs, so a window right after start-up measures the JIT warming up (kept as coldP50Us).
const EMPTY_WARM_UP = 1000;
const EMPTY_COLD_FROM = 20;
const N16M = 16 * 1024 * 1024;

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/** Deterministic inputs: every variant multiplies and sums the same numbers. */
function inputs(n: number, seed: number): Float32Array {
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = ((i * seed) % 17) / 17 - 0.5;
  return out;
}

function checksum(values: ArrayLike<number>): number {
  let sum = 0;
  for (let i = 0; i < values.length; i += Math.max(1, Math.floor(values.length / 4096))) sum += values[i]!;
  return Math.round(sum * 1000) / 1000;
}

/**
 * Median time of one run, after a warm-up of at least one run and WARM_UP_MS (pipeline compiles, first-touch
 * allocations, and a real GPU's clock rising from idle, which takes hundreds of ms), over at least
 * INNER_REPS runs and up to MAX_REPS within MEASURE_MS. bench/gpu/bench_common.py times the same way.
 */
async function timed(run: () => Promise<unknown>): Promise<number> {
  const warmUntil = performance.now() + WARM_UP_MS;
  do await run();
  while (performance.now() < warmUntil);
  const times: number[] = [];
  const measureUntil = performance.now() + MEASURE_MS;
  while (times.length < INNER_REPS || (times.length < MAX_REPS && performance.now() < measureUntil)) {
    const started = performance.now();
    await run();
    times.push(performance.now() - started);
  }
  return median(times);
}

/** Gives TF.js and gpu.js the WebGPU globals and a navigator.gpu backed by Skein's own Dawn instance. */
async function installNavigatorGpu(): Promise<void> {
  const { globals } = await import('webgpu');
  Object.assign(globalThis, globals);
  Object.defineProperty(globalThis.navigator, 'gpu', { value: dawn(), configurable: true });
}

type Result = Record<string, number>;

/** p50 of the steady-state window (after the warm-up) and of the window right after start-up, in µs. */
function emptyDispatchTimes(times: readonly number[]): { p50Us: number; coldP50Us: number } {
  return {
    p50Us: median(times.slice(EMPTY_WARM_UP)) * 1000,
    coldP50Us: median(times.slice(EMPTY_COLD_FROM, EMPTY_COLD_FROM + EMPTY_DISPATCHES)) * 1000,
  };
}

async function skein(): Promise<Result> {
  const device = await requestDevice();
  if (benchCase.startsWith('matmul')) {
    const n = Number(benchCase.split('-')[1]);
    // A tile shape to try instead of the default (bench/gpu/matmul-tiles.ts finds the best one).
    const tile = process.env.SKEIN_BENCH_MATMUL_TILE;
    const la = await linalg(device, tile === undefined ? {} : { matmulTile: JSON.parse(tile) });
    const a = inputs(n * n, 7);
    const b = inputs(n * n, 5);
    using ga = fromHost(device, a, { shape: [n, n] });
    using gb = fromHost(device, b, { shape: [n, n] });
    using gc = la.matmul(ga, gb);
    const computeMs = await timed(async () => {
      la.matmul(ga, gb, { out: gc });
      await device.flush();
    });
    let result: Float32Array<ArrayBufferLike> = new Float32Array();
    const endToEndMs = await timed(async () => {
      using ea = fromHost(device, a, { shape: [n, n] });
      using eb = fromHost(device, b, { shape: [n, n] });
      using ec = la.matmul(ea, eb);
      result = await ec.toHost();
    });
    const gflop = (2 * n ** 3) / 1e9;
    return {
      computeGflops: gflop / (computeMs / 1000),
      endToEndGflops: gflop / (endToEndMs / 1000),
      checksum: checksum(result),
    };
  }
  if (benchCase === 'sum-16m') {
    const sum = await reduction(device);
    using x = fromHost(device, inputs(N16M, 3));
    let value = 0;
    const ms = await timed(async () => {
      value = await sum.run(x);
    });
    return { ms, checksum: Math.round(value) };
  }
  if (benchCase === 'saxpy-16m') {
    const la = await linalg(device);
    using x = fromHost(device, inputs(N16M, 3));
    using y = fromHost(device, inputs(N16M, 5));
    const ms = await timed(async () => {
      la.axpy(2, x, y);
      await device.flush();
    });
    // The timed runs accumulate into y as many times as the clock allowed: check one run on fresh inputs.
    using once = fromHost(device, inputs(N16M, 5));
    la.axpy(2, x, once);
    return { ms, checksum: checksum(await once.slice(0, 65536).toHost()) };
  }
  if (benchCase === 'empty-dispatch') {
    const kernel = await compileKernel(
      device,
      '@group(0) @binding(0) var<storage, read_write> x: array<u32>;\n@compute @workgroup_size(1) fn main() { x[0] += 1u; }',
    );
    using x = fromHost(device, new Uint32Array(1));
    const times: number[] = [];
    for (let i = 0; i < EMPTY_WARM_UP + EMPTY_DISPATCHES; i++) {
      const started = performance.now();
      await kernel.run({ x }, { global: 1 }).wait();
      times.push(performance.now() - started);
    }
    return { ...emptyDispatchTimes(times), checksum: (await x.toHost())[0]! };
  }
  throw new Error(`skein has no case ${benchCase}`);
}

async function rawDawn(): Promise<Result> {
  if (benchCase !== 'empty-dispatch') throw new Error('raw-dawn runs empty-dispatch only');
  const adapter = await dawn().requestAdapter();
  const device = await adapter!.requestDevice();
  const module = device.createShaderModule({
    code: '@group(0) @binding(0) var<storage, read_write> x: array<u32>;\n@compute @workgroup_size(1) fn main() { x[0] += 1u; }',
  });
  const pipeline = device.createComputePipeline({ layout: 'auto', compute: { module, entryPoint: 'main' } });
  const buffer = device.createBuffer({ size: 4, usage: 0x80 | 0x4 | 0x8 });
  // The same work Skein does per run of a kernel whose bindings did not change since its last run: the
  // bind group made once and reused, then per round trip an encoder, a pass, a submit and the wait.
  const bindGroup = device.createBindGroup({
    layout: pipeline.getBindGroupLayout(0),
    entries: [{ binding: 0, resource: { buffer } }],
  });
  const times: number[] = [];
  for (let i = 0; i < EMPTY_WARM_UP + EMPTY_DISPATCHES; i++) {
    const started = performance.now();
    const encoder = device.createCommandEncoder();
    const pass = encoder.beginComputePass();
    pass.setPipeline(pipeline);
    pass.setBindGroup(0, bindGroup);
    pass.dispatchWorkgroups(1);
    pass.end();
    device.queue.submit([encoder.finish()]);
    await device.queue.onSubmittedWorkDone();
    times.push(performance.now() - started);
  }
  const readback = device.createBuffer({ size: 4, usage: 0x1 | 0x8 });
  const encoder = device.createCommandEncoder();
  encoder.copyBufferToBuffer(buffer, 0, readback, 0, 4);
  device.queue.submit([encoder.finish()]);
  await readback.mapAsync(1);
  const count = new Uint32Array(readback.getMappedRange())[0]!;
  device.destroy();
  return { ...emptyDispatchTimes(times), checksum: count };
}

async function tfjs(): Promise<Result> {
  await installNavigatorGpu();
  const tf = await import('@tensorflow/tfjs-core');
  await import('@tensorflow/tfjs-backend-webgpu');
  await tf.setBackend('webgpu');
  await tf.ready();
  const backend = tf.backend() as unknown as {
    endComputePassEncoder(): void;
    submitQueue(): void;
    commandEncoder: GPUCommandEncoder | null;
    device: GPUDevice;
  };
  // TF.js records into one open encoder and submits lazily: end its pass and submit, then wait.
  const flush = async (): Promise<void> => {
    backend.endComputePassEncoder();
    if (backend.commandEncoder !== null) backend.submitQueue();
    await backend.device.queue.onSubmittedWorkDone();
  };
  if (benchCase.startsWith('matmul')) {
    const n = Number(benchCase.split('-')[1]);
    const a = inputs(n * n, 7);
    const b = inputs(n * n, 5);
    const ta = tf.tensor2d(a, [n, n]);
    const tb = tf.tensor2d(b, [n, n]);
    await ta.data();
    await tb.data();
    const computeMs = await timed(async () => {
      const c = tf.matMul(ta, tb);
      await flush();
      c.dispose();
    });
    let result: Float32Array<ArrayBufferLike> = new Float32Array();
    const endToEndMs = await timed(async () => {
      const ea = tf.tensor2d(a, [n, n]);
      const eb = tf.tensor2d(b, [n, n]);
      const c = tf.matMul(ea, eb);
      result = (await c.data()) as Float32Array;
      tf.dispose([ea, eb, c]);
    });
    const gflop = (2 * n ** 3) / 1e9;
    return {
      computeGflops: gflop / (computeMs / 1000),
      endToEndGflops: gflop / (endToEndMs / 1000),
      checksum: checksum(result),
    };
  }
  if (benchCase === 'sum-16m') {
    const x = tf.tensor1d(inputs(N16M, 3));
    let value = 0;
    const ms = await timed(async () => {
      const s = tf.sum(x);
      value = (await s.data())[0]!;
      s.dispose();
    });
    return { ms, checksum: Math.round(value) };
  }
  if (benchCase === 'saxpy-16m') {
    const x = tf.tensor1d(inputs(N16M, 3));
    let y: import('@tensorflow/tfjs-core').Tensor = tf.tensor1d(inputs(N16M, 5));
    await y.data();
    const ms = await timed(async () => {
      const next = tf.add(tf.mul(x, 2), y);
      await flush();
      y.dispose();
      y = next;
    });
    const once = tf.add(tf.mul(x, 2), tf.tensor1d(inputs(N16M, 5)));
    return { ms, checksum: checksum((await tf.slice(once, 0, 65536).data()) as Float32Array) };
  }
  throw new Error(`tfjs-webgpu has no case ${benchCase}`);
}

async function gpujs(): Promise<Result> {
  await installNavigatorGpu();
  const { GPU } = (await import('gpu.js')) as unknown as {
    GPU: new (
      options: object,
    ) => {
      createKernel(
        fn: unknown,
        options?: object,
      ): ((...args: unknown[]) => Promise<unknown>) & { setOutput(o: number[]): unknown };
    };
  };
  const gpu = new GPU({ mode: 'webgpu' });
  if (benchCase.startsWith('matmul')) {
    const n = Number(benchCase.split('-')[1]);
    const a = inputs(n * n, 7);
    const b = inputs(n * n, 5);
    const kernel = gpu.createKernel(
      function (
        this: { thread: { x: number; y: number }; constants: { n: number } },
        x: number[],
        y: number[],
      ) {
        let sum = 0;
        for (let k = 0; k < this.constants.n; k++)
          sum += x[this.thread.y * this.constants.n + k]! * y[k * this.constants.n + this.thread.x]!;
        return sum;
      },
      { output: [n, n], constants: { n } },
    );
    let result: Float32Array[] = [];
    const endToEndMs = await timed(async () => {
      result = (await kernel(a, b)) as Float32Array[];
    });
    const flat = new Float32Array(n * n);
    for (const [i, row] of result.entries()) flat.set(row, i * n);
    return { endToEndGflops: (2 * n ** 3) / 1e9 / (endToEndMs / 1000), checksum: checksum(flat) };
  }
  if (benchCase === 'saxpy-16m') {
    const x = inputs(N16M, 3);
    const y = inputs(N16M, 5);
    const kernel = gpu.createKernel(
      function (this: { thread: { x: number } }, xs: number[], ys: number[]) {
        return 2 * xs[this.thread.x]! + ys[this.thread.x]!;
      },
      { output: [N16M] },
    );
    // Each call's result is the next call's y, like the in-place variants.
    let result: Float32Array<ArrayBufferLike> = y;
    const ms = await timed(async () => {
      result = (await kernel(x, result)) as Float32Array;
    });
    const once = (await kernel(x, inputs(N16M, 5))) as Float32Array;
    return { endToEndMs: ms, checksum: checksum(once.subarray(0, 65536)) };
  }
  throw new Error(`gpujs-webgpu has no case ${benchCase}`);
}

async function cpu(): Promise<Result> {
  if (benchCase.startsWith('matmul')) {
    const n = Number(benchCase.split('-')[1]);
    const a = inputs(n * n, 7);
    const b = inputs(n * n, 5);
    const c = new Float32Array(n * n);
    const ms = await timed(async () => {
      c.fill(0);
      for (let i = 0; i < n; i++)
        for (let k = 0; k < n; k++) {
          const av = a[i * n + k]!;
          const row = i * n;
          const brow = k * n;
          for (let j = 0; j < n; j++) c[row + j]! += av * b[brow + j]!;
        }
    });
    const gflops = (2 * n ** 3) / 1e9 / (ms / 1000);
    return { computeGflops: gflops, endToEndGflops: gflops, checksum: checksum(c) };
  }
  if (benchCase === 'sum-16m') {
    const x = inputs(N16M, 3);
    let value = 0;
    const ms = await timed(async () => {
      let s = 0;
      for (let i = 0; i < x.length; i++) s += x[i]!;
      value = s;
    });
    return { ms, checksum: Math.round(value) };
  }
  if (benchCase === 'saxpy-16m') {
    const x = inputs(N16M, 3);
    const y = inputs(N16M, 5);
    const ms = await timed(async () => {
      for (let i = 0; i < y.length; i++) y[i] = 2 * x[i]! + y[i]!;
    });
    const once = inputs(65536, 5).map((value, i) => 2 * x[i]! + value);
    return { ms, checksum: checksum(once) };
  }
  throw new Error(`cpu-ts has no case ${benchCase}`);
}

const VARIANTS: Record<string, () => Promise<Result>> = {
  skein,
  'raw-dawn': rawDawn,
  'tfjs-webgpu': tfjs,
  'gpujs-webgpu': gpujs,
  'cpu-ts': cpu,
};

const runVariant = VARIANTS[variant];
if (runVariant === undefined)
  throw new Error(`unknown variant ${variant}; one of ${Object.keys(VARIANTS).join(', ')}`);
process.stdout.write(`${JSON.stringify({ variant, case: benchCase, ...(await runVariant()) })}\n`);
