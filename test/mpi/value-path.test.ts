// The value path (send/recv of codec values) on every transport: scratch encodings held by rendezvous
// sends, values decoded from the ring or from a per-source scratch as they arrive, and copied out when
// nothing takes them yet (test/mpi/value-path-ranks.ts says how each case is made).

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { mpirun } from '../../src/mpi/index.ts';
import { valuePath } from './value-path-ranks.ts';

const CHECKED = 12 + 40 + 1;

for (const transport of ['thread', 'process'] as const) {
  test(`${transport} ranks: values by rendezvous, eager, posted and unexpected arrive whole`, async () => {
    assert.deepEqual(await mpirun(2, valuePath, { transport, timeout: 60_000 }), [0, CHECKED]);
  });
}

test('thread ranks with a 64 KiB ring: eager values arriving in several records arrive whole', async () => {
  assert.deepEqual(await mpirun(2, valuePath, { ringBytes: 65_536, timeout: 60_000 }), [0, CHECKED]);
});
