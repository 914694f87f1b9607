// The stored encoding of arguments and results: msgpack that keeps structured types, read back by a
// fresh decoder, and a clear SKEIN_TASKS_NOT_ENCODABLE naming the part that cannot be stored.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Packr, Unpackr } from 'msgpackr';
import { decodeArgs, decodeValue, encodeArgs, encodeValue } from '../../src/tasks/payload.ts';
import { codeOf } from '../conformance/helpers.ts';

describe('job payloads', () => {
  it('round-trips structured data, cycles included', () => {
    const cyclic: Record<string, unknown> = { name: 'root' };
    cyclic.self = cyclic;
    const args = [
      1,
      -2.5,
      'text',
      true,
      null,
      undefined,
      10n,
      [1, [2, [3]]],
      { nested: { list: [1, 2], when: new Date(5) } },
      new Map<unknown, unknown>([
        ['k', 1],
        [2, { v: 'x' }],
      ]),
      new Set(['a', 'b']),
      /ab+c/gi,
      new Uint8Array([1, 2, 3]),
      new Float64Array([1.5, 2.5]),
      cyclic,
    ];
    const back = decodeArgs(encodeArgs(args));
    assert.deepEqual(back.slice(0, 14), args.slice(0, 14));
    const again = back[14] as Record<string, unknown>;
    assert.equal(again.self, again);
    const error = decodeValue(encodeValue(new TypeError('bad'), 'result'), 'result') as Error;
    assert.ok(error instanceof TypeError);
    assert.equal(error.message, 'bad');
  });

  it('writes null, booleans and 32-bit integers byte for byte as msgpackr does (its fast path)', () => {
    const packr = new Packr({ structuredClone: true, moreTypes: true, mapsAsObjects: false });
    const values: unknown[] = [
      null,
      true,
      false,
      -0,
      0.5,
      -1.5,
      2 ** 53,
      Number.NaN,
      Number.POSITIVE_INFINITY,
    ];
    for (const edge of [0, 0x3f, 0x40, 0xff, 0x100, 0xffff, 0x10000, 0xffffffff, 0x100000000]) {
      values.push(edge - 1, edge, edge + 1, -edge - 1, -edge, -edge + 1);
    }
    for (const edge of [0x1f, 0x20, 0x7f, 0x80, 0x7fff, 0x8000, 0x7fffffff, 0x80000000]) {
      values.push(-edge - 1, -edge, -edge + 1);
    }
    for (const value of values) {
      const bytes = encodeValue(value, 'the result');
      assert.deepEqual(Buffer.from(bytes), Buffer.from(packr.pack(value)), String(value));
      // msgpackr itself reads its -0 back as 0.
      if (!Object.is(value, -0)) assert.ok(Object.is(decodeValue(bytes, 'the result'), value), String(value));
    }
  });

  it('reads lists of null, booleans and 32-bit integers as msgpackr does (its fast path)', () => {
    const unpackr = new Unpackr({ structuredClone: true, moreTypes: true, mapsAsObjects: false });
    const simple: unknown[] = [null, true, false];
    for (const edge of [0, 0x3f, 0x40, 0xff, 0x100, 0xffff, 0x10000, 0xffffffff])
      simple.push(edge, edge + 1, -edge, -edge - 1);
    for (const edge of [0x1f, 0x20, 0x7f, 0x80, 0x7fff, 0x8000, 0x7fffffff, 0x80000000])
      simple.push(-edge, -edge - 1);
    // (-0 comes back as 0 from msgpackr too.)
    simple.splice(
      simple.findIndex((value) => Object.is(value, -0)),
      1,
    );
    const lists: unknown[][] = [
      [],
      simple.slice(0, 15),
      ['text', 1],
      [1.5],
      [2 ** 40],
      [{ a: 1 }],
      [undefined],
    ];
    for (let i = 0; i < simple.length; i++)
      lists.push([simple[i]], [simple[i], simple[(i * 7) % simple.length]]);
    for (const list of lists) {
      const bytes = encodeArgs(list);
      assert.deepEqual(decodeArgs(bytes), unpackr.unpack(bytes), JSON.stringify(list));
      assert.deepEqual(decodeArgs(bytes), list);
    }
    // Cut short or followed by more: not the fast path's to read (msgpackr decides, as before).
    const cut = Buffer.from([0x92, 0xcd, 0x01]);
    assert.throws(
      () => decodeArgs(cut),
      (error: unknown) => codeOf(error) === 'SKEIN_TASKS_CORRUPT_PAYLOAD',
    );
  });

  it('is plain MessagePack that a separately configured decoder reads', () => {
    const bytes = encodeArgs([{ a: 1, b: [true, 'x'] }, 7]);
    assert.deepEqual(new Unpackr({ structuredClone: true, mapsAsObjects: false }).unpack(bytes), [
      { a: 1, b: [true, 'x'] },
      7,
    ]);
  });

  it('refuses what the store cannot carry, naming the argument path, with SKEIN_TASKS_NOT_ENCODABLE', () => {
    class Point {
      x = 1;
    }
    const cases: [unknown[], RegExp][] = [
      [[1, () => 2], /args\[1\] cannot be stored in a job \(a function/],
      [[{ deep: { list: [0, Symbol('s')] } }], /args\[0\]\.deep\.list\[1\] .*a symbol/],
      [[new Point()], /args\[0\] .*class the store cannot rebuild: \[object Object\]/],
      [[new Map([['k', new WeakMap()]])], /args\[0\]\.get\("k"\)/],
      [[new Set([Promise.resolve()])], /args\[0\]\.<item 0>/],
      [[new Uint8Array(new SharedArrayBuffer(4))], /args\[0\] .*shared memory/],
    ];
    for (const [args, message] of cases) {
      assert.throws(
        () => encodeArgs(args),
        (error: unknown) =>
          codeOf(error) === 'SKEIN_TASKS_NOT_ENCODABLE' && message.test((error as Error).message),
        String(message),
      );
    }
  });

  it('reports bytes that are not a stored encoding as SKEIN_TASKS_CORRUPT_PAYLOAD', () => {
    assert.throws(
      () => decodeArgs(new Uint8Array([0xc1])),
      (error: unknown) => codeOf(error) === 'SKEIN_TASKS_CORRUPT_PAYLOAD',
    );
    assert.throws(() => decodeArgs(encodeValue({ not: 'a list' }, 'x')), /not a list/);
  });
});
