// ByteRing between two real threads: a producer that checks room for a whole frame (two records) at once
// when it can, and record by record when the ring is tight (the MPI thread transport's pattern), and a
// consumer that checks every frame. Run on rings of several sizes, each wrapped hundreds of times.

import assert from 'node:assert/strict';
import { once } from 'node:events';
import { test } from 'node:test';
import { Worker } from 'node:worker_threads';
import { ringRecordBytes } from '../../src/channel/ring.ts';

const THREAD = new URL('../fixtures/channel/ring-stress-thread.ts', import.meta.url);
const DATA_OFFSET = 192;

async function stress(size: number, frames: number): Promise<string> {
  const buffer = new SharedArrayBuffer(DATA_OFFSET + size);
  const consumer = new Worker(THREAD, { workerData: { buffer, size, frames, role: 'consumer' } });
  const producer = new Worker(THREAD, { workerData: { buffer, size, frames, role: 'producer' } });
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
