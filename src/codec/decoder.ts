// The decoder: bytes → one value. Invariant: every read is bounds-checked and every count is checked
// against the bytes left before anything is allocated, so any input either decodes or throws
// SKEIN_CODEC_CORRUPT; payloads are copied out, never aliased, so shared memory never leaks into a result.

import { InvalidArgumentError, SkeinError } from '../errors.ts';
import { buildError } from './error-values.ts';
import { noteFreshView } from './fresh-views.ts';
import { CODEC_LIMITS } from './limits.ts';
import * as T from './tags.ts';
import { TYPED_ARRAY_KINDS } from './typed-arrays.ts';
import { readUtf8 } from './utf8.ts';

const MAX_DEPTH = CODEC_LIMITS.maxDepth;
const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;
/** Strings up to this many bytes are decoded by hand when ASCII; longer ones go native. */
const ASCII_LOOP_MAX_BYTES = 24;
const EMPTY = new Uint8Array(0);
/** V8's largest bigint has 2^30 bits; a longer magnitude cannot have come from encode. */
const BIGINT_MAX_BYTES = 2 ** 27;

const floatScratch = new Float64Array(1);
const floatBytes = new Uint8Array(floatScratch.buffer);
const fromCharCode = String.fromCharCode;

// The input being decoded. decode() runs no user code, so one module-level cursor is safe.
let src: Uint8Array = EMPTY;
let pos = 0;
let end = 0;

/**
 * Decodes the one value that occupies all of `bytes`. Typed arrays, ArrayBuffers and DataViews in the
 * result are fresh copies: `bytes` may be a view into a SharedArrayBuffer and may be overwritten as soon
 * as decode returns.
 *
 * @example
 * decode(encode([1, 'two', 3n])); // [1, 'two', 3n]
 * @throws SkeinError SKEIN_CODEC_CORRUPT when the bytes are not exactly one valid encoding (truncated,
 *   trailing bytes, unknown tag, impossible length, nesting deeper than CODEC_LIMITS.maxDepth).
 */
export function decode(bytes: Uint8Array): unknown {
  if (!(bytes instanceof Uint8Array)) {
    throw new SkeinError(
      'SKEIN_CODEC_CORRUPT',
      `decode takes a Uint8Array (got ${bytes === null ? 'null' : typeof bytes}); pass the bytes encode returned`,
    );
  }
  // A Buffer's slice() aliases; a plain Uint8Array over the same memory makes every copy below a copy.
  src =
    bytes.constructor === Uint8Array ? bytes : new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.length);
  pos = 0;
  end = bytes.length;
  try {
    const value = read(0);
    if (pos !== end) throw corrupt(`${end - pos} bytes follow the value`);
    return value;
  } finally {
    src = EMPTY;
  }
}

function corrupt(what: string): SkeinError {
  return new SkeinError(
    'SKEIN_CODEC_CORRUPT',
    `Cannot decode: ${what} (at byte ${pos} of ${end}); decode only bytes that encode produced, whole`,
  );
}

function truncated(): SkeinError {
  return corrupt('the input ends inside a value');
}

function need(count: number): void {
  if (count > end - pos) throw truncated();
}

function read(depth: number): unknown {
  if (pos >= end) throw truncated();
  const tag = src[pos++]!;
  if (tag <= T.POSITIVE_FIXINT_MAX) return tag;
  if (tag < T.FIXARRAY) return readString(tag & T.FIXSTR_MAX_BYTES);
  if (tag < T.FIXOBJECT) return readArray(tag & T.FIX_CONTAINER_MAX, depth);
  if (tag < T.UNDEFINED) return readObject({}, tag & T.FIX_CONTAINER_MAX, depth);
  if (tag >= T.NEGATIVE_FIXINT) return tag - 0x100;
  switch (tag) {
    case T.UNDEFINED:
      return undefined;
    case T.NULL:
      return null;
    case T.FALSE:
      return false;
    case T.TRUE:
      return true;
    case T.INT8:
      need(1);
      return (src[pos++]! << 24) >> 24;
    case T.INT16: {
      need(2);
      const value = ((src[pos]! | (src[pos + 1]! << 8)) << 16) >> 16;
      pos += 2;
      return value;
    }
    case T.INT32: {
      need(4);
      const value = src[pos]! | (src[pos + 1]! << 8) | (src[pos + 2]! << 16) | (src[pos + 3]! << 24);
      pos += 4;
      return value;
    }
    case T.FLOAT64:
      return readFloat64();
    case T.BIGINT_POSITIVE:
      return readBigInt(false);
    case T.BIGINT_NEGATIVE:
      return readBigInt(true);
    case T.STR8:
      need(1);
      return readString(src[pos++]!);
    case T.STR32:
      return readString(readUint32());
    case T.ARRAY:
      return readArray(readVarint(), depth);
    case T.OBJECT:
      return readObject({}, readVarint(), depth);
    case T.NULL_PROTO_OBJECT:
      return readObject(Object.create(null) as Record<string, unknown>, readVarint(), depth);
    case T.MAP:
      return readMap(depth);
    case T.SET:
      return readSet(depth);
    case T.DATE:
      return new Date(readFloat64());
    case T.REGEXP:
      return readRegExp();
    case T.ARRAY_BUFFER:
      return readBytes().buffer;
    case T.TYPED_ARRAY:
      return readTypedArray();
    case T.DATA_VIEW:
      return new DataView(readBytes().buffer);
    case T.ERROR:
      return readError(depth);
    default:
      pos--;
      throw corrupt(`unknown tag 0x${tag.toString(16)}`);
  }
}

function readFloat64(): number {
  need(8);
  if (LITTLE_ENDIAN) {
    floatBytes[0] = src[pos]!;
    floatBytes[1] = src[pos + 1]!;
    floatBytes[2] = src[pos + 2]!;
    floatBytes[3] = src[pos + 3]!;
    floatBytes[4] = src[pos + 4]!;
    floatBytes[5] = src[pos + 5]!;
    floatBytes[6] = src[pos + 6]!;
    floatBytes[7] = src[pos + 7]!;
  } else {
    for (let i = 0; i < 8; i++) floatBytes[7 - i] = src[pos + i]!;
  }
  pos += 8;
  return floatScratch[0]!;
}

function readUint32(): number {
  need(4);
  const value = (src[pos]! | (src[pos + 1]! << 8) | (src[pos + 2]! << 16) | (src[pos + 3]! << 24)) >>> 0;
  pos += 4;
  return value;
}

/**
 * LEB128 up to 5 bytes; a count or length, so it must stay below 2^31. One and two bytes (lengths up to
 * 16 KiB) are read here, with no loop: small enough to be inlined where it is called.
 */
function readVarint(): number {
  if (pos >= end) throw truncated();
  const first = src[pos++]!;
  if (first < 0x80) return first;
  if (pos >= end) throw truncated();
  const second = src[pos++]!;
  if (second < 0x80) return (first & 0x7f) | (second << 7);
  return readLongVarint((first & 0x7f) | ((second & 0x7f) << 7));
}

/**
 * The third to fifth byte of a varint whose first two gave `low`. Each byte's weight is kept as a
 * running product: `2 ** shift` with a variable shift compiles to a call of the C library's pow.
 */
function readLongVarint(low: number): number {
  let value = low;
  let weight = 0x4000;
  for (let i = 2; i < 5; i++) {
    if (pos >= end) throw truncated();
    const byte = src[pos++]!;
    value += (byte & 0x7f) * weight;
    if (byte < 0x80) {
      if (value > CODEC_LIMITS.maxEncodedBytes) throw corrupt(`a length of ${value} bytes`);
      return value;
    }
    weight *= 0x80;
  }
  throw corrupt('a length longer than 5 bytes');
}

function readString(length: number): string {
  need(length);
  const start = pos;
  if (length <= ASCII_LOOP_MAX_BYTES) {
    let i = 0;
    while (i < length && src[start + i]! < 0x80) i++;
    if (i === length) {
      pos = start + length;
      return asciiString(start, length);
    }
  }
  pos = start + length;
  try {
    return readUtf8(src, start, start + length);
  } catch {
    // Only a string longer than the engine allows gets here; encode never produces one.
    pos = start;
    throw corrupt(`a string of ${length} bytes, longer than this runtime can hold`);
  }
}

/** Bytes [start, start + length) known to be ASCII, as a string; short lengths avoid a native call. */
function asciiString(start: number, length: number): string {
  const b = src;
  switch (length) {
    case 0:
      return '';
    case 1:
      return fromCharCode(b[start]!);
    case 2:
      return fromCharCode(b[start]!, b[start + 1]!);
    case 3:
      return fromCharCode(b[start]!, b[start + 1]!, b[start + 2]!);
    case 4:
      return fromCharCode(b[start]!, b[start + 1]!, b[start + 2]!, b[start + 3]!);
    case 5:
      return fromCharCode(b[start]!, b[start + 1]!, b[start + 2]!, b[start + 3]!, b[start + 4]!);
    case 6:
      return fromCharCode(
        b[start]!,
        b[start + 1]!,
        b[start + 2]!,
        b[start + 3]!,
        b[start + 4]!,
        b[start + 5]!,
      );
    case 7:
      return fromCharCode(
        b[start]!,
        b[start + 1]!,
        b[start + 2]!,
        b[start + 3]!,
        b[start + 4]!,
        b[start + 5]!,
        b[start + 6]!,
      );
    case 8:
      return fromCharCode(
        b[start]!,
        b[start + 1]!,
        b[start + 2]!,
        b[start + 3]!,
        b[start + 4]!,
        b[start + 5]!,
        b[start + 6]!,
        b[start + 7]!,
      );
    default:
      return asciiString(start, 8) + asciiString(start + 8, length - 8);
  }
}

/** An object key: any string tag, nothing else. */
function readKey(): string {
  if (pos >= end) throw truncated();
  const tag = src[pos++]!;
  if (tag >= T.FIXSTR && tag < T.FIXARRAY) {
    const length = tag & T.FIXSTR_MAX_BYTES;
    return length > 0 && length <= KEY_CACHE_MAX_BYTES ? cachedKey(length) : readString(length);
  }
  if (tag === T.STR8) {
    need(1);
    return readString(src[pos++]!);
  }
  if (tag === T.STR32) return readString(readUint32());
  pos--;
  throw corrupt(`an object key with tag 0x${tag.toString(16)}, not a string`);
}

// Object keys repeat from message to message. Handing back the same string for the same bytes saves
// building it and lets V8 find the property by an already internalized key. A slot is picked by the
// length and three of the bytes; a collision only replaces the slot.
const KEY_CACHE_SLOTS = 4096;
const KEY_CACHE_MAX_BYTES = 16;
const keyCacheStrings: string[] = new Array<string>(KEY_CACHE_SLOTS).fill('');
const keyCacheLengths = new Uint8Array(KEY_CACHE_SLOTS);
const keyCacheBytes = new Uint8Array(KEY_CACHE_SLOTS * KEY_CACHE_MAX_BYTES);

function cachedKey(length: number): string {
  need(length);
  const start = pos;
  const b = src;
  const slot =
    (length * 0x3b + b[start]! * 0x1f1 + b[start + (length >> 1)]! * 0x7f + b[start + length - 1]! * 0x0d) &
    (KEY_CACHE_SLOTS - 1);
  const base = slot * KEY_CACHE_MAX_BYTES;
  if (keyCacheLengths[slot] === length) {
    let i = 0;
    while (i < length && keyCacheBytes[base + i] === b[start + i]) i++;
    if (i === length) {
      pos = start + length;
      return keyCacheStrings[slot]!;
    }
  }
  const key = internalize(readString(length));
  keyCacheLengths[slot] = length;
  for (let i = 0; i < length; i++) keyCacheBytes[base + i] = b[start + i]!;
  keyCacheStrings[slot] = key;
  return key;
}

/**
 * The engine's canonical copy of a string: property names come back from Object.keys internalized, and
 * an internalized key skips a string-table lookup on every property store that uses it.
 */
function internalize(key: string): string {
  return Object.keys({ [key]: 0 })[0]!;
}

function enter(depth: number): void {
  if (depth >= MAX_DEPTH) throw corrupt(`values nested deeper than ${MAX_DEPTH} levels`);
}

function readArray(length: number, depth: number): unknown[] {
  enter(depth);
  // Every element takes at least one byte: a longer count is corrupt, and checking first means a
  // forged count cannot make us allocate.
  if (length > end - pos) throw truncated();
  const array: unknown[] = [];
  for (let i = 0; i < length; i++) array.push(read(depth + 1));
  return array;
}

function readObject(target: Record<string, unknown>, count: number, depth: number): Record<string, unknown> {
  enter(depth);
  if (count * 2 > end - pos) throw truncated();
  for (let i = 0; i < count; i++) {
    const key = readKey();
    const value = read(depth + 1);
    // An own "__proto__" key must stay a key, not become the prototype.
    if (key === '__proto__') {
      Object.defineProperty(target, key, { value, writable: true, enumerable: true, configurable: true });
    } else target[key] = value;
  }
  return target;
}

function readMap(depth: number): Map<unknown, unknown> {
  const count = readVarint();
  enter(depth);
  if (count * 2 > end - pos) throw truncated();
  const map = new Map<unknown, unknown>();
  for (let i = 0; i < count; i++) {
    const key = read(depth + 1);
    map.set(key, read(depth + 1));
  }
  return map;
}

function readSet(depth: number): Set<unknown> {
  const count = readVarint();
  enter(depth);
  if (count > end - pos) throw truncated();
  const set = new Set<unknown>();
  for (let i = 0; i < count; i++) set.add(read(depth + 1));
  return set;
}

function readBigInt(negative: boolean): bigint {
  const length = readVarint();
  need(length);
  if (length > BIGINT_MAX_BYTES) throw corrupt(`a bigint of ${length} bytes, more than V8 can hold`);
  let magnitude: bigint;
  if (length <= 6) {
    // Up to 48 bits fit a double exactly.
    let value = 0;
    for (let i = length - 1; i >= 0; i--) value = value * 256 + src[pos + i]!;
    magnitude = BigInt(value);
  } else {
    let hex = '0x';
    for (let i = length - 1; i >= 0; i--) hex += (src[pos + i]! + 0x100).toString(16).slice(1);
    magnitude = BigInt(hex);
  }
  pos += length;
  return negative ? -magnitude : magnitude;
}

/** A string value where the format requires one (RegExp source and flags, error fields). */
function readStringValue(what: string, depth: number): string {
  const value = read(depth);
  if (typeof value !== 'string') throw corrupt(`${what} is not a string`);
  return value;
}

function readRegExp(): RegExp {
  const source = readStringValue('a RegExp source', 0);
  const flags = readStringValue('a RegExp flags', 0);
  try {
    return new RegExp(source, flags);
  } catch {
    throw corrupt(`an invalid RegExp /${source}/${flags}`);
  }
}

/**
 * Typed arrays up to this many bytes are built on V8's heap (its typed-array-max-size-in-heap, 64):
 * decoding a Float64Array(1) by its bytes' ArrayBuffer took 346 ns here, through the scratch 113 ns.
 */
const SMALL_TYPED_MAX_BYTES = 64;
const smallTypedBytes = new Uint8Array(SMALL_TYPED_MAX_BYTES);
/** A view of smallTypedBytes per kind number, for slice(): undefined for Uint8Array and missing classes. */
const smallTypedViews: readonly ({ slice(start: number, end: number): ArrayBufferView } | undefined)[] =
  TYPED_ARRAY_KINDS.map((kind) =>
    kind?.Class === undefined || kind.Class === Uint8Array
      ? undefined
      : (new kind.Class(smallTypedBytes.buffer) as unknown as {
          slice(start: number, end: number): ArrayBufferView;
        }),
  );

/** A varint length, then that many bytes, copied into a fresh (never shared) buffer. */
function readBytes(): Uint8Array<ArrayBuffer> {
  const length = readVarint();
  need(length);
  // Uint8Array.prototype.slice allocates a new ArrayBuffer and copies in one block, also from shared memory.
  const copy = src.slice(pos, pos + length) as Uint8Array<ArrayBuffer>;
  pos += length;
  return copy;
}

function readTypedArray(): ArrayBufferView {
  need(1);
  const kindNumber = src[pos++]!;
  const kind = TYPED_ARRAY_KINDS[kindNumber];
  if (kind === undefined) {
    pos--;
    throw corrupt(`unknown typed array kind ${kindNumber}`);
  }
  const length = readVarint();
  need(length);
  const start = pos;
  pos += length;
  if (length % kind.bytesPerElement !== 0) {
    throw corrupt(`${kind.name} payload of ${length} bytes, not a multiple of ${kind.bytesPerElement}`);
  }
  if (kind.Class === undefined) {
    throw new InvalidArgumentError(
      'SKEIN_CODEC_UNSUPPORTED',
      `Cannot decode a ${kind.name}: this runtime (Node ${process.versions.node}) has no ${kind.name}; decode it where the class exists, or send another array type`,
    );
  }
  if (length <= SMALL_TYPED_MAX_BYTES) {
    // Copied by a loop into a new array that V8 keeps on its heap, with no ArrayBuffer behind it until
    // one is asked for: a Uint8Array directly, other kinds as a slice of an aligned scratch view. A
    // Float64Array made from the bytes' own ArrayBuffer would have to allocate that buffer outside
    // the heap.
    if (kind.Class === Uint8Array) {
      const out = new Uint8Array(length);
      for (let i = 0; i < length; i++) out[i] = src[start + i]!;
      // Listed as fresh (fresh-views.ts): encoded again, it is carried without being moved off the heap.
      noteFreshView(out);
      return out;
    }
    for (let i = 0; i < length; i++) smallTypedBytes[i] = src[start + i]!;
    return smallTypedViews[kindNumber]!.slice(0, length / kind.bytesPerElement);
  }
  // Uint8Array.prototype.slice allocates a new ArrayBuffer and copies in one block, also from shared memory.
  const bytes = src.slice(start, start + length) as Uint8Array<ArrayBuffer>;
  return kind.Class === Uint8Array ? bytes : new kind.Class(bytes.buffer);
}

function readError(depth: number): Error {
  enter(depth);
  need(1);
  const flags = src[pos++]!;
  if (flags > 0xf) {
    pos--;
    throw corrupt(`unknown error flags 0x${flags.toString(16)}`);
  }
  const name = readStringValue('an error name', depth + 1);
  const message = readStringValue('an error message', depth + 1);
  const stack = flags & T.ERROR_FLAG_STACK ? readStringValue('an error stack', depth + 1) : undefined;
  const hasCause = (flags & T.ERROR_FLAG_CAUSE) !== 0;
  const cause = hasCause ? read(depth + 1) : undefined;
  let props: Record<string, unknown> | undefined;
  if (flags & T.ERROR_FLAG_PROPS) {
    const value = read(depth + 1);
    if (typeof value !== 'object' || value === null || Object.getPrototypeOf(value) !== Object.prototype) {
      throw corrupt('error properties that are not a plain object');
    }
    props = value as Record<string, unknown>;
  }
  return buildError({
    name,
    message,
    stack,
    hasCause,
    cause,
    props,
    skein: (flags & T.ERROR_FLAG_SKEIN) !== 0,
  });
}
