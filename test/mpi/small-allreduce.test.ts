// Allreduce of small typed arrays: on thread ranks of a power-of-two job the world communicator's goes
// through shared-memory slots (recursive doubling, no messages); elsewhere through messages. Many in a
// row, of several kinds and operations, a rank late to some: every result equals the reduction each
// rank computes from every rank's inputs, inputs are left alone, and a rank that fails while the
// others wait in one aborts them.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { MpiAbortError } from '../../src/errors.ts';
import { mpirun } from '../../src/mpi/index.ts';
import { ALLREDUCES, smallAllreduces, throwBeforeAllreduce } from '../fixtures/mpi/small-allreduce.ts';

const FAST = { deadlockTimeout: 5000, abortGrace: 500, timeout: 120_000 } as const;

for (const [transport, size] of [
  ['thread', 2],
  ['thread', 4],
  ['thread', 3],
  ['process', 2],
] as const) {
  test(`${transport}: ${ALLREDUCES} small allreduces on ${size} ranks all give the reduction of every input`, async () => {
    const results = await mpirun(size, smallAllreduces, { ...FAST, transport });
    assert.deepEqual(
      results,
      Array.from({ length: size }, () => ({ wrong: 0, inputChanged: 0, badKind: 0 })),
    );
  });
}

test('thread: a rank that throws while the others wait in a small allreduce aborts them', async () => {
  await assert.rejects(mpirun(4, throwBeforeAllreduce, FAST), (error: unknown) => {
    assert.ok(error instanceof MpiAbortError, String(error));
    assert.equal(error.rank, 1);
    assert.match(error.message, /no second allreduce/);
    return true;
  });
});
