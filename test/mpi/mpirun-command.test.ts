// skein mpirun: threads by default, --procs and --tcp run the same program as processes, program
// arguments reach the ranks, a failing rank makes the exit code 1 with its error named, and bad usage
// exits 2 with one line saying what was wrong.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { MpiAgent } from '../../src/mpi/index.ts';
import { skein } from './in-process-cli.ts';

const PROGRAM = fileURLToPath(new URL('../fixtures/mpi/print-args.ts', import.meta.url));

for (const flags of [[], ['--procs'], ['--tcp']]) {
  test(`skein mpirun ${flags.join(' ') || '(threads)'} runs every rank with the program's arguments, lines prefixed by rank`, async () => {
    const { code, out, err } = await skein('mpirun', '-n', '3', ...flags, PROGRAM, 'alpha', '--beta');
    assert.equal(code, 0, err);
    assert.deepEqual(
      out.trim().split('\n').sort(),
      [0, 1, 2].map((r) => `[${r}] rank ${r} of 3 args ["alpha","--beta"] sum 3`),
    );
  });
}

test('skein mpirun exits 1 and names the failing rank when one throws', async () => {
  const { code, err } = await skein('mpirun', '-n', '2', PROGRAM, 'fail-on-1');
  assert.equal(code, 1);
  assert.match(err, /SKEIN_MPI_ABORTED: rank 1 failed: Error: rank 1 was asked to fail/);
});

test('skein mpirun without -n, without a program, or with a bad count exits 2', async () => {
  assert.equal((await skein('mpirun', PROGRAM)).code, 2);
  assert.equal((await skein('mpirun', '-n', '2')).code, 2);
  const bad = await skein('mpirun', '-n', 'zero', PROGRAM);
  assert.equal(bad.code, 2);
  assert.match(bad.err, /--np must be an integer >= 1 \(got "zero"\)/);
  assert.equal((await skein('mpirun', '--procs', '--tcp', '-n', '2', PROGRAM)).code, 2);
});

test('skein mpirun --help describes the command', async () => {
  const { code, out } = await skein('mpirun', '--help');
  assert.equal(code, 0);
  assert.match(out, /Usage: skein mpirun -n <ranks>/);
});

test('skein mpirun --hosts runs the ranks on mpi-agents, two per agent, output prefixed by rank', async (t) => {
  const agents = [new MpiAgent({ token: 'cli-agent-token' }), new MpiAgent({ token: 'cli-agent-token' })];
  t.after(() => Promise.all(agents.map((agent) => agent.close())));
  const hosts = await Promise.all(agents.map((agent) => agent.listen()));
  const { code, out, err } = await skein(
    'mpirun',
    '-n',
    '4',
    '--hosts',
    hosts.join(','),
    '--agent-token',
    'cli-agent-token',
    PROGRAM,
    'x',
  );
  assert.equal(code, 0, err);
  assert.deepEqual(
    out.trim().split('\n').sort(),
    [0, 1, 2, 3].map((r) => `[${r}] rank ${r} of 4 args ["x"] sum 6`),
  );
});

test('skein mpi-agent --help describes the agent', async () => {
  const { code, out } = await skein('mpi-agent', '--help');
  assert.equal(code, 0);
  assert.match(out, /Usage: skein mpi-agent/);
});
