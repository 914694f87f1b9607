// Dense linear algebra on f32 arrays: matmul, transpose, axpy and dot. matmul picks its variant per
// adapter: on a CPU adapter (lavapipe) a register-blocked kernel with vec4 loads and no workgroup memory,
// since barriers are expensive there; on a GPU shared-memory tiles with register blocking and vec4 loads
// (matmul-tiles.ts), the layout fast GPU matmuls use. Shapes whose k or n is not a multiple of 4 take the
// scalar variants of the same two designs.

import { InvalidArgumentError } from '../errors.ts';
import { empty, GpuArray } from './array.ts';
import type { GpuDevice } from './device.ts';
import { type ElementwiseKernel, elementwise } from './elementwise.ts';
import type { GpuEvent } from './event.ts';
import { compileKernel, type Kernel } from './kernel.ts';
import {
  GPU_SMALL_TILE_SHAPE,
  GPU_TILE_SHAPE,
  type TileShape,
  tiledVec4Source,
  tileShapeProblem,
  tileWorkgroup,
} from './matmul-tiles.ts';
import { type ReductionKernel, reduction } from './reduce.ts';

export type MatmulVariant = 'blocked-vec4' | 'blocked' | 'tiled-vec4' | 'tiled';

/** Options of linalg(). */
export interface LinalgOptions {
  /**
   * The tile shape of the 'tiled-vec4' matmul, for every size (default GPU_TILE_SHAPE; tune with
   * bench/gpu/matmul-tiles.ts).
   */
  readonly matmulTile?: TileShape;
  /**
   * The tile shape of the 'tiled-vec4' matmul for products whose grid of matmulTile tiles would be under
   * SMALL_GRID_WORKGROUPS workgroups (default GPU_SMALL_TILE_SHAPE).
   */
  readonly matmulSmallTile?: TileShape;
}

/**
 * Below this many workgroups of the large tile, matmul uses the small one: a GPU needs several
 * workgroups per multiprocessor to hide memory latency (an H100 has 132), and a 1024² product in
 * 128 x 128 tiles is only 64 workgroups.
 */
export const SMALL_GRID_WORKGROUPS = 256;

const PARAMS = 'struct Params { m: u32, n: u32, k: u32, pad: u32 }';
const VEC4_ROWS = 8;

// Each invocation computes an 8x4 block of C (8 rows, one vec4 of columns) from vec4 rows of A and B
// (K and N multiples of 4). Measured on lavapipe at 1024²: 8 rows ~20-70% faster than 4 rows.
const BLOCKED_VEC4 = `${PARAMS}
@group(0) @binding(0) var<storage, read> a: array<vec4<f32>>;
@group(0) @binding(1) var<storage, read> b: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read_write> c: array<vec4<f32>>;
@group(0) @binding(3) var<uniform> params: Params;
@compute @workgroup_size(8, 8)
fn main(@builtin(global_invocation_id) gid: vec3u) {
  let n4 = params.n / 4u;
  let k4 = params.k / 4u;
  let col = gid.x;
  let row = gid.y * ${VEC4_ROWS}u;
  if (col >= n4 || row >= params.m) { return; }
  var acc: array<vec4<f32>, ${VEC4_ROWS}>;
  var rows: array<u32, ${VEC4_ROWS}>;
  // Rows past the end read the last row (always in bounds) and are not stored.
  for (var r = 0u; r < ${VEC4_ROWS}u; r++) { rows[r] = min(row + r, params.m - 1u) * k4; }
  for (var kk = 0u; kk < k4; kk++) {
    let b0 = b[(kk * 4u) * n4 + col];
    let b1 = b[(kk * 4u + 1u) * n4 + col];
    let b2 = b[(kk * 4u + 2u) * n4 + col];
    let b3 = b[(kk * 4u + 3u) * n4 + col];
    for (var r = 0u; r < ${VEC4_ROWS}u; r++) {
      let av = a[rows[r] + kk];
      acc[r] += av.x * b0 + av.y * b1 + av.z * b2 + av.w * b3;
    }
  }
  for (var r = 0u; r < ${VEC4_ROWS}u; r++) {
    if (row + r < params.m) { c[(row + r) * n4 + col] = acc[r]; }
  }
}`;

// Any shape: a 4x4 block per invocation from scalar loads, edges guarded.
const BLOCKED = `${PARAMS}
@group(0) @binding(0) var<storage, read> a: array<f32>;
@group(0) @binding(1) var<storage, read> b: array<f32>;
@group(0) @binding(2) var<storage, read_write> c: array<f32>;
@group(0) @binding(3) var<uniform> params: Params;
fn bAt(k: u32, j: u32) -> f32 { if (j < params.n) { return b[k * params.n + j]; } return 0.0; }
@compute @workgroup_size(8, 8)
fn main(@builtin(global_invocation_id) gid: vec3u) {
  let col = gid.x * 4u;
  let row = gid.y * 4u;
  if (col >= params.n || row >= params.m) { return; }
  var acc: array<vec4<f32>, 4>;
  for (var k = 0u; k < params.k; k++) {
    let bv = vec4<f32>(bAt(k, col), bAt(k, col + 1u), bAt(k, col + 2u), bAt(k, col + 3u));
    for (var r = 0u; r < 4u; r++) {
      let rr = min(row + r, params.m - 1u);
      acc[r] += a[rr * params.k + k] * bv;
    }
  }
  for (var r = 0u; r < 4u; r++) {
    if (row + r < params.m) {
      for (var j = 0u; j < 4u; j++) {
        if (col + j < params.n) { c[(row + r) * params.n + col + j] = acc[r][j]; }
      }
    }
  }
}`;

// Shared-memory tiles: a 16x16 workgroup computes a 64x64 tile of C, 4x4 per invocation, K in steps of 16.
const TILED = `${PARAMS}
@group(0) @binding(0) var<storage, read> a: array<f32>;
@group(0) @binding(1) var<storage, read> b: array<f32>;
@group(0) @binding(2) var<storage, read_write> c: array<f32>;
@group(0) @binding(3) var<uniform> params: Params;
var<workgroup> tileA: array<array<f32, 16>, 64>;
var<workgroup> tileB: array<array<f32, 64>, 16>;
@compute @workgroup_size(16, 16)
fn main(@builtin(local_invocation_id) lid: vec3u, @builtin(workgroup_id) wg: vec3u) {
  let row0 = wg.y * 64u;
  let col0 = wg.x * 64u;
  let flat = lid.y * 16u + lid.x;
  var acc: array<vec4<f32>, 4>;
  for (var k0 = 0u; k0 < params.k; k0 += 16u) {
    for (var l = 0u; l < 4u; l++) {
      let e = flat + l * 256u;
      let ar = e / 16u; let ak = e % 16u;
      let gr = row0 + ar; let gk = k0 + ak;
      tileA[ar][ak] = select(0.0, a[gr * params.k + gk], gr < params.m && gk < params.k);
      let bk = e / 64u; let bc = e % 64u;
      let gk2 = k0 + bk; let gc = col0 + bc;
      tileB[bk][bc] = select(0.0, b[gk2 * params.n + gc], gk2 < params.k && gc < params.n);
    }
    workgroupBarrier();
    for (var kk = 0u; kk < 16u; kk++) {
      let bv = vec4<f32>(tileB[kk][lid.x * 4u], tileB[kk][lid.x * 4u + 1u], tileB[kk][lid.x * 4u + 2u], tileB[kk][lid.x * 4u + 3u]);
      for (var r = 0u; r < 4u; r++) { acc[r] += tileA[lid.y * 4u + r][kk] * bv; }
    }
    workgroupBarrier();
  }
  for (var r = 0u; r < 4u; r++) {
    let gr = row0 + lid.y * 4u + r;
    for (var j = 0u; j < 4u; j++) {
      let gc = col0 + lid.x * 4u + j;
      if (gr < params.m && gc < params.n) { c[gr * params.n + gc] = acc[r][j]; }
    }
  }
}`;

const TRANSPOSE = `struct Params { rows: u32, cols: u32, pad0: u32, pad1: u32 }
@group(0) @binding(0) var<storage, read> src: array<f32>;
@group(0) @binding(1) var<storage, read_write> dst: array<f32>;
@group(0) @binding(2) var<uniform> params: Params;
var<workgroup> tile: array<array<f32, 17>, 16>;
@compute @workgroup_size(16, 16)
fn main(@builtin(local_invocation_id) lid: vec3u, @builtin(workgroup_id) wg: vec3u) {
  let r = wg.y * 16u + lid.y;
  let c = wg.x * 16u + lid.x;
  if (r < params.rows && c < params.cols) { tile[lid.y][lid.x] = src[r * params.cols + c]; }
  workgroupBarrier();
  let tr = wg.x * 16u + lid.y;
  let tc = wg.y * 16u + lid.x;
  if (tr < params.cols && tc < params.rows) { dst[tr * params.rows + tc] = tile[lid.x][lid.y]; }
}`;

function check2d(what: string, x: unknown): asserts x is GpuArray<'f32'> {
  if (!(x instanceof GpuArray)) {
    throw new InvalidArgumentError(
      'SKEIN_GPU_INVALID_ARGUMENT',
      `${what} must be a GpuArray (got ${String(x)})`,
    );
  }
  if (x.dtype !== 'f32') {
    throw new InvalidArgumentError(
      'SKEIN_GPU_DTYPE_MISMATCH',
      `${what} must be f32 (got ${x.dtype}); linalg works on f32 arrays`,
    );
  }
  if (x.ndim !== 2) {
    throw new InvalidArgumentError(
      'SKEIN_GPU_SHAPE_MISMATCH',
      `${what} must be 2-d (got shape [${x.shape.join(', ')}]); reshape() it`,
    );
  }
}

type KernelName =
  | MatmulVariant
  | 'tiled-vec4-exact'
  | 'tiled-vec4-small'
  | 'tiled-vec4-small-exact'
  | 'transpose';

/** Compiled linear-algebra kernels for one device. Make with linalg(device). */
export class Linalg {
  readonly device: GpuDevice;
  /** The matmul variant chosen for this adapter (see the file header). */
  readonly matmulVariant: 'blocked-vec4' | 'tiled-vec4';
  /** The tile shapes of the 'tiled-vec4' variant (see LinalgOptions). */
  readonly matmulTile: TileShape;
  readonly matmulSmallTile: TileShape;
  readonly #kernels: Record<KernelName, Kernel>;
  readonly #axpy: ElementwiseKernel;
  readonly #dot: ReductionKernel;

  /** @internal Use linalg(). */
  constructor(
    device: GpuDevice,
    kernels: Record<KernelName, Kernel>,
    axpy: ElementwiseKernel,
    dot: ReductionKernel,
    tiles: { large: TileShape; small: TileShape },
  ) {
    this.device = device;
    this.matmulVariant = device.adapter.software ? 'blocked-vec4' : 'tiled-vec4';
    this.matmulTile = tiles.large;
    this.matmulSmallTile = tiles.small;
    this.#kernels = kernels;
    this.#axpy = axpy;
    this.#dot = dot;
  }

  /**
   * C = A @ B for f32 A [m, k] and B [k, n], into a new [m, n] array (or `out`).
   * @throws SKEIN_GPU_SHAPE_MISMATCH when the inner dimensions differ or out has another shape.
   */
  matmul(
    a: GpuArray,
    b: GpuArray,
    options: { out?: GpuArray; variant?: MatmulVariant } = {},
  ): GpuArray<'f32'> {
    check2d('matmul a', a);
    check2d('matmul b', b);
    const [m, k] = a.shape as [number, number];
    const [k2, n] = b.shape as [number, number];
    if (k !== k2) {
      throw new InvalidArgumentError(
        'SKEIN_GPU_SHAPE_MISMATCH',
        `matmul: a is [${m}, ${k}] and b is [${k2}, ${n}]; a's columns must equal b's rows`,
      );
    }
    const out = options.out ?? empty(this.device, [m, n], 'f32');
    check2d('matmul out', out);
    if (out.shape[0] !== m || out.shape[1] !== n) {
      throw new InvalidArgumentError(
        'SKEIN_GPU_SHAPE_MISMATCH',
        `matmul: out is [${out.shape.join(', ')}]; it must be [${m}, ${n}]`,
      );
    }
    this.matmulInto(a, b, out, options.variant);
    return out;
  }

  /** @internal The dispatch of matmul, returning its event. */
  matmulInto(a: GpuArray, b: GpuArray, out: GpuArray, variant?: MatmulVariant): GpuEvent | undefined {
    const [m, k] = a.shape as [number, number];
    const n = b.shape[1]!;
    if (m === 0 || n === 0) return undefined;
    if (k === 0) {
      out.fill(0);
      return undefined;
    }
    let chosen = variant ?? this.matmulVariant;
    const vec4Shape = n % 4 === 0 && k % 4 === 0;
    if (chosen === 'blocked-vec4' && !vec4Shape) chosen = 'blocked';
    if (chosen === 'tiled-vec4' && !vec4Shape) chosen = 'tiled';
    const params = { m, n, k, pad: 0 };
    const values = { a, b, c: out, params };
    if (chosen === 'tiled-vec4') {
      const large = this.matmulTile;
      const small = Math.ceil(n / large.bn) * Math.ceil(m / large.bm) < SMALL_GRID_WORKGROUPS;
      // Sizes that fill every tile take the kernel whose global loads and stores carry no bounds clamps
      // (on an NVIDIA H200, 4096² went from 35 to 41-43 TFLOP/s with them gone).
      const tile = small ? this.matmulSmallTile : large;
      const exact = m % tile.bm === 0 && n % tile.bn === 0 && k % tile.bk === 0;
      const [wx, wy] = tileWorkgroup(tile);
      const name = `tiled-vec4${small ? '-small' : ''}${exact ? '-exact' : ''}` as const;
      return this.#kernels[name].run(values, {
        global: [Math.ceil(n / tile.bn) * wx, Math.ceil(m / tile.bm) * wy],
      });
    }
    if (chosen === 'tiled')
      return this.#kernels.tiled.run(values, { global: [Math.ceil(n / 64) * 16, Math.ceil(m / 64) * 16] });
    const global = [Math.ceil(n / 4), Math.ceil(m / (chosen === 'blocked-vec4' ? VEC4_ROWS : 4))];
    return this.#kernels[chosen].run(values, { global });
  }

  /** The transpose of a 2-d f32 array, as a new array. */
  transpose(x: GpuArray): GpuArray<'f32'> {
    check2d('transpose x', x);
    const [rows, cols] = x.shape as [number, number];
    const out = empty(this.device, [cols, rows], 'f32');
    if (rows > 0 && cols > 0) {
      this.#kernels.transpose.run(
        { src: x, dst: out, params: { rows, cols, pad0: 0, pad1: 0 } },
        { global: [cols, rows] },
      );
    }
    return out;
  }

  /** y = alpha * x + y in place (BLAS saxpy). */
  axpy(alpha: number, x: GpuArray, y: GpuArray): GpuEvent {
    return this.#axpy.run({ alpha, x, y });
  }

  /** The dot product of two f32 vectors of equal length. */
  dot(x: GpuArray, y: GpuArray): Promise<number> {
    return this.#dot.run({ x, y });
  }
}

/**
 * Compiles the linear-algebra kernels on `device`.
 * @example
 * const la = await linalg(device);
 * using c = la.matmul(a, b);
 */
export async function linalg(device: GpuDevice, options: LinalgOptions = {}): Promise<Linalg> {
  const large = options.matmulTile ?? GPU_TILE_SHAPE;
  const small = options.matmulSmallTile ?? GPU_SMALL_TILE_SHAPE;
  for (const [name, shape] of [
    ['matmulTile', large],
    ['matmulSmallTile', small],
  ] as const) {
    const problem = tileShapeProblem(shape, device.limits.maxComputeInvocationsPerWorkgroup);
    if (problem !== undefined) {
      throw new InvalidArgumentError('SKEIN_GPU_INVALID_ARGUMENT', `linalg ${name}: ${problem}`);
    }
  }
  const [
    blockedVec4,
    blocked,
    tiledVec4,
    tiledVec4Exact,
    tiledVec4Small,
    tiledVec4SmallExact,
    tiled,
    transpose,
    axpy,
    dot,
  ] = await Promise.all([
    compileKernel(device, BLOCKED_VEC4, { name: 'matmul:blocked-vec4' }),
    compileKernel(device, BLOCKED, { name: 'matmul:blocked' }),
    compileKernel(device, tiledVec4Source({ ...large, exact: false }), { name: 'matmul:tiled-vec4' }),
    compileKernel(device, tiledVec4Source({ ...large, exact: true }), { name: 'matmul:tiled-vec4-exact' }),
    compileKernel(device, tiledVec4Source({ ...small, exact: false }), { name: 'matmul:tiled-vec4-small' }),
    compileKernel(device, tiledVec4Source({ ...small, exact: true }), {
      name: 'matmul:tiled-vec4-small-exact',
    }),
    compileKernel(device, TILED, { name: 'matmul:tiled' }),
    compileKernel(device, TRANSPOSE, { name: 'transpose' }),
    elementwise(device, 'y = alpha * x + y', { alpha: 'f32', x: 'f32[]', y: 'f32[]' }, { name: 'axpy' }),
    reduction(device, { map: 'x * y', args: { x: 'f32[]', y: 'f32[]' }, name: 'dot' }),
  ]);
  return new Linalg(
    device,
    {
      'blocked-vec4': blockedVec4,
      blocked,
      'tiled-vec4': tiledVec4,
      'tiled-vec4-exact': tiledVec4Exact,
      'tiled-vec4-small': tiledVec4Small,
      'tiled-vec4-small-exact': tiledVec4SmallExact,
      tiled,
      transpose,
    },
    axpy,
    dot,
    { large, small },
  );
}
