// Shared by the gpu tests: whether this machine has a WebGPU adapter (skip with the reason if not), and
// the CPU references results are compared against.

import { listAdapters } from '../../src/gpu/index.ts';

const adapters = await listAdapters();

/** false when an adapter exists, else the reason every gpu test skips with. */
export const NO_ADAPTER: string | false =
  adapters.length === 0
    ? 'no WebGPU adapter on this machine: install lavapipe (Debian bookworm-backports mesa-vulkan-drivers; .ci/run does)'
    : false;

/** Largest absolute difference between two arrays of equal length. */
export function maxError(actual: ArrayLike<number>, expected: ArrayLike<number>): number {
  if (actual.length !== expected.length)
    throw new Error(`lengths differ: ${actual.length} vs ${expected.length}`);
  let error = 0;
  for (let i = 0; i < actual.length; i++) error = Math.max(error, Math.abs(actual[i]! - expected[i]!));
  return error;
}

/** Deterministic pseudo-random floats in [-1, 1). */
export function randomFloats(n: number, seed = 1): Float32Array {
  const out = new Float32Array(n);
  let state = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    out[i] = ((state >>> 0) / 2 ** 32) * 2 - 1;
  }
  return out;
}

export function matmulReference(
  a: Float32Array,
  b: Float32Array,
  m: number,
  k: number,
  n: number,
): Float32Array {
  const c = new Float32Array(m * n);
  for (let i = 0; i < m; i++) {
    for (let p = 0; p < k; p++) {
      const av = a[i * k + p]!;
      for (let j = 0; j < n; j++) c[i * n + j]! += av * b[p * n + j]!;
    }
  }
  return c;
}
