// Typed arrays on the buffer path: an element type code travels in the frame header so the receiver
// rebuilds the same kind of array, or checks that the caller's buffer has it. No serialization: the
// bytes of the view are the payload.

export type TypedArray =
  | Int8Array
  | Uint8Array
  | Uint8ClampedArray
  | Int16Array
  | Uint16Array
  | Int32Array
  | Uint32Array
  | Float32Array
  | Float64Array
  | BigInt64Array
  | BigUint64Array;

type TypedArrayConstructor = new (
  buffer: ArrayBufferLike,
  byteOffset?: number,
  length?: number,
) => TypedArray;

const CONSTRUCTORS: readonly TypedArrayConstructor[] = [
  Int8Array,
  Uint8Array,
  Uint8ClampedArray,
  Int16Array,
  Uint16Array,
  Int32Array,
  Uint32Array,
  Float32Array,
  Float64Array,
  BigInt64Array,
  BigUint64Array,
];

/** The header's dtype of a typed array: 1 + its index above (0 means a codec value). */
export function dtypeOf(view: TypedArray): number {
  const index = CONSTRUCTORS.indexOf(view.constructor as TypedArrayConstructor);
  return index + 1;
}

export function isTypedArray(value: unknown): value is TypedArray {
  return ArrayBuffer.isView(value) && !(value instanceof DataView);
}

/** The element type names by dtype (0: a codec value), read once: a constructor's name is a property load. */
const DTYPE_NAMES: readonly string[] = ['value', ...CONSTRUCTORS.map((Ctor) => Ctor.name)];

export function dtypeName(dtype: number): string {
  return DTYPE_NAMES[dtype] ?? 'value';
}

/** A view of `bytes` as the typed array `dtype` names; copies when the bytes are not aligned for it. */
export function typedFromBytes(dtype: number, bytes: Uint8Array): TypedArray {
  const Ctor = CONSTRUCTORS[dtype - 1];
  if (Ctor === undefined) throw new RangeError(`unknown element type ${dtype}`);
  const width = (Ctor as unknown as { BYTES_PER_ELEMENT: number }).BYTES_PER_ELEMENT;
  if (bytes.byteOffset % width !== 0) bytes = bytes.slice();
  return new Ctor(bytes.buffer, bytes.byteOffset, bytes.byteLength / width);
}

/** A new zeroed typed array of the same kind as `like`. */
export function allocLike<T extends TypedArray>(like: T, length: number): T {
  return new (like.constructor as new (length: number) => T)(length);
}

export function bytesOf(view: TypedArray): Uint8Array {
  // A plain Uint8Array is its own bytes (not a subclass such as Buffer, whose methods differ).
  if (view.constructor === Uint8Array) return view as Uint8Array;
  return new Uint8Array(view.buffer, view.byteOffset, view.byteLength);
}
