// skein/codec: every carried type round-trips exactly, every unsupported value is refused with its
// path, input from shared memory decodes to unshared copies, random structures round-trip, and random
// damage to an encoding yields a value or SKEIN_CODEC_CORRUPT, never anything else.

import assert from 'node:assert/strict';
import { Buffer } from 'node:buffer';
import { describe, it } from 'node:test';
import { runInNewContext } from 'node:vm';
import { CODEC_LIMITS, decode, Encoder, encode } from '../../src/codec/index.ts';
import { InvalidArgumentError, SkeinError, TimeoutError, WorkerCrashedError } from '../../src/errors.ts';
import {
  EDGE_NUMBERS,
  NUMBER_TYPED_ARRAYS,
  seededRandom,
  TYPED_ARRAYS,
  ValueGenerator,
} from './random-values.ts';

function roundTrip<V>(value: V): V {
  return decode(encode(value)) as V;
}

function assertRoundTrips(value: unknown, message?: string): void {
  assert.deepStrictEqual(roundTrip(value), value, message);
}

/** Asserts encode(value) throws SKEIN_CODEC_UNSUPPORTED with a message matching every pattern. */
function assertRefused(value: unknown, ...patterns: RegExp[]): void {
  assert.throws(
    () => encode(value),
    (error: unknown) => {
      assert.ok(error instanceof InvalidArgumentError, String(error));
      assert.equal(error.code, 'SKEIN_CODEC_UNSUPPORTED');
      for (const pattern of patterns) assert.match(error.message, pattern);
      return true;
    },
  );
}

function assertCorrupt(bytes: Uint8Array, pattern?: RegExp): void {
  assert.throws(
    () => decode(bytes),
    (error: unknown) => {
      assert.ok(error instanceof SkeinError, String(error));
      assert.equal(error.code, 'SKEIN_CODEC_CORRUPT');
      if (pattern !== undefined) assert.match(error.message, pattern);
      return true;
    },
  );
}

/** The same bytes, as a view at a non-zero offset of a SharedArrayBuffer. */
function inSharedMemory(bytes: Uint8Array): Uint8Array {
  const shared = new Uint8Array(new SharedArrayBuffer(bytes.length + 11), 5, bytes.length);
  shared.set(bytes);
  return shared;
}

describe('round trips', () => {
  it('carries undefined, null and booleans', () => {
    for (const value of [undefined, null, true, false]) assert.equal(roundTrip(value), value);
  });

  it('carries the edge numbers exactly, -0 and NaN included', () => {
    for (const value of EDGE_NUMBERS) assert.ok(Object.is(roundTrip(value), value), `${value}`);
  });

  it('uses one byte for integers from -32 to 127 and at most five for any int32', () => {
    for (const value of [0, 1, 127, -1, -32]) assert.equal(encode(value).length, 1, `${value}`);
    for (const value of [128, -33, 1000, -(2 ** 31), 2 ** 31 - 1])
      assert.ok(encode(value).length <= 5, `${value}`);
    for (const value of [-0, 0.5, 2 ** 31, Number.NaN]) assert.equal(encode(value).length, 9, `${value}`);
  });

  it('carries bigints of any size and sign', () => {
    const values = [0n, 1n, -1n, 255n, 256n, -256n, 2n ** 48n - 1n, 2n ** 48n, 2n ** 63n - 1n, -(2n ** 63n)];
    values.push(
      2n ** 64n - 1n,
      2n ** 64n,
      -(2n ** 64n),
      2n ** 521n - 1n,
      -(3n ** 1000n),
      10n ** 300n + 12345n,
    );
    for (const value of values) assert.equal(roundTrip(value), value, `${value}`);
  });

  it('carries strings: empty, ASCII of every header size, non-ASCII, emoji and surrogate pairs', () => {
    const strings = ['', 'a', 'skein-01', 'x'.repeat(31), 'x'.repeat(32), 'x'.repeat(64), 'x'.repeat(65)];
    strings.push('x'.repeat(255), 'x'.repeat(256), 'y'.repeat(100_000), 'héllo', 'ß'.repeat(200), '中文字符');
    strings.push(
      '\u{1F600}',
      '\u{1F468}\u200D\u{1F469}\u200D\u{1F467}',
      '\uD83D\uDE00'.repeat(5000),
      '\u0000\u007f\u0080',
    );
    strings.push(`${'a'.repeat(30)}é`, `é${'a'.repeat(80)}`, '\uFFFF\u{10FFFF}');
    for (const value of strings) assert.equal(roundTrip(value), value, JSON.stringify(value.slice(0, 40)));
  });

  it('encodes a short ASCII string as one header byte and its characters', () => {
    assert.deepEqual([...encode('abc')], [0x83, 0x61, 0x62, 0x63]);
    assert.equal(encode('é').length, 4);
  });

  it('replaces a lone surrogate with U+FFFD, as any UTF-8 encoder does', () => {
    assert.equal(roundTrip('a\uD800b'), 'a\uFFFDb');
    assert.equal(roundTrip('\uDC00'.repeat(100)), '\uFFFD'.repeat(100));
  });

  it('carries Dates, invalid ones included, and RegExps with their flags', () => {
    assertRoundTrips(new Date(0));
    assertRoundTrips(new Date(-8.64e15));
    assertRoundTrips(new Date(8.64e15));
    assert.ok(Number.isNaN(roundTrip(new Date(Number.NaN)).getTime()));
    for (const regexp of [/a+b/, /^[\w.]+$/giu, /x/y, /(?<year>\d{4})/dms, /\//v, /(?:)/]) {
      const back = roundTrip(regexp);
      assert.equal(back.source, regexp.source);
      assert.equal(back.flags, regexp.flags);
      assert.ok(back instanceof RegExp);
    }
  });

  it('carries arrays, plain objects, null-prototype objects, Maps and Sets, nested', () => {
    assertRoundTrips([]);
    assertRoundTrips({});
    assertRoundTrips([1, [2, [3, [4, []]]], { a: [{ b: null }] }]);
    assertRoundTrips(Array.from({ length: 300 }, (_, i) => i * 3));
    assertRoundTrips(Object.fromEntries(Array.from({ length: 40 }, (_, i) => [`key${i}`, i])));
    assertRoundTrips({ '': 1, 'a b': 2, 0: 3, ключ: 4, '\u{1F600}': 5 });
    const bare = Object.assign(Object.create(null) as Record<string, unknown>, { x: 1, nested: { y: 2 } });
    const back = roundTrip(bare);
    assert.equal(Object.getPrototypeOf(back), null);
    assert.deepStrictEqual(back, bare);
    assertRoundTrips(
      new Map<unknown, unknown>([
        [1, 'one'],
        ['two', 2],
        [{ k: 1 }, new Set([1, 'x'])],
        [null, []],
      ]),
    );
    assertRoundTrips(new Set([1, 'a', 2n, null, undefined, { a: 1 }, [1, 2]]));
    assertRoundTrips({ map: new Map([['a', new Map([['b', new Date(1)]])]]), set: new Set([new Set([1])]) });
  });

  it('carries objects of 16 to 300 keys, whose count needs a longer header', () => {
    for (const size of [16, 127, 128, 300]) {
      const object = Object.fromEntries(
        Array.from({ length: size }, (_, i) => [`k${i}`, { nested: [i, 'x'.repeat(i)] }]),
      );
      assertRoundTrips(object, `${size} keys`);
    }
  });

  it('lists only own properties when something made a property of Object.prototype enumerable', () => {
    Object.defineProperty(Object.prototype, 'polluted', { value: 1, enumerable: true, configurable: true });
    try {
      const back = roundTrip({ a: 1, b: { c: 2 } });
      assert.deepStrictEqual(Object.keys(back), ['a', 'b']);
      assert.deepStrictEqual(Object.keys(back.b), ['c']);
    } finally {
      delete (Object.prototype as Record<string, unknown>).polluted;
    }
  });

  it('carries plain objects, Maps, Sets, Dates, RegExps and ArrayBuffers made in another realm', () => {
    const foreign = runInNewContext(
      '({ a: 1, list: [1, { b: 2 }], map: new Map([[1, "x"]]), set: new Set([2]), at: new Date(5), re: /x/g, raw: new ArrayBuffer(2) })',
    ) as unknown;
    const back = roundTrip(foreign) as Record<string, unknown>;
    assert.equal(Object.getPrototypeOf(back), Object.prototype);
    assert.deepStrictEqual(back, {
      a: 1,
      list: [1, { b: 2 }],
      map: new Map([[1, 'x']]),
      set: new Set([2]),
      at: new Date(5),
      re: /x/g,
      raw: new ArrayBuffer(2),
    });
    assertRefused(
      runInNewContext('[new (class Point {})()]'),
      /^Cannot encode value\[0\]: an instance of class Point/,
    );
  });

  it('keeps an own "__proto__" key a key and never touches the prototype', () => {
    const value = JSON.parse('{"__proto__": {"polluted": true}, "a": 1}') as Record<string, unknown>;
    const back = roundTrip(value);
    assert.equal(Object.getPrototypeOf(back), Object.prototype);
    assert.deepStrictEqual(Object.keys(back), ['__proto__', 'a']);
    assert.deepStrictEqual(back, value);
    assert.equal(({} as Record<string, unknown>).polluted, undefined);
  });

  it('turns array holes into undefined: arrays travel dense', () => {
    // biome-ignore lint/suspicious/noSparseArray: a sparse array is the case under test.
    const back = roundTrip([1, , 3]);
    assert.deepStrictEqual(back, [1, undefined, 3]);
    assert.ok(Object.hasOwn(back, 1));
  });

  it('copies every typed array kind raw, from views at non-zero byte offsets', () => {
    // The number-valued kinds; the BigInt ones are checked after.
    const classes = NUMBER_TYPED_ARRAYS;
    for (const Class of classes) {
      const whole = new Class(new ArrayBuffer(Class.BYTES_PER_ELEMENT * 12));
      for (let i = 0; i < whole.length; i++) whole[i] = (i * 37 - 100) * (Class === Float64Array ? 1.5 : 1);
      const view = new Class(whole.buffer, Class.BYTES_PER_ELEMENT * 3, 7);
      const back = roundTrip(view);
      assert.deepStrictEqual(back, view, Class.name);
      assert.equal(back.byteOffset, 0);
      assert.equal(back.buffer.byteLength, view.byteLength, `${Class.name}: no more than the view travels`);
    }
    const bigs = new BigInt64Array([-(2n ** 63n), -1n, 0n, 2n ** 63n - 1n]);
    assertRoundTrips(bigs.subarray(1));
    assertRoundTrips(new BigUint64Array([0n, 2n ** 64n - 1n]));
    const floats = new Float64Array([-0, Number.NaN, Number.POSITIVE_INFINITY, 1e-310]);
    const floatsBack = roundTrip(floats);
    assert.ok(Object.is(floatsBack[0], -0) && Number.isNaN(floatsBack[1]) && floatsBack[3] === 1e-310);
    assertRoundTrips(new Uint8Array(0));
    assertRoundTrips(new Float32Array(100_000).fill(0.25));
  });

  it('decodes typed arrays of every kind and length around 64 bytes byte for byte, each its own memory', () => {
    const classes = TYPED_ARRAYS;
    for (const Class of classes) {
      const arrays: ArrayBufferView[] = [];
      for (let bytes = 0; bytes <= 80; bytes += Class.BYTES_PER_ELEMENT) {
        const array = new Class(bytes / Class.BYTES_PER_ELEMENT);
        const raw = new Uint8Array(array.buffer);
        // Every byte pattern, NaNs with payloads among the floats: the bytes must come back, not the numbers.
        for (let i = 0; i < raw.length; i++) raw[i] = (bytes * 31 + i * 97 + 0xf0) & 0xff;
        arrays.push(array);
      }
      const back = roundTrip(arrays) as ArrayBufferView[];
      for (const [i, array] of back.entries()) {
        assert.equal(array.constructor, Class);
        assert.deepStrictEqual(
          new Uint8Array(array.buffer, array.byteOffset, array.byteLength),
          new Uint8Array(arrays[i]!.buffer),
          `${Class.name} of ${arrays[i]!.byteLength} bytes`,
        );
      }
      // Each decoded array owns its bytes: writing one changes no other.
      const bytesOf = (array: ArrayBufferView) =>
        new Uint8Array(array.buffer, array.byteOffset, array.byteLength);
      for (const [i, array] of back.entries()) bytesOf(array).fill(i + 1);
      for (const [i, array] of back.entries())
        assert.ok(
          bytesOf(array).every((b) => b === i + 1),
          Class.name,
        );
    }
  });

  it('carries Float16Array where the runtime has it', (t) => {
    const Float16 = (globalThis as { Float16Array?: new (values: number[]) => ArrayBufferView }).Float16Array;
    if (Float16 === undefined) {
      t.skip('this Node has no Float16Array');
      return;
    }
    assertRoundTrips(new Float16(Array.from({ length: 9 }, (_, i) => i / 4 - 1)));
  });

  it('carries a Buffer as a Uint8Array of the same bytes', () => {
    const back = roundTrip(Buffer.from('hello'));
    assert.equal(Object.getPrototypeOf(back), Uint8Array.prototype);
    assert.deepStrictEqual([...back], [...Buffer.from('hello')]);
  });

  it('carries ArrayBuffers and DataViews, copying only the viewed bytes', () => {
    const buffer = new Uint8Array([1, 2, 3, 4, 5, 6]).buffer;
    assertRoundTrips(buffer);
    assertRoundTrips(new ArrayBuffer(0));
    const view = new DataView(buffer, 2, 3);
    const back = roundTrip(view);
    assert.ok(back instanceof DataView);
    assert.deepStrictEqual([...new Uint8Array(back.buffer)], [3, 4, 5]);
    const resizable = new ArrayBuffer(4, { maxByteLength: 16 });
    new Uint8Array(resizable).set([9, 8, 7, 6]);
    assert.deepStrictEqual([...new Uint8Array(roundTrip(resizable))], [9, 8, 7, 6]);
  });

  it('rebuilds errors of the built-in classes with message, stack, cause and properties', () => {
    const classes = [Error, TypeError, RangeError, SyntaxError, ReferenceError, EvalError, URIError];
    for (const Class of classes) {
      const error = new Class(`bad ${Class.name}`, { cause: new Error('root', { cause: 42 }) });
      Object.assign(error, { code: 'E_BAD', detail: { at: [1, 2] } });
      const back = roundTrip(error);
      assert.equal(Object.getPrototypeOf(back), Class.prototype);
      assert.equal(back.name, Class.name);
      assert.equal(back.message, error.message);
      assert.equal(back.stack, error.stack);
      assert.deepStrictEqual(back, error);
      assert.equal(((back.cause as Error).cause as number) + 0, 42);
    }
  });

  it('rebuilds an error of a custom class as an Error that keeps its name', () => {
    class ValidationError extends Error {
      override name = 'ValidationError';
      field = 'email';
    }
    const back = roundTrip(new ValidationError('not an address'));
    assert.ok(back instanceof Error);
    assert.equal(back.name, 'ValidationError');
    assert.equal(back.message, 'not an address');
    assert.equal(back.field, 'email');
    assert.match(String(back.stack), /ValidationError: not an address/);
    const renamed = new Error('x');
    Object.defineProperty(renamed, 'name', { value: 'QuietError', enumerable: false });
    assert.equal(roundTrip(renamed).name, 'QuietError');
  });

  it('carries a non-enumerable code, an AggregateError with its errors, and an error without a stack', () => {
    const coded = new Error('no such file');
    Object.defineProperty(coded, 'code', { value: 'ENOENT', enumerable: false });
    assert.equal((roundTrip(coded) as { code?: unknown }).code, 'ENOENT');
    const aggregate = new AggregateError([new Error('one'), new RangeError('two')], 'both failed');
    const back = roundTrip(aggregate);
    assert.ok(back instanceof AggregateError);
    assert.deepStrictEqual(back.errors, aggregate.errors);
    const stackless = new Error('quiet');
    delete stackless.stack;
    assert.equal(roundTrip(stackless).stack, undefined);
  });

  it('rebuilds Skein errors as their own classes with code and fields', () => {
    const timeout = roundTrip(new TimeoutError('took too long', { cause: 'slow disk' }));
    assert.ok(timeout instanceof TimeoutError);
    assert.equal(timeout.code, 'SKEIN_TIMEOUT');
    assert.equal(timeout.cause, 'slow disk');
    const crashed = roundTrip(new WorkerCrashedError('died', { exitCode: 3, signal: null, workerId: 2 }));
    assert.ok(crashed instanceof WorkerCrashedError);
    assert.deepStrictEqual([crashed.exitCode, crashed.signal, crashed.workerId], [3, null, 2]);
    const invalid = roundTrip(new InvalidArgumentError('SKEIN_CODEC_UNSUPPORTED', 'nope'));
    assert.ok(invalid instanceof InvalidArgumentError);
    assert.equal(invalid.code, 'SKEIN_CODEC_UNSUPPORTED');
  });

  it('copies typed arrays in shared memory out when it decodes, and works on SharedArrayBuffer input', () => {
    const value = {
      samples: new Float64Array([1.5, -0, Number.NaN]),
      raw: new Uint8Array([1, 2, 3]),
      buffer: new Uint16Array([7, 8]).buffer,
      view: new DataView(new Uint8Array([4, 5]).buffer),
      text: 'héllo wörld, a string long enough to be decoded natively rather than by hand',
      short: 'abc',
    };
    const shared = inSharedMemory(encode(value));
    assert.ok(shared.buffer instanceof SharedArrayBuffer);
    const back = decode(shared) as typeof value;
    assert.deepStrictEqual(back, value);
    for (const buffer of [back.samples.buffer, back.raw.buffer, back.buffer, back.view.buffer]) {
      assert.ok(!(buffer instanceof SharedArrayBuffer));
    }
    shared.fill(0);
    assert.deepStrictEqual(back, value, 'the result does not alias the input');
  });

  it('copies typed arrays out of a Buffer input instead of aliasing it', () => {
    const bytes = Buffer.from(encode(new Uint8Array([1, 2, 3])));
    const back = decode(bytes) as Uint8Array;
    bytes.fill(0);
    assert.deepStrictEqual(back, new Uint8Array([1, 2, 3]));
    assert.equal(Object.getPrototypeOf(back), Uint8Array.prototype);
  });

  it('decodes nesting up to CODEC_LIMITS.maxDepth levels and refuses deeper encodings', () => {
    let deep: unknown = 'leaf';
    for (let i = 0; i < CODEC_LIMITS.maxDepth; i++) deep = [deep];
    assertRoundTrips(deep);
    assertRefused([deep], /nested deeper than 1000 levels/, /^Cannot encode value\[0\]\[0\]/);
  });
});

describe('Encoder', () => {
  it('returns a view of one scratch buffer, the same view object for the same length', () => {
    const encoder = new Encoder();
    const first = encoder.encode({ id: 1 });
    const second = encoder.encode({ id: 2 });
    assert.equal(second, first, 'same length: the same view');
    assert.deepStrictEqual(decode(second), { id: 2 });
    const third = encoder.encode('a longer value');
    assert.equal(third.buffer, first.buffer);
    assert.equal(decode(third), 'a longer value');
  });

  it('grows its buffer for a large value and works on after a refused value', () => {
    const encoder = new Encoder(16);
    const big = { data: new Float64Array(10_000).fill(1.25), text: 'é'.repeat(5000) };
    assert.deepStrictEqual(decode(encoder.encode(big)), big);
    assert.throws(() => encoder.encode({ ok: 1, bad: () => 1 }), { code: 'SKEIN_CODEC_UNSUPPORTED' });
    assert.deepStrictEqual(decode(encoder.encode({ ok: 1 })), { ok: 1 });
  });

  it('shrinks its buffer again after a huge value once values are small', () => {
    const encoder = new Encoder();
    const huge = encoder.encode(new Uint8Array(CODEC_LIMITS.shrinkAboveBytes * 2));
    assert.ok(huge.buffer.byteLength > CODEC_LIMITS.shrinkAboveBytes);
    encoder.encode(1);
    const small = encoder.encode(2);
    assert.ok(small.buffer.byteLength <= CODEC_LIMITS.initialBytes);
  });

  it('refuses an initialBytes that is not an integer from 16 up', () => {
    for (const bad of [0, 15, 1.5, Number.NaN, 2 ** 31]) {
      assert.throws(() => new Encoder(bad), {
        code: 'SKEIN_CODEC_UNSUPPORTED',
        message: /initialBytes must be/,
      });
    }
  });

  it('refuses to be re-entered from a getter, while encode() nests through a fresh encoder', () => {
    const encoder = new Encoder();
    const sneaky = {
      get inner(): unknown {
        return encoder.encode('nested');
      },
    };
    assert.throws(() => encoder.encode(sneaky), {
      code: 'SKEIN_CODEC_UNSUPPORTED',
      message: /second Encoder/,
    });
    const nested = {
      get inner(): Uint8Array {
        return encode('nested');
      },
    };
    const back = decode(encode(nested)) as { inner: Uint8Array };
    assert.equal(decode(back.inner), 'nested');
  });

  it('encode() returns a copy that later calls do not overwrite', () => {
    const first = encode({ n: 1 });
    encode({ n: 2 });
    assert.deepStrictEqual(decode(first), { n: 1 });
    assert.equal(first.byteOffset, 0);
    assert.equal(first.buffer.byteLength, first.length);
  });
});

describe('unsupported values', () => {
  const PLAIN = /send plain data \(numbers, strings/;

  it('names the path and type of a function, and the way out', () => {
    assertRefused({ items: [1, 2, 3, () => 1] }, /^Cannot encode value\.items\[3\]: a function;/, PLAIN);
    assertRefused(function handler() {}, /^Cannot encode value: a function \(handler\)/);
  });

  it('names symbols, class instances, WeakMap, WeakSet, WeakRef and Promise', () => {
    assertRefused({ s: Symbol('tag') }, /^Cannot encode value\.s: a symbol \(Symbol\(tag\)\)/, PLAIN);
    class Point {
      x = 1;
    }
    assertRefused(
      { at: new Point() },
      /^Cannot encode value\.at: an instance of class Point;/,
      /plain object/,
    );
    assertRefused(
      [Object.create({ inherited: 1 })],
      /^Cannot encode value\[0\]: an instance of class Object/,
    );
    assertRefused({ m: new WeakMap() }, /^Cannot encode value\.m: a WeakMap/);
    assertRefused(new Set([new WeakSet()]), /^Cannot encode value\.values\(\)\[0\]: a WeakSet/);
    assertRefused({ r: new WeakRef({}) }, /value\.r: a WeakRef/);
    const promise = Promise.resolve(1);
    assertRefused({ later: promise }, /^Cannot encode value\.later: a Promise; await it first/);
  });

  it('refuses shared memory and says to pass the SharedArrayBuffer itself', () => {
    assertRefused(
      { memory: new SharedArrayBuffer(8) },
      /^Cannot encode value\.memory: a SharedArrayBuffer;/,
      /pass the SharedArrayBuffer itself to the worker instead/,
    );
    assertRefused(
      [new Int32Array(new SharedArrayBuffer(8))],
      /^Cannot encode value\[0\]: a Int32Array over a SharedArrayBuffer;/,
      /pass the SharedArrayBuffer itself/,
    );
    assertRefused(
      { bytes: new Uint8Array(new SharedArrayBuffer(8), 2, 4) },
      /^Cannot encode value\.bytes: a Uint8Array over a SharedArrayBuffer;/,
      /pass the SharedArrayBuffer itself/,
    );
  });

  it('sends a small Uint8Array it just decoded on again, and still refuses shared ones after a decode', () => {
    // The decoder's last small Uint8Array is encoded without a look at its buffer (fresh-views.ts).
    const echoed = decode(encode({ bytes: new Uint8Array([1, 2, 3]) })) as { bytes: Uint8Array };
    assert.deepStrictEqual(encode(echoed), encode({ bytes: new Uint8Array([1, 2, 3]) }));
    assert.deepStrictEqual(roundTrip(echoed), { bytes: new Uint8Array([1, 2, 3]) });
    // Any other array, shared ones over the same or a decoded value's bytes included, is still checked.
    const shared = new Uint8Array(new SharedArrayBuffer(8));
    decode(encode({ bytes: new Uint8Array(8) }));
    assertRefused({ bytes: shared }, /^Cannot encode value\.bytes: a Uint8Array over a SharedArrayBuffer;/);
    const sharedOut = decode(inSharedMemory(encode(new Uint8Array([9, 8])))) as Uint8Array;
    assert.ok(!(sharedOut.buffer instanceof SharedArrayBuffer));
    assertRefused([new Uint8Array(new SharedArrayBuffer(4))], /a Uint8Array over a SharedArrayBuffer/);
  });

  it('names the path of a value inside Map keys, Map values, Sets, error causes and odd keys', () => {
    assertRefused(new Map([['id', () => 1]]), /^Cannot encode value\.get\("id"\): a function/);
    assertRefused(new Map([[7, { f: Symbol() }]]), /^Cannot encode value\.get\(7\)\.f: a symbol/);
    assertRefused(new Map([[Symbol('k'), 1]]), /^Cannot encode value\.keys\(\)\[0\]: a symbol/);
    assertRefused({ 'a b': { 0: [Symbol()] } }, /^Cannot encode value\["a b"\]\["0"\]\[0\]: a symbol/);
    assertRefused(
      new Error('x', { cause: { f: Math.max } }),
      /^Cannot encode value\.cause\.f: a function \(max\)/,
    );
    assertRefused(Object.assign(new Error('x'), { hook: () => 1 }), /^Cannot encode value\.hook: a function/);
  });

  it('says a circular structure is circular and names where it loops', () => {
    const object: Record<string, unknown> = { a: { b: {} } };
    (object.a as { b: Record<string, unknown> }).b.back = object.a;
    assertRefused(object, /^Cannot encode value\.a\.b\.back: it is circular \(it refers back to value\.a\)/);
    const array: unknown[] = [1];
    array.push(array);
    assertRefused(
      array,
      /^Cannot encode value\[1\]: it is circular \(it refers back to value\)/,
      /break the cycle/,
    );
    const map = new Map<string, unknown>();
    map.set('self', { map });
    assertRefused(
      { map },
      /^Cannot encode value\.map\.get\("self"\)\.map: it is circular \(it refers back to value\.map\)/,
    );
  });

  it('copies a shared (acyclic) reference twice instead of refusing it', () => {
    const shared = { n: 1 };
    const back = roundTrip({ a: shared, b: shared });
    assert.deepStrictEqual(back, { a: { n: 1 }, b: { n: 1 } });
    assert.notEqual(back.a, back.b);
  });
});

describe('corrupt input', () => {
  it('refuses truncated input, trailing bytes, unknown tags and forged lengths', () => {
    const bytes = encode({ id: 1, name: 'skein', list: [1, 2, 3] });
    for (let length = 0; length < bytes.length; length++)
      assertCorrupt(bytes.subarray(0, length), /ends inside/);
    assertCorrupt(new Uint8Array([...bytes, 0]), /1 bytes follow the value/);
    assertCorrupt(new Uint8Array([0xd7]), /unknown tag 0xd7/);
    assertCorrupt(new Uint8Array([0xcc, 0xff, 0xff, 0xff, 0xff, 0x07]), /ends inside/);
    assertCorrupt(new Uint8Array([0xcc, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01]), /longer than 5 bytes/);
    assertCorrupt(new Uint8Array([0xd4, 0x09, 0x03, 1, 2, 3]), /not a multiple of 8/);
    assertCorrupt(new Uint8Array([0xd4, 0x63, 0x00]), /unknown typed array kind 99/);
    assertCorrupt(new Uint8Array([0xb1, 0x01, 0x01]), /object key with tag 0x1, not a string/);
    assertCorrupt(new Uint8Array([0xd2, 0x81, 0x28, 0x80]), /invalid RegExp/);
  });

  it('reads lengths of one to five varint bytes, each byte at its weight', () => {
    // Byte lengths where the varint grows a byte: 1, 2, 3 and 4 bytes round-trip through ArrayBuffers.
    for (const length of [0, 1, 127, 128, 129, 16_383, 16_384, 16_385, 2 ** 21 - 1, 2 ** 21]) {
      const back = roundTrip(new Uint8Array(length).fill(7).buffer);
      assert.equal(back.byteLength, length);
      if (length > 0) assert.equal(new Uint8Array(back)[length - 1], 7);
    }
    // Five bytes: too long for real input, so the forged length is named in the error.
    assertCorrupt(
      new Uint8Array([0xd3, 0x81, 0x82, 0x83, 0x84, 0x09]),
      /a length of 2424357121 bytes/, // 1 + 2 * 2^7 + 3 * 2^14 + 4 * 2^21 + 9 * 2^28
    );
    assertCorrupt(new Uint8Array([0xd3, 0x80, 0x80, 0x80, 0x80, 0x08]), /a length of 2147483648 bytes/);
    assertCorrupt(new Uint8Array([0xd3, 0x85, 0x01]), /ends inside/);
    for (let cut = 1; cut <= 5; cut++) {
      assertCorrupt(new Uint8Array([0xd3, 0xff, 0xff, 0xff, 0xff, 0x07]).subarray(0, cut + 1), /ends inside/);
    }
  });

  it('refuses input nested deeper than CODEC_LIMITS.maxDepth before the stack runs out', () => {
    const depth = 100_000;
    const bytes = new Uint8Array(depth + 1).fill(0xa1);
    bytes[depth] = 0;
    assertCorrupt(bytes, /nested deeper than 1000 levels/);
  });

  it('refuses a value that is not a Uint8Array', () => {
    assertCorrupt([1, 2] as unknown as Uint8Array, /decode takes a Uint8Array \(got object\)/);
    assertCorrupt('x' as unknown as Uint8Array, /got string/);
  });
});

describe('fuzz', () => {
  it('round-trips 3000 random structures exactly, also from shared memory and with a reused Encoder', () => {
    const generator = new ValueGenerator(0x5eed);
    const encoder = new Encoder(16);
    for (let i = 0; i < 3000; i++) {
      const value = generator.value(4);
      const bytes = encode(value);
      assert.deepStrictEqual(decode(bytes), value, `structure ${i}`);
      assert.deepStrictEqual(encoder.encode(value), bytes, `structure ${i}: Encoder and encode() agree`);
      if (i % 10 === 0)
        assert.deepStrictEqual(decode(inSharedMemory(bytes)), value, `structure ${i} (shared)`);
    }
  });

  it('decodes truncated, bit-flipped and random bytes to a value or SKEIN_CODEC_CORRUPT, nothing else', () => {
    const generator = new ValueGenerator(0xbad);
    const random = seededRandom(0xf1195);
    const int = (below: number): number => Math.floor(random() * below);
    let decoded = 0;
    let refused = 0;
    const attempt = (bytes: Uint8Array, what: string): void => {
      try {
        decode(bytes);
        decoded++;
      } catch (error) {
        if (!(error instanceof SkeinError) || error.code !== 'SKEIN_CODEC_CORRUPT') {
          assert.fail(`${what} [${[...bytes.subarray(0, 64)].join(',')}]: ${String(error)}`);
        }
        refused++;
      }
    };
    for (let i = 0; i < 3000; i++) {
      const bytes = encode(generator.value(3));
      attempt(bytes.subarray(0, int(bytes.length)), `truncation ${i}`);
      const flipped = bytes.slice();
      for (let flips = 1 + int(3); flips > 0; flips--) flipped[int(flipped.length)]! ^= 1 << int(8);
      attempt(flipped, `bit flip ${i}`);
      const overwritten = bytes.slice();
      overwritten[int(overwritten.length)] = int(256);
      attempt(i % 2 === 0 ? overwritten : inSharedMemory(overwritten), `overwrite ${i}`);
      const noise = new Uint8Array(1 + int(40));
      for (let k = 0; k < noise.length; k++) noise[k] = int(256);
      attempt(noise, `noise ${i}`);
    }
    assert.ok(decoded > 100 && refused > 100, `both outcomes occur (decoded ${decoded}, refused ${refused})`);
  });
});
