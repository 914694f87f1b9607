// The byte format of lane messages (lane.ts). Lane messages are the pool's own protocol messages, whose
// shapes are few and fixed, with values that lane-fit.ts has checked to be primitives, arrays and plain
// objects; a format made for exactly that encodes and decodes several times faster than a general
// codec (no type dispatch beyond these, no string keys for the message itself, no setup per call).
// Strings travel as Latin-1 bytes when every unit fits one byte, else as raw UTF-16 units, so every
// string comes back exactly, lone surrogates included.
//
// A frame: sequence number (float64), message type (u8), then the type's fields as values. A value:
// one tag byte, then what the tag says; numbers and lengths little-endian.

import type { MainToWorker, WorkerToMain } from './protocol.ts';

const TAG_UNDEFINED = 0;
const TAG_NULL = 1;
const TAG_FALSE = 2;
const TAG_TRUE = 3;
const TAG_INT32 = 4;
const TAG_FLOAT64 = 5;
const TAG_LATIN1 = 6;
const TAG_UTF16 = 7;
const TAG_BIGINT = 8;
const TAG_ARRAY = 9;
const TAG_OBJECT = 10;

const TYPE_RUN = 1;
const TYPE_CANCEL = 2;
const TYPE_STEAL = 3;
const TYPE_STOP = 4;
const TYPE_RESULTS = 5;
const TYPE_PROGRESS = 6;
const TYPE_OUTPUT = 7;

/** Strings longer than this are copied by Buffer's native UTF-16 writer instead of a loop. */
const SHORT_STRING = 32;
/** Encoded values shorter than this are copied into a slot byte by byte: cheaper than a subarray for set(). */
const SHORT_COPY = 32;

export type LaneMessage = MainToWorker | WorkerToMain;

// ---- encoding: into one growable scratch buffer per thread -------------------------------------

let out = new Uint8Array(64 * 1024);
let outView = new DataView(out.buffer);
let outBuffer = Buffer.from(out.buffer);
let at = 0;

function room(bytes: number): void {
  if (at + bytes <= out.length) return;
  const grown = new Uint8Array(Math.max(out.length * 2, at + bytes));
  grown.set(out.subarray(0, at));
  out = grown;
  outView = new DataView(grown.buffer);
  outBuffer = Buffer.from(grown.buffer);
}

/**
 * Encodes a frame; the result is a view of this thread's scratch, valid until the next call. Undefined
 * for a message type lanes do not carry.
 */
export function encodeFrame(sequence: number, message: LaneMessage): Uint8Array | undefined {
  at = 0;
  room(9);
  outView.setFloat64(0, sequence, true);
  at = 9;
  switch (message.t) {
    case 'run':
      out[8] = TYPE_RUN;
      writeValue(message.defs);
      writeValue(message.tasks);
      break;
    case 'results':
      out[8] = TYPE_RESULTS;
      writeValue(message.results);
      writeValue(message.base);
      writeValue(message.heap);
      writeValue(message.started);
      writeValue(message.startedAt);
      break;
    case 'progress':
      out[8] = TYPE_PROGRESS;
      writeValue(message.id);
      writeValue(message.value);
      break;
    case 'output':
      out[8] = TYPE_OUTPUT;
      writeValue(message.id);
      writeValue(message.stream);
      writeValue(message.text);
      break;
    case 'cancel':
      out[8] = TYPE_CANCEL;
      writeValue(message.id);
      writeValue(message.reason);
      break;
    case 'steal':
      out[8] = TYPE_STEAL;
      writeValue(message.ids);
      break;
    case 'stop':
      out[8] = TYPE_STOP;
      break;
    default:
      return undefined;
  }
  return out.subarray(0, at);
}

function writeValue(value: unknown): void {
  room(9);
  switch (typeof value) {
    case 'number':
      if ((value | 0) === value && !Object.is(value, -0)) {
        out[at] = TAG_INT32;
        outView.setInt32(at + 1, value, true);
        at += 5;
      } else {
        out[at] = TAG_FLOAT64;
        outView.setFloat64(at + 1, value, true);
        at += 9;
      }
      return;
    case 'string':
      writeString(value);
      return;
    case 'undefined':
      out[at++] = TAG_UNDEFINED;
      return;
    case 'boolean':
      out[at++] = value ? TAG_TRUE : TAG_FALSE;
      return;
    case 'bigint':
      out[at++] = TAG_BIGINT;
      writeString(value.toString(16));
      return;
    default:
      break;
  }
  if (value === null) {
    out[at++] = TAG_NULL;
    return;
  }
  if (Array.isArray(value)) {
    const length = value.length;
    out[at] = TAG_ARRAY;
    outView.setUint32(at + 1, length, true);
    at += 5;
    for (let i = 0; i < length; i++) writeValue(value[i]);
    return;
  }
  // A plain object (lane-fit.ts let nothing else through): count patched in after the keys.
  out[at] = TAG_OBJECT;
  const countAt = at + 1;
  at += 5;
  let count = 0;
  const record = value as Record<string, unknown>;
  for (const key in record) {
    writeString(key);
    writeValue(record[key]);
    count++;
  }
  outView.setUint32(countAt, count, true);
}

function writeString(value: string): void {
  const length = value.length;
  if (length <= SHORT_STRING) {
    room(5 + length * 2);
    const start = at + 5;
    let i = 0;
    for (; i < length; i++) {
      const unit = value.charCodeAt(i);
      if (unit > 0xff) break;
      out[start + i] = unit;
    }
    if (i === length) {
      out[at] = TAG_LATIN1;
      outView.setUint32(at + 1, length, true);
      at = start + length;
      return;
    }
  }
  room(5 + length * 2);
  out[at] = TAG_UTF16;
  outView.setUint32(at + 1, length, true);
  outBuffer.write(value, at + 5, length * 2, 'utf16le');
  at += 5 + length * 2;
}

/**
 * Encodes one value (lane-fit.ts let it through) and copies its bytes into `target` at `offset`, for a
 * lone call's slot (lone-slot.ts); returns the bytes written, or -1 when they exceed `limit` (nothing
 * is written then). Throws what a getter of the value throws.
 */
export function encodeValueInto(value: unknown, target: Uint8Array, offset: number, limit: number): number {
  at = 0;
  writeValue(value);
  const length = at;
  if (length > limit) return -1;
  if (length < SHORT_COPY) for (let i = 0; i < length; i++) target[offset + i] = out[i]!;
  else target.set(out.subarray(0, length), offset);
  return length;
}

// ---- decoding: from a view of shared memory or a scratch copy ------------------------------------

let srcView: DataView<ArrayBufferLike> = new DataView(new ArrayBuffer(0));
let srcBuffer: Buffer<ArrayBufferLike> = Buffer.alloc(0);
let pos = 0;

/**
 * Decodes a frame that encodeFrame wrote, from `bytes` (a view into `buffer`, which `view` and
 * `nodeBuffer` cover whole: made once per buffer by the caller).
 */
export function decodeFrame(
  bytes: Uint8Array,
  view: DataView<ArrayBufferLike>,
  nodeBuffer: Buffer<ArrayBufferLike>,
): [sequence: number, message: LaneMessage] {
  srcView = view;
  srcBuffer = nodeBuffer;
  pos = bytes.byteOffset;
  const sequence = srcView.getFloat64(pos, true);
  const type = srcBuffer[pos + 8]!;
  pos += 9;
  let message: LaneMessage;
  switch (type) {
    case TYPE_RUN:
      message = { t: 'run', defs: readValue() as unknown[] | undefined, tasks: readValue() as unknown[] };
      break;
    case TYPE_RESULTS:
      message = {
        t: 'results',
        results: readValue() as unknown[],
        base: readValue() as number | undefined,
        heap: readValue() as number | undefined,
        started: readValue() as number | undefined,
        startedAt: readValue() as number | undefined,
      };
      break;
    case TYPE_PROGRESS:
      message = { t: 'progress', id: readValue() as number, value: readValue() };
      break;
    case TYPE_OUTPUT:
      message = {
        t: 'output',
        id: readValue() as number,
        stream: readValue() as 'stdout' | 'stderr',
        text: readValue() as string,
      };
      break;
    case TYPE_CANCEL:
      message = { t: 'cancel', id: readValue() as number, reason: readValue() };
      break;
    case TYPE_STEAL:
      message = { t: 'steal', ids: readValue() as number[] };
      break;
    case TYPE_STOP:
      message = { t: 'stop' };
      break;
    default:
      throw new Error(`Unknown lane frame type ${type}; this is a bug in Skein`);
  }
  return [sequence, message];
}

/** Decodes one value that encodeValueInto wrote at `offset` of the buffer `view` and `nodeBuffer` cover. */
export function decodeValueAt(
  view: DataView<ArrayBufferLike>,
  nodeBuffer: Buffer<ArrayBufferLike>,
  offset: number,
): unknown {
  srcView = view;
  srcBuffer = nodeBuffer;
  pos = offset;
  return readValue();
}

function readValue(): unknown {
  const tag = srcBuffer[pos++]!;
  switch (tag) {
    case TAG_INT32: {
      const value = srcView.getInt32(pos, true);
      pos += 4;
      return value;
    }
    case TAG_FLOAT64: {
      const value = srcView.getFloat64(pos, true);
      pos += 8;
      return value;
    }
    case TAG_UNDEFINED:
      return undefined;
    case TAG_NULL:
      return null;
    case TAG_FALSE:
      return false;
    case TAG_TRUE:
      return true;
    case TAG_LATIN1:
    case TAG_UTF16:
      return readString(tag);
    case TAG_BIGINT: {
      const hex = readString(srcBuffer[pos++]!);
      return hex.startsWith('-') ? -BigInt(`0x${hex.slice(1)}`) : BigInt(`0x${hex}`);
    }
    case TAG_ARRAY: {
      const length = srcView.getUint32(pos, true);
      pos += 4;
      const array = new Array<unknown>(length);
      for (let i = 0; i < length; i++) array[i] = readValue();
      return array;
    }
    case TAG_OBJECT: {
      const count = srcView.getUint32(pos, true);
      pos += 4;
      const record: Record<string, unknown> = {};
      for (let i = 0; i < count; i++) {
        const key = readString(srcBuffer[pos++]!);
        // An own "__proto__" key must stay a key, as structured clone keeps it, not set the prototype.
        if (key === '__proto__')
          Object.defineProperty(record, key, {
            value: readValue(),
            enumerable: true,
            writable: true,
            configurable: true,
          });
        else record[key] = readValue();
      }
      return record;
    }
    default:
      throw new Error(`Unknown lane value tag ${tag}; this is a bug in Skein`);
  }
}

const fromCharCode = String.fromCharCode;

function readString(tag: number): string {
  const length = srcView.getUint32(pos, true);
  pos += 4;
  const start = pos;
  if (tag === TAG_LATIN1) {
    pos += length;
    if (length <= SHORT_STRING) {
      let text = '';
      for (let i = start; i < pos; i++) text += fromCharCode(srcBuffer[i]!);
      return text;
    }
    return srcBuffer.toString('latin1', start, pos);
  }
  pos += length * 2;
  return srcBuffer.toString('utf16le', start, pos);
}
