// Element types of GPU arrays: their WGSL names, byte sizes and the host typed arrays that carry them.
// f16 needs the adapter's shader-f16 feature; on the host it is a Float16Array (Node 24).

import { InvalidArgumentError } from '../errors.ts';

export type DType = 'f32' | 'i32' | 'u32' | 'f16';

export type HostArray = Float32Array | Int32Array | Uint32Array | Float16Array;

/** The host array type that carries each dtype. */
export interface HostArrayOf {
  f32: Float32Array;
  i32: Int32Array;
  u32: Uint32Array;
  f16: Float16Array;
}

export interface DTypeInfo {
  readonly name: DType;
  readonly bytes: number;
  readonly wgsl: string;
  readonly host: {
    new (length: number): HostArray;
    new (buffer: ArrayBuffer, byteOffset?: number, length?: number): HostArray;
    from(values: readonly number[]): HostArray;
  };
  /** WGSL expressions of the type's lowest and highest values (infinities for floats; need WGSL_PRELUDE). */
  readonly lowest: string;
  readonly highest: string;
}

export const DTYPES: Readonly<Record<DType, DTypeInfo>> = Object.freeze({
  f32: {
    name: 'f32',
    bytes: 4,
    wgsl: 'f32',
    host: Float32Array,
    lowest: 'skein_f32_bits(0xff800000u)',
    highest: 'skein_f32_bits(0x7f800000u)',
  },
  i32: {
    name: 'i32',
    bytes: 4,
    wgsl: 'i32',
    host: Int32Array,
    lowest: 'i32(-2147483648)',
    highest: '2147483647i',
  },
  u32: { name: 'u32', bytes: 4, wgsl: 'u32', host: Uint32Array, lowest: '0u', highest: '4294967295u' },
  f16: {
    name: 'f16',
    bytes: 2,
    wgsl: 'f16',
    host: Float16Array,
    lowest: 'skein_f16_bits(0xfc00u)',
    highest: 'skein_f16_bits(0x7c00u)',
  },
} satisfies Record<DType, DTypeInfo>);

export function isDType(value: unknown): value is DType {
  return typeof value === 'string' && Object.hasOwn(DTYPES, value);
}

/** Validates a dtype name given by a caller. */
export function dtypeInfo(value: unknown, what = 'dtype'): DTypeInfo {
  if (!isDType(value)) {
    throw new InvalidArgumentError(
      'SKEIN_GPU_INVALID_ARGUMENT',
      `${what} must be one of 'f32', 'i32', 'u32', 'f16' (got ${String(value)})`,
    );
  }
  return DTYPES[value];
}

/** The dtype a host typed array carries, or undefined for other arrays. */
export function dtypeOfHost(data: unknown): DType | undefined {
  if (data instanceof Float32Array) return 'f32';
  if (data instanceof Int32Array) return 'i32';
  if (data instanceof Uint32Array) return 'u32';
  if (data instanceof Float16Array) return 'f16';
  return undefined;
}

/**
 * Helpers generated kernels include. Infinities go through a function because WGSL rejects a constant
 * expression whose value is infinite; a call to a user function is not a constant expression.
 */
export function wgslPrelude(dtype: DType): string {
  const f16 = dtype === 'f16';
  return [
    f16 ? 'enable f16;' : '',
    'fn skein_f32_bits(b: u32) -> f32 { return bitcast<f32>(b); }',
    f16 ? 'fn skein_f16_bits(b: u32) -> f16 { return bitcast<vec2<f16>>(b).x; }' : '',
  ]
    .filter((line) => line !== '')
    .join('\n');
}
