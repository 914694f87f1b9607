// The typed-array kinds the codec carries, each with a fixed one-byte number on the wire. The numbers
// never change; Float16Array takes its number even where the runtime lacks the class, so a decoder
// without it reports the kind as unsupported instead of misreading the bytes.

type TypedArrayConstructor = new (
  buffer: ArrayBuffer,
  byteOffset?: number,
  length?: number,
) => ArrayBufferView;

interface TypedArrayKind {
  readonly name: string;
  readonly Class: TypedArrayConstructor | undefined;
  readonly bytesPerElement: number;
}

const float16 = (globalThis as { Float16Array?: TypedArrayConstructor }).Float16Array;

/** Index = wire number. 0 is never used, so a zeroed byte is not a valid kind. */
export const TYPED_ARRAY_KINDS: readonly (TypedArrayKind | undefined)[] = [
  undefined,
  { name: 'Int8Array', Class: Int8Array, bytesPerElement: 1 },
  { name: 'Uint8Array', Class: Uint8Array, bytesPerElement: 1 },
  { name: 'Uint8ClampedArray', Class: Uint8ClampedArray, bytesPerElement: 1 },
  { name: 'Int16Array', Class: Int16Array, bytesPerElement: 2 },
  { name: 'Uint16Array', Class: Uint16Array, bytesPerElement: 2 },
  { name: 'Int32Array', Class: Int32Array, bytesPerElement: 4 },
  { name: 'Uint32Array', Class: Uint32Array, bytesPerElement: 4 },
  { name: 'Float32Array', Class: Float32Array, bytesPerElement: 4 },
  { name: 'Float64Array', Class: Float64Array, bytesPerElement: 8 },
  { name: 'BigInt64Array', Class: BigInt64Array, bytesPerElement: 8 },
  { name: 'BigUint64Array', Class: BigUint64Array, bytesPerElement: 8 },
  { name: 'Float16Array', Class: float16, bytesPerElement: 2 },
];

/** Typed-array class name (its Symbol.toStringTag) → wire number. */
export const TYPED_ARRAY_KIND_BY_NAME: ReadonlyMap<string, number> = new Map(
  TYPED_ARRAY_KINDS.flatMap((kind, index) => (kind === undefined ? [] : [[kind.name, index] as const])),
);

const typedArrayTag = Object.getOwnPropertyDescriptor(
  Object.getPrototypeOf(Uint8Array.prototype) as object,
  Symbol.toStringTag,
)!.get!;

/**
 * The class name of a typed array ("Float64Array"), read from the engine's internal slot rather than
 * from the constructor, so subclasses and Buffer answer with their base kind; undefined for a DataView.
 */
export function typedArrayName(view: ArrayBufferView): string | undefined {
  return typedArrayTag.call(view) as string | undefined;
}
