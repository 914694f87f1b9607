// Matrix multiplication on the GPU with the kernel variant chosen for the adapter (register-blocked
// vec4 on a CPU adapter, shared-memory tiles on a GPU), checked against the CPU, with GFLOP/s.
// Run: node examples/gpu/matmul.ts
import { fromHost, linalg, requestDevice } from 'skein/gpu';

const N = 256;
using device = await requestDevice();
const la = await linalg(device);
const a = Float32Array.from({ length: N * N }, (_, i) => ((i * 7) % 13) / 13);
const b = Float32Array.from({ length: N * N }, (_, i) => ((i * 5) % 11) / 11);
using ga = fromHost(device, a, { shape: [N, N] });
using gb = fromHost(device, b, { shape: [N, N] });

la.matmul(ga, gb).destroy(); // warm-up
let started = performance.now();
using gc = la.matmul(ga, gb);
const c = await gc.toHost();
const gpuMs = performance.now() - started;

started = performance.now();
const expected = new Float32Array(N * N);
for (let i = 0; i < N; i++)
  for (let k = 0; k < N; k++) {
    const av = a[i * N + k]!;
    for (let j = 0; j < N; j++) expected[i * N + j]! += av * b[k * N + j]!;
  }
const cpuMs = performance.now() - started;
let error = 0;
for (let i = 0; i < N * N; i++) error = Math.max(error, Math.abs(c[i]! - expected[i]!));

const gflop = (2 * N ** 3) / 1e9;
console.log(`matmul ${N}x${N} (${la.matmulVariant}): max error ${error < 1e-3 ? 'below 1e-3' : error}`);
console.log(
  `gpu ${(gflop / (gpuMs / 1000)).toFixed(2)} GFLOP/s, cpu ${(gflop / (cpuMs / 1000)).toFixed(2)} GFLOP/s`,
);
