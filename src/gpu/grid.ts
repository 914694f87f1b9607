// How generated kernels cover n elements: workgroups of GENERATED_WORKGROUP along x, folded onto y past
// the device's per-axis limit, each invocation taking `iters` elements i = base + k * threads. A GPU
// gets one element per invocation; a CPU adapter gets few workgroups that loop, since lavapipe pays a
// fixed cost per workgroup (measured: 16M-element saxpy 250 ms with one element per invocation).

import type { GpuDevice } from './device.ts';

export const GENERATED_WORKGROUP = 256;

/** Workgroups a generated kernel gets on a CPU adapter: a few per core keeps lavapipe's threads busy. */
export const SOFTWARE_MAX_WORKGROUPS = 4096;

export interface Grid {
  readonly global: readonly [number, number];
  /** Invocations per row of the grid (index = gid.x + gid.y * stride). */
  readonly stride: number;
  /** All invocations of the grid. */
  readonly threads: number;
  /** Elements each invocation takes. */
  readonly iters: number;
}

export function dispatchGrid(device: GpuDevice, n: number, workgroup = GENERATED_WORKGROUP): Grid {
  let groups = Math.ceil(n / workgroup);
  if (device.adapter.software) groups = Math.min(groups, SOFTWARE_MAX_WORKGROUPS);
  const x = Math.min(groups, device.limits.maxComputeWorkgroupsPerDimension);
  const y = x === 0 ? 0 : Math.ceil(groups / x);
  const threads = x * y * workgroup;
  return {
    global: [x * workgroup, y],
    stride: x * workgroup,
    threads,
    iters: threads === 0 ? 0 : Math.ceil(n / threads),
  };
}
