// Elementwise kernels from an expression (PyOpenCL's ElementwiseKernel): "y = a * x + b" over arrays
// x, y and scalars a, b. Array names stand for their element i, scalars for uniforms; n is the length.
// Compile errors point into the expression.

import { InvalidArgumentError } from '../errors.ts';
import { GpuArray } from './array.ts';
import type { GpuDevice } from './device.ts';
import { wgslPrelude } from './dtype.ts';
import type { GpuEvent } from './event.ts';
import { type ArgSpec, type ArgType, assignedNames, parseArgs, regionMap, translate } from './expression.ts';
import { dispatchGrid, GENERATED_WORKGROUP } from './grid.ts';
import { compileKernel, type Kernel } from './kernel.ts';

export interface ElementwiseOptions {
  /** Kernel name in errors and traces. @defaultValue 'elementwise' */
  readonly name?: string;
}

/**
 * Compiles an elementwise kernel.
 * @example
 * const axpb = await elementwise(device, 'y = a * x + b', { y: 'f32[]', x: 'f32[]', a: 'f32', b: 'f32' });
 * axpb.run({ y, x, a: 2, b: 1 });
 * @throws SKEIN_GPU_COMPILE pointing into `expression`; SKEIN_GPU_INVALID_ARGUMENT for bad args.
 */
export async function elementwise(
  device: GpuDevice,
  expression: string,
  args: Readonly<Record<string, ArgType>>,
  options: ElementwiseOptions = {},
): Promise<ElementwiseKernel> {
  const name = options.name ?? 'elementwise';
  if (typeof expression !== 'string' || expression.trim() === '') {
    throw new InvalidArgumentError(
      'SKEIN_GPU_INVALID_ARGUMENT',
      `${name}: the expression must be non-empty WGSL text like "y = a * x + b"`,
    );
  }
  const specs = parseArgs(args, name);
  if (!specs.some((spec) => spec.array)) {
    throw new InvalidArgumentError(
      'SKEIN_GPU_INVALID_ARGUMENT',
      `${name}: at least one argument must be an array (type 'f32[]' …)`,
    );
  }
  const written = assignedNames(expression);
  const scalars = specs.filter((spec) => !spec.array);
  const arrays = specs.filter((spec) => spec.array);
  const f16 = specs.some((spec) => spec.dtype === 'f16');
  const header = [
    wgslPrelude(f16 ? 'f16' : 'f32'),
    `struct Params { n: u32, stride: u32, threads: u32, iters: u32, ${scalars.map((s) => `${s.name}: ${s.dtype}`).join(', ')} }`,
    ...arrays.map(
      (spec, k) =>
        `@group(0) @binding(${k}) var<storage, ${written.has(spec.name) ? 'read_write' : 'read'}> ${spec.name}: array<${spec.dtype}>;`,
    ),
    `@group(0) @binding(${arrays.length}) var<uniform> params: Params;`,
    `@compute @workgroup_size(${GENERATED_WORKGROUP})`,
    'fn main(@builtin(global_invocation_id) gid: vec3u) {',
    '  let n = params.n;',
    '  let base = gid.x + gid.y * params.stride;',
    '  for (var skein_k = 0u; skein_k < params.iters; skein_k++) {',
    '    let i = base + skein_k * params.threads;',
    '    if (i >= n) { break; }',
  ]
    .join('\n')
    .split('\n');
  const byName = new Map(specs.map((spec) => [spec.name, spec]));
  const body = translate(
    expression.trim().endsWith(';') || expression.trim().endsWith('}')
      ? expression.trim()
      : `${expression.trim()};`,
    (token) => {
      const spec = byName.get(token);
      if (spec === undefined) return undefined;
      return spec.array ? `${spec.name}[i]` : `params.${spec.name}`;
    },
    '    ',
  );
  const source = [...header, ...body.lines, '  }', '}'].join('\n');
  const kernel = await compileKernel(device, source, {
    name,
    entryPoint: 'main',
    sourceMap: regionMap(header.length + 1, body),
  });
  return new ElementwiseKernel(name, kernel, specs, source);
}

/** A compiled elementwise kernel. */
export class ElementwiseKernel {
  readonly name: string;
  /** The generated WGSL (for reading; errors already point into the expression). */
  readonly source: string;
  readonly #kernel: Kernel;
  readonly #specs: readonly ArgSpec[];

  /** @internal Use elementwise(). */
  constructor(name: string, kernel: Kernel, specs: readonly ArgSpec[], source: string) {
    this.name = name;
    this.#kernel = kernel;
    this.#specs = specs;
    this.source = source;
  }

  /**
   * Runs over every element. All arrays must have the same length and the declared dtypes.
   * @throws SKEIN_GPU_SHAPE_MISMATCH for arrays of different lengths; SKEIN_GPU_DTYPE_MISMATCH for a wrong dtype.
   */
  run(values: Readonly<Record<string, GpuArray | number>>): GpuEvent {
    let n: number | undefined;
    let first = '';
    const uniform: Record<string, number> = {};
    const bindings: Record<string, GpuArray | Record<string, number>> = {};
    for (const spec of this.#specs) {
      const value = values[spec.name];
      if (spec.array) {
        if (!(value instanceof GpuArray)) {
          throw new InvalidArgumentError(
            'SKEIN_GPU_INVALID_ARGUMENT',
            `${this.name}: ${spec.name} must be a GpuArray of ${spec.dtype} (got ${String(value)})`,
          );
        }
        if (value.dtype !== spec.dtype) {
          throw new InvalidArgumentError(
            'SKEIN_GPU_DTYPE_MISMATCH',
            `${this.name}: ${spec.name} must be ${spec.dtype} (got a ${value.dtype} array)`,
          );
        }
        if (n === undefined) {
          n = value.length;
          first = spec.name;
        } else if (value.length !== n) {
          throw new InvalidArgumentError(
            'SKEIN_GPU_SHAPE_MISMATCH',
            `${this.name}: ${spec.name} has ${value.length} elements [${value.shape.join(', ')}] but ${first} has ${n}; elementwise arrays must have equal lengths`,
          );
        }
        bindings[spec.name] = value;
      } else {
        if (typeof value !== 'number') {
          throw new InvalidArgumentError(
            'SKEIN_GPU_INVALID_ARGUMENT',
            `${this.name}: ${spec.name} must be a number (got ${String(value)})`,
          );
        }
        uniform[spec.name] = value;
      }
    }
    for (const key of Object.keys(values)) {
      if (!this.#specs.some((spec) => spec.name === key)) {
        throw new InvalidArgumentError(
          'SKEIN_GPU_INVALID_ARGUMENT',
          `${this.name} has no argument ${key}; it takes ${this.#specs.map((s) => s.name).join(', ')}`,
        );
      }
    }
    const grid = dispatchGrid(this.#kernel.device, n!);
    return this.#kernel.run(
      {
        ...bindings,
        params: { n: n!, stride: grid.stride, threads: grid.threads, iters: grid.iters, ...uniform },
      },
      { global: grid.global },
    );
  }
}
