// The encoder: one value → bytes, written into a growable scratch buffer that is reused from call to
// call. Invariant: a call either returns a view of exactly one complete encoding or throws and leaves
// the encoder ready for the next call; nothing the caller passed is retained after it returns.

import { types } from 'node:util';
import { InvalidArgumentError, SkeinError } from '../errors.ts';
import { errorName, errorPropKeys, isError } from './error-values.ts';
import { isFreshView } from './fresh-views.ts';
import { CODEC_LIMITS } from './limits.ts';
import * as T from './tags.ts';
import { TYPED_ARRAY_KIND_BY_NAME, typedArrayName } from './typed-arrays.ts';
import {
  EncodeFailure,
  indexSegment,
  keySegment,
  mapKeySegment,
  mapValueSegment,
  setElementSegment,
  sharedView,
  tooDeep,
  tooLarge,
  unsupportedValue,
} from './unsupported.ts';
import { writeUtf8 } from './utf8.ts';

const MAX_DEPTH = CODEC_LIMITS.maxDepth;
const MAX_BYTES = CODEC_LIMITS.maxEncodedBytes;
/** ASCII strings up to this many characters are copied by a JavaScript loop; longer ones go native. */
const ASCII_LOOP_MAX_CHARS = 64;
/** A string this short has a UTF-8 length below 256 (3 bytes per UTF-16 unit at most): STR8 fits. */
const STR8_MAX_CHARS = 85;
const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;
/** Raw payloads (typed arrays, ArrayBuffers) up to this many bytes are copied by a loop, not set(). */
const RAW_LOOP_MAX_BYTES = 32;
/** The wire number of Uint8Array (typed-arrays.ts). */
const UINT8_ARRAY_KIND = TYPED_ARRAY_KIND_BY_NAME.get('Uint8Array')!;

const floatScratch = new Float64Array(1);
const floatBytes = new Uint8Array(floatScratch.buffer);

/**
 * Encodes values into a reused scratch buffer. `encode` returns a view of that buffer, valid until the
 * next call on the same Encoder: copy it (or write it into a channel) before encoding again.
 *
 * @example
 * const encoder = new Encoder();
 * ring.write(encoder.encode({ id: 1, tags: ['a'] })); // the bytes are copied into the ring
 */
export class Encoder {
  #bytes: Uint8Array;
  #pos = 0;
  #busy = false;
  /** Checked once per call: whether plain objects must be listed with Object.keys, see #writePlainObject. */
  #keysByObjectKeys = false;
  #lastView: Uint8Array | undefined;
  #lastViewOf: Uint8Array | undefined;
  readonly #initialBytes: number;

  /**
   * @param initialBytes starting size of the scratch buffer in bytes; it grows as needed.
   * @defaultValue 1024 (CODEC_LIMITS.initialBytes)
   * @throws InvalidArgumentError SKEIN_CODEC_UNSUPPORTED when initialBytes is not an integer from 16 to
   *   CODEC_LIMITS.maxEncodedBytes.
   */
  constructor(initialBytes: number = CODEC_LIMITS.initialBytes) {
    if (!Number.isInteger(initialBytes) || initialBytes < 16 || initialBytes > MAX_BYTES) {
      throw new InvalidArgumentError(
        'SKEIN_CODEC_UNSUPPORTED',
        `initialBytes must be an integer from 16 to ${MAX_BYTES} (got ${String(initialBytes)}); omit it to start with ${CODEC_LIMITS.initialBytes} bytes`,
      );
    }
    this.#initialBytes = initialBytes;
    this.#bytes = new Uint8Array(initialBytes);
  }

  /**
   * Encodes one value. The result is a view of the encoder's scratch buffer, overwritten by the next
   * call: copy it before encoding again.
   *
   * @throws InvalidArgumentError SKEIN_CODEC_UNSUPPORTED for a value the codec cannot carry (function,
   *   symbol, class instance, Promise, WeakMap, SharedArrayBuffer, a cycle, nesting deeper than
   *   CODEC_LIMITS.maxDepth); the message names its path, e.g. `value.items[3]`.
   */
  encode(value: unknown): Uint8Array {
    if (this.#busy) {
      throw new InvalidArgumentError(
        'SKEIN_CODEC_UNSUPPORTED',
        'Encoder.encode was called while the same Encoder was encoding (from a getter of the value?); use a second Encoder for nested encodes',
      );
    }
    const bytes = this.#bytes;
    if (bytes.length > CODEC_LIMITS.shrinkAboveBytes && this.#pos < bytes.length >>> 3) {
      this.#bytes = new Uint8Array(this.#initialBytes);
    }
    this.#busy = true;
    this.#pos = 0;
    this.#keysByObjectKeys = objectPrototypeIsEnumerable();
    try {
      this.#write(value, 0);
    } catch (error) {
      this.#pos = 0;
      throw error instanceof EncodeFailure ? error.toError() : error;
    } finally {
      this.#busy = false;
    }
    const end = this.#pos;
    const last = this.#lastView;
    // The same length as last time: hand back the same view, so steady traffic allocates nothing.
    if (last !== undefined && last.length === end && this.#lastViewOf === this.#bytes) return last;
    this.#lastViewOf = this.#bytes;
    return (this.#lastView = this.#bytes.subarray(0, end));
  }

  #grow(needed: number): void {
    const required = this.#pos + needed;
    if (required > MAX_BYTES) throw tooLarge(MAX_BYTES);
    const grown = new Uint8Array(Math.min(MAX_BYTES, Math.max(required, this.#bytes.length * 2)));
    grown.set(this.#bytes.subarray(0, this.#pos));
    this.#bytes = grown;
  }

  // An if-chain on typeof compiles to type checks; a switch on typeof calls the Typeof builtin first.
  #write(value: unknown, depth: number): void {
    if (typeof value === 'number') this.#writeNumber(value);
    else if (typeof value === 'string') this.#writeString(value);
    else if (typeof value === 'object') {
      if (value === null) this.#writeByte(T.NULL);
      else this.#writeObject(value, depth);
    } else if (typeof value === 'boolean') this.#writeByte(value ? T.TRUE : T.FALSE);
    else if (value === undefined) this.#writeByte(T.UNDEFINED);
    else if (typeof value === 'bigint') this.#writeBigInt(value);
    else throw unsupportedValue(value);
  }

  #writeByte(byte: number): void {
    if (this.#pos + 1 > this.#bytes.length) this.#grow(1);
    this.#bytes[this.#pos++] = byte;
  }

  #writeNumber(value: number): void {
    if (this.#pos + 9 > this.#bytes.length) this.#grow(9);
    const bytes = this.#bytes;
    let pos = this.#pos;
    if ((value | 0) === value && (value !== 0 || 1 / value > 0)) {
      if (value >= 0 ? value <= T.POSITIVE_FIXINT_MAX : value >= T.NEGATIVE_FIXINT_MIN) {
        bytes[pos++] = value & 0xff;
      } else if (value >= -0x80 && value <= 0x7f) {
        bytes[pos++] = T.INT8;
        bytes[pos++] = value & 0xff;
      } else if (value >= -0x8000 && value <= 0x7fff) {
        bytes[pos++] = T.INT16;
        bytes[pos++] = value & 0xff;
        bytes[pos++] = (value >> 8) & 0xff;
      } else {
        bytes[pos++] = T.INT32;
        bytes[pos++] = value & 0xff;
        bytes[pos++] = (value >> 8) & 0xff;
        bytes[pos++] = (value >> 16) & 0xff;
        bytes[pos++] = (value >> 24) & 0xff;
      }
      this.#pos = pos;
      return;
    }
    bytes[pos++] = T.FLOAT64;
    this.#pos = pos;
    this.#writeFloat64(value);
  }

  /** 8 bytes little-endian; the caller has made room. */
  #writeFloat64(value: number): void {
    floatScratch[0] = value;
    const bytes = this.#bytes;
    const pos = this.#pos;
    if (LITTLE_ENDIAN) {
      bytes[pos] = floatBytes[0]!;
      bytes[pos + 1] = floatBytes[1]!;
      bytes[pos + 2] = floatBytes[2]!;
      bytes[pos + 3] = floatBytes[3]!;
      bytes[pos + 4] = floatBytes[4]!;
      bytes[pos + 5] = floatBytes[5]!;
      bytes[pos + 6] = floatBytes[6]!;
      bytes[pos + 7] = floatBytes[7]!;
    } else {
      for (let i = 0; i < 8; i++) bytes[pos + i] = floatBytes[7 - i]!;
    }
    this.#pos = pos + 8;
  }

  /** LEB128, for counts and byte lengths below 2^31; the caller has made room for 5 bytes. */
  #writeVarint(value: number): void {
    const bytes = this.#bytes;
    let pos = this.#pos;
    while (value >= 0x80) {
      bytes[pos++] = (value & 0x7f) | 0x80;
      value >>>= 7;
    }
    bytes[pos++] = value;
    this.#pos = pos;
  }

  #writeString(value: string): void {
    const length = value.length;
    const room = length * 3 + 5;
    if (this.#pos + room > this.#bytes.length) this.#grow(room);
    const bytes = this.#bytes;
    const start = this.#pos;
    if (length <= ASCII_LOOP_MAX_CHARS) {
      const header = length <= T.FIXSTR_MAX_BYTES ? 1 : 2;
      const base = start + header;
      let i = 0;
      for (; i < length; i++) {
        const code = value.charCodeAt(i);
        if (code >= 0x80) break;
        bytes[base + i] = code;
      }
      if (i === length) {
        if (header === 1) bytes[start] = T.FIXSTR | length;
        else {
          bytes[start] = T.STR8;
          bytes[start + 1] = length;
        }
        this.#pos = base + length;
        return;
      }
    }
    if (length <= STR8_MAX_CHARS) {
      const written = writeUtf8(bytes, value, start + 2);
      bytes[start] = T.STR8;
      bytes[start + 1] = written;
      this.#pos = start + 2 + written;
    } else {
      const written = writeUtf8(bytes, value, start + 5);
      bytes[start] = T.STR32;
      bytes[start + 1] = written & 0xff;
      bytes[start + 2] = (written >>> 8) & 0xff;
      bytes[start + 3] = (written >>> 16) & 0xff;
      bytes[start + 4] = (written >>> 24) & 0xff;
      this.#pos = start + 5 + written;
    }
  }

  #writeBigInt(value: bigint): void {
    const negative = value < 0n;
    const magnitude = negative ? -value : value;
    const tag = negative ? T.BIGINT_NEGATIVE : T.BIGINT_POSITIVE;
    if (magnitude <= 0xffff_ffff_ffff_ffffn) {
      let low = Number(magnitude & 0xffff_ffffn);
      let high = Number(magnitude >> 32n);
      const length = high > 0 ? 4 + byteLength(high) : byteLength(low);
      if (this.#pos + 10 > this.#bytes.length) this.#grow(10);
      const bytes = this.#bytes;
      let pos = this.#pos;
      bytes[pos++] = tag;
      bytes[pos++] = length;
      for (let i = 0; i < length; i++) {
        if (i < 4) {
          bytes[pos++] = low & 0xff;
          low >>>= 8;
        } else {
          bytes[pos++] = high & 0xff;
          high >>>= 8;
        }
      }
      this.#pos = pos;
      return;
    }
    const hex = magnitude.toString(16);
    const length = (hex.length + 1) >> 1;
    if (this.#pos + length + 6 > this.#bytes.length) this.#grow(length + 6);
    this.#bytes[this.#pos++] = tag;
    this.#writeVarint(length);
    const bytes = this.#bytes;
    const pos = this.#pos;
    // Least significant byte first: read hex digit pairs from the end of the string.
    for (let i = 0; i < length; i++) {
      const endDigit = hex.length - 2 * i;
      bytes[pos + i] = Number.parseInt(hex.slice(Math.max(0, endDigit - 2), endDigit), 16);
    }
    this.#pos = pos + length;
  }

  #writeObject(value: object, depth: number): void {
    if (depth >= MAX_DEPTH) throw tooDeep(MAX_DEPTH);
    if (Array.isArray(value)) {
      this.#writeArray(value, depth);
      return;
    }
    const proto: unknown = Object.getPrototypeOf(value);
    if (proto === Object.prototype) this.#writePlainObject(value, depth);
    else if (proto === null) this.#writeNullProtoObject(value, depth);
    else if (proto === Uint8Array.prototype && ArrayBuffer.isView(value))
      this.#writeBytes(value as Uint8Array);
    else if (ArrayBuffer.isView(value)) this.#writeView(value);
    else if (value instanceof Map) this.#writeMap(value, depth);
    else if (value instanceof Set) this.#writeSet(value, depth);
    else if (value instanceof Date) {
      if (this.#pos + 9 > this.#bytes.length) this.#grow(9);
      this.#bytes[this.#pos++] = T.DATE;
      this.#writeFloat64(value.getTime());
    } else if (value instanceof RegExp) {
      this.#writeByte(T.REGEXP);
      this.#writeString(value.source);
      this.#writeString(value.flags);
    } else if (value instanceof ArrayBuffer) {
      this.#writeRaw(T.ARRAY_BUFFER, 0, new Uint8Array(value));
    } else if (isError(value)) this.#writeError(value, depth);
    else this.#writeForeign(value, proto, depth);
  }

  /**
   * Values made in another realm (node:vm) fail the prototype and instanceof checks above; the
   * engine's own type checks recognize them. Only reached for values that are refused otherwise.
   */
  #writeForeign(value: object, proto: unknown, depth: number): void {
    if (isForeignObjectPrototype(proto)) {
      const keys = Object.keys(value);
      this.#writeCount(T.FIXOBJECT, T.OBJECT, keys.length);
      this.#writeEntries(value as Record<string, unknown>, keys, depth);
    } else if (types.isMap(value)) this.#writeMap(value as Map<unknown, unknown>, depth);
    else if (types.isSet(value)) this.#writeSet(value as Set<unknown>, depth);
    else if (types.isDate(value)) {
      if (this.#pos + 9 > this.#bytes.length) this.#grow(9);
      this.#bytes[this.#pos++] = T.DATE;
      this.#writeFloat64((value as Date).getTime());
    } else if (types.isRegExp(value)) {
      this.#writeByte(T.REGEXP);
      this.#writeString((value as RegExp).source);
      this.#writeString((value as RegExp).flags);
    } else if (types.isArrayBuffer(value)) {
      this.#writeRaw(T.ARRAY_BUFFER, 0, new Uint8Array(value as ArrayBuffer));
    } else throw unsupportedValue(value);
  }

  /** A tag, then a count: in the tag's low bits when `fixTag` is given and the count fits, else a varint. */
  #writeCount(fixTag: number, longTag: number, count: number): void {
    if (this.#pos + 6 > this.#bytes.length) this.#grow(6);
    if (fixTag >= 0 && count <= T.FIX_CONTAINER_MAX) this.#bytes[this.#pos++] = fixTag | count;
    else {
      this.#bytes[this.#pos++] = longTag;
      this.#writeVarint(count);
    }
  }

  #writeArray(value: readonly unknown[], depth: number): void {
    const length = value.length;
    this.#writeCount(T.FIXARRAY, T.ARRAY, length);
    let i = 0;
    try {
      // Holes read as undefined: arrays travel dense.
      for (; i < length; i++) this.#write(value[i], depth + 1);
    } catch (error) {
      if (error instanceof EncodeFailure) error.at(indexSegment(i), value);
      throw error;
    }
  }

  #writePlainObject(value: object, depth: number): void {
    if (this.#keysByObjectKeys) {
      const keys = Object.keys(value);
      this.#writeCount(T.FIXOBJECT, T.OBJECT, keys.length);
      this.#writeEntries(value as Record<string, unknown>, keys, depth);
      return;
    }
    // for…in reads each property through V8's enum cache instead of a megamorphic keyed load (3.2 µs
    // instead of 4.0 µs to encode bench/codec.ts's 1 KiB object), but gives no count up front: reserve
    // the one-byte header and patch it after.
    if (this.#pos + 1 > this.#bytes.length) this.#grow(1);
    const start = this.#pos++;
    const record = value as Record<string, unknown>;
    let count = 0;
    let key = '';
    try {
      for (key in record) {
        this.#writeString(key);
        this.#write(record[key], depth + 1);
        count++;
      }
    } catch (error) {
      if (error instanceof EncodeFailure) error.at(keySegment(key), value);
      throw error;
    }
    if (count <= T.FIX_CONTAINER_MAX) {
      this.#bytes[start] = T.FIXOBJECT | count;
      return;
    }
    // More than 15 entries: make room for the varint count after the tag.
    const countBytes = varintLength(count);
    if (this.#pos + countBytes > this.#bytes.length) this.#grow(countBytes);
    const bodyEnd = this.#pos;
    this.#bytes.copyWithin(start + 1 + countBytes, start + 1, bodyEnd);
    this.#bytes[start] = T.OBJECT;
    this.#pos = start + 1;
    this.#writeVarint(count);
    this.#pos = bodyEnd + countBytes;
  }

  #writeNullProtoObject(value: object, depth: number): void {
    const keys = Object.keys(value);
    this.#writeCount(-1, T.NULL_PROTO_OBJECT, keys.length);
    this.#writeEntries(value as Record<string, unknown>, keys, depth);
  }

  #writeEntries(value: Record<string, unknown>, keys: readonly string[], depth: number): void {
    const count = keys.length;
    let i = 0;
    try {
      for (; i < count; i++) {
        const key = keys[i]!;
        this.#writeString(key);
        this.#write(value[key], depth + 1);
      }
    } catch (error) {
      if (error instanceof EncodeFailure) error.at(keySegment(keys[i]!), value);
      throw error;
    }
  }

  #writeMap(value: Map<unknown, unknown>, depth: number): void {
    this.#writeCount(-1, T.MAP, value.size);
    let i = 0;
    let onKey = true;
    let key: unknown;
    try {
      for (const entry of value) {
        key = entry[0];
        onKey = true;
        this.#write(key, depth + 1);
        onKey = false;
        this.#write(entry[1], depth + 1);
        i++;
      }
    } catch (error) {
      if (error instanceof EncodeFailure) error.at(onKey ? mapKeySegment(i) : mapValueSegment(key, i), value);
      throw error;
    }
  }

  #writeSet(value: Set<unknown>, depth: number): void {
    this.#writeCount(-1, T.SET, value.size);
    let i = 0;
    try {
      for (const element of value) {
        this.#write(element, depth + 1);
        i++;
      }
    } catch (error) {
      if (error instanceof EncodeFailure) error.at(setElementSegment(i), value);
      throw error;
    }
  }

  /**
   * A plain Uint8Array (its prototype checked by the caller): #writeView without the class-name lookup,
   * since its kind is known and it is its own bytes.
   */
  #writeBytes(view: Uint8Array): void {
    // An array the latest decode made is not shared, and asking for its buffer would move it off the heap.
    if (!isFreshView(view) && view.buffer instanceof SharedArrayBuffer) throw sharedView('Uint8Array');
    this.#writeRaw(T.TYPED_ARRAY, UINT8_ARRAY_KIND, view);
  }

  #writeView(view: ArrayBufferView): void {
    const name = typedArrayName(view);
    const buffer = view.buffer;
    if (buffer instanceof SharedArrayBuffer) throw sharedView(name ?? 'DataView');
    if (name === undefined) {
      this.#writeRaw(T.DATA_VIEW, 0, new Uint8Array(buffer, view.byteOffset, view.byteLength));
      return;
    }
    const kind = TYPED_ARRAY_KIND_BY_NAME.get(name);
    if (kind === undefined) throw unsupportedValue(view);
    // A Uint8Array (or Buffer) is its own bytes: no byte view made for it.
    this.#writeRaw(
      T.TYPED_ARRAY,
      kind,
      kind === UINT8_ARRAY_KIND
        ? (view as Uint8Array)
        : new Uint8Array(buffer, view.byteOffset, view.byteLength),
    );
  }

  /** A tag, the kind byte when `kind` is not 0, a varint byte length, then the bytes copied as one block. */
  #writeRaw(tag: number, kind: number, payload: Uint8Array): void {
    const length = payload.length;
    if (this.#pos + length + 7 > this.#bytes.length) this.#grow(length + 7);
    const bytes = this.#bytes;
    bytes[this.#pos++] = tag;
    if (kind !== 0) bytes[this.#pos++] = kind;
    this.#writeVarint(length);
    const pos = this.#pos;
    if (length <= RAW_LOOP_MAX_BYTES) for (let i = 0; i < length; i++) bytes[pos + i] = payload[i]!;
    else bytes.set(payload, pos);
    this.#pos = pos + length;
  }

  #writeError(error: Error, depth: number): void {
    const stack: unknown = error.stack;
    const hasCause = Object.hasOwn(error, 'cause');
    const propKeys = errorPropKeys(error);
    const code = (error as { code?: unknown }).code;
    const flags =
      (typeof stack === 'string' ? T.ERROR_FLAG_STACK : 0) |
      (hasCause ? T.ERROR_FLAG_CAUSE : 0) |
      (propKeys.length > 0 ? T.ERROR_FLAG_PROPS : 0) |
      (error instanceof SkeinError && typeof code === 'string' ? T.ERROR_FLAG_SKEIN : 0);
    if (this.#pos + 2 > this.#bytes.length) this.#grow(2);
    this.#bytes[this.#pos++] = T.ERROR;
    this.#bytes[this.#pos++] = flags;
    this.#writeString(errorName(error));
    const message: unknown = error.message;
    this.#writeString(typeof message === 'string' ? message : String(message));
    if (typeof stack === 'string') this.#writeString(stack);
    if (hasCause) {
      try {
        this.#write(error.cause, depth + 1);
      } catch (failure) {
        if (failure instanceof EncodeFailure) failure.at('.cause', error);
        throw failure;
      }
    }
    if (propKeys.length > 0) {
      this.#writeCount(T.FIXOBJECT, T.OBJECT, propKeys.length);
      this.#writeEntries(error as unknown as Record<string, unknown>, propKeys, depth);
    }
  }
}

function varintLength(value: number): number {
  return value < 0x80 ? 1 : value < 0x4000 ? 2 : value < 0x20_0000 ? 3 : value < 0x1000_0000 ? 4 : 5;
}

/**
 * True when something made a property of Object.prototype enumerable: for…in would then list it for
 * every plain object, so plain objects go through Object.keys instead.
 */
function objectPrototypeIsEnumerable(): boolean {
  for (const _ in Object.prototype) return true;
  return false;
}

const NATIVE_OBJECT_SOURCE = Function.prototype.toString.call(Object);

/** True for the Object.prototype of another realm: no prototype of its own, built-in Object constructor. */
function isForeignObjectPrototype(proto: unknown): boolean {
  if (typeof proto !== 'object' || proto === null || Object.getPrototypeOf(proto) !== null) return false;
  const ctor = Object.getOwnPropertyDescriptor(proto, 'constructor')?.value as unknown;
  return typeof ctor === 'function' && Function.prototype.toString.call(ctor) === NATIVE_OBJECT_SOURCE;
}

/** Bytes needed for a non-negative integer below 2^32 (0 for 0). */
function byteLength(value: number): number {
  return value === 0 ? 0 : value < 0x100 ? 1 : value < 0x1_0000 ? 2 : value < 0x100_0000 ? 3 : 4;
}

const sharedEncoder = new Encoder();
let sharedEncoderBusy = false;

/**
 * Encodes one value into a fresh Uint8Array of exactly its length (a copy you may keep). For a stream
 * of messages, an {@link Encoder} avoids the copy.
 *
 * @example
 * const bytes = encode({ id: 7, at: new Date(), samples: new Float64Array([1.5, 2.5]) });
 * decode(bytes); // { id: 7, at: Date, samples: Float64Array [1.5, 2.5] }
 * @throws InvalidArgumentError SKEIN_CODEC_UNSUPPORTED for a value the codec cannot carry; the message
 *   names its path and type.
 */
export function encode(value: unknown): Uint8Array {
  // A getter of the value that itself calls encode() must not clobber the shared scratch buffer.
  if (sharedEncoderBusy) return new Encoder().encode(value).slice();
  sharedEncoderBusy = true;
  try {
    return sharedEncoder.encode(value).slice();
  } finally {
    sharedEncoderBusy = false;
  }
}
