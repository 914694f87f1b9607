// The one Dawn instance of this thread, and the WebGPU constants Node does not define as globals.
// Invariant: the object `create()` returns stays referenced for the life of the thread. Dawn's objects
// (adapters, devices, buffers) point into it without holding it, so collecting it while any of them is
// still reachable crashes the process at the next garbage collection (measured with webgpu 0.6.2: a
// destroyed device's buffer is enough). Holding it does not keep Node alive: dawn.node keeps the event
// loop busy only while a request (mapAsync, onSubmittedWorkDone, pipeline creation) is pending.

import { create } from 'webgpu';

/** GPUBufferUsage flags (the WebGPU spec's values; Node has no GPUBufferUsage global). */
export const BufferUsage = Object.freeze({
  MAP_READ: 0x0001,
  MAP_WRITE: 0x0002,
  COPY_SRC: 0x0004,
  COPY_DST: 0x0008,
  UNIFORM: 0x0040,
  STORAGE: 0x0080,
  QUERY_RESOLVE: 0x0200,
});

/** GPUMapMode.READ. */
export const MAP_READ_MODE = 0x0001;

let instance: GPU | undefined;

/**
 * Dawn's own flags for create(), from SKEIN_GPU_DAWN_FLAGS (separated by spaces), for diagnosis and
 * tuning: `backend=vulkan`, `adapter=<name>`, `enable-dawn-features=<toggle,…>` (for example
 * `disable_robustness` to measure what bounds clamping costs a kernel), `disable-dawn-features=…`.
 */
export function dawnFlags(): string[] {
  return (process.env.SKEIN_GPU_DAWN_FLAGS ?? '').split(/\s+/).filter((flag) => flag !== '');
}

/** The thread's Dawn instance, made on first use and pinned (see the header for why it is never dropped). */
export function dawn(): GPU {
  instance ??= create(dawnFlags());
  return instance;
}
