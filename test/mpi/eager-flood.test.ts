// Regression: eager isends that outrun the receiver fill the thread ring, so the transport writes some
// frames at once and queues the rest; a check of free bytes before a direct write once let the ring's
// cached head fall a lap behind and frames overwrite each other (RangeError or damaged messages).

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { mpirun } from '../../src/mpi/index.ts';
import { eagerFlood } from '../fixtures/mpi/eager-flood.ts';

for (const transport of ['thread', 'process'] as const) {
  test(`${transport} ranks: 600 eager isends of 60,000 bytes outrunning the receives arrive whole and in order`, async () => {
    const results = await mpirun(2, eagerFlood, { transport, timeout: 120_000 });
    assert.deepEqual(results, [0, 600]);
  });
}
