// The Redis engine's wire forms that need no server: packForLua (the MessagePack argument the scripts
// read with cmsgpack.unpack) and unframeClaimed (a claim's reply). The scripts' side of both runs in
// test/tasks/redis-broker.test.ts and the conformance suite against a real Redis.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { decodeJob, type LuaPackable, packForLua, unframeClaimed } from '../../src/tasks/redis/job-codec.ts';
import { codeOf } from '../conformance/helpers.ts';

type Unpacked = Buffer | Unpacked[];

/** Reads what packForLua may write (raw as fixraw, raw16, raw32; arrays), as cmsgpack would. */
function unpack(bytes: Buffer): Unpacked {
  let at = 0;
  const read = (): Unpacked => {
    const tag = bytes[at++]!;
    let length: number;
    if ((tag & 0xe0) === 0xa0) length = tag & 0x1f;
    else if (tag === 0xda) {
      length = bytes.readUInt16BE(at);
      at += 2;
    } else if (tag === 0xdb) {
      length = bytes.readUInt32BE(at);
      at += 4;
    } else {
      let items: number;
      if ((tag & 0xf0) === 0x90) items = tag & 0x0f;
      else if (tag === 0xdc) {
        items = bytes.readUInt16BE(at);
        at += 2;
      } else if (tag === 0xdd) {
        items = bytes.readUInt32BE(at);
        at += 4;
      } else throw new Error(`unexpected tag ${tag.toString(16)} at ${at - 1}`);
      return Array.from({ length: items }, read);
    }
    const raw = bytes.subarray(at, at + length);
    at += length;
    return Buffer.from(raw);
  };
  const value = read();
  assert.equal(at, bytes.length, 'nothing follows the value');
  return value;
}

/** `value` as unpack reads it back: strings as their UTF-8 bytes. */
function asRead(value: LuaPackable): Unpacked {
  if (typeof value === 'string') return Buffer.from(value, 'utf8');
  if (Buffer.isBuffer(value)) return Buffer.from(value);
  return (value as readonly LuaPackable[]).map(asRead);
}

describe('packForLua', () => {
  it('round-trips strings of every length class, ASCII or not, and bytes small and large', () => {
    const strings = [
      '',
      'x',
      'complete',
      '0123456789',
      '01234567890',
      'a'.repeat(31),
      'a'.repeat(32),
      '0192d3a0-0000-7000-8000-000000000001',
      'b'.repeat(63),
      'c'.repeat(64),
      'é',
      'déjà vu',
      '€'.repeat(10),
      '€'.repeat(11),
      `${'a'.repeat(40)}€`,
      '😀 emoji',
      'z'.repeat(5000),
      'ü'.repeat(21_845),
      'ü'.repeat(21_846),
      'y'.repeat(70_000),
    ];
    const buffers = [0, 1, 2, 31, 32, 100, 70_000].map((n) =>
      Buffer.from(Array.from({ length: n }, (_, i) => i % 256)),
    );
    const value: LuaPackable = [...strings, ...buffers, ['nested', Buffer.from([255, 0]), []], 'end'];
    assert.deepEqual(unpack(packForLua(value)), asRead(value));
  });

  it('packs arrays of every size class', () => {
    for (const size of [0, 15, 16, 65_535, 65_536]) {
      const value = Array.from({ length: size }, (_, i) => String(i % 7));
      assert.deepEqual(unpack(packForLua(value)), asRead(value));
    }
  });
});

describe('unframeClaimed', () => {
  const stamp = { queue: 'q', workerId: 'w1', now: 1_000, leaseMs: 30_000 };

  it('reads the jobs of a claim reply; decodeJob with the claim puts back the fields the claim wrote', () => {
    const texts = Buffer.from(
      JSON.stringify([
        { id: 'a', attempt: '1', task: 't', runAt: '5', maxAttempts: '3', resultTtlMs: '9', createdAt: '4' },
        { id: 'b' },
        { id: 'c' },
      ]),
    );
    const binaries = Buffer.concat([
      Buffer.from('\x01\npayload\n3\n'),
      Buffer.from([1, 10, 1]),
      Buffer.from('\x01'),
      Buffer.from('\x01\npayload\n0\n\ncanvas\n12\nzzzzzzzzzzzz'),
    ]);
    const [a, b, c, ...rest] = unframeClaimed(texts, binaries);
    assert.deepEqual(rest, []);
    assert.deepEqual(a, {
      id: 'a',
      attempt: '1',
      task: 't',
      runAt: '5',
      maxAttempts: '3',
      resultTtlMs: '9',
      createdAt: '4',
      payload: Buffer.from([1, 10, 1]),
    });
    assert.equal(b?.payload, undefined);
    assert.deepEqual(c?.payload, Buffer.alloc(0));
    assert.deepEqual(c?.canvas, Buffer.from('zzzzzzzzzzzz'));
    const job = decodeJob(a!, stamp);
    assert.deepEqual(
      [job?.queue, job?.state, job?.workerId, job?.startedAt, job?.leaseUntil, job?.attempt, job?.createdAt],
      ['q', 'running', 'w1', 1_000, 31_000, 1, 4],
    );
    assert.deepEqual(job?.payload, new Uint8Array([1, 10, 1]));
  });

  it('reads an empty reply as no jobs, and rejects a reply cut short or with a bad length', () => {
    assert.deepEqual(unframeClaimed(Buffer.alloc(0), Buffer.alloc(0)), []);
    const texts = Buffer.from(JSON.stringify([{ id: 'a' }, { id: 'b' }]));
    const internal = (error: unknown) => codeOf(error) === 'SKEIN_INTERNAL';
    assert.throws(() => unframeClaimed(texts, Buffer.from('\x01\npayload\n3\n12\x01')), internal);
    assert.throws(() => unframeClaimed(texts, Buffer.from('\x01')), internal);
    assert.throws(() => unframeClaimed(texts, Buffer.from('\x01\npayload\n\n\x01')), internal);
    assert.throws(() => unframeClaimed(texts, Buffer.from('\x01\npayload\n1x\nz\x01')), internal);
    assert.throws(() => unframeClaimed(texts, Buffer.from('\x01\npayload')), internal);
  });
});

describe('decodeJob', () => {
  const hash = {
    id: 'j1',
    queue: 'q',
    task: 't',
    state: 'queued',
    priority: '0',
    runAt: '1795691399614',
    maxAttempts: '3',
    resultTtlMs: '86400000',
    deadLetter: '1',
    attempt: '0',
    createdAt: '1795691399617',
    cancelRequested: '0',
  };

  it('reads numbers: digits, signs, fractions, exponents, infinities and long ones', () => {
    const numbers: Record<string, number> = {
      '0': 0,
      '007': 7,
      '123456789012345': 123_456_789_012_345,
      '1234567890123456': 1_234_567_890_123_456,
      '-5': -5,
      '2.5': 2.5,
      '1e3': 1000,
      inf: Number.POSITIVE_INFINITY,
      '-inf': Number.NEGATIVE_INFINITY,
    };
    for (const [text, value] of Object.entries(numbers)) {
      assert.equal(decodeJob({ ...hash, priority: text })?.priority, value, text);
    }
  });

  it('rejects a damaged number with SKEIN_INTERNAL', () => {
    for (const text of ['', '12abc', 'abc', '1-2']) {
      assert.throws(
        () => decodeJob({ ...hash, runAt: text }),
        (error: unknown) => codeOf(error) === 'SKEIN_INTERNAL',
        text,
      );
    }
  });
});
