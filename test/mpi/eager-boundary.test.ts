// Where eager sends end and rendezvous begins, at the exact sizes (a value's encoding may exceed
// eagerLimit by its codec framing allowance, a buffer may not), on every transport; and on thread
// ranks, frames at the size up to which a payload is one ring record, through direct and queued writes
// (test/mpi/eager-boundary-ranks.ts says how each is observed).

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { mpirun } from '../../src/mpi/index.ts';
import {
  DEFAULT_RING_SIZES,
  eagerBoundary4k,
  eagerBoundary64k,
  RECORD_ROUNDS,
  recordBoundaryDefaultRing,
  recordBoundarySmallRing,
  SMALL_RING_SIZES,
} from './eager-boundary-ranks.ts';

const EXPECTED = [
  'buffer at eagerLimit: eager',
  'buffer 1 B past: rendezvous',
  'value at eagerLimit + allowance: eager',
  'value 1 B past: rendezvous',
  'value of eagerLimit bytes of data: eager',
];

for (const transport of ['thread', 'process'] as const) {
  for (const [eagerLimit, ranks] of [
    [65_536, eagerBoundary64k],
    [4096, eagerBoundary4k],
  ] as const) {
    test(`${transport} ranks, eagerLimit ${eagerLimit}: eager up to the limit (values: plus their framing allowance), rendezvous past it`, async () => {
      const [sender, receiver] = (await mpirun(2, ranks, {
        transport,
        eagerLimit,
        timeout: 60_000,
      })) as string[][];
      assert.deepEqual(sender, EXPECTED);
      assert.equal(receiver!.length, EXPECTED.length);
    });
  }
}

test('thread ranks with a 64 KiB ring: frames around the one-record size arrive whole and in order, posted or queued', async () => {
  const results = await mpirun(2, recordBoundarySmallRing, { ringBytes: 65_536, timeout: 60_000 });
  assert.deepEqual(results, [0, SMALL_RING_SIZES.length * 3 * RECORD_ROUNDS]);
});

test("thread ranks, default ring: 64 KiB arrays with a value's framing and around the one-record size arrive whole", async () => {
  const results = await mpirun(2, recordBoundaryDefaultRing, { timeout: 60_000 });
  assert.deepEqual(results, [0, DEFAULT_RING_SIZES.length * 3 * RECORD_ROUNDS]);
});
