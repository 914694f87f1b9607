// Barriers: thread ranks pass the world communicator's barrier through shared-memory counters, and
// every other communicator's (a dup here) through messages. Many barriers in a row, a different rank
// late to each: nobody leaves a barrier before every rank entered it (times from process.hrtime, one
// clock for the threads of a process, and for processes on one machine), no rank passes more or fewer
// barriers than the others, a rank that fails while the others wait in a barrier aborts them, and a
// barrier's timeout applies.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { MpiAbortError } from '../../src/errors.ts';
import { mpirun } from '../../src/mpi/index.ts';
import { barrierOrder, barrierTimeout, ROUNDS, throwBeforeBarrier } from '../fixtures/mpi/barrier-order.ts';

const FAST = { deadlockTimeout: 5000, abortGrace: 500, timeout: 120_000 } as const;

for (const [transport, sizes] of [
  ['thread', [2, 3, 4, 5]],
  ['process', [3]],
] as const) {
  for (const size of sizes) {
    test(`${transport}: ${ROUNDS} barriers of ${size} ranks, one late to each, let nobody through early`, async () => {
      const results = await mpirun(size, barrierOrder, { ...FAST, transport });
      for (const { enter, leave, passed } of results) {
        assert.equal(enter.length, ROUNDS);
        assert.equal(leave.length, ROUNDS);
        assert.equal(passed, ROUNDS * size);
      }
      for (let i = 0; i < ROUNDS; i++) {
        const lastIn = results.reduce(
          (max, r) => (BigInt(r.enter[i]!) > max ? BigInt(r.enter[i]!) : max),
          0n,
        );
        for (const [rank, r] of results.entries()) {
          assert.ok(
            BigInt(r.leave[i]!) >= lastIn,
            `rank ${rank} left barrier ${i} before the last rank entered it`,
          );
          if (i + 1 < ROUNDS) assert.ok(BigInt(r.enter[i + 1]!) >= BigInt(r.leave[i]!));
        }
      }
    });
  }
}

for (const transport of ['thread', 'process'] as const) {
  test(`${transport}: a rank that throws while the others wait in a barrier aborts them`, async () => {
    await assert.rejects(mpirun(3, throwBeforeBarrier, { ...FAST, transport }), (error: unknown) => {
      assert.ok(error instanceof MpiAbortError, String(error));
      assert.equal(error.rank, 1);
      assert.match(error.message, /no second barrier/);
      return true;
    });
  });

  test(`${transport}: a barrier that a rank never joins times out by its own timeout`, async () => {
    assert.deepEqual(await mpirun(3, barrierTimeout, { ...FAST, transport }), [
      'skipped',
      'SKEIN_TIMEOUT',
      'SKEIN_TIMEOUT',
    ]);
  });
}
