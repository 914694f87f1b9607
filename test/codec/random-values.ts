// Random structured values for the codec's fuzz tests, from a seeded PRNG so a failure replays: every
// type the codec carries, nested a few levels, with the edge cases (−0, NaN, 2^53, surrogate pairs,
// typed arrays at odd byte offsets). Only values that must round-trip exactly are generated.

/** mulberry32: a small seeded PRNG returning floats in [0, 1). */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Numbers at every boundary the encoder switches form on, plus the special values. */
export const EDGE_NUMBERS: readonly number[] = [
  0,
  -0,
  Number.NaN,
  Number.POSITIVE_INFINITY,
  Number.NEGATIVE_INFINITY,
  1,
  -1,
  127,
  128,
  -32,
  -33,
  -128,
  -129,
  255,
  32767,
  32768,
  -32768,
  -32769,
  65535,
  2 ** 31 - 1,
  -(2 ** 31),
  2 ** 31,
  -(2 ** 31) - 1,
  2 ** 32,
  2 ** 53,
  2 ** 53 + 2,
  -(2 ** 53),
  Number.MAX_SAFE_INTEGER,
  Number.MAX_VALUE,
  Number.MIN_VALUE,
  -Number.MIN_VALUE,
  Number.EPSILON,
  0.1,
  -1.5,
  Math.PI,
];

const SAMPLE_CHARS = [
  'a',
  'Z',
  '0',
  ' ',
  '"',
  '\\',
  '\n',
  '\u0000',
  'é',
  'ß',
  '中',
  '\u{1F600}',
  '\u{10FFFF}',
  '\uFFFF',
];

/** The typed array classes whose elements are numbers. */
export const NUMBER_TYPED_ARRAYS = [
  Int8Array,
  Uint8Array,
  Uint8ClampedArray,
  Int16Array,
  Uint16Array,
  Int32Array,
  Uint32Array,
  Float32Array,
  Float64Array,
] as const;

/** Every typed array class. */
export const TYPED_ARRAYS = [...NUMBER_TYPED_ARRAYS, BigInt64Array, BigUint64Array] as const;

export class ValueGenerator {
  readonly #random: () => number;

  constructor(seed: number) {
    this.#random = seededRandom(seed);
  }

  int(below: number): number {
    return Math.floor(this.#random() * below);
  }

  pick<V>(values: readonly V[]): V {
    return values[this.int(values.length)]!;
  }

  number(): number {
    switch (this.int(4)) {
      case 0:
        return this.pick(EDGE_NUMBERS);
      case 1:
        return this.int(300) - 150;
      case 2:
        return (this.int(2 ** 32) | 0) * (this.int(2) === 0 ? 1 : -1);
      default:
        return (this.#random() - 0.5) * 10 ** this.int(30);
    }
  }

  string(): string {
    const length = this.pick([0, 1, 3, 8, 24, 31, 32, 40, 64, 65, 90, 300]);
    if (this.int(2) === 0) {
      let ascii = '';
      for (let i = 0; i < length; i++) ascii += String.fromCharCode(32 + this.int(95));
      return ascii;
    }
    let text = '';
    for (let i = 0; i < length; i++) text += this.pick(SAMPLE_CHARS);
    return text;
  }

  bigint(): bigint {
    const digits = this.pick([1, 2, 10, 19, 20, 40, 100]);
    let value = 0n;
    for (let i = 0; i < digits; i++) value = value * 10n + BigInt(this.int(10));
    return this.int(2) === 0 ? value : -value;
  }

  key(): string {
    return this.pick([
      'id',
      'name',
      'x',
      'a b',
      '',
      '0',
      '12',
      '__proto__',
      'constructor',
      'ключ',
      '\u{1F600}',
      'tags',
    ]);
  }

  typedArray(): ArrayBufferView {
    const Class = this.pick(TYPED_ARRAYS);
    const length = this.int(20);
    const offset = this.int(3);
    const buffer = new ArrayBuffer((length + offset + this.int(2)) * Class.BYTES_PER_ELEMENT);
    const array = new Class(buffer, offset * Class.BYTES_PER_ELEMENT, length);
    const bytes = new Uint8Array(buffer);
    for (let i = 0; i < bytes.length; i++) bytes[i] = this.int(256);
    // Random bytes may form NaNs with payloads; assert.deepStrictEqual compares those equal either way.
    return this.int(5) === 0 ? new DataView(buffer, offset, length) : array;
  }

  value(depth: number): unknown {
    const leaf = depth <= 0 || this.int(3) === 0;
    if (leaf) {
      switch (this.int(12)) {
        case 0:
          return undefined;
        case 1:
          return null;
        case 2:
          return this.int(2) === 0;
        case 3:
        case 4:
          return this.number();
        case 5:
        case 6:
          return this.string();
        case 7:
          return this.bigint();
        case 8:
          return new Date(this.int(2 ** 42) - 2 ** 41);
        case 9:
          return this.pick([/a+b/g, /^[\w.]+$/iu, /x/y, /(?<year>\d{4})/dms]);
        case 10:
          return this.typedArray();
        default:
          return new Uint8Array(this.int(40)).fill(7).buffer;
      }
    }
    // Mostly small, sometimes just past the 15 that fits a one-byte header.
    const size = this.int(8) === 0 ? this.pick([15, 16, 20]) : this.int(5);
    switch (this.int(6)) {
      case 0:
        return Array.from({ length: size }, () => this.value(depth - 1));
      case 1:
      case 2: {
        const object: Record<string, unknown> = this.int(4) === 0 ? Object.create(null) : {};
        for (let i = 0; i < size; i++) {
          const key = this.key();
          Object.defineProperty(object, this.int(2) === 0 ? key : `${key}${i}`, {
            value: this.value(depth - 1),
            enumerable: true,
            writable: true,
            configurable: true,
          });
        }
        return object;
      }
      case 3:
        return new Map(Array.from({ length: size }, () => [this.value(depth - 1), this.value(depth - 1)]));
      case 4:
        return new Set(Array.from({ length: size }, () => this.value(depth - 1)));
      default: {
        const Class = this.pick([Error, TypeError, RangeError, SyntaxError]);
        const error =
          this.int(2) === 0
            ? new Class(this.string())
            : new Class(this.string(), { cause: this.value(depth - 1) });
        if (this.int(3) === 0)
          Object.assign(error, { code: `E_${this.int(100)}`, detail: this.value(depth - 1) });
        return error;
      }
    }
  }
}
