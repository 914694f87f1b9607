// How generated kernels cover n elements: workgroups of GENERATED_WORKGROUP along x, folded onto y past
// the device's per-axis limit, with index i = gid.x + gid.y * stride.

import type { GpuDevice } from './device.ts';

export const GENERATED_WORKGROUP = 256;

export interface Grid {
  readonly global: readonly [number, number];
  readonly stride: number;
}

export function dispatchGrid(device: GpuDevice, n: number, workgroup = GENERATED_WORKGROUP): Grid {
  const groups = Math.ceil(n / workgroup);
  const x = Math.min(groups, device.limits.maxComputeWorkgroupsPerDimension);
  const y = x === 0 ? 0 : Math.ceil(groups / x);
  return { global: [x * workgroup, y], stride: x * workgroup };
}
