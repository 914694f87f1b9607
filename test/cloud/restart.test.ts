// The server dies and comes back: after kill -9 of `skein up`, a restart on the same .skein/ runs every
// job it had acknowledged — a delayed one that had not started and one that was running (redelivered
// once its lease runs out) — keeps the finished history and the admin token. A SIGTERM lets the running
// job finish, refuses new calls with 503 meanwhile, and exits 0.

import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, type TestContext, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  api,
  assertError,
  checkAfterRestart,
  cli,
  makeProject,
  startServer,
  submitBeforeKill,
  waitForFile,
  waitForState,
} from './harness.ts';

const LEASE_TIMEOUT_MS = 1000;
/** Bound on how long the server may take to act on SIGTERM (it is one event-loop turn). */
const SIGNAL_HANDLED_TIMEOUT_MS = 10_000;

/**
 * A project of its own and a server with `--close-timeout`, running a waitForFile job that has started and
 * stays running until the test writes `gate`.
 */
async function serverWithGatedJob(t: TestContext, closeTimeoutMs: number, gateName: string, result: string) {
  const dir = await makeProject(t);
  const server = await startServer(t, dir, '--close-timeout', String(closeTimeoutMs));
  const gate = join(dir, gateName);
  const running = await api(server, server.token, 'POST', '/api/jobs', {
    module: 'tasks.ts',
    export: 'waitForFile',
    args: [gate, result],
  });
  await waitForFile(`${gate}.started`);
  return { dir, server, gate, running };
}

// Each test has a project and servers of its own: they run at once.
describe('restarts', { concurrency: true }, () => {
  test('kill -9 of skein up loses no acknowledged job: a restart on the same .skein/ runs them all', async (t) => {
    const dir = await makeProject(t);
    const first = await startServer(t, dir, '--lease-timeout', String(LEASE_TIMEOUT_MS));
    const scenario = await submitBeforeKill(first, dir);
    await first.kill9();
    await writeFile(scenario.gate, 'open\n');
    const second = await startServer(t, dir, '--lease-timeout', String(LEASE_TIMEOUT_MS));
    assert.equal(second.token, first.token, 'the saved admin token is still valid and reused');
    await checkAfterRestart(second, dir, scenario);
  });

  test('SIGTERM lets the running job finish, answers 503 meanwhile, and exits 0', async (t) => {
    const { dir, server, gate, running } = await serverWithGatedJob(
      t,
      20_000,
      'graceful.gate',
      'finished while closing',
    );
    const exit = server.stop();
    // The agent is closing and waits for the job: the API refuses new work until the process ends.
    let answer = await api(server, server.token, 'GET', '/api/jobs');
    const deadline = Date.now() + SIGNAL_HANDLED_TIMEOUT_MS;
    while (answer.status === 200 && Date.now() < deadline) {
      answer = await api(server, server.token, 'GET', '/api/jobs');
    }
    assertError(answer, 503, 'SKEIN_CLOUD_CLOSED', 'a call while closing');
    await writeFile(gate, 'open\n');
    assert.equal(await exit, 0, server.stderr());

    const again = await startServer(t, dir);
    const view = await api(again, again.token, 'GET', `/api/jobs/${running.body.id}`);
    assert.equal(view.body.state, 'succeeded');
    assert.equal(view.body.result, 'finished while closing');
    assert.equal(view.body.attempt, 1, 'it ran once, to the end');
  });

  test('a running job is not cut short when a newly named task makes the agent start a new worker', async (t) => {
    const closeTimeoutMs = 300;
    const { dir, server, gate, running } = await serverWithGatedJob(
      t,
      closeTimeoutMs,
      'swap.gate',
      'one run',
    );
    // add is new to the agent: a new worker starts and the one running waitForFile retires.
    const added = await cli(dir, ['submit', 'tasks.ts:add', '--args', '[1, 2]', '--wait']);
    assert.equal(added.stdout, '3\n', added.stderr);
    // Past the retiring worker's close timeout, the job must still be running its first run.
    await sleep(3 * closeTimeoutMs);
    await writeFile(gate, 'open\n');
    const view = await waitForState(server, server.token, running.body.id, ['succeeded', 'dead', 'failed']);
    assert.equal(view.state, 'succeeded');
    assert.equal(view.result, 'one run');
    assert.equal(
      (await readFile(`${gate}.runs`, 'utf8')).split('\n').filter(Boolean).length,
      1,
      'the task ran once',
    );
  });

  test('SIGTERM gives a job still running after --close-timeout back to the queue; the next start runs it', async (t) => {
    const { dir, server, gate, running } = await serverWithGatedJob(t, 200, 'slow.gate', 'second start');
    assert.equal(await server.stop(), 0, server.stderr());

    const again = await startServer(t, dir);
    await writeFile(gate, 'open\n');
    const view = await waitForState(again, again.token, running.body.id, ['succeeded', 'dead', 'failed']);
    assert.equal(view.state, 'succeeded');
    assert.equal(view.result, 'second start');
    assert.equal(view.attempt, 1, 'a job given back at shutdown does not use up an attempt');
    assert.equal((await readFile(`${gate}.runs`, 'utf8')).split('\n').filter(Boolean).length, 2);
  });
});
