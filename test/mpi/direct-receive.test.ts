// A receive from a named rank, which the thread transport may answer by reading a small frame straight
// into the buffer or by decoding a small value where it lies, keeps MPI's matching order against earlier
// posted receives, pending probes and messages already arrived, on thread ranks (a large ring and a
// 4 KiB one) and on process ranks, whose transport has no such path (test/mpi/direct-receive-ranks.ts).

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { mpirun } from '../../src/mpi/index.ts';
import { directReceive, MESSAGES } from './direct-receive-ranks.ts';

for (const [label, options] of [
  ['thread ranks', {}],
  ['thread ranks, a 4 KiB ring', { ringBytes: 4096 }],
  ['process ranks', { transport: 'process' }],
] as const) {
  test(`${label}: receives of values and buffers from a named rank take messages in MPI's order, whatever else waits`, async () => {
    assert.deepEqual(await mpirun(3, directReceive, { ...options, timeout: 120_000 }), [2 * MESSAGES, 1, 2]);
  });
}
