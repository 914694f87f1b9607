// Small messages (0-300 bytes, across the thread transport's one-record small frames) from two senders,
// received through every kind of matching, on thread and process ranks: nothing lost, damaged or
// reordered, statuses right, typed errors kept, withdrawn receives take nothing; and thousands of
// round trips of every kind and size in turn, each echo checked (test/mpi/small-frames-ranks.ts).

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { mpirun } from '../../src/mpi/index.ts';
import { ECHO_ROUND_TRIPS, echoMix, SMALL_FRAME_MESSAGES, smallFrames } from './small-frames-ranks.ts';

for (const transport of ['thread', 'process'] as const) {
  test(`${transport} ranks: small frames of every size and kind arrive whole and in order, however matched`, async () => {
    assert.deepEqual(await mpirun(3, smallFrames, { transport, timeout: 60_000 }), [
      2 * SMALL_FRAME_MESSAGES,
      1,
      2,
    ]);
  });
}

test('thread ranks, a 4 KiB ring: small frames queued behind a full ring arrive whole and in order', async () => {
  assert.deepEqual(await mpirun(3, smallFrames, { ringBytes: 4096, timeout: 60_000 }), [
    2 * SMALL_FRAME_MESSAGES,
    1,
    2,
  ]);
});

for (const [label, options] of [
  ['thread ranks', {}],
  ['thread ranks, a 4 KiB ring', { ringBytes: 4096 }],
  ['process ranks', { transport: 'process' }],
] as const) {
  test(`${label}: ${ECHO_ROUND_TRIPS} echoes of every kind and size in turn come back whole`, async () => {
    assert.deepEqual(await mpirun(2, echoMix, { ...options, timeout: 120_000 }), [
      ECHO_ROUND_TRIPS,
      ECHO_ROUND_TRIPS,
    ]);
  });
}
