// Summing a vector on the GPU (a two-pass reduction, subgroup operations where the adapter has them)
// beside a plain loop on the CPU.
// Run: node examples/gpu/vector-sum.ts
import { fromHost, reduction, requestDevice } from 'skein/gpu';

const N = 4_000_000;
using device = await requestDevice();
const sum = await reduction(device);
const host = new Float32Array(N).map((_, i) => (i % 4) - 1.5); // sums to exactly 0 in every 4-block

using x = fromHost(device, host);
await sum.run(x); // warm-up
let started = performance.now();
const gpu = await sum.run(x);
const gpuMs = performance.now() - started;

started = performance.now();
let cpu = 0;
for (let i = 0; i < N; i++) cpu += host[i]!;
const cpuMs = performance.now() - started;

console.log(`sum of ${N} floats: gpu ${gpu}, cpu ${cpu}`);
console.log(`gpu ${gpuMs.toFixed(2)} ms (with readback), cpu ${cpuMs.toFixed(2)} ms`);
