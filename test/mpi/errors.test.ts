// Failures of an MPI job: a rank that throws, exits or aborts ends the job with an error naming it
// (every rank sees the abort, nothing hangs), deadlocks end with a diagnostic naming each rank's
// pending operations, and misuse is refused with typed errors. Threads and processes.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DeadlockError, MpiAbortError } from '../../src/errors.ts';
import { mpirun, world } from '../../src/mpi/index.ts';
import {
  abortOnRankOne,
  badReceives,
  exitOnRankOne,
  misuse,
  recvNobodySends,
  returnFunction,
  throwInTimer,
  throwOnRankTwo,
  timedReceives,
  twoLargeSends,
} from '../fixtures/mpi/failing.ts';

const FAST = { deadlockTimeout: 1000, abortGrace: 500, timeout: 30_000 } as const;

for (const transport of ['thread', 'process'] as const) {
  test(`${transport}: a rank that throws aborts the job; every rank and the caller get an error naming it`, async () => {
    const lines: string[] = [];
    const error = await mpirun(4, throwOnRankTwo, {
      ...FAST,
      transport,
      output: (line) => lines.push(line),
    }).then(
      () => assert.fail('the job should fail'),
      (err: unknown) => err,
    );
    assert.ok(error instanceof MpiAbortError, String(error));
    assert.equal(error.code, 'SKEIN_MPI_ABORTED');
    assert.equal(error.rank, 2);
    assert.match(error.message, /rank 2 failed: Error: boom at rank 2/);
    assert.equal((error.cause as Error).message, 'boom at rank 2');
    assert.deepEqual(
      lines.sort(),
      [0, 1, 3].map((r) => `rank ${r} got SKEIN_MPI_ABORTED naming rank 2`),
    );
  });

  test(`${transport}: an error thrown in a rank outside its program aborts the job naming rank and error`, async () => {
    await assert.rejects(mpirun(3, throwInTimer, { ...FAST, transport }), (error: unknown) => {
      assert.ok(error instanceof MpiAbortError, String(error));
      assert.equal(error.rank, 1);
      assert.match(error.message, /rank 1 failed: Error: late boom/);
      return true;
    });
  });

  test(`${transport}: a rank that exits mid-job aborts it with its exit code`, async () => {
    await assert.rejects(mpirun(3, exitOnRankOne, { ...FAST, transport }), (error: unknown) => {
      assert.ok(error instanceof MpiAbortError);
      assert.equal(error.rank, 1);
      assert.match(error.message, /rank 1 exited with code 7/);
      return true;
    });
  });
}

test('a rank that calls abort() ends the job with its error', async () => {
  await assert.rejects(mpirun(3, abortOnRankOne, FAST), (error: unknown) => {
    assert.ok(error instanceof MpiAbortError);
    assert.equal(error.rank, 1);
    assert.match(error.message, /rank 1 aborted the job: Error: enough of this/);
    return true;
  });
});

for (const transport of ['thread', 'tcp'] as const) {
  test(`${transport}: two blocking sends of large messages are reported as a deadlock naming both sends`, async () => {
    await assert.rejects(mpirun(2, twoLargeSends, { ...FAST, transport }), (error: unknown) => {
      assert.ok(error instanceof DeadlockError, String(error));
      assert.equal(error.code, 'SKEIN_MPI_DEADLOCK');
      assert.deepEqual(error.pending, [
        { rank: 0, operations: ['send(dest=1, tag=3, 1048576 B)'] },
        { rank: 1, operations: ['send(dest=0, tag=3, 1048576 B)'] },
      ]);
      assert.match(
        error.message,
        /rank 0: send\(dest=1, tag=3, 1048576 B\); rank 1: send\(dest=0, tag=3, 1048576 B\)/,
      );
      return true;
    });
  });
}

test('a receive nobody sends to is reported as a deadlock once the sender finished', async () => {
  await assert.rejects(mpirun(2, recvNobodySends, FAST), (error: unknown) => {
    assert.ok(error instanceof DeadlockError);
    assert.deepEqual(error.pending, [{ rank: 0, operations: ['recv(source=1, tag=5)'] }]);
    assert.match(error.message, /finished ranks: 1/);
    return true;
  });
});

test('receives into a too-small buffer or of the wrong kind fail with SKEIN_MPI_TRUNCATED and SKEIN_MPI_TYPE_MISMATCH', async () => {
  const [, codes] = await mpirun(2, badReceives, FAST);
  assert.deepEqual(codes, ['SKEIN_MPI_TRUNCATED', 'SKEIN_MPI_TYPE_MISMATCH', 'SKEIN_MPI_TYPE_MISMATCH']);
});

test('misuse is refused with SKEIN_MPI_INVALID_ARGUMENT and a message naming the value', async () => {
  const [result] = await mpirun(1, misuse, FAST);
  for (const [what, outcome] of Object.entries(result!)) {
    assert.match(outcome, /^SKEIN_MPI_INVALID_ARGUMENT: /, what);
  }
  assert.match(
    result!['send to a rank out of range']!,
    /dest must be a rank in 0\.\.0 or PROC_NULL \(got 99\)/,
  );
  assert.match(result!['createCart too large']!, /need 16 ranks but the communicator has 1/);
});

test('a receive times out with SKEIN_TIMEOUT or aborts with SKEIN_ABORTED and takes no message', async () => {
  const [codes] = await mpirun(1, timedReceives, FAST);
  assert.deepEqual(codes, [
    'SKEIN_TIMEOUT',
    'SKEIN_ABORTED',
    'SKEIN_ABORTED',
    'sent none',
    'SKEIN_ABORTED',
    'waiting',
    'left none',
    'SKEIN_ABORTED',
    'cancel true false false',
    'after',
  ]);
});

test('a rank whose result cannot be encoded fails the job naming the rank and the codec error', async () => {
  await assert.rejects(mpirun(2, returnFunction, FAST), (error: unknown) => {
    assert.ok(error instanceof MpiAbortError);
    assert.equal(error.rank, 0);
    assert.match(error.message, /rank 0 failed: InvalidArgumentError: Cannot encode/);
    return true;
  });
});

test('world() outside a rank fails with SKEIN_MPI_NOT_IN_RANK', async () => {
  await assert.rejects(world(), { code: 'SKEIN_MPI_NOT_IN_RANK', message: /outside an MPI rank/ });
});

test('mpirun refuses a bad rank count, program or option with SKEIN_MPI_INVALID_ARGUMENT', async () => {
  await assert.rejects(mpirun(0, misuse), { code: 'SKEIN_MPI_INVALID_ARGUMENT', message: /rank count n/ });
  await assert.rejects(mpirun(2, {} as never), { code: 'SKEIN_MPI_INVALID_ARGUMENT' });
  await assert.rejects(mpirun(2, misuse, { transport: 'carrier-pigeon' as never }), {
    code: 'SKEIN_MPI_INVALID_ARGUMENT',
    message: /transport must be 'thread', 'process' or 'tcp'/,
  });
  await assert.rejects(
    mpirun(2, import.meta, () => 1),
    { code: 'SKEIN_MPI_INVALID_ARGUMENT', message: /named, exported function/ },
  );
});

test('mpirun over TCP on an address this host does not have fails with SKEIN_MPI_TRANSPORT', async () => {
  await assert.rejects(mpirun(2, misuse, { transport: 'tcp', host: '203.0.113.7' }), {
    code: 'SKEIN_MPI_TRANSPORT',
    message: /could not open its control socket/,
  });
});
