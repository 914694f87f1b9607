// Kernels from WGSL source (PyCUDA's SourceModule): compiled at run time, bound by name, dispatched by
// global size. Compiling reports errors as a KernelCompileError pointing at line and column; running
// checks every binding against the declaration (missing, unknown, dtype, device) before Dawn sees it.

import { InvalidArgumentError, KernelCompileError } from '../errors.ts';
import { GpuArray } from './array.ts';
import { compileError, type SourceMap } from './compile-error.ts';
import { BufferUsage } from './dawn.ts';
import { type DeviceInternals, deviceInternals, type GpuDevice } from './device.ts';
import type { DType } from './dtype.ts';
import type { GpuEvent } from './event.ts';
import {
  type BindingInfo,
  firstComputeEntry,
  packUniform,
  parseBindings,
  type UniformLayout,
  uniformLayout,
  workgroupSizeOf,
} from './wgsl-layout.ts';

const COMPUTE_VISIBILITY = 0x4;

export interface KernelOptions {
  /** Name in errors, traces and events. @defaultValue the entry point's name */
  readonly name?: string;
  /** The @compute function to run. @defaultValue the first @compute function */
  readonly entryPoint?: string;
  /** Workgroup size, when @workgroup_size is not a literal (an override constant). */
  readonly workgroupSize?: readonly number[];
  /** @internal Maps generated WGSL back to the user's expression. */
  readonly sourceMap?: SourceMap;
}

/** A value bound to a kernel's name: an array for storage, numbers or an object for a uniform. */
export type BindingValue =
  | GpuArray
  | number
  | readonly number[]
  | Readonly<Record<string, number | readonly number[]>>;

export interface RunOptions {
  /** Invocations to run, per dimension; rounded up to whole workgroups (guard with `if` in WGSL). */
  readonly global: number | readonly number[];
}

interface Bound {
  readonly info: BindingInfo;
  readonly uniform: UniformLayout | undefined;
  /** For storage bindings of a known element type: its dtype and components per element. */
  readonly element: { dtype: DType; components: number } | undefined;
}

/** Element dtype of a storage binding's WGSL type and the components per element (4 for vec4). */
function storageElement(type: string): { dtype: DType; components: number } | undefined {
  const match = /^array<(?:vec([234])<)?(f32|i32|u32|f16)>?(?:,\d+)?>$/.exec(type);
  const short = /^array<vec([234])([fiuh])>$/.exec(type);
  if (short !== null) {
    const dtype = ({ f: 'f32', i: 'i32', u: 'u32', h: 'f16' } as const)[short[2] as 'f' | 'i' | 'u' | 'h'];
    return { dtype, components: Number(short[1]) };
  }
  if (match === null) return undefined;
  return { dtype: match[2] as DType, components: match[1] === undefined ? 1 : Number(match[1]) };
}

/**
 * Compiles WGSL into a kernel on `device`.
 * @example
 * const scale = await compileKernel(device, `
 *   @group(0) @binding(0) var<storage, read_write> x: array<f32>;
 *   @group(0) @binding(1) var<uniform> k: f32;
 *   @compute @workgroup_size(64) fn main(@builtin(global_invocation_id) id: vec3u) {
 *     if (id.x < arrayLength(&x)) { x[id.x] *= k; }
 *   }`);
 * await scale.run({ x, k: 2 }, { global: x.length }).wait();
 * @throws SKEIN_GPU_COMPILE (KernelCompileError) with the kernel name, line, column and source line.
 */
export async function compileKernel(
  device: GpuDevice,
  source: string,
  options: KernelOptions = {},
): Promise<Kernel> {
  const internals = deviceInternals(device);
  internals.assertAlive('compiling a kernel');
  if (typeof source !== 'string' || source.trim() === '') {
    throw new InvalidArgumentError(
      'SKEIN_GPU_INVALID_ARGUMENT',
      'compileKernel() needs WGSL source text (got an empty or non-string source)',
    );
  }
  const entryPoint = options.entryPoint ?? firstComputeEntry(source);
  const name = options.name ?? entryPoint ?? 'kernel';
  const raw = internals.raw;
  // The error scope keeps Dawn from printing the failure to stderr: the caller gets it as an error instead.
  raw.pushErrorScope('validation');
  const module = raw.createShaderModule({ code: source, label: name });
  const [info] = await Promise.all([module.getCompilationInfo(), raw.popErrorScope()]);
  if (info.messages.some((message) => message.type === 'error')) {
    throw compileError(name, source, info.messages, options.sourceMap);
  }
  if (entryPoint === undefined) {
    throw new KernelCompileError(
      `kernel "${name}" has no @compute function; declare one or pass entryPoint`,
      { kernel: name },
    );
  }
  const workgroupSize = options.workgroupSize ?? workgroupSizeOf(source, entryPoint);
  if (
    workgroupSize === undefined ||
    workgroupSize.length === 0 ||
    workgroupSize.some((n) => !Number.isInteger(n) || n < 1)
  ) {
    throw new InvalidArgumentError(
      'SKEIN_GPU_INVALID_ARGUMENT',
      `kernel "${name}": @workgroup_size of ${entryPoint} is not a literal; pass options.workgroupSize`,
    );
  }
  const bindings = parseBindings(source);
  const groups = new Map<number, BindingInfo[]>();
  for (const binding of bindings) {
    const list = groups.get(binding.group) ?? [];
    list.push(binding);
    groups.set(binding.group, list);
  }
  const groupCount = bindings.length === 0 ? 0 : Math.max(...bindings.map((binding) => binding.group)) + 1;
  const layouts: GPUBindGroupLayout[] = [];
  for (let group = 0; group < groupCount; group++) {
    layouts.push(
      raw.createBindGroupLayout({
        entries: (groups.get(group) ?? []).map((binding) => ({
          binding: binding.binding,
          visibility: COMPUTE_VISIBILITY,
          buffer: { type: binding.kind },
        })),
      }),
    );
  }
  let pipeline: GPUComputePipeline;
  try {
    pipeline = await raw.createComputePipelineAsync({
      label: name,
      layout: raw.createPipelineLayout({ bindGroupLayouts: layouts }),
      compute: { module, entryPoint },
    });
  } catch (error) {
    throw new KernelCompileError(
      `kernel "${name}": Dawn could not build its compute pipeline: ${(error as Error).message}`,
      { kernel: name, cause: error },
    );
  }
  const bound = bindings.map((binding) => ({
    info: binding,
    uniform: binding.kind === 'uniform' ? uniformLayout(source, binding) : undefined,
    element: binding.kind === 'uniform' ? undefined : storageElement(binding.type),
  }));
  return new Kernel(device, name, pipeline, layouts, bound, [
    workgroupSize[0]!,
    workgroupSize[1] ?? 1,
    workgroupSize[2] ?? 1,
  ]);
}

/** Buffers made for one run (aligned copies of views, uniforms inside a batch) and the copies around it. */
interface RunWork {
  readonly cleanup: GPUBuffer[];
  readonly copiesIn: [GPUBuffer, number, GPUBuffer, number][];
  readonly copiesOut: [GPUBuffer, number, GPUBuffer, number][];
}

/** A compiled compute kernel. Make one with compileKernel(). */
export class Kernel {
  readonly device: GpuDevice;
  readonly name: string;
  readonly workgroupSize: readonly [number, number, number];
  readonly #pipeline: GPUComputePipeline;
  readonly #layouts: readonly GPUBindGroupLayout[];
  readonly #bindings: readonly Bound[];
  readonly #names: ReadonlySet<string>;
  readonly #internals: DeviceInternals;
  /** Device limits read on every run (a snapshot: they never change). */
  readonly #maxWorkgroups: number;
  readonly #alignment: number;
  /** Per bind group: the indices into #bindings of its entries. */
  readonly #groupMembers: readonly (readonly number[])[];
  /**
   * Per bind group, the group made by the last run and the buffer, offset and size of each entry it
   * bound (flat): a run that binds the same again reuses it, as hand-written WebGPU code would.
   */
  readonly #lastGroups: ({ group: GPUBindGroup; bound: unknown[] } | undefined)[];
  /** Per uniform binding (index into #bindings): its buffer, rewritten by each run outside a batch. */
  readonly #uniformBuffers: ({ buffer: GPUBuffer } | undefined)[];
  /** Two or more storage bindings, so that a run must check they do not overlap. */
  readonly #aliasable: boolean;
  /**
   * Per storage binding, the array the last run bound there directly (no aligned copy) and its
   * resource: the same array again passes the same checks, so a run only asks whether it was destroyed.
   */
  readonly #lastStorage: ({ array: GpuArray; resource: GPUBufferBinding } | undefined)[];
  /**
   * Per binding, the resource of the last run that passed every check (all undefined after one that
   * threw): a run whose resources are all the same objects binds the same arrays again, which passed
   * the aliasing check, and reuses the bind groups in #groups.
   */
  readonly #resources: (GPUBufferBinding | undefined)[];
  /** What the pass of the current run binds and dispatches, read by #record while it records. */
  readonly #groups: GPUBindGroup[];
  readonly #counts: [number, number, number] = [0, 1, 1];
  /** Records a run's pass; made once, since the device calls it before dispatch() returns. */
  readonly #record = (pass: GPUComputePassEncoder): void => {
    pass.setPipeline(this.#pipeline);
    const groups = this.#groups;
    for (let group = 0; group < groups.length; group++) pass.setBindGroup(group, groups[group]!);
    const counts = this.#counts;
    pass.dispatchWorkgroups(counts[0], counts[1], counts[2]);
  };

  /** @internal Use compileKernel(). */
  constructor(
    device: GpuDevice,
    name: string,
    pipeline: GPUComputePipeline,
    layouts: readonly GPUBindGroupLayout[],
    bindings: readonly Bound[],
    workgroupSize: readonly [number, number, number],
  ) {
    this.device = device;
    this.name = name;
    this.#pipeline = pipeline;
    this.#layouts = layouts;
    this.#bindings = bindings;
    this.#names = new Set(bindings.map((bound) => bound.info.name));
    this.workgroupSize = Object.freeze([...workgroupSize]) as unknown as readonly [number, number, number];
    this.#internals = deviceInternals(device);
    this.#maxWorkgroups = device.limits.maxComputeWorkgroupsPerDimension;
    this.#alignment = device.limits.minStorageBufferOffsetAlignment;
    this.#groupMembers = layouts.map((_, group) =>
      bindings.flatMap((bound, index) => (bound.info.group === group ? [index] : [])),
    );
    this.#lastGroups = layouts.map(() => undefined);
    this.#groups = [];
    this.#uniformBuffers = bindings.map(() => undefined);
    this.#aliasable = bindings.filter((bound) => bound.uniform === undefined).length > 1;
    this.#lastStorage = bindings.map(() => undefined);
    this.#resources = bindings.map(() => undefined);
  }

  /** The kernel's resource bindings, by name. */
  get bindings(): readonly BindingInfo[] {
    return this.#bindings.map((bound) => bound.info);
  }

  /**
   * Dispatches the kernel over `global` invocations with the named bindings.
   * @throws SKEIN_GPU_INVALID_ARGUMENT for a missing, unknown or wrongly typed binding or a bad size.
   * @throws SKEIN_GPU_DTYPE_MISMATCH when an array's dtype is not the binding's element type.
   * @throws SKEIN_GPU_DESTROYED when an array or the device was destroyed.
   */
  run(values: Readonly<Record<string, BindingValue>>, options: RunOptions): GpuEvent {
    // The message is built only when it is needed: this runs on every dispatch.
    if (this.device.destroyed) this.#internals.assertAlive(`running kernel "${this.name}"`);
    this.#workgroups(options);
    if (typeof values !== 'object' || values === null) {
      throw new InvalidArgumentError(
        'SKEIN_GPU_INVALID_ARGUMENT',
        `kernel "${this.name}": bindings must be an object of name → value`,
      );
    }
    for (const key in values) {
      if (!this.#names.has(key)) {
        throw new InvalidArgumentError(
          'SKEIN_GPU_INVALID_ARGUMENT',
          `kernel "${this.name}" has no binding ${key}; it binds ${this.#bindings.map((b) => b.info.name).join(', ') || 'nothing'}`,
        );
      }
    }
    const bindings = this.#bindings;
    const resources = this.#resources;
    let work: RunWork | undefined;
    let changed = false;
    let storageChanged = false;
    try {
      for (let index = 0; index < bindings.length; index++) {
        const bound = bindings[index]!;
        const { info, uniform } = bound;
        const value = values[info.name];
        if (value === undefined) {
          throw new InvalidArgumentError(
            'SKEIN_GPU_INVALID_ARGUMENT',
            `kernel "${this.name}": binding ${info.name} (${info.type}) was not given`,
          );
        }
        let resource: GPUBufferBinding;
        if (uniform !== undefined) {
          if (value instanceof GpuArray) {
            throw new InvalidArgumentError(
              'SKEIN_GPU_INVALID_ARGUMENT',
              `kernel "${this.name}": ${info.name} is a uniform; pass numbers, not a GpuArray`,
            );
          }
          const bytes = packUniform(uniform, info.name, value);
          if (this.#internals.batching) {
            work ??= { cleanup: [], copiesIn: [], copiesOut: [] };
            resource = this.#batchUniform(bytes, work.cleanup);
          } else resource = this.#uniform(index, bytes);
        } else {
          const last = this.#lastStorage[index];
          if (last !== undefined && last.array === value && !value.destroyed) {
            resource = last.resource;
          } else {
            const array = this.#checkStorage(bound, value);
            const direct = this.#direct(array);
            if (direct !== undefined) {
              resource = direct;
              this.#lastStorage[index] = { array, resource };
            } else {
              work ??= { cleanup: [], copiesIn: [], copiesOut: [] };
              resource = this.#alignedCopy(bound, array, work);
              this.#lastStorage[index] = undefined;
            }
          }
          if (resources[index] !== resource) storageChanged = true;
        }
        if (resources[index] !== resource) {
          resources[index] = resource;
          changed = true;
        }
      }
      if (this.#aliasable && storageChanged) this.#checkAliasing(values);
      if (changed) this.#bindGroups(resources as readonly GPUBufferBinding[]);
    } catch (error) {
      resources.fill(undefined);
      if (work !== undefined) for (const buffer of work.cleanup) buffer.destroy();
      throw error;
    }
    if (work === undefined) return this.#internals.dispatch(this.name, this.#record);
    const { copiesIn, copiesOut } = work;
    return this.#internals.dispatch(
      this.name,
      this.#record,
      work.cleanup,
      copiesIn.length === 0
        ? undefined
        : {
            before: (encoder) => {
              for (const [from, fromOffset, to, size] of copiesIn)
                encoder.copyBufferToBuffer(from, fromOffset, to, 0, size);
            },
            after: (encoder) => {
              for (const [from, size, to, toOffset] of copiesOut)
                encoder.copyBufferToBuffer(from, 0, to, toOffset, size);
            },
          },
    );
  }

  /**
   * A uniform's buffer outside a batch: each run rewrites the kernel's own buffer for that binding
   * (queue.writeBuffer lands after the work submitted before it and before the next submit, so a run
   * never sees a later run's values).
   */
  #uniform(index: number, bytes: ArrayBuffer): GPUBufferBinding {
    const raw = this.#internals.raw;
    let resource = this.#uniformBuffers[index];
    if (resource === undefined) {
      resource = {
        buffer: raw.createBuffer({
          size: bytes.byteLength,
          usage: BufferUsage.UNIFORM | BufferUsage.COPY_DST,
        }),
      };
      this.#uniformBuffers[index] = resource;
    }
    raw.queue.writeBuffer(resource.buffer, 0, bytes);
    return resource;
  }

  /**
   * A uniform's buffer inside a batch, where every write would land before the whole batch: a fresh
   * buffer per run, destroyed after the submit.
   */
  #batchUniform(bytes: ArrayBuffer, cleanup: GPUBuffer[]): GPUBufferBinding {
    const buffer = this.#internals.raw.createBuffer({
      size: bytes.byteLength,
      usage: BufferUsage.UNIFORM,
      mappedAtCreation: true,
    });
    new Uint8Array(buffer.getMappedRange()).set(new Uint8Array(bytes));
    buffer.unmap();
    cleanup.push(buffer);
    return { buffer };
  }

  /**
   * Sets #groups to one bind group per layout: the last run's when it bound the same buffers at the
   * same places.
   */
  #bindGroups(resources: readonly GPUBufferBinding[]): void {
    const groups = this.#groups;
    for (let group = 0; group < this.#layouts.length; group++) {
      const members = this.#groupMembers[group]!;
      const last = this.#lastGroups[group];
      let same = last !== undefined;
      for (let k = 0; same && k < members.length; k++) {
        const resource = resources[members[k]!]!;
        same =
          last!.bound[3 * k] === resource.buffer &&
          last!.bound[3 * k + 1] === resource.offset &&
          last!.bound[3 * k + 2] === resource.size;
      }
      if (same) {
        groups[group] = last!.group;
        continue;
      }
      const bound: unknown[] = [];
      const entries: GPUBindGroupEntry[] = [];
      for (const index of members) {
        const resource = resources[index]!;
        entries.push({ binding: this.#bindings[index]!.info.binding, resource });
        bound.push(resource.buffer, resource.offset, resource.size);
      }
      const made = this.#internals.raw.createBindGroup({ layout: this.#layouts[group]!, entries });
      this.#lastGroups[group] = { group: made, bound };
      groups[group] = made;
    }
  }

  /** The array bound to a storage binding, checked against the declaration. */
  #checkStorage(bound: Bound, value: BindingValue): GpuArray {
    const { info, element } = bound;
    if (!(value instanceof GpuArray)) {
      throw new InvalidArgumentError(
        'SKEIN_GPU_INVALID_ARGUMENT',
        `kernel "${this.name}": ${info.name} is a storage buffer (${info.type}); pass a GpuArray (got ${JSON.stringify(value)})`,
      );
    }
    if (value.destroyed) value.assertAlive(`kernel "${this.name}" binding ${info.name} to`);
    if (value.device !== this.device) {
      throw new InvalidArgumentError(
        'SKEIN_GPU_INVALID_ARGUMENT',
        `kernel "${this.name}": ${info.name} lives on another device; copy it through the host or make it on this kernel's device`,
      );
    }
    if (element !== undefined) {
      if (element.dtype !== value.dtype) {
        throw new InvalidArgumentError(
          'SKEIN_GPU_DTYPE_MISMATCH',
          `kernel "${this.name}": ${info.name} is ${info.type} but got a ${value.dtype} array`,
        );
      }
      if (value.length % element.components !== 0) {
        throw new InvalidArgumentError(
          'SKEIN_GPU_SHAPE_MISMATCH',
          `kernel "${this.name}": ${info.name} is ${info.type}, so its length must be a multiple of ${element.components} (got ${value.length})`,
        );
      }
    }
    return value;
  }

  /** The array's own buffer range when Dawn can bind it in place; undefined when it needs a copy. */
  #direct(array: GpuArray): GPUBufferBinding | undefined {
    const size = Math.max(4, Math.ceil(array.byteLength / 4) * 4);
    const buffer = array.buffer;
    // Only a padded binding (an empty array, an odd f16 length) can reach past its buffer's end.
    if (
      array.byteOffset % this.#alignment === 0 &&
      (size === array.byteLength || array.byteOffset + size <= buffer.size)
    ) {
      return { buffer, offset: array.byteOffset, size };
    }
    return undefined;
  }

  /**
   * Dawn binds storage only at offsets that are multiples of minStorageBufferOffsetAlignment (16 on
   * lavapipe, 256 on most GPUs); a view elsewhere runs on an aligned copy, copied back if writable.
   */
  #alignedCopy(bound: Bound, array: GpuArray, work: RunWork): GPUBufferBinding {
    const size = Math.max(4, Math.ceil(array.byteLength / 4) * 4);
    const buffer = array.buffer;
    const copy = this.#internals.raw.createBuffer({
      size,
      usage: BufferUsage.STORAGE | BufferUsage.COPY_SRC | BufferUsage.COPY_DST,
    });
    work.cleanup.push(copy);
    const bytes = Math.min(size, buffer.size - array.byteOffset);
    work.copiesIn.push([buffer, array.byteOffset, copy, bytes]);
    if (bound.info.kind === 'storage')
      work.copiesOut.push([copy, Math.ceil(array.byteLength / 4) * 4, buffer, array.byteOffset]);
    return { buffer: copy, offset: 0, size };
  }

  /**
   * WebGPU refuses a dispatch in which a writable storage binding overlaps another binding of the same
   * buffer (Dawn would only print the error and skip the dispatch), so say so before submitting.
   * Runs after every storage binding was checked, so each value is a live GpuArray.
   */
  #checkAliasing(values: Readonly<Record<string, BindingValue>>): void {
    const bindings = this.#bindings;
    for (let i = 0; i < bindings.length; i++) {
      const info = bindings[i]!.info;
      if (bindings[i]!.uniform !== undefined) continue;
      const array = values[info.name] as GpuArray;
      for (let j = 0; j < i; j++) {
        const other = bindings[j]!.info;
        if (bindings[j]!.uniform !== undefined) continue;
        if (info.kind !== 'storage' && other.kind !== 'storage') continue;
        const otherArray = values[other.name] as GpuArray;
        if (otherArray.buffer !== array.buffer) continue;
        const overlap =
          array.byteOffset < otherArray.byteOffset + Math.max(4, otherArray.byteLength) &&
          otherArray.byteOffset < array.byteOffset + Math.max(4, array.byteLength);
        if (overlap) {
          throw new InvalidArgumentError(
            'SKEIN_GPU_INVALID_ARGUMENT',
            `kernel "${this.name}": ${other.name} and ${info.name} share memory and one of them is written; WebGPU forbids that in one dispatch: pass a copy() of one`,
          );
        }
      }
    }
  }

  /** Sets #counts to the workgroups that cover `options.global`. */
  #workgroups(options: RunOptions): void {
    const size = options?.global;
    const counts = this.#counts;
    if (typeof size === 'number' && Number.isSafeInteger(size) && size >= 0) {
      // The common 1-d case without building arrays; anything else (or too many) takes the checks below.
      const count = Math.ceil(size / this.workgroupSize[0]);
      if (count <= this.#maxWorkgroups) {
        counts[0] = count;
        counts[1] = 1;
        counts[2] = 1;
        return;
      }
    }
    const global = typeof size === 'number' ? [size] : size;
    if (
      !Array.isArray(global) ||
      global.length < 1 ||
      global.length > 3 ||
      global.some((n) => !Number.isSafeInteger(n) || n < 0)
    ) {
      throw new InvalidArgumentError(
        'SKEIN_GPU_INVALID_ARGUMENT',
        `kernel "${this.name}": options.global must be 1 to 3 integers >= 0 (got ${JSON.stringify(options?.global)})`,
      );
    }
    const max = this.#maxWorkgroups;
    const wanted = [0, 1, 2].map((axis) => Math.ceil((global[axis] ?? 1) / this.workgroupSize[axis]!));
    const over = wanted.findIndex((count) => count > max);
    if (over >= 0) {
      throw new InvalidArgumentError(
        'SKEIN_GPU_INVALID_ARGUMENT',
        `kernel "${this.name}": ${global[over]} invocations along axis ${over} need ${wanted[over]} workgroups of ${this.workgroupSize[over]}; the device allows ${max} per axis: spread the work over a second axis`,
      );
    }
    counts[0] = wanted[0]!;
    counts[1] = wanted[1]!;
    counts[2] = wanted[2]!;
  }
}
