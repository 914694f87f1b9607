// mpirun from code: a module that calls mpirun at its top level runs main on each rank and prints only
// in the launcher; an exported function is found by name; the caller's AbortSignal ends a job that
// would otherwise wait forever, stopping every rank.

import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { mpirun } from '../../src/mpi/index.ts';
import { namedMain, waitForever } from '../fixtures/mpi/wait-forever.ts';

const run = promisify(execFile);

test('a module calling mpirun(3, import.meta, main) at its top level runs main on 3 ranks and prints once', async () => {
  const script = fileURLToPath(new URL('../fixtures/mpi/self-launching.ts', import.meta.url));
  const { stdout } = await run(process.execPath, [script], { timeout: 60_000 });
  assert.equal(stdout, `${JSON.stringify(['rank 0: 6', 'rank 1: 6', 'rank 2: 6'])}\n`);
});

test('mpirun(n, { url }, main) finds the exported function by its name and returns results in rank order', async () => {
  const url = new URL('../fixtures/mpi/wait-forever.ts', import.meta.url).href;
  assert.deepEqual(await mpirun(3, { url }, namedMain), [
    [0, 10, 20],
    [0, 10, 20],
    [0, 10, 20],
  ]);
});

for (const transport of ['thread', 'process'] as const) {
  test(`${transport}: the caller's AbortSignal ends a waiting job with SKEIN_ABORTED and stops its ranks`, async () => {
    const controller = new AbortController();
    let waiting = 0;
    const job = mpirun(2, waitForever, {
      transport,
      signal: controller.signal,
      deadlockTimeout: 600_000,
      abortGrace: 200,
      output: (line) => {
        if (line.endsWith('waiting') && ++waiting === 2) controller.abort(new Error('enough'));
      },
    });
    await assert.rejects(job, (error: unknown) => {
      assert.equal((error as { code?: string }).code, 'SKEIN_ABORTED');
      assert.equal(((error as Error).cause as Error).message, 'enough');
      return true;
    });
    assert.equal(waiting, 2);
  });
}

test('mpirun with an already aborted signal rejects at once and starts nothing', async () => {
  await assert.rejects(mpirun(2, waitForever, { signal: AbortSignal.abort() }), { code: 'SKEIN_ABORTED' });
});
