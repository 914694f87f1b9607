// Prefix scans (PyOpenCL's GenericScanKernel for the common case): inclusive or exclusive, sum or a
// custom associative combine, any length. Blocks of SCAN_BLOCK elements are scanned in workgroup
// memory; the block totals are scanned the same way (recursively) and added back.

import { InvalidArgumentError } from '../errors.ts';
import { empty, GpuArray } from './array.ts';
import { deviceInternals, type GpuDevice } from './device.ts';
import { DTYPES, type DType, dtypeInfo, wgslPrelude } from './dtype.ts';
import { customOp } from './expression.ts';
import { compileKernel, type Kernel } from './kernel.ts';

export interface ScanOptions {
  /** @defaultValue 'f32' */
  readonly dtype?: DType;
  /** @defaultValue true */
  readonly inclusive?: boolean;
  /** 'sum' or { combine: 'a * b', identity: '1.0' }. @defaultValue 'sum' */
  readonly op?: 'sum' | { readonly combine: string; readonly identity: string };
  /** @defaultValue 'scan' */
  readonly name?: string;
}

const WORKGROUP = 256;
const ITEMS = 4;
const SCAN_BLOCK = WORKGROUP * ITEMS;

function blockSource(dtype: DType, combine: string, identity: string, inclusive: boolean): string {
  const t = DTYPES[dtype].wgsl;
  return `${wgslPrelude(dtype)}
struct Params { n: u32, stride: u32 }
@group(0) @binding(0) var<storage, read> src: array<${t}>;
@group(0) @binding(1) var<storage, read_write> dst: array<${t}>;
@group(0) @binding(2) var<storage, read_write> sums: array<${t}>;
@group(0) @binding(3) var<uniform> params: Params;
fn combine(a: ${t}, b: ${t}) -> ${t} { return ${combine}; }
fn identity() -> ${t} { return ${identity}; }
var<workgroup> totals: array<${t}, ${WORKGROUP}>;
@compute @workgroup_size(${WORKGROUP})
fn main(@builtin(local_invocation_index) lid: u32, @builtin(workgroup_id) wg: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let block = wg.x + wg.y * nwg.x;
  let first = block * ${SCAN_BLOCK}u + lid * ${ITEMS}u;
  var items: array<${t}, ${ITEMS}>;
  var running = identity();
  for (var k = 0u; k < ${ITEMS}u; k++) {
    let i = first + k;
    var v = identity();
    if (i < params.n) { v = src[i]; }
    ${inclusive ? 'running = combine(running, v);\n    items[k] = running;' : 'items[k] = running;\n    running = combine(running, v);'}
  }
  totals[lid] = running;
  workgroupBarrier();
  // Hillis-Steele scan of the per-thread totals: log2(WORKGROUP) steps.
  for (var offset = 1u; offset < ${WORKGROUP}u; offset <<= 1u) {
    var add = identity();
    if (lid >= offset) { add = totals[lid - offset]; }
    workgroupBarrier();
    totals[lid] = combine(add, totals[lid]);
    workgroupBarrier();
  }
  var before = identity();
  if (lid > 0u) { before = totals[lid - 1u]; }
  for (var k = 0u; k < ${ITEMS}u; k++) {
    let i = first + k;
    if (i < params.n) { dst[i] = combine(before, items[k]); }
  }
  if (lid == ${WORKGROUP - 1}u) { sums[block] = totals[lid]; }
}`;
}

function addSource(dtype: DType, combine: string): string {
  const t = DTYPES[dtype].wgsl;
  return `${wgslPrelude(dtype)}
struct Params { n: u32, stride: u32 }
@group(0) @binding(0) var<storage, read_write> dst: array<${t}>;
@group(0) @binding(1) var<storage, read> offsets: array<${t}>;
@group(0) @binding(2) var<uniform> params: Params;
fn combine(a: ${t}, b: ${t}) -> ${t} { return ${combine}; }
@compute @workgroup_size(${WORKGROUP})
fn main(@builtin(global_invocation_id) gid: vec3u) {
  let i = gid.x + gid.y * params.stride;
  if (i < params.n) { dst[i] = combine(offsets[i / ${SCAN_BLOCK}u], dst[i]); }
}`;
}

/**
 * Compiles a prefix scan.
 * @example
 * const cumsum = await scan(device);               // inclusive sum
 * const offsets = await scan(device, { inclusive: false, dtype: 'u32' });
 * using out = cumsum.apply(x);
 */
export async function scan(device: GpuDevice, options: ScanOptions = {}): Promise<ScanKernel> {
  const dtype = dtypeInfo(options.dtype ?? 'f32', 'options.dtype').name;
  const name = options.name ?? 'scan';
  const op = options.op ?? 'sum';
  const { combine, identity } =
    op === 'sum' ? { combine: 'a + b', identity: `${dtype}(0)` } : customOp(name, op, ['sum']);
  const inclusive = options.inclusive ?? true;
  if (typeof inclusive !== 'boolean') {
    throw new InvalidArgumentError(
      'SKEIN_GPU_INVALID_ARGUMENT',
      `${name}: options.inclusive must be a boolean (got ${String(inclusive)})`,
    );
  }
  const [blocks, exclusiveBlocks, add] = await Promise.all([
    compileKernel(device, blockSource(dtype, combine, identity, inclusive), { name, entryPoint: 'main' }),
    compileKernel(device, blockSource(dtype, combine, identity, false), {
      name: `${name}:totals`,
      entryPoint: 'main',
    }),
    compileKernel(device, addSource(dtype, combine), { name: `${name}:add`, entryPoint: 'main' }),
  ]);
  return new ScanKernel(device, name, dtype, blocks, exclusiveBlocks, add);
}

/** A compiled scan. */
export class ScanKernel {
  readonly device: GpuDevice;
  readonly name: string;
  readonly dtype: DType;
  readonly #blocks: Kernel;
  readonly #exclusiveBlocks: Kernel;
  readonly #add: Kernel;

  /** @internal Use scan(). */
  constructor(
    device: GpuDevice,
    name: string,
    dtype: DType,
    blocks: Kernel,
    exclusiveBlocks: Kernel,
    add: Kernel,
  ) {
    this.device = device;
    this.name = name;
    this.dtype = dtype;
    this.#blocks = blocks;
    this.#exclusiveBlocks = exclusiveBlocks;
    this.#add = add;
  }

  /**
   * Scans `x` into a new array of the same shape (or into `out`).
   * @throws SKEIN_GPU_DTYPE_MISMATCH / SKEIN_GPU_SHAPE_MISMATCH when x or out do not fit.
   */
  apply(x: GpuArray, out?: GpuArray): GpuArray {
    if (!(x instanceof GpuArray)) {
      throw new InvalidArgumentError(
        'SKEIN_GPU_INVALID_ARGUMENT',
        `${this.name}: x must be a GpuArray (got ${String(x)})`,
      );
    }
    if (x.dtype !== this.dtype) {
      throw new InvalidArgumentError(
        'SKEIN_GPU_DTYPE_MISMATCH',
        `${this.name} scans ${this.dtype} (got a ${x.dtype} array)`,
      );
    }
    if (out !== undefined && (out.length !== x.length || out.dtype !== x.dtype)) {
      throw new InvalidArgumentError(
        out.dtype !== x.dtype ? 'SKEIN_GPU_DTYPE_MISMATCH' : 'SKEIN_GPU_SHAPE_MISMATCH',
        `${this.name}: out is ${out.dtype}[${out.shape.join(', ')}] for x ${x.dtype}[${x.shape.join(', ')}]`,
      );
    }
    x.assertAlive(`${this.name} of`);
    const target = out ?? empty(this.device, x.shape, this.dtype);
    this.#scan(this.#blocks, x, target.reshape([x.length]));
    return target;
  }

  #scan(kernel: Kernel, x: GpuArray, out: GpuArray): void {
    const n = x.length;
    if (n === 0) return;
    const blocks = Math.ceil(n / SCAN_BLOCK);
    const max = this.device.limits.maxComputeWorkgroupsPerDimension;
    const gx = Math.min(blocks, max);
    const gy = Math.ceil(blocks / gx);
    // Grid padding may run a few blocks past the last one: sums has a slot for each of them.
    const sums = empty(this.device, [gx * gy], this.dtype);
    kernel.run({ src: x, dst: out, sums, params: { n, stride: 0 } }, { global: [gx * WORKGROUP, gy] });
    if (blocks > 1) {
      const offsets = empty(this.device, [blocks], this.dtype);
      this.#scan(this.#exclusiveBlocks, sums.slice(0, blocks), offsets);
      const groups = Math.ceil(n / WORKGROUP);
      const ax = Math.min(groups, max);
      this.#add.run(
        { dst: out, offsets, params: { n, stride: ax * WORKGROUP } },
        { global: [ax * WORKGROUP, Math.ceil(groups / ax)] },
      );
      deviceInternals(this.device).afterSubmit(() => offsets.destroy());
    }
    deviceInternals(this.device).afterSubmit(() => sums.destroy());
  }
}
