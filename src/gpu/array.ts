// GPU arrays: a typed, shaped view of a storage buffer on one device. Views (slice, reshape) share their
// parent's storage; destroying the parent frees the buffer and every view reads as destroyed from then
// on. Transfers are asynchronous: toHost() settles once the GPU has produced the data.

import { InvalidArgumentError, SkeinError } from '../errors.ts';
import { BufferUsage, MAP_READ_MODE } from './dawn.ts';
import { type DeviceInternals, deviceInternals, type GpuDevice } from './device.ts';
import { DTYPES, type DType, dtypeInfo, dtypeOfHost, type HostArrayOf } from './dtype.ts';

const STORAGE_USAGE = BufferUsage.STORAGE | BufferUsage.COPY_SRC | BufferUsage.COPY_DST;

export type Shape = readonly number[];

export interface ArrayOptions<D extends DType = DType> {
  /** Element type; for fromHost it defaults to the host array's own. @defaultValue 'f32' */
  readonly dtype?: D;
  /** Shape; for fromHost it defaults to [data.length]. */
  readonly shape?: Shape;
  /** Buffer label in Dawn's messages. */
  readonly label?: string;
}

interface Storage {
  readonly buffer: GPUBuffer;
  destroyed: string | undefined;
}

/** Bytes rounded up to WebGPU's copy and binding granularity (4), and never 0 (a binding needs bytes). */
function paddedBytes(bytes: number): number {
  return Math.max(4, Math.ceil(bytes / 4) * 4);
}

function elementsOf(shape: Shape): number {
  let count = 1;
  for (const extent of shape) count *= extent;
  return count;
}

/** Validates a shape given by a caller and returns a frozen copy. */
export function checkShape(shape: unknown, what = 'shape'): Shape {
  if (typeof shape === 'number') shape = [shape];
  if (!Array.isArray(shape) || shape.some((extent) => !Number.isSafeInteger(extent) || extent < 0)) {
    throw new InvalidArgumentError(
      'SKEIN_GPU_INVALID_ARGUMENT',
      `${what} must be an array of integers >= 0 (got ${JSON.stringify(shape)})`,
    );
  }
  return Object.freeze([...(shape as number[])]);
}

/** The largest array (in bytes) the device can bind to a kernel. */
export function maxArrayBytes(device: GpuDevice): number {
  return Math.min(device.limits.maxStorageBufferBindingSize, device.limits.maxBufferSize);
}

/** A typed, shaped array in GPU memory. Make one with fromHost, empty, zeros or full. */
export class GpuArray<D extends DType = DType> {
  readonly device: GpuDevice;
  readonly dtype: D;
  readonly shape: Shape;
  /** Number of elements (the product of the shape). */
  readonly length: number;
  /** Where the array starts in its buffer, in bytes (non-zero for views). */
  readonly byteOffset: number;
  readonly byteLength: number;
  readonly #storage: Storage;
  readonly #owner: boolean;
  readonly #internals: DeviceInternals;
  #destroyed = false;

  /** @internal Use fromHost, empty, zeros or full. */
  constructor(
    device: GpuDevice,
    dtype: D,
    shape: Shape,
    storage: Storage,
    byteOffset: number,
    owner: boolean,
  ) {
    this.device = device;
    this.dtype = dtype;
    this.shape = shape;
    this.length = elementsOf(shape);
    this.byteOffset = byteOffset;
    this.byteLength = this.length * DTYPES[dtype].bytes;
    this.#storage = storage;
    this.#owner = owner;
    this.#internals = deviceInternals(device);
    if (owner) this.#internals.track(this);
  }

  /** The number of dimensions. */
  get ndim(): number {
    return this.shape.length;
  }

  /** True after destroy() of this array, of the array it views, or of its device. */
  get destroyed(): boolean {
    return this.#destroyed || this.#storage.destroyed !== undefined;
  }

  /**
   * The GPU buffer behind the array (shared with views: use byteOffset and byteLength).
   * @throws SKEIN_GPU_DESTROYED after destroy.
   */
  get buffer(): GPUBuffer {
    this.assertAlive('reading the buffer of');
    return this.#storage.buffer;
  }

  /** @internal Throws SKEIN_GPU_DESTROYED when the array can no longer be used. */
  assertAlive(what: string): void {
    if (!this.destroyed) return;
    const why = this.device.destroyed
      ? 'its device was destroyed or lost'
      : this.#destroyed
        ? 'the array was destroyed'
        : (this.#storage.destroyed ?? 'the array was destroyed');
    throw new SkeinError(
      'SKEIN_GPU_DESTROYED',
      `${what} a ${this.dtype}[${this.shape.join(', ')}] GPU array after ${why}; keep arrays alive until their last use, or make a new one`,
    );
  }

  /** Copies the array to a new host typed array once the GPU has finished writing it. */
  async toHost(): Promise<HostArrayOf[D]> {
    this.assertAlive('toHost() of');
    if (this.#internals.batching) {
      throw new InvalidArgumentError(
        'SKEIN_GPU_INVALID_ARGUMENT',
        'toHost() inside device.batch() would wait for work that is not submitted yet; read after the batch returns',
      );
    }
    const info = DTYPES[this.dtype];
    const out = new info.host(this.length) as HostArrayOf[D];
    if (this.length === 0) return out;
    const bytes = paddedBytes(this.byteLength);
    const staging = takeReadback(this.#internals, bytes);
    const buffer = this.#storage.buffer;
    const copyBytes = Math.min(bytes, buffer.size - this.byteOffset);
    this.#internals.encode((encoder) =>
      encoder.copyBufferToBuffer(buffer, this.byteOffset, staging, 0, copyBytes),
    );
    try {
      await this.#internals.reading(this.#internals.quietly(() => staging.mapAsync(MAP_READ_MODE)));
    } catch (error) {
      staging.destroy();
      this.assertAlive('toHost() of');
      this.#internals.assertAlive('toHost()');
      throw new SkeinError('SKEIN_GPU_DESTROYED', `toHost() failed: ${String(error)}`, { cause: error });
    }
    new Uint8Array(out.buffer, out.byteOffset, this.byteLength).set(
      new Uint8Array(staging.getMappedRange(0, bytes), 0, this.byteLength),
    );
    staging.unmap();
    giveBackReadback(this.#internals, staging);
    this.#internals.throwRefused();
    return out;
  }

  /**
   * Writes host data into the array (queued: it lands before any work submitted after this call, and
   * inside device.batch() before the whole batch).
   * @throws SKEIN_GPU_SHAPE_MISMATCH when the element counts differ, SKEIN_GPU_DTYPE_MISMATCH for another type.
   */
  write(data: HostArrayOf[D] | readonly number[]): this {
    this.assertAlive('write() to');
    const host = toHostArray(data, this.dtype, 'write() data');
    if (host.length !== this.length) {
      throw new InvalidArgumentError(
        'SKEIN_GPU_SHAPE_MISMATCH',
        `write() got ${host.length} elements for a ${this.dtype}[${this.shape.join(', ')}] array of ${this.length}`,
      );
    }
    writeBytes(this.#internals, this.#storage.buffer, this.byteOffset, host);
    return this;
  }

  /** Sets every element to `value` on the GPU. */
  fill(value: number): this {
    this.assertAlive('fill() of');
    if (
      typeof value !== 'number' ||
      (this.dtype !== 'f32' && this.dtype !== 'f16' && !Number.isInteger(value))
    ) {
      throw new InvalidArgumentError(
        'SKEIN_GPU_INVALID_ARGUMENT',
        `fill() of a ${this.dtype} array takes ${this.dtype === 'f32' || this.dtype === 'f16' ? 'a number' : 'an integer'} (got ${String(value)})`,
      );
    }
    if (this.length === 0) return this;
    const pattern = toHostArray([value, value], this.dtype, 'fill() value');
    const word = new Uint32Array(pattern.buffer, pattern.byteOffset, 1)[0]!;
    fillWords(this.#internals, this.#storage.buffer, this.byteOffset, this.byteLength, word);
    return this;
  }

  /**
   * A view of rows [start, end) along the first axis, sharing this array's memory.
   * @example
   * const head = x.slice(0, 10); // the first 10 elements (or rows) of x
   */
  slice(start: number, end: number = this.shape[0] ?? 0): GpuArray<D> {
    this.assertAlive('slice() of');
    if (this.ndim === 0)
      throw new InvalidArgumentError('SKEIN_GPU_INVALID_ARGUMENT', 'slice() of a 0-d array');
    const rows = this.shape[0]!;
    if (start < 0) start += rows;
    if (end < 0) end += rows;
    if (!Number.isInteger(start) || !Number.isInteger(end) || start < 0 || end > rows || start > end) {
      throw new InvalidArgumentError(
        'SKEIN_GPU_INVALID_ARGUMENT',
        `slice(${start}, ${end}) is outside the first axis of length ${rows}; use 0 <= start <= end <= ${rows}`,
      );
    }
    const rowElements = this.length / Math.max(rows, 1) || elementsOf(this.shape.slice(1));
    const byteOffset = this.byteOffset + start * rowElements * DTYPES[this.dtype].bytes;
    if (byteOffset % 4 !== 0) {
      throw new InvalidArgumentError(
        'SKEIN_GPU_INVALID_ARGUMENT',
        `an f16 view must start at an even element (slice(${start}, …) starts at element ${byteOffset / 2}); copy() first`,
      );
    }
    return new GpuArray(
      this.device,
      this.dtype,
      Object.freeze([end - start, ...this.shape.slice(1)]),
      this.#storage,
      byteOffset,
      false,
    );
  }

  /** A view with another shape of the same number of elements. */
  reshape(shape: Shape | number): GpuArray<D> {
    this.assertAlive('reshape() of');
    const next = checkShape(shape);
    if (elementsOf(next) !== this.length) {
      throw new InvalidArgumentError(
        'SKEIN_GPU_SHAPE_MISMATCH',
        `cannot reshape ${this.length} elements [${this.shape.join(', ')}] to [${next.join(', ')}] (${elementsOf(next)} elements)`,
      );
    }
    return new GpuArray(this.device, this.dtype, next, this.#storage, this.byteOffset, false);
  }

  /** A new array (own memory) with the same contents, copied on the GPU. */
  copy(): GpuArray<D> {
    this.assertAlive('copy() of');
    const out = empty(this.device, this.shape, this.dtype);
    if (this.length > 0) {
      const bytes = Math.min(paddedBytes(this.byteLength), this.#storage.buffer.size - this.byteOffset);
      const source = this.#storage.buffer;
      const target = out.buffer;
      this.#internals.encode((encoder) =>
        encoder.copyBufferToBuffer(source, this.byteOffset, target, 0, bytes),
      );
    }
    return out;
  }

  /**
   * Frees the GPU memory (for an array made by fromHost/empty/zeros/full) or retires the view. Views of a
   * destroyed array are destroyed too. Idempotent.
   */
  destroy(): void {
    if (this.#destroyed) return;
    this.#destroyed = true;
    if (!this.#owner) return;
    this.#storage.destroyed ??= 'the array it views was destroyed';
    this.#internals.untrack(this);
    this.#storage.buffer.destroy();
  }

  [Symbol.dispose](): void {
    this.destroy();
  }

  toString(): string {
    return `GpuArray<${this.dtype}>[${this.shape.join(', ')}]${this.destroyed ? ' (destroyed)' : ''}`;
  }
}

function toHostArray<D extends DType>(data: unknown, dtype: D, what: string): HostArrayOf[D] {
  const own = dtypeOfHost(data);
  if (own !== undefined) {
    if (own !== dtype) {
      throw new InvalidArgumentError(
        'SKEIN_GPU_DTYPE_MISMATCH',
        `${what} is a ${(data as object).constructor.name} (${own}) for a ${dtype} array; convert it or use dtype '${own}'`,
      );
    }
    return data as HostArrayOf[D];
  }
  if (Array.isArray(data) && data.every((value) => typeof value === 'number')) {
    return DTYPES[dtype].host.from(data) as HostArrayOf[D];
  }
  throw new InvalidArgumentError(
    'SKEIN_GPU_INVALID_ARGUMENT',
    `${what} must be a Float32Array, Int32Array, Uint32Array, Float16Array or an array of numbers (got ${Object.prototype.toString.call(data)})`,
  );
}

// Read-back buffers kept per device for reuse by toHost(), a few of each size: making a mappable buffer
// costs an allocation and its lazy zeroing on every call, which for large arrays (64 MiB at 4096²) is
// as slow as the copy itself. They go with the device (Dawn destroys a device's buffers with it).
const READBACKS_KEPT = 4;
const readbacks = new WeakMap<DeviceInternals, GPUBuffer[]>();

function takeReadback(internals: DeviceInternals, bytes: number): GPUBuffer {
  const kept = readbacks.get(internals);
  const index = kept?.findIndex((buffer) => buffer.size === bytes) ?? -1;
  if (kept !== undefined && index >= 0) return kept.splice(index, 1)[0]!;
  return internals.raw.createBuffer({ size: bytes, usage: BufferUsage.MAP_READ | BufferUsage.COPY_DST });
}

function giveBackReadback(internals: DeviceInternals, buffer: GPUBuffer): void {
  let kept = readbacks.get(internals);
  if (kept === undefined) {
    kept = [];
    readbacks.set(internals, kept);
  }
  kept.push(buffer);
  if (kept.length > READBACKS_KEPT) kept.shift()!.destroy();
}

function writeBytes(
  internals: DeviceInternals,
  buffer: GPUBuffer,
  byteOffset: number,
  host: ArrayBufferView,
): void {
  if (host.byteLength === 0) return;
  // writeBuffer takes multiples of 4 bytes: an odd-length f16 write ends in half a word, written whole.
  oddHalfWordCheck(buffer, byteOffset, host.byteLength, 'write()');
  if (host.byteLength % 4 === 0 && host.buffer instanceof ArrayBuffer) {
    // Straight from the caller's memory: a copy here would double the host-side cost of every upload.
    internals.raw.queue.writeBuffer(buffer, byteOffset, host.buffer, host.byteOffset, host.byteLength);
    return;
  }
  const padded = new Uint8Array(paddedBytes(host.byteLength));
  padded.set(new Uint8Array(host.buffer, host.byteOffset, host.byteLength));
  internals.raw.queue.writeBuffer(buffer, byteOffset, padded.buffer, 0, padded.byteLength);
}

/**
 * An odd-length f16 array's last word holds its last element and the next half word; that half is the
 * buffer's padding only when the array ends its buffer. A view in the middle would clobber its neighbour.
 */
function oddHalfWordCheck(buffer: GPUBuffer, byteOffset: number, byteLength: number, what: string): void {
  if (byteLength % 4 !== 0 && byteOffset + paddedBytes(byteLength) !== buffer.size) {
    throw new InvalidArgumentError(
      'SKEIN_GPU_INVALID_ARGUMENT',
      `${what} of an odd-length f16 view inside a larger array would overwrite the element after it; use an even length`,
    );
  }
}

const FILL_WGSL = `
struct Params { offset: u32, count: u32, word: u32, stride: u32 }
@group(0) @binding(0) var<storage, read_write> words: array<u32>;
@group(0) @binding(1) var<uniform> params: Params;
@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3u) {
  let i = gid.x + gid.y * params.stride;
  if (i < params.count) { words[params.offset + i] = params.word; }
}`;

const FILL_WORKGROUP = 256;
const MAX_WORKGROUPS_X = 65535;

function fillWords(
  internals: DeviceInternals,
  buffer: GPUBuffer,
  byteOffset: number,
  byteLength: number,
  word: number,
): void {
  const raw = internals.raw;
  let pipeline = internals.pipelines.get('skein.fill');
  if (pipeline === undefined) {
    const module = raw.createShaderModule({ code: FILL_WGSL, label: 'skein.fill' });
    pipeline = raw.createComputePipeline({ layout: 'auto', compute: { module, entryPoint: 'main' } });
    internals.pipelines.set('skein.fill', pipeline);
  }
  oddHalfWordCheck(buffer, byteOffset, byteLength, 'fill()');
  const count = Math.ceil(byteLength / 4);
  const groups = Math.ceil(count / FILL_WORKGROUP);
  const x = Math.min(groups, MAX_WORKGROUPS_X);
  const y = Math.ceil(groups / x);
  const params = raw.createBuffer({
    size: 16,
    usage: BufferUsage.UNIFORM | BufferUsage.COPY_DST,
    mappedAtCreation: true,
  });
  new Uint32Array(params.getMappedRange()).set([byteOffset / 4, count, word, x * FILL_WORKGROUP]);
  params.unmap();
  const bindGroup = raw.createBindGroup({
    layout: pipeline.getBindGroupLayout(0),
    entries: [
      { binding: 0, resource: { buffer } },
      { binding: 1, resource: { buffer: params } },
    ],
  });
  const filling = pipeline;
  internals.dispatch(
    'skein.fill',
    (pass) => {
      pass.setPipeline(filling);
      pass.setBindGroup(0, bindGroup);
      pass.dispatchWorkgroups(x, y);
    },
    [params],
  );
}

function allocate<D extends DType>(
  device: GpuDevice,
  shape: Shape,
  dtype: D,
  label: string | undefined,
): GpuArray<D> {
  const internals = deviceInternals(device);
  internals.assertAlive('allocating an array');
  const info = DTYPES[dtype];
  if (dtype === 'f16' && !device.f16) {
    throw new SkeinError(
      'SKEIN_GPU_UNSUPPORTED',
      `f16 arrays need the adapter feature shader-f16, which "${device.adapter.name}" lacks; use 'f32'`,
    );
  }
  const bytes = elementsOf(shape) * info.bytes;
  const max = maxArrayBytes(device);
  if (bytes > max) {
    throw new SkeinError(
      'SKEIN_GPU_BUFFER_TOO_LARGE',
      `a ${dtype}[${shape.join(', ')}] array needs ${bytes} bytes; "${device.adapter.name}" binds at most ${max} bytes (maxStorageBufferBindingSize); split the data into chunks`,
    );
  }
  const buffer = internals.raw.createBuffer({
    size: paddedBytes(bytes),
    usage: STORAGE_USAGE,
    ...(label === undefined ? {} : { label }),
  });
  return new GpuArray(device, dtype, shape, { buffer, destroyed: undefined }, 0, true);
}

function resolveDType<D extends DType>(options: ArrayOptions<D> | undefined, fallback: DType): D {
  return dtypeInfo(options?.dtype ?? fallback, 'options.dtype').name as D;
}

/**
 * An array with undefined contents (WebGPU zeroes new buffers, but do not rely on it).
 * @example
 * using y = empty(device, [1024], 'f32');
 */
export function empty<D extends DType = 'f32'>(
  device: GpuDevice,
  shape: Shape | number,
  dtype: D = 'f32' as D,
): GpuArray<D> {
  return allocate(device, checkShape(shape), dtypeInfo(dtype).name as D, undefined);
}

/** An array of zeros. */
export function zeros<D extends DType = 'f32'>(
  device: GpuDevice,
  shape: Shape | number,
  dtype: D = 'f32' as D,
): GpuArray<D> {
  const array = empty(device, shape, dtype);
  if (array.length > 0) {
    const buffer = array.buffer;
    deviceInternals(device).encode((encoder) => encoder.clearBuffer(buffer));
  }
  return array;
}

/** An array with every element set to `value`. */
export function full<D extends DType = 'f32'>(
  device: GpuDevice,
  shape: Shape | number,
  value: number,
  dtype: D = 'f32' as D,
): GpuArray<D> {
  const array = empty(device, shape, dtype);
  try {
    return array.fill(value);
  } catch (error) {
    array.destroy();
    throw error;
  }
}

/**
 * Copies host data to a new GPU array. The dtype is the host array's (Float32Array → 'f32' …), or
 * options.dtype for a plain array of numbers.
 * @example
 * using x = fromHost(device, new Float32Array([1, 2, 3, 4, 5, 6]), { shape: [2, 3] });
 * @throws SKEIN_GPU_SHAPE_MISMATCH when options.shape does not hold data.length elements.
 * @throws SKEIN_GPU_DTYPE_MISMATCH when options.dtype differs from the typed array's own.
 */
export function fromHost<D extends DType = DType>(
  device: GpuDevice,
  data: HostArrayOf[D] | readonly number[],
  options?: ArrayOptions<D>,
): GpuArray<D> {
  const dtype = resolveDType<D>(options, dtypeOfHost(data) ?? 'f32');
  const host = toHostArray(data, dtype, 'fromHost() data');
  const shape =
    options?.shape === undefined ? Object.freeze([host.length]) : checkShape(options.shape, 'options.shape');
  if (elementsOf(shape) !== host.length) {
    throw new InvalidArgumentError(
      'SKEIN_GPU_SHAPE_MISMATCH',
      `fromHost() got ${host.length} elements for shape [${shape.join(', ')}] (${elementsOf(shape)} elements)`,
    );
  }
  const array = allocate(device, shape, dtype, options?.label);
  writeBytes(deviceInternals(device), array.buffer, 0, host);
  return array;
}
