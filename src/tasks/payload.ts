// Arguments, results and progress values as stored: MessagePack (msgpackr with structured types), so
// another machine or language can read them. A value the store cannot carry faithfully is refused
// before anything is written, with the path of the offending part (args[1].items[0]).

// The pure-JS entry: the package root also loads msgpackr-extract, an optional native addon.
import { Packr } from 'msgpackr/pack';
import { InvalidArgumentError, SkeinError } from '../errors.ts';
import { describe } from '../task.ts';

// structuredClone keeps cycles and shared references, moreTypes keeps Map/Set/Date/RegExp/Error and
// typed arrays; records are inlined in every message (no shared structures), so any reader decodes.
const packr = new Packr({ structuredClone: true, moreTypes: true, mapsAsObjects: false });

const TYPED_ARRAY = Object.getPrototypeOf(Uint8Array);
const CARRIED_CLASSES: readonly { readonly prototype: unknown }[] = [Date, RegExp, ArrayBuffer];

function refusal(path: string, value: unknown, why: string): InvalidArgumentError {
  return new InvalidArgumentError(
    'SKEIN_TASKS_NOT_ENCODABLE',
    `${path} cannot be stored in a job (${why}: ${describe(value)}); pass plain data: primitives, arrays, plain objects, Map, Set, Date, RegExp, typed arrays, errors`,
  );
}

/** Throws SKEIN_TASKS_NOT_ENCODABLE naming the first part of `value` the store cannot carry. */
export function checkEncodable(value: unknown, path: string, seen: Set<object> = new Set()): void {
  switch (typeof value) {
    case 'function':
      throw refusal(path, value, 'a function');
    case 'symbol':
      throw refusal(path, value, 'a symbol');
    case 'object':
      break;
    default:
      return;
  }
  if (value === null || seen.has(value)) return;
  seen.add(value);
  const proto: unknown = Object.getPrototypeOf(value);
  if (proto === Object.prototype || proto === null) {
    for (const key of Object.keys(value)) {
      checkEncodable((value as Record<string, unknown>)[key], `${path}.${key}`, seen);
    }
    return;
  }
  if (value instanceof TYPED_ARRAY) {
    if ((value as Uint8Array).buffer instanceof SharedArrayBuffer) {
      throw refusal(path, value, 'a view of shared memory, which another machine cannot share');
    }
    return;
  }
  if (Array.isArray(value)) {
    for (let index = 0; index < value.length; index++)
      checkEncodable(value[index], `${path}[${index}]`, seen);
    return;
  }
  if (value instanceof Map) {
    let index = 0;
    for (const [key, item] of value) {
      checkEncodable(key, `${path}.<key ${index}>`, seen);
      checkEncodable(
        item,
        `${path}.get(${typeof key === 'string' ? JSON.stringify(key) : `<key ${index}>`})`,
        seen,
      );
      index++;
    }
    return;
  }
  if (value instanceof Set) {
    let index = 0;
    for (const item of value) checkEncodable(item, `${path}.<item ${index++}>`, seen);
    return;
  }
  if (CARRIED_CLASSES.some((Class) => proto === Class.prototype) || value instanceof Error) return;
  throw refusal(path, value, 'an instance of a class the store cannot rebuild');
}

/** Encodes a job's argument list, naming the argument that cannot be stored. */
export function encodeArgs(args: readonly unknown[]): Uint8Array {
  if (!Array.isArray(args)) {
    throw new InvalidArgumentError(
      'SKEIN_TASKS_NOT_ENCODABLE',
      `args must be an array of arguments (got ${describe(args)})`,
    );
  }
  const seen = new Set<object>();
  for (let index = 0; index < args.length; index++) checkEncodable(args[index], `args[${index}]`, seen);
  return pack(args);
}

/** Encodes a result or progress value (`what` names it in the error). */
export function encodeValue(value: unknown, what: string): Uint8Array {
  const simple = packSimple(value);
  if (simple !== undefined) return simple;
  checkEncodable(value, what);
  return pack(value);
}

/**
 * null, booleans and 32-bit integers (a task's count, id or flag) as msgpackr writes them, without
 * going through it: a short job's result is often one of these, and packing it was a tenth of the
 * worker's own cost per job. Any other value: undefined. (test/tasks/payload.test.ts checks these
 * bytes against msgpackr's own for every boundary.)
 */
function packSimple(value: unknown): Buffer | undefined {
  if (value === null) return Buffer.from([0xc0]);
  if (value === true) return Buffer.from([0xc3]);
  if (value === false) return Buffer.from([0xc2]);
  if (typeof value !== 'number' || !Number.isInteger(value) || Object.is(value, -0)) return undefined;
  // 0x40-0x7f are record references for msgpackr (structuredClone), so positive fixints stop at 0x3f.
  if (value >= 0) {
    if (value < 0x40) return Buffer.from([value]);
    if (value < 0x100) return Buffer.from([0xcc, value]);
    if (value < 0x10000) return Buffer.from([0xcd, value >>> 8, value & 0xff]);
    if (value < 0x100000000) {
      const out = Buffer.allocUnsafe(5);
      out[0] = 0xce;
      out.writeUInt32BE(value, 1);
      return out;
    }
    return undefined;
  }
  if (value >= -0x20) return Buffer.from([value & 0xff]);
  if (value >= -0x80) return Buffer.from([0xd0, value & 0xff]);
  if (value >= -0x8000) return Buffer.from([0xd1, (value >> 8) & 0xff, value & 0xff]);
  if (value >= -0x80000000) {
    const out = Buffer.allocUnsafe(5);
    out[0] = 0xd2;
    out.writeInt32BE(value, 1);
    return out;
  }
  return undefined;
}

function pack(value: unknown): Uint8Array {
  try {
    return packr.pack(value);
  } catch (error) {
    throw new InvalidArgumentError(
      'SKEIN_TASKS_NOT_ENCODABLE',
      `the value cannot be encoded: ${String(error)}`,
      {
        cause: error,
      },
    );
  }
}

/**
 * A list of at most 15 values that are null, booleans or 32-bit integers (a job's ids and counts), read
 * without msgpackr, as packSimple writes them and as msgpackr reads them; undefined for anything else,
 * which msgpackr then reads. (test/tasks/payload.test.ts checks it against msgpackr.)
 */
function unpackSimpleList(bytes: Uint8Array): unknown[] | undefined {
  const first = bytes[0];
  if (first === undefined || (first & 0xf0) !== 0x90) return undefined;
  const list: unknown[] = [];
  const end = bytes.length;
  let at = 1;
  for (let left = first & 0x0f; left > 0; left--) {
    if (at >= end) return undefined;
    const tag = bytes[at]!;
    if (tag < 0x40) {
      list.push(tag);
      at += 1;
    } else if (tag >= 0xe0) {
      list.push(tag - 0x100);
      at += 1;
    } else if (tag === 0xc0 || tag === 0xc2 || tag === 0xc3) {
      list.push(tag === 0xc0 ? null : tag === 0xc3);
      at += 1;
    } else {
      const size =
        tag === 0xcc || tag === 0xd0
          ? 1
          : tag === 0xcd || tag === 0xd1
            ? 2
            : tag === 0xce || tag === 0xd2
              ? 4
              : 0;
      if (size === 0 || at + size >= end) return undefined;
      const b1 = bytes[at + 1]!;
      if (size === 1) list.push(tag === 0xcc ? b1 : (b1 << 24) >> 24);
      else if (size === 2) {
        const value = (b1 << 8) | bytes[at + 2]!;
        list.push(tag === 0xcd ? value : (value << 16) >> 16);
      } else {
        const low = (bytes[at + 2]! << 16) | (bytes[at + 3]! << 8) | bytes[at + 4]!;
        list.push(tag === 0xce ? b1 * 0x1000000 + low : (b1 << 24) | low);
      }
      at += 1 + size;
    }
  }
  return at === end ? list : undefined;
}

/** Decodes stored bytes. @throws SKEIN_TASKS_CORRUPT_PAYLOAD when they are not a valid encoding. */
export function decodeValue(bytes: Uint8Array, what: string): unknown {
  try {
    return packr.unpack(bytes);
  } catch (error) {
    throw new SkeinError(
      'SKEIN_TASKS_CORRUPT_PAYLOAD',
      `the stored ${what} cannot be decoded: ${String(error)}`,
      {
        cause: error,
      },
    );
  }
}

/** Decodes a stored argument list. @throws SKEIN_TASKS_CORRUPT_PAYLOAD */
export function decodeArgs(bytes: Uint8Array): unknown[] {
  const simple = unpackSimpleList(bytes);
  if (simple !== undefined) return simple;
  const args = decodeValue(bytes, 'arguments');
  if (!Array.isArray(args)) {
    throw new SkeinError(
      'SKEIN_TASKS_CORRUPT_PAYLOAD',
      `the stored arguments are not a list (got ${describe(args)})`,
    );
  }
  return args;
}
