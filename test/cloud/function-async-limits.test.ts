// Async calls (POST /fn/<name>?async=1) with a function's isolation and memory limit, through a real
// `skein up` child process and the real CLI: a process function's job runs in another process; a
// memory hog's job fails each attempt out of memory (a worker crash that says so) and ends dead while
// the next job works; process.exit() in a process function's job harms nothing else; a schedule's
// firing of a process function runs in a process too; two functions of one bundle and export with
// other settings run each with its own; and the same on a `skein worker` agent of a server without a
// local agent. The job address carrying the limits is checked on its own first, and a LocalAgent in
// this process runs a job without limits in its address (stored before they travelled) as before.

import assert from 'node:assert/strict';
import { copyFile, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { pathToFileURL } from 'node:url';
import {
  absoluteAddress,
  functionLimitsOf,
  functionUrl,
  NO_FUNCTION_LIMITS,
  relativeAddress,
} from '../../src/cloud/api/agent-wire.ts';
import { FunctionRunner } from '../../src/cloud/function-runner.ts';
import { LocalAgent } from '../../src/cloud/local-agent.ts';
import { SqliteBroker, TaskQueue } from '../../src/tasks/index.ts';
import {
  api,
  cli,
  FINISHED_STATES,
  fileCleanups,
  makeProject,
  ROOT,
  type RunningServer,
  startServer,
  startWorker,
  waitForAgents,
  waitForState,
} from './harness.ts';

/** A FunctionRunner of one worker and no queue: the tests below ask it for the tasks a version maps to. */
const SMALL_RUNNER = { timeout: 1000, concurrency: 1, queue: 0, idleTimeout: 1000, maxWorkers: 1 };

/** A job that fails three times backs off about 1 s and 2 s; far more than that on a slow box. */
const JOB_TIMEOUT_MS = 60_000;
const HASH = 'ab'.repeat(32);
const suite = fileCleanups();
let dir: string;
let server: RunningServer;

before(async () => {
  dir = await makeProject(suite);
  await copyFile(join(ROOT, 'test/fixtures/cloud-fn-limits.ts'), join(dir, 'limits.ts'));
  server = await startServer(suite, dir, '--concurrency', '2');
  const deployed = await cli(dir, ['deploy', 'limits.ts', '--json']);
  assert.equal(deployed.code, 0, deployed.stderr);
  // The same bundle and exports again, named tuned.*, each in a process with 256 MiB.
  const tuned = await cli(dir, [
    'deploy',
    'limits.ts',
    '--name',
    'tuned',
    '--isolation',
    'process',
    '--memory',
    '256',
    '--json',
  ]);
  assert.equal(tuned.code, 0, tuned.stderr);
});

/** Calls the function with ?async=1 on `on` and waits for its job to finish; answers the job. */
async function callAsync(on: RunningServer, name: string, args: unknown[] = []) {
  const answer = await api(on, on.token, 'POST', `/fn/${name}?async=1`, { args });
  assert.equal(answer.status, 202, JSON.stringify(answer.body));
  return waitForState(on, on.token, answer.body.id, FINISHED_STATES, JOB_TIMEOUT_MS);
}

/** Asserts the job ran out of its 64 MiB limit on every one of its 3 attempts. */
function assertOutOfMemory(
  job: { state: string; attempt: number; error?: { code?: string; message: string } },
  what: string,
) {
  assert.equal(job.state, 'dead', `${what}: ${JSON.stringify(job)}`);
  // A crash of its worker, which the task queue retries as any crash, saying why.
  assert.equal(job.error?.code, 'SKEIN_POOL_WORKER_CRASHED', `${what}: ${JSON.stringify(job.error)}`);
  assert.match(job.error!.message, /ran out of memory \(its limit: 64 MiB\)/, what);
  assert.equal(job.attempt, 3, `${what}: every attempt ran`);
}

// The tests run at once: most of their time is jobs waiting out retry backoffs, and each calls
// functions, submits jobs or makes a schedule of its own (the last one on a server of its own).
describe('async calls with function limits', { concurrency: true }, () => {
  test('a job address carries the limits in one form, across the wire and back; none: as before', () => {
    const base = { projectDir: '/srv/app', bundleDir: '/srv/app/.skein/deployments' };
    const agent = { projectDir: '/home/a', bundleDir: '/home/a/.skein/agent-cache' };
    const url = `file:///srv/app/.skein/deployments/${HASH}.mjs`;
    assert.equal(functionUrl(url, NO_FUNCTION_LIMITS), url);
    const limited = functionUrl(url, { isolation: 'process', memoryMb: 256 });
    assert.equal(limited, `${url}?isolation=process&memoryMb=256`);
    assert.equal(functionUrl(limited, { isolation: 'thread', memoryMb: 64 }), `${url}?memoryMb=64`);
    assert.deepEqual(functionLimitsOf(limited), { isolation: 'process', memoryMb: 256 });
    assert.deepEqual(functionLimitsOf(url), NO_FUNCTION_LIMITS);

    const wire = relativeAddress(`${limited}#hog`, base);
    assert.equal(wire, `bundle:${HASH}?isolation=process&memoryMb=256#hog`);
    assert.equal(absoluteAddress(wire, base), `${limited}#hog`);
    assert.equal(
      absoluteAddress(wire, agent),
      `file:///home/a/.skein/agent-cache/${HASH}.mjs?isolation=process&memoryMb=256#hog`,
    );
    assert.equal(relativeAddress(`${url}#hog`, base), `bundle:${HASH}#hog`, 'a job without limits');
    assert.equal(
      absoluteAddress(`bundle:${HASH}#hog`, agent),
      `file:///home/a/.skein/agent-cache/${HASH}.mjs#hog`,
    );

    const runner = new FunctionRunner(SMALL_RUNNER);
    const served = runner.versionTasks(url, { exportName: 'hog', settings: { memoryMb: 64 } });
    assert.deepEqual(
      served.map((task) => task.moduleUrl),
      [`${url}?memoryMb=64`, url],
      'a version with limits is served with them and without (jobs stored before they travelled)',
    );
    assert.equal(runner.versionTasks(url, { exportName: 'plain', settings: { timeout: 5 } }).length, 1);
  });

  test('the local agent runs a job without limits in its address as before, one with them on a pool with them', async (t) => {
    const tmp = await mkdtemp(join(tmpdir(), 'skein-agent-limits-'));
    const broker = new SqliteBroker({ path: join(tmp, 'tasks.db'), pollInterval: 10 });
    const agent = new LocalAgent({
      broker,
      concurrency: 2,
      leaseTimeout: 30_000,
      closeTimeout: 5000,
      onError: (error) => assert.fail(String(error)),
    });
    t.after(async () => {
      await agent.close();
      await broker.close();
      await rm(tmp, { recursive: true, force: true });
    });
    const runner = new FunctionRunner(SMALL_RUNNER);
    const url = pathToFileURL(join(ROOT, 'test/fixtures/cloud-fn-limits.ts')).href;
    // What a server serves for a process version: its jobs' reference, and the plain one of older jobs.
    const [inProcess, plain] = runner.versionTasks(url, {
      exportName: 'pid',
      settings: { isolation: 'process' },
    });
    const hog = runner.jobTaskOf(url, 'hogThread', { memoryMb: 64 });
    await agent.serve([], [inProcess!, plain!, hog]);
    const queue = new TaskQueue({ broker });
    const older = await queue.submit(plain!, []);
    const newer = await queue.submit(inProcess!, []);
    const hogJob = await queue.submit(hog, [], { attempts: 1 });
    assert.equal(await older.result({ timeout: JOB_TIMEOUT_MS }), process.pid, 'a plain job: a thread here');
    assert.notEqual(await newer.result({ timeout: JOB_TIMEOUT_MS }), process.pid, 'in a process');
    await assert.rejects(hogJob.result({ timeout: JOB_TIMEOUT_MS }), (error: Error) => {
      const cause = error.cause as { code?: string; message: string };
      assert.equal(cause.code, 'SKEIN_POOL_WORKER_CRASHED');
      assert.match(cause.message, /function hogThread ran out of memory \(its limit: 64 MiB\)/);
      return true;
    });
  });

  test("an async call of a process function runs in another process; a thread function's in the server", async () => {
    const inProcess = await callAsync(server, 'pid');
    assert.equal(inProcess.state, 'succeeded', JSON.stringify(inProcess));
    assert.equal(typeof inProcess.result, 'number');
    assert.notEqual(inProcess.result, server.child.pid);
    const inThread = await callAsync(server, 'threadPid');
    assert.equal(inThread.result, server.child.pid, 'a thread function runs on a thread of the server');
    // One bundle and export, two functions with other settings: each job runs with its own function's.
    const tuned = await callAsync(server, 'tuned.threadPid');
    assert.equal(tuned.state, 'succeeded', JSON.stringify(tuned));
    assert.notEqual(tuned.result, server.child.pid, 'tuned.threadPid runs in a process');
  });

  test('an async call of a memory hog fails each attempt out of memory and ends dead; the next call works', async () => {
    const [thread, proc] = await Promise.all([
      callAsync(server, 'hogThread'),
      callAsync(server, 'hogProcess'),
    ]);
    assertOutOfMemory(thread, 'hogThread');
    assertOutOfMemory(proc, 'hogProcess');
    assert.match(proc.error.message, /worker process was stopped/);
    const next = await callAsync(server, 'threadPid');
    assert.equal(next.result, server.child.pid, 'the server still runs jobs');
    const nextProcess = await callAsync(server, 'pid');
    assert.equal(nextProcess.state, 'succeeded', JSON.stringify(nextProcess));
  });

  test("process.exit() in a process function's job fails that job only", async () => {
    const exited = await callAsync(server, 'exitNow', [3]);
    assert.equal(exited.state, 'dead', JSON.stringify(exited));
    assert.match(exited.error.message, /exit code 3/, JSON.stringify(exited.error));
    const next = await callAsync(server, 'pid');
    assert.equal(next.state, 'succeeded', 'the server and its agent live on');
  });

  test("a schedule's firing of a process function runs in another process", async () => {
    const created = await api(server, server.token, 'POST', '/api/schedules', {
      name: 'pid-every-second',
      every: 1000,
      function: 'pid',
    });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    try {
      const deadline = Date.now() + JOB_TIMEOUT_MS;
      let jobId: string | undefined;
      while (jobId === undefined) {
        assert.ok(Date.now() < deadline, 'the schedule fired');
        const shown = await api(server, server.token, 'GET', '/api/schedules/pid-every-second?history=1');
        jobId = shown.body.history[0]?.jobId;
        if (jobId === undefined) await sleep(100);
      }
      const job = await waitForState(server, server.token, jobId, FINISHED_STATES, JOB_TIMEOUT_MS);
      assert.equal(job.state, 'succeeded', JSON.stringify(job));
      assert.equal(typeof job.result, 'number');
      assert.notEqual(job.result, server.child.pid);
    } finally {
      await api(server, server.token, 'DELETE', '/api/schedules/pid-every-second');
    }
  });

  test('on a skein worker agent (no local agent): a process job runs in a child of the agent, a hog dies out of memory', async (t) => {
    const home = await makeProject(t);
    const remote = await startServer(t, home, '--no-local-agent', '--lease-timeout', '5000');
    await copyFile(join(ROOT, 'test/fixtures/cloud-fn-limits.ts'), join(home, 'limits.ts'));
    const deployed = await cli(home, ['deploy', 'limits.ts', '--json']);
    assert.equal(deployed.code, 0, deployed.stderr);
    const created = await cli(home, ['token', 'create', '--name', 'agent', '--scope', 'agent']);
    assert.equal(created.code, 0, created.stderr);
    const agentHome = await makeProject(t);
    const agent = await startWorker(t, agentHome, remote.url, created.stdout.trim(), '--concurrency', '2');
    t.after(async () => {
      if (agent.child.exitCode === null && agent.child.signalCode === null) await agent.stop();
    });
    await waitForAgents(remote, remote.token, (agents) => agents.length === 1, 'the agent registered');

    const inProcess = await callAsync(remote, 'pid');
    assert.equal(inProcess.state, 'succeeded', `${JSON.stringify(inProcess)}\n${agent.stderr()}`);
    assert.notEqual(inProcess.result, agent.pid, "not the agent's own process");
    assert.notEqual(inProcess.result, remote.child.pid);
    assert.equal((await callAsync(remote, 'threadPid')).result, agent.pid, 'a thread function: the agent');

    assertOutOfMemory(await callAsync(remote, 'hogProcess'), 'hogProcess on the agent');
    const next = await callAsync(remote, 'pid');
    assert.equal(next.state, 'succeeded', 'the agent runs the next job');
  });
});
