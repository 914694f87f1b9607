// A rank sent more than it receives stops reading from the sender past unexpectedLimit, so the sender's
// sends wait instead of the receiver's memory growing without bound; a program whose receives need more
// buffering than that shows as a deadlock naming the ranks; with room enough it runs. Thread and process
// ranks (rings and sockets), each with a small ring so the limit, not the ring, is what holds the sender.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { mpirun } from '../../src/mpi/index.ts';
import {
  MESSAGE_BYTES,
  MESSAGES,
  outOfOrder,
  RECEIVER_SLEEP_MS,
  slowReceiver,
} from '../fixtures/mpi/flow-control.ts';

// 15 MB is sent; the receiver may hold 1 MiB of it (plus what a ring or socket buffers).
const LIMIT = 1024 * 1024;

for (const transport of ['thread', 'process'] as const) {
  test(`${transport} ranks: past unexpectedLimit the sender waits for a sleeping receiver, and every message arrives in order`, async () => {
    const [sendMs, intact] = (await mpirun(2, slowReceiver, {
      transport,
      unexpectedLimit: LIMIT,
      ringBytes: 65_536,
      timeout: 120_000,
    })) as [number, number];
    assert.equal(intact, MESSAGES);
    // Without the limit all 15 MB would be buffered at once and the sends done long before the receiver
    // woke; with it, the last sends can only finish after the receiver started taking messages.
    assert.ok(
      sendMs >= RECEIVER_SLEEP_MS * 0.8,
      `the sends took ${sendMs.toFixed(0)} ms; they should have waited for the receiver`,
    );
  });

  test(`${transport} ranks: receives that need more buffering than unexpectedLimit fail as a deadlock naming both ranks`, async () => {
    await assert.rejects(
      mpirun(2, outOfOrder, {
        transport,
        unexpectedLimit: LIMIT,
        ringBytes: 65_536,
        deadlockTimeout: 2000,
        timeout: 120_000,
      }),
      (error: Error & { code?: string }) => {
        assert.equal(error.code, 'SKEIN_MPI_DEADLOCK', error.message);
        assert.match(error.message, /rank 0: send\(dest=1, tag=1/);
        assert.match(error.message, /rank 1: recv\(source=0, tag=2\)/);
        assert.match(error.message, /raise unexpectedLimit/);
        return true;
      },
    );
    // With room for all of it (15 MB < the 64 MiB default), the same program runs.
    assert.deepEqual(await mpirun(2, outOfOrder, { transport, ringBytes: 65_536, timeout: 120_000 }), [
      'sent',
      'last',
    ]);
  });
}

test('unexpectedLimit must be a positive integer', async () => {
  for (const unexpectedLimit of [0, -1, 1.5, Number.NaN]) {
    await assert.rejects(mpirun(2, outOfOrder, { unexpectedLimit }), {
      code: 'SKEIN_MPI_INVALID_ARGUMENT',
      message: /unexpectedLimit/,
    });
  }
  assert.ok(MESSAGE_BYTES * MESSAGES > 8 * LIMIT);
});
