// The book's MPI recipes under examples/mpi/ run through `skein mpirun` (in this process, threads)
// and print what their comments promise; the checks read the meaning of the output, not its order.

import assert from 'node:assert/strict';
import { readdir } from 'node:fs/promises';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { skein } from './in-process-cli.ts';

const EXAMPLES = fileURLToPath(new URL('../../examples/mpi/', import.meta.url));

/** `skein …` in this process, its output as non-empty lines. */
async function skeinLines(...argv: string[]): Promise<{ code: number; out: string[]; err: string }> {
  const { code, out, err } = await skein(...argv);
  return { code, out: out.split('\n').filter((line) => line !== ''), err };
}

/** Lines of one rank, without the "[rank] " prefix. */
function linesOf(out: readonly string[], rank: number): string[] {
  return out.filter((line) => line.startsWith(`[${rank}] `)).map((line) => line.slice(`[${rank}] `.length));
}

const CHECKS: Record<
  string,
  { ranks: number; flags?: string[]; check: (out: string[], code: number, err: string) => void }
> = {
  'hello-world.ts': {
    ranks: 4,
    check: (out) => {
      for (let r = 0; r < 4; r++) assert.deepEqual(linesOf(out, r), [`Hello world from process ${r} of 4`]);
    },
  },
  'point-to-point.ts': {
    ranks: 4,
    check: (out) => {
      assert.deepEqual(linesOf(out, 3), ['rank 3 received [1,2,3,4,5] from rank 0 with tag 10']);
      assert.deepEqual(linesOf(out, 2), ['rank 2 received "hello" from rank 1 with tag 11']);
      assert.equal(out.length, 2);
    },
  },
  'deadlock-problems.ts': {
    ranks: 2,
    check: (out) => {
      for (const r of [0, 1]) {
        const from = 2 - r;
        assert.deepEqual(linesOf(out, r), [
          `ordered: rank ${r} got 262144 values of ${from}`,
          `sendrecv: rank ${r} got 262144 values of ${from}`,
          `irecv first: rank ${r} got 262144 values of ${from}`,
        ]);
      }
    },
  },
  'deadlock.ts': {
    ranks: 2,
    flags: ['--deadlock-timeout', '1000'],
    check: (out, code, err) => {
      assert.equal(code, 1);
      assert.deepEqual(linesOf(out, 0), ['rank 0 sends 2 MiB to rank 1, then receives']);
      assert.deepEqual(linesOf(out, 1), ['rank 1 sends 2 MiB to rank 0, then receives']);
      assert.match(
        err,
        /SKEIN_MPI_DEADLOCK: deadlock: .*rank 0: send\(dest=1, tag=0, 2097152 B\); rank 1: send\(dest=0, tag=0, 2097152 B\)/,
      );
    },
  },
  'broadcast.ts': {
    ranks: 4,
    check: (out) => {
      for (let r = 0; r < 4; r++) assert.deepEqual(linesOf(out, r), [`process ${r} variable shared = 100`]);
    },
  },
  'scatter.ts': {
    ranks: 4,
    check: (out) => {
      for (let r = 0; r < 4; r++)
        assert.deepEqual(linesOf(out, r), [`process ${r} variable = ${(r + 1) ** 2}`]);
    },
  },
  'gather.ts': {
    ranks: 4,
    check: (out) => {
      assert.deepEqual(
        linesOf(out, 0),
        [0, 1, 2, 3].map((r) => `process 0 receiving ${(r + 1) ** 2} from process ${r}`),
      );
      assert.equal(out.length, 4);
    },
  },
  'all-to-all.ts': {
    ranks: 4,
    check: (out) => {
      for (let r = 0; r < 4; r++) {
        const sent = [0, 1, 2, 3].map((j) => (r + 1) * (j + 1));
        const received = [0, 1, 2, 3].map((i) => (i + 1) * (r + 1));
        assert.deepEqual(linesOf(out, r), [
          `process ${r} sending ${JSON.stringify(sent)} receiving ${JSON.stringify(received)}`,
        ]);
      }
    },
  },
  'reduction.ts': {
    ranks: 4,
    check: (out) => {
      // [0+1+2+3, 1+2+3+4, 2+3+4+5]; values (r*5)%4 = [0,1,2,3]: the largest, 3, is on rank 3.
      assert.deepEqual(linesOf(out, 0), [
        'on task 0, after reduce with SUM: 6 10 14',
        'largest value 3 is on rank 3',
      ]);
    },
  },
  'virtual-topology.ts': {
    ranks: 6,
    check: (out) => {
      // dimsCreate(6, 2) = [3, 2]: rows wrap (3 of them), columns wrap (2 of them).
      assert.deepEqual(linesOf(out, 0)[0], 'grid 3x2');
      for (let r = 0; r < 6; r++) {
        const [row, col] = [Math.floor(r / 2), r % 2];
        const up = ((row + 2) % 3) * 2 + col;
        const down = ((row + 1) % 3) * 2 + col;
        const side = row * 2 + (1 - col);
        assert.ok(
          linesOf(out, r).includes(
            `process ${r} at [${row},${col}]: up ${up} down ${down} left ${side} right ${side}; got ${up} from up and ${side} from left`,
          ),
          linesOf(out, r).join('\n'),
        );
      }
    },
  },
};

test('every MPI example has its check here', async () => {
  const files = (await readdir(EXAMPLES)).filter((file) => file.endsWith('.ts')).sort();
  assert.deepEqual(files, Object.keys(CHECKS).sort());
});

for (const [file, { ranks, flags = [], check }] of Object.entries(CHECKS)) {
  test(`examples/mpi/${file} on ${ranks} ranks prints its result`, async () => {
    const { code, out, err } = await skeinLines(
      'mpirun',
      '-n',
      String(ranks),
      ...flags,
      `${EXAMPLES}${file}`,
    );
    if (file !== 'deadlock.ts') assert.equal(code, 0, err);
    check(out, code, err);
  });
}
