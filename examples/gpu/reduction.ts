// Reductions beyond sums: min, max, a custom associative operation (a product) and a dot product
// written as a map over two arrays, each beside the same computation on the CPU and its time.
// Run: node examples/gpu/reduction.ts
import { fromHost, reduction, requestDevice } from 'skein/gpu';

const N = 1_000_000;
using device = await requestDevice();
const host = Float32Array.from({ length: N }, (_, i) => Math.sin(i) * 100);
// 1 everywhere but ten 2s: the product is exactly 1024 in any order of evaluation.
const ones = Float32Array.from({ length: N }, (_, i) => (i % 100_000 === 0 ? 2 : 1));
using x = fromHost(device, host);
using y = fromHost(device, ones);

const kernels = {
  min: await reduction(device, { op: 'min' }),
  max: await reduction(device, { op: 'max' }),
  product: await reduction(device, {
    op: { combine: 'a * b', identity: '1.0' },
    map: 'x',
    args: { x: 'f32[]' },
  }),
  dot: await reduction(device, { map: 'x * y', args: { x: 'f32[]', y: 'f32[]' } }),
};
const cpu: Record<keyof typeof kernels, () => number> = {
  min: () => host.reduce((a, b) => Math.min(a, b), Infinity),
  max: () => host.reduce((a, b) => Math.max(a, b), -Infinity),
  product: () => ones.reduce((a, b) => a * b, 1),
  dot: () => host.reduce((acc, v, i) => acc + v * ones[i]!, 0),
};
for (const [name, kernel] of Object.entries(kernels) as [keyof typeof kernels, (typeof kernels)['min']][]) {
  const inputs = name === 'product' ? { x: y } : name === 'dot' ? { x, y } : x;
  await kernel.run(inputs); // warm-up
  let started = performance.now();
  const gpu = await kernel.run(inputs);
  const gpuMs = performance.now() - started;
  started = performance.now();
  const reference = cpu[name]();
  const cpuMs = performance.now() - started;
  const agree = Math.abs(gpu - reference) <= 1e-3 * Math.max(1, Math.abs(reference));
  console.log(
    `${name}: ${agree ? 'gpu and cpu agree' : `gpu ${gpu} != cpu ${reference}`} (gpu ${gpuMs.toFixed(2)} ms, cpu ${cpuMs.toFixed(2)} ms)`,
  );
}
