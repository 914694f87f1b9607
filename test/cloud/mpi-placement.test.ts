// The cloud places MPI ranks on its agents for real: a `skein up` child process, `skein worker
// --mpi-listen` child processes in project directories of their own (other "machines"), and the real
// `skein mpirun --cloud` CLI. The ranks must run under the agents' processes, fill the agents with
// the most free slots first, and talk to each other (an allreduce); the placement route gives agent
// tokens only to callers that may deploy, and the agent list never shows them.

import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import {
  api,
  assertError,
  cli,
  createToken,
  fileCleanups,
  makeProject,
  type RunningServer,
  type RunningWorker,
  startServer,
  startWorkerElsewhere,
  waitForAgents,
} from './harness.ts';

const PROGRAM = fileURLToPath(new URL('../fixtures/mpi/where-am-i.ts', import.meta.url));
const suite = fileCleanups();
let dir: string;
let server: RunningServer;
let agentToken: string;
let readToken: string;

interface RankLine {
  readonly rank: number;
  readonly size: number;
  readonly parent: number;
  readonly total: number;
}

/** The JSON lines `[rank] {…}` of mpirun's output, by rank. */
function rankLines(stdout: string): RankLine[] {
  return stdout
    .split('\n')
    .filter((line) => /^\[\d+\] \{/.test(line))
    .map((line) => JSON.parse(line.slice(line.indexOf('{'))) as RankLine)
    .sort((a, b) => a.rank - b.rank);
}

describe('MPI ranks placed on cloud agents', () => {
  before(async () => {
    dir = await makeProject(suite);
    server = await startServer(suite, dir, '--agent-timeout', '3000');
    agentToken = await createToken(dir, 'agents', 'agent');
    readToken = await createToken(dir, 'readers', 'read');
  });

  /** A worker hosting MPI ranks, in a project directory of its own, stopped after the test. */
  function mpiWorker(t: { after(fn: () => Promise<void>): void }, ...args: string[]): Promise<RunningWorker> {
    return startWorkerElsewhere(t, server, agentToken, '--mpi-listen', '127.0.0.1', ...args);
  }

  test('with no agent hosting MPI ranks, placement is 503 and mpirun --cloud says how to start one', async (t) => {
    // A plain worker (no --mpi-listen) does not count.
    await startWorkerElsewhere(t, server, agentToken);
    const answer = await api(server, server.token, 'POST', '/api/mpi/placements', { ranks: 2 });
    assertError(answer, 503, 'SKEIN_CLOUD_NO_AGENT', 'no MPI agent');
    assert.equal(answer.headers.get('retry-after'), '1');
    assert.match(answer.body.message, /--mpi-listen/);
    const run = await cli(dir, ['mpirun', '--cloud', '-n', '2', PROGRAM]);
    assert.equal(run.code, 1, run.stdout);
    assert.match(run.stderr, /SKEIN_CLOUD_NO_AGENT.*--mpi-listen/);
  });

  test('mpirun --cloud runs the ranks under the agents, most free slots first, and they talk', async (t) => {
    const big = await mpiWorker(t, '--concurrency', '3', '--name', 'big');
    const small = await mpiWorker(t, '--concurrency', '2', '--name', 'small');
    const listed = await waitForAgents(
      server,
      server.token,
      (agents) => [big.id, small.id].every((id) => agents.some((a) => a.id === id && a.state === 'ready')),
      'both MPI agents ready',
    );
    for (const id of [big.id, small.id]) {
      const view = listed.find((a) => a.id === id);
      assert.match(view.mpi, /^127\.0\.0\.1:\d+$/, 'the list shows where ranks are hosted');
      assert.equal(JSON.stringify(view).includes('token'), false, 'and never the token');
    }

    const placed = await api(server, server.token, 'POST', '/api/mpi/placements', { ranks: 4 });
    assert.equal(placed.status, 200, JSON.stringify(placed.body));
    const ours = placed.body.hosts.filter((h: { agent: string }) => [big.id, small.id].includes(h.agent));
    assert.deepEqual(
      ours.map((h: { name: string; slots: number }) => [h.name, h.slots]),
      [
        ['big', 3],
        ['small', 2],
      ],
    );
    for (const host of ours) assert.ok(host.token.length >= 8);

    const run = await cli(dir, ['mpirun', '--cloud', '-n', '5', PROGRAM]);
    assert.equal(run.code, 0, run.stderr);
    const lines = rankLines(run.stdout);
    assert.deepEqual(
      lines.map((l) => l.rank),
      [0, 1, 2, 3, 4],
    );
    for (const line of lines) {
      assert.equal(line.size, 5);
      assert.equal(line.total, 10, 'the allreduce of the ranks crossed every agent');
    }
    // The agent with the most free slots takes ranks 0-2, the other 3-4.
    assert.deepEqual(
      lines.map((l) => l.parent),
      [big.pid, big.pid, big.pid, small.pid, small.pid],
    );
  });

  test('placement needs a token that may deploy, and a rank count in range', async () => {
    assertError(
      await api(server, readToken, 'POST', '/api/mpi/placements', { ranks: 2 }),
      403,
      'SKEIN_CLOUD_FORBIDDEN',
      'read scope',
    );
    assertError(
      await api(server, agentToken, 'POST', '/api/mpi/placements', { ranks: 2 }),
      403,
      'SKEIN_CLOUD_FORBIDDEN',
      'agent scope',
    );
    for (const ranks of [0, -1, 4097, 1.5, '2']) {
      assertError(
        await api(server, server.token, 'POST', '/api/mpi/placements', { ranks }),
        400,
        'SKEIN_CLOUD_INVALID_REQUEST',
        `ranks ${JSON.stringify(ranks)}`,
      );
    }
    const usage = await cli(dir, ['mpirun', '--cloud', '--hosts', '127.0.0.1:1', '-n', '2', PROGRAM]);
    assert.equal(usage.code, 2);
    assert.match(usage.stderr, /choose one of --cloud and --hosts/);
  });

  test('a stopped agent is no longer a place for ranks; a bad --mpi-listen fails the worker at start', async (t) => {
    const gone = await mpiWorker(t, '--name', 'gone');
    await waitForAgents(server, server.token, (agents) => agents.some((a) => a.id === gone.id), 'registered');
    assert.equal(await gone.stop(), 0);
    const placed = await api(server, server.token, 'POST', '/api/mpi/placements', { ranks: 1 });
    if (placed.status === 200) {
      assert.equal(
        placed.body.hosts.some((h: { agent: string }) => h.agent === gone.id),
        false,
        'the stopped agent is not offered',
      );
    } else {
      assertError(placed, 503, 'SKEIN_CLOUD_NO_AGENT');
    }
    const home = await makeProject(t);
    const bad = await cli(home, [
      'worker',
      '--server',
      server.url,
      '--token',
      agentToken,
      '--mpi-listen',
      '0.0.0.0',
    ]);
    assert.equal(bad.code, 1, bad.stdout);
    assert.match(bad.stderr, /not a wildcard/);
  });
});
