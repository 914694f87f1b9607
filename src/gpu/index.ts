// skein/gpu: WebGPU compute through Dawn: devices, arrays, kernels from WGSL, generated kernels
// (elementwise, reduce, scan, matmul and BLAS-like ops), batching and profiling events.

export type { AdapterChoice, AdapterDescription, PowerPreference } from './adapters.ts';
export { HOW_TO_GET_AN_ADAPTER, listAdapters } from './adapters.ts';
export type { ArrayOptions, Shape } from './array.ts';
export { empty, fromHost, full, GpuArray, maxArrayBytes, zeros } from './array.ts';
export type { DeviceOptions, ResolvedDeviceOptions } from './device.ts';
export { DEVICE_DEFAULTS, GPU_TRACE_TRACK, GpuDevice, requestDevice } from './device.ts';
export type { DType, HostArray, HostArrayOf } from './dtype.ts';
export type { ElementwiseOptions } from './elementwise.ts';
export { ElementwiseKernel, elementwise } from './elementwise.ts';
export type { EventTiming, TimingSource } from './event.ts';
export { GpuEvent } from './event.ts';
export type { ArgType } from './expression.ts';
export type { BindingValue, KernelOptions, RunOptions } from './kernel.ts';
export { compileKernel, Kernel } from './kernel.ts';
export type { LinalgOptions, MatmulVariant } from './linalg.ts';
export { Linalg, linalg, SMALL_GRID_WORKGROUPS } from './linalg.ts';
export type { TileShape } from './matmul-tiles.ts';
export { GPU_SMALL_TILE_SHAPE, GPU_TILE_SHAPE } from './matmul-tiles.ts';
export type { ReduceLayout, ReduceOp, ReductionOptions } from './reduce.ts';
export { ReductionKernel, reduction } from './reduce.ts';
export type { ScanOptions } from './scan.ts';
export { ScanKernel, scan } from './scan.ts';
export type { BindingInfo, BindingKind } from './wgsl-layout.ts';
