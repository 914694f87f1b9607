// What a WGSL kernel declares, read from its source: resource bindings by name, the entry point's
// workgroup size, and the memory layout of uniform structs (WGSL's alignment rules), so callers bind by
// name and pass uniforms as plain numbers and objects.

import { InvalidArgumentError } from '../errors.ts';

export type BindingKind = 'storage' | 'read-only-storage' | 'uniform';

export interface BindingInfo {
  readonly name: string;
  readonly group: number;
  readonly binding: number;
  readonly kind: BindingKind;
  /** The declared WGSL type, e.g. 'array<f32>' or 'Params'. */
  readonly type: string;
}

export interface FieldLayout {
  readonly name: string;
  /** Scalar type of each component: f32, i32, u32 or f16. */
  readonly scalar: string;
  readonly components: number;
  readonly offset: number;
}

export interface UniformLayout {
  readonly fields: readonly FieldLayout[];
  /** Bytes, rounded up to 16 (uniform buffers want it). */
  readonly size: number;
  /** True when the type is one scalar or vector (bound as a number or number[]), not a struct. */
  readonly bare: boolean;
}

const STRIP_COMMENTS = /\/\/[^\n]*|\/\*[\s\S]*?\*\//g;

/** The source with comments blanked out (same length and line breaks, so positions stay valid). */
export function withoutComments(source: string): string {
  return source.replace(STRIP_COMMENTS, (comment) => comment.replace(/[^\n]/g, ' '));
}

const VAR_DECL = /((?:@\w+\s*\(\s*\d+\s*\)\s*)+)var\s*<\s*(\w+)\s*(?:,\s*(\w+)\s*)?>\s*(\w+)\s*:\s*([^;]+);/g;

export function parseBindings(source: string): BindingInfo[] {
  const found: BindingInfo[] = [];
  for (const match of withoutComments(source).matchAll(VAR_DECL)) {
    const attributes = match[1]!;
    const group = /@group\s*\(\s*(\d+)\s*\)/.exec(attributes);
    const binding = /@binding\s*\(\s*(\d+)\s*\)/.exec(attributes);
    if (group === null || binding === null) continue;
    const space = match[2]!;
    const access = match[3] ?? 'read';
    if (space !== 'storage' && space !== 'uniform') continue;
    found.push({
      name: match[4]!,
      group: Number(group[1]),
      binding: Number(binding[1]),
      kind: space === 'uniform' ? 'uniform' : access === 'read_write' ? 'storage' : 'read-only-storage',
      type: match[5]!.trim().replace(/\s+/g, ''),
    });
  }
  return found;
}

/** The first @compute function's name, or undefined when the source has none. */
export function firstComputeEntry(source: string): string | undefined {
  return /@compute[^{;]*?fn\s+(\w+)/.exec(withoutComments(source))?.[1];
}

/** The literal @workgroup_size of `entry` (missing dimensions are 1), or undefined if not literal. */
export function workgroupSizeOf(source: string, entry: string): [number, number, number] | undefined {
  const text = withoutComments(source);
  const at = new RegExp(`\\bfn\\s+${entry}\\s*\\(`).exec(text);
  if (at === null) return undefined;
  const before = text.slice(0, at.index);
  const start = Math.max(before.lastIndexOf('}'), before.lastIndexOf(';')) + 1;
  const size = /@workgroup_size\s*\(([^)]*)\)/.exec(before.slice(start));
  if (size === null) return undefined;
  const parts = size[1]!
    .split(',')
    .map((part) => part.trim())
    .filter((part) => part !== '');
  const numbers = parts.map((part) => Number(part.replace(/[iu]$/, '')));
  if (numbers.length === 0 || numbers.some((n) => !Number.isInteger(n) || n < 1)) return undefined;
  return [numbers[0]!, numbers[1] ?? 1, numbers[2] ?? 1];
}

const SHORT_VECTORS: Record<string, [string, number]> = {};
for (const n of [2, 3, 4]) {
  for (const [suffix, scalar] of [
    ['f', 'f32'],
    ['i', 'i32'],
    ['u', 'u32'],
    ['h', 'f16'],
  ] as const) {
    SHORT_VECTORS[`vec${n}${suffix}`] = [scalar, n];
  }
}

/** Scalar type and component count of a WGSL scalar or vector type, or undefined for anything else. */
function scalarOrVector(type: string): [string, number] | undefined {
  if (['f32', 'i32', 'u32', 'f16'].includes(type)) return [type, 1];
  const short = SHORT_VECTORS[type];
  if (short !== undefined) return short;
  const long = /^vec([234])<(f32|i32|u32|f16)>$/.exec(type);
  return long === null ? undefined : [long[2]!, Number(long[1])];
}

function alignOf(scalar: string, components: number): { align: number; size: number } {
  const bytes = scalar === 'f16' ? 2 : 4;
  const align = components === 1 ? bytes : components === 2 ? 2 * bytes : 4 * bytes;
  return { align, size: components * bytes };
}

function structFields(source: string, name: string): { name: string; type: string }[] | undefined {
  const match = new RegExp(`\\bstruct\\s+${name}\\s*\\{([^}]*)\\}`).exec(withoutComments(source));
  if (match === null) return undefined;
  return match[1]!
    .split(/[,;]/)
    .map((field) => field.replace(/@\w+\s*(\([^)]*\))?/g, '').trim())
    .filter((field) => field !== '')
    .map((field) => {
      const [fieldName, type] = field.split(':').map((part) => part.trim().replace(/\s+/g, ''));
      return { name: fieldName ?? '', type: type ?? '' };
    });
}

/**
 * The host layout of a uniform's type: a scalar, a vector, or a struct of scalars and vectors.
 * @throws SKEIN_GPU_INVALID_ARGUMENT for other types (matrices, arrays, nested structs): bind those as a
 * storage buffer instead.
 */
export function uniformLayout(source: string, binding: BindingInfo): UniformLayout {
  const bare = scalarOrVector(binding.type);
  if (bare !== undefined) {
    const { size } = alignOf(bare[0], bare[1]);
    return {
      fields: [{ name: binding.name, scalar: bare[0], components: bare[1], offset: 0 }],
      size: Math.ceil(size / 16) * 16,
      bare: true,
    };
  }
  const fields = structFields(source, binding.type);
  if (fields === undefined) {
    throw new InvalidArgumentError(
      'SKEIN_GPU_INVALID_ARGUMENT',
      `uniform ${binding.name} has type ${binding.type}, which Skein cannot fill from numbers; use scalars, vectors or a struct of them`,
    );
  }
  let offset = 0;
  let maxAlign = 4;
  const laid: FieldLayout[] = [];
  for (const field of fields) {
    const shape = scalarOrVector(field.type);
    if (shape === undefined) {
      throw new InvalidArgumentError(
        'SKEIN_GPU_INVALID_ARGUMENT',
        `uniform ${binding.name}: field ${field.name} has type ${field.type}; Skein fills uniform structs of scalars and vectors only`,
      );
    }
    const { align, size } = alignOf(shape[0], shape[1]);
    offset = Math.ceil(offset / align) * align;
    laid.push({ name: field.name, scalar: shape[0], components: shape[1], offset });
    offset += size;
    maxAlign = Math.max(maxAlign, align);
  }
  const size = Math.ceil((Math.ceil(offset / maxAlign) * maxAlign) / 16) * 16;
  return { fields: laid, size: Math.max(size, 16), bare: false };
}

function componentsOf(value: unknown, what: string, components: number): number[] {
  const list = typeof value === 'number' ? [value] : Array.isArray(value) ? value : undefined;
  if (list === undefined || list.length !== components || list.some((v) => typeof v !== 'number')) {
    throw new InvalidArgumentError(
      'SKEIN_GPU_INVALID_ARGUMENT',
      `${what} needs ${components === 1 ? 'a number' : `${components} numbers`} (got ${JSON.stringify(value)})`,
    );
  }
  return list as number[];
}

/** Packs a uniform value (number, number[] or an object of fields) into its buffer bytes. */
export function packUniform(layout: UniformLayout, name: string, value: unknown): ArrayBuffer {
  const bytes = new ArrayBuffer(layout.size);
  const view = new DataView(bytes);
  const put = (field: FieldLayout, raw: unknown, what: string): void => {
    const values = componentsOf(raw, what, field.components);
    const step = field.scalar === 'f16' ? 2 : 4;
    values.forEach((v, i) => {
      const at = field.offset + i * step;
      if (field.scalar === 'f32') view.setFloat32(at, v, true);
      else if (field.scalar === 'f16') view.setFloat16(at, v, true);
      else if (!Number.isInteger(v)) {
        throw new InvalidArgumentError(
          'SKEIN_GPU_INVALID_ARGUMENT',
          `${what} is ${field.scalar} and needs integers (got ${v})`,
        );
      } else if (field.scalar === 'i32') view.setInt32(at, v, true);
      else view.setUint32(at, v, true);
    });
  };
  if (layout.bare) {
    put(layout.fields[0]!, value, `uniform ${name}`);
    return bytes;
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new InvalidArgumentError(
      'SKEIN_GPU_INVALID_ARGUMENT',
      `uniform ${name} is a struct: pass an object with ${layout.fields.map((f) => f.name).join(', ')} (got ${JSON.stringify(value)})`,
    );
  }
  const record = value as Record<string, unknown>;
  for (const key of Object.keys(record)) {
    if (!layout.fields.some((field) => field.name === key)) {
      throw new InvalidArgumentError(
        'SKEIN_GPU_INVALID_ARGUMENT',
        `uniform ${name} has no field ${key}; its fields are ${layout.fields.map((f) => f.name).join(', ')}`,
      );
    }
  }
  for (const field of layout.fields) put(field, record[field.name], `uniform ${name}.${field.name}`);
  return bytes;
}
