// ByteRing between two real threads: a producer that checks room for a whole frame (two records) at once
// when it can, and record by record when the ring is tight (the MPI thread transport's pattern), and a
// consumer that checks every frame. Run on rings of several sizes, each wrapped hundreds of times.

import assert from 'node:assert/strict';
import { once } from 'node:events';
import { test } from 'node:test';
import { Worker } from 'node:worker_threads';
import { ByteRing, ringRecordBytes } from '../../src/channel/ring.ts';

const THREAD = new URL('../fixtures/channel/ring-stress-thread.ts', import.meta.url);
const DATA_OFFSET = 192;

async function stress(size: number, frames: number, aligned = false, ready = false): Promise<string> {
  const buffer = new SharedArrayBuffer(DATA_OFFSET + size);
  const consumer = new Worker(THREAD, {
    workerData: { buffer, size, frames, role: 'consumer', aligned, ready },
  });
  const producer = new Worker(THREAD, {
    workerData: { buffer, size, frames, role: 'producer', aligned, ready },
  });
  try {
    const [verdict] = (await Promise.race([
      once(consumer, 'message'),
      once(consumer, 'error').then(([error]) => {
        throw error;
      }),
      once(producer, 'error').then(([error]) => {
        throw error;
      }),
    ])) as [string];
    return verdict;
  } finally {
    await Promise.all([consumer.terminate(), producer.terminate()]);
  }
}

for (const watched of [false, true]) {
  test(`records written unpublished stay out of sight until publish()${watched ? ', by the tail and by their words' : ''}, then appear together and in order`, () => {
    const size = 256;
    const cells = new Int32Array(new SharedArrayBuffer(DATA_OFFSET + size));
    const at = { head: 0, tailSeen: 1, tail: 16, headSeen: 17 };
    const producer = new ByteRing(cells, at, DATA_OFFSET, size, watched);
    const consumer = new ByteRing(cells, at, DATA_OFFSET, size, watched);
    // On a watched ring, what peekReady says: -1 (nothing), else whether a record of `length` bytes is there.
    const byWord = (length: number): boolean | -1 => {
      if (!watched) return length === -1 ? -1 : true;
      const index = consumer.peekReady();
      return index === -1 ? -1 : index === -2 || consumer.wholeLength === length;
    };
    const copy = (length: number): Uint8Array => new Uint8Array(length);
    for (let lap = 0; lap < 20; lap++) {
      assert.ok(producer.hasRoomForRecords(ringRecordBytes(3) + ringRecordBytes(40)));
      producer.write(Uint8Array.of(lap, 1, 2), false);
      assert.equal(consumer.readCopy(copy), undefined, 'an unpublished record is not there yet');
      assert.equal(byWord(-1), -1, 'nor by its header word');
      assert.ok(consumer.isEmpty());
      producer.write(new Uint8Array(40).fill(lap), false);
      assert.equal(byWord(-1), -1, 'two unpublished records, neither there yet');
      producer.publish();
      // Published: the first one by its word too (-2 where it straddles the ring's end, whole otherwise).
      assert.equal(byWord(3), true, 'the first record by its word');
      assert.deepEqual([...consumer.readCopy(copy)!], [lap, 1, 2]);
      assert.deepEqual([...consumer.readCopy(copy)!], new Array(40).fill(lap));
      assert.equal(consumer.readCopy(copy), undefined);
      assert.equal(byWord(-1), -1);
      // A published write after an unpublished one publishes both, by the tail and by the words.
      producer.write(Uint8Array.of(7), false);
      assert.equal(byWord(-1), -1);
      producer.write(Uint8Array.of(8));
      for (const byte of [7, 8]) {
        assert.equal(byWord(1), true, `record ${byte} by its word`);
        assert.deepEqual([...consumer.readCopy(copy)!], [byte]);
      }
    }
  });
}

test('ringRecordBytes: a 4-byte length and the payload rounded up to 4', () => {
  assert.equal(ringRecordBytes(0), 4);
  assert.equal(ringRecordBytes(1), 8);
  assert.equal(ringRecordBytes(32), 36);
  assert.equal(ringRecordBytes(33), 40);
});

for (const size of [262_144, 600_000]) {
  test(`frames of two records cross a ${size}-byte ring between two threads intact, whole-frame and record checks mixed`, async () => {
    assert.equal(await stress(size, 5000), 'all 5000 frames intact');
  });
}

for (const size of [262_144, 600_004]) {
  test(`aligned writes from views at every offset modulo 8 cross a ${size}-byte ring intact and in place, peek and readCopy mixed`, async () => {
    assert.equal(await stress(size, 5000, true), 'all 5000 frames intact');
  });
}

test('writeAligned at every position of a small ring: intact, the pad where the phase needs it, never past the ring', () => {
  const size = 1024;
  const cells = new Int32Array(new SharedArrayBuffer(DATA_OFFSET + size));
  const at = { head: 0, tailSeen: 1, tail: 16, headSeen: 17 };
  const ring = new ByteRing(cells, at, DATA_OFFSET, size);
  const reads = new Uint8Array(size);
  let checked = 0;
  for (let shift = 0; shift < size; shift += 4) {
    for (const length of [256, 301, ringRecordBytes(0) + size - 12]) {
      for (let phase = 0; phase < 8; phase++) {
        // Move the tail (and head) to `shift`: one filler record, read away.
        ring.write(new Uint8Array(Math.max(0, ((shift - Atomics.load(cells, at.tail)) & (size - 1)) - 4)));
        ring.readCopy(() => reads);
        const payload = new Uint8Array(length + 8).subarray(phase, phase + length);
        for (let i = 0; i < length; i++) payload[i] = (i * 31 + phase + shift) & 255;
        assert.ok(ring.tryWriteAligned(payload), `fits at ${shift}, ${length} bytes, phase ${phase}`);
        assert.ok(ring.usedBytes() <= size);
        const view = ring.peek((n) => new Uint8Array(n))!;
        assert.deepEqual(view, payload, `at ${shift}, ${length} bytes, phase ${phase}`);
        if ((view.buffer as ArrayBufferLike) === cells.buffer && length <= 301) {
          // Records start at multiples of 4: a source at 0 or 4 modulo 8 is matched, any other put at 0.
          const target = phase % 4 === 0 ? phase : 0;
          assert.equal((view.byteOffset - target) & 7, 0, `placed at ${shift}, phase ${phase}`);
          checked++;
        }
        ring.consume();
        assert.ok(ring.isEmpty());
      }
    }
  }
  assert.ok(checked > 500, `${checked} in-place reads checked`);
});

test('peekWhole at every position of a small ring: a record in one piece in place, -1 empty, -2 padded or straddling', () => {
  const size = 256;
  const cells = new Int32Array(new SharedArrayBuffer(DATA_OFFSET + size));
  const bytes = new Uint8Array(cells.buffer);
  const at = { head: 0, tailSeen: 1, tail: 16, headSeen: 17 };
  const ring = new ByteRing(cells, at, DATA_OFFSET, size);
  const reads = new Uint8Array(size);
  const seen = { whole: 0, straddling: 0, padded: 0 };
  for (let shift = 0; shift < 2 * size; shift += 4) {
    for (const length of [1, 8, 20, 100]) {
      // Move the tail (and head) to `shift` modulo the ring: one filler record, read away.
      ring.write(new Uint8Array(Math.max(0, ((shift - Atomics.load(cells, at.tail)) & (size - 1)) - 4)));
      ring.readCopy(() => reads);
      assert.equal(ring.peekWhole(), -1, 'empty');
      const start = Atomics.load(cells, at.tail) % size;
      const payload = Uint8Array.from({ length }, (_, i) => (i * 13 + shift) & 255);
      ring.write(payload);
      const index = ring.peekWhole();
      if (start + 4 + length <= size) {
        assert.equal(index, DATA_OFFSET + ((start + 4) % size), `at ${start}, ${length} bytes`);
        assert.equal(ring.wholeLength, length);
        assert.deepEqual(bytes.subarray(index, index + length), payload);
        seen.whole++;
      } else {
        assert.equal(index, -2, `a ${length}-byte record at ${start} straddles the end`);
        seen.straddling++;
      }
      // Nothing consumed by looking: the record reads back whole.
      assert.deepEqual(
        ring.readCopy((n) => new Uint8Array(n)),
        payload,
      );
      assert.equal(ring.peekWhole(), -1, 'empty again');
    }
  }
  // A payload written aligned behind a pad is for peek() and readCopy(), never peekWhole().
  const large = new ByteRing(
    new Int32Array(new SharedArrayBuffer(DATA_OFFSET + 1024)),
    at,
    DATA_OFFSET,
    1024,
  );
  const aligned = new Uint8Array(256).fill(7);
  for (let shift = 0; shift < 64; shift += 4) {
    large.write(new Uint8Array(shift));
    large.readCopy(() => reads);
    const before = large.usedBytes();
    large.writeAligned(aligned);
    const padded = large.usedBytes() - before > ringRecordBytes(aligned.length);
    const index = large.peekWhole();
    if (padded) {
      assert.equal(index, -2, `padded after a ${shift}-byte record`);
      seen.padded++;
    } else if (index >= 0) assert.equal(large.wholeLength, aligned.length);
    assert.deepEqual(
      large.readCopy((n) => new Uint8Array(n)),
      aligned,
    );
  }
  assert.ok(seen.whole > 100 && seen.straddling > 5 && seen.padded > 3, JSON.stringify(seen));
});

for (const size of [1024, 4096, 65_536]) {
  test(`records taken by their ready word and through the tail in turn cross a ${size}-byte ring between two threads intact`, async () => {
    assert.equal(await stress(size, 200_000, false, true), 'all 200000 records intact');
  });
}

test('peekReady over many laps of a small ring, filled to the last byte at times: never a stale word taken for a record', () => {
  const size = 512;
  const cells = new Int32Array(new SharedArrayBuffer(DATA_OFFSET + size));
  const at = { head: 0, tailSeen: 1, tail: 16, headSeen: 17 };
  const ring = new ByteRing(cells, at, DATA_OFFSET, size, true);
  const bytes = new Uint8Array(cells.buffer);
  const lengths = [1, 12, 60, 5, 200, 31, 8];
  const sent: Uint8Array[] = [];
  let next = 0;
  let full = 0;
  for (let round = 0; round < 2000; round++) {
    // Fill: records of varied lengths (bytes never 0), and a last one that fills the ring exactly when it can.
    for (;;) {
      const length = lengths[(round + sent.length) % lengths.length]!;
      const free = ring.freeBytes();
      const exact = free - 4;
      const take =
        round % 3 === 0 && exact > 0 && exact <= 255 && !ring.hasRoomFor(length + 8) ? exact : length;
      if (!ring.hasRoomFor(take)) break;
      const payload = Uint8Array.from({ length: take }, (_, i) => ((next * 11 + i) % 255) + 1);
      next++;
      ring.write(payload);
      sent.push(payload);
      if (ring.freeBytes() === 0) full++;
      if (round % 2 === 0) break;
    }
    // Drain part or all of it by the ready word (readCopy where a record straddles the end).
    const drain = round % 5 === 4 ? sent.length : Math.ceil(sent.length / 2);
    for (let i = 0; i < drain; i++) {
      const want = sent.shift()!;
      const index = ring.peekReady();
      assert.notEqual(index, -1, `round ${round}: a record is there`);
      const got =
        index >= 0 ? bytes.slice(index, index + ring.wholeLength) : ring.readCopy((n) => new Uint8Array(n))!;
      if (index >= 0) ring.consume();
      assert.deepEqual(got, want, `round ${round}`);
    }
    if (sent.length === 0) assert.equal(ring.peekReady(), -1, `round ${round}: empty`);
  }
  assert.ok(full > 50, `${full} times filled to the last byte`);
});

test('a record taken by its word before its writer stored the tail leaves the ring empty to the tail until the tail comes', () => {
  const size = 256;
  const cells = new Int32Array(new SharedArrayBuffer(DATA_OFFSET + size));
  const at = { head: 0, tailSeen: 1, tail: 16, headSeen: 17 };
  const ring = new ByteRing(cells, at, DATA_OFFSET, size, true);
  const copy = (n: number): Uint8Array => new Uint8Array(n);
  for (let lap = 0; lap < 200; lap++) {
    const length = 1 + (lap % 40);
    const before = Atomics.load(cells, at.tail);
    ring.write(Uint8Array.from({ length }, (_, i) => ((lap + i) % 255) + 1));
    // The moment between the writer's header word and its tail store: the tail not there yet.
    const after = Atomics.load(cells, at.tail);
    Atomics.store(cells, at.tail, before);
    const index = ring.peekReady();
    if (index >= 0) {
      ring.consume();
      assert.equal(ring.readCopy(copy), undefined, `lap ${lap}: nothing more through the tail`);
      assert.equal(ring.peek(copy), undefined);
      assert.equal(ring.peekWhole(), -1);
    } else {
      // A record straddling the end is not in one piece: it is read through the tail once that came.
      assert.equal(index, -2);
      Atomics.store(cells, at.tail, after);
      assert.equal(ring.readCopy(copy)?.length, length);
    }
    Atomics.store(cells, at.tail, after);
    assert.equal(ring.readCopy(copy), undefined, `lap ${lap}: nothing more once the tail came`);
    assert.equal(ring.peekReady(), -1);
  }
});
