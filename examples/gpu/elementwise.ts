// An elementwise kernel from an expression (PyOpenCL's ElementwiseKernel): y = a * x + b over a million
// floats, checked against the same loop on the CPU, with both timings.
// Run: node examples/gpu/elementwise.ts
import { elementwise, fromHost, requestDevice, zeros } from 'skein/gpu';

const N = 1_000_000;
using device = await requestDevice();
const axpb = await elementwise(device, 'y = a * x + b', { y: 'f32[]', x: 'f32[]', a: 'f32', b: 'f32' });
const host = Float32Array.from({ length: N }, (_, i) => (i % 1000) / 100);

using x = fromHost(device, host);
using y = zeros(device, N);
axpb.run({ y, x, a: 2, b: 0.5 }); // the first run includes the driver's compile of the pipeline
let started = performance.now();
await axpb.run({ y, x, a: 2, b: 0.5 }).wait();
const gpuMs = performance.now() - started;
const result = await y.toHost();

started = performance.now();
const expected = new Float32Array(N);
for (let i = 0; i < N; i++) expected[i] = Math.fround(2 * host[i]!) + 0.5;
const cpuMs = performance.now() - started;

let wrong = 0;
for (let i = 0; i < N; i++) if (Math.abs(result[i]! - expected[i]!) > 1e-5) wrong++;
console.log(`y = a * x + b over ${N} elements: ${wrong} wrong`);
console.log(`gpu ${gpuMs.toFixed(2)} ms, cpu ${cpuMs.toFixed(2)} ms`);
