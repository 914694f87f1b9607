// Remote agents for real: a `skein up --redis --no-local-agent` child process on a random key prefix
// (deleted afterwards), `skein worker` child processes in project directories of their own, jobs
// submitted through the HTTP API. An agent registers and runs jobs; two agents share gated jobs; an
// agent killed with SIGKILL mid-job is listed lost and its job completes on the other one.

import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { before, describe, test } from 'node:test';
import {
  deleteStore,
  REDIS_MISSING,
  REDIS_URL,
  randomPrefix,
  redisAvailable,
} from '../tasks/redis-helpers.ts';
import {
  api,
  cli,
  createToken,
  FINISHED_STATES,
  fileCleanups,
  makeProject,
  type RunningServer,
  type RunningWorker,
  startServer,
  startWorkerElsewhere,
  waitForAgents,
  waitForFile,
  waitForState,
} from './harness.ts';

const UP = await redisAvailable();
const LEASE_TIMEOUT_MS = 1500;
const AGENT_TIMEOUT_MS = 1500;
const FINISHED = FINISHED_STATES;
const suite = fileCleanups();
let dir: string;
let server: RunningServer;
let agentToken: string;

describe('remote agents on a Redis-backed server', { skip: UP ? false : REDIS_MISSING }, () => {
  before(async () => {
    const prefix = randomPrefix();
    suite.after(async () => {
      await deleteStore(prefix);
    });
    dir = await makeProject(suite);
    server = await startServer(
      suite,
      dir,
      '--redis',
      `${REDIS_URL}/0`,
      '--redis-prefix',
      prefix,
      '--no-local-agent',
      '--lease-timeout',
      String(LEASE_TIMEOUT_MS),
      '--agent-timeout',
      String(AGENT_TIMEOUT_MS),
    );
    agentToken = await createToken(dir, 'agents', 'agent');
  });

  /** A worker in a project directory of its own (another "machine"), stopped after the test. */
  function worker(t: { after(fn: () => Promise<void>): void }, ...args: string[]): Promise<RunningWorker> {
    return startWorkerElsewhere(t, server, agentToken, ...args);
  }

  async function submitGated(gate: string, value: string): Promise<string> {
    const answer = await api(server, server.token, 'POST', '/api/jobs', {
      module: 'tasks.ts',
      export: 'waitForFile',
      args: [gate, value],
    });
    assert.equal(answer.status, 202, JSON.stringify(answer.body));
    return answer.body.id;
  }

  test('an agent registers with its resources and labels, runs a job submitted through the API, and stops gracefully', async (t) => {
    const agent = await worker(t, '--concurrency', '2', '--label', 'zone=b', '--label', 'disk=ssd');
    const [listed] = await waitForAgents(
      server,
      server.token,
      (agents) => agents.some((a) => a.id === agent.id),
      'the agent is listed',
    );
    const view = (await api(server, server.token, 'GET', '/api/agents')).body.agents.find(
      (a: { id: string }) => a.id === agent.id,
    );
    assert.ok(listed !== undefined);
    assert.equal(view.state, 'ready');
    assert.ok(view.cores >= 1 && view.memory > 0, JSON.stringify(view));
    assert.ok(Array.isArray(view.gpus));
    assert.deepEqual(view.labels, { zone: 'b', disk: 'ssd' });
    assert.equal(view.concurrency, 2);

    const submitted = await api(server, server.token, 'POST', '/api/jobs', {
      module: 'tasks.ts',
      export: 'add',
      args: [40, 2],
    });
    assert.equal(submitted.status, 202);
    const job = await waitForState(server, server.token, submitted.body.id, FINISHED);
    assert.equal(job.state, 'succeeded', JSON.stringify(job));
    assert.equal(job.result, 42);

    const table = await cli(dir, ['agents']);
    assert.equal(table.code, 0, table.stderr);
    assert.match(table.stdout, /^ID\s+NAME\s+STATE\s+CORES\s+MEMORY\s+GPUS\s+RUNNING\s+LABELS\s+HEARTBEAT$/m);
    assert.match(
      table.stdout,
      new RegExp(`^${agent.id}\\s+\\S+\\s+ready\\s+\\d+\\s+\\S+\\s+\\d+\\s+0/2\\s+zone=b,disk=ssd\\s`, 'm'),
    );

    assert.equal(await agent.stop(), 0, agent.stderr());
    await waitForAgents(
      server,
      server.token,
      (agents) => agents.find((a) => a.id === agent.id)?.state === 'stopped',
      'a stopped agent is listed stopped',
    );
  });

  test("an agent reports a result larger than the server's body limit for clients (1 MiB)", async (t) => {
    await worker(t, '--concurrency', '1');
    const times = 1_500_000;
    const submitted = await api(server, server.token, 'POST', '/api/jobs', {
      module: 'tasks.ts',
      export: 'repeat',
      args: ['x', times],
    });
    assert.equal(submitted.status, 202);
    const job = await waitForState(server, server.token, submitted.body.id, FINISHED);
    assert.equal(job.state, 'succeeded', JSON.stringify(job.error));
    assert.equal(job.attempt, 1);
    assert.equal(job.result.length, times);
  });

  test('two agents share the work: each runs jobs at its own concurrency, busy while it does', async (t) => {
    const [a, b] = await Promise.all([worker(t, '--concurrency', '2'), worker(t, '--concurrency', '2')]);
    const gates = Array.from({ length: 4 }, (_, i) => join(dir, `share-${i}.gate`));
    const ids = [];
    for (const [i, gate] of gates.entries()) ids.push(await submitGated(gate, `job ${i}`));
    // Four gated jobs, two slots per agent: all four start only if both agents take two.
    for (const gate of gates) await waitForFile(`${gate}.started`);
    const pids = await Promise.all(
      gates.map(async (gate) => Number(await readFile(`${gate}.started`, 'utf8'))),
    );
    assert.deepEqual(
      [...new Set(pids)].sort(),
      [a.pid, b.pid].sort(),
      'each agent runs two of the four jobs',
    );
    const busy = await waitForAgents(
      server,
      server.token,
      (agents) =>
        [a.id, b.id].every((id) => {
          const agent = agents.find((x) => x.id === id);
          return agent?.state === 'busy' && agent.runningJobs.length === 2;
        }),
      'both agents are busy with two jobs each',
    );
    const listedJobs = busy.filter((x) => x.id === a.id || x.id === b.id).flatMap((x) => x.runningJobs);
    assert.deepEqual(listedJobs.sort(), [...ids].sort(), 'the running jobs listed are the four submitted');
    for (const gate of gates) await writeFile(gate, 'open\n');
    for (const [i, id] of ids.entries()) {
      const job = await waitForState(server, server.token, id, FINISHED);
      assert.equal(job.state, 'succeeded');
      assert.equal(job.result, `job ${i}`);
      assert.equal(job.attempt, 1);
    }
  });

  test('SIGTERM of an agent mid-job gives the job back past --close-timeout; another agent runs it, no attempt lost', async (t) => {
    const first = await worker(t, '--concurrency', '1', '--close-timeout', '200');
    const gate = join(dir, 'term.gate');
    const id = await submitGated(gate, 'handed over');
    await waitForFile(`${gate}.started`);
    assert.equal(Number(await readFile(`${gate}.started`, 'utf8')), first.pid);
    assert.equal(await first.stop(), 0, first.stderr());
    const second = await worker(t, '--concurrency', '1');
    await writeFile(gate, 'open\n');
    const job = await waitForState(server, server.token, id, FINISHED);
    assert.equal(job.state, 'succeeded', JSON.stringify(job));
    assert.equal(job.result, 'handed over');
    assert.equal(job.attempt, 1, 'a job given back at shutdown does not use up an attempt');
    const runs = (await readFile(`${gate}.runs`, 'utf8')).split('\n').filter(Boolean).map(Number);
    assert.deepEqual(runs, [first.pid, second.pid]);
  });

  test('an agent killed with SIGKILL mid-job is listed lost and its job completes on the other agent', async (t) => {
    const [a, b] = await Promise.all([worker(t, '--concurrency', '1'), worker(t, '--concurrency', '1')]);
    const gates = [join(dir, 'kill-0.gate'), join(dir, 'kill-1.gate')];
    const ids = [await submitGated(gates[0]!, 'first'), await submitGated(gates[1]!, 'second')];
    for (const gate of gates) await waitForFile(`${gate}.started`);
    const firstPid = Number(await readFile(`${gates[0]}.started`, 'utf8'));
    const [victim, survivor] = firstPid === a.pid ? [a, b] : [b, a];
    assert.equal(firstPid, victim.pid);

    await victim.kill9();
    // The survivor's own job ends, freeing its only slot for the victim's job once its lease runs out.
    await writeFile(gates[1]!, 'open\n');
    await writeFile(gates[0]!, 'open\n');
    await waitForAgents(
      server,
      server.token,
      (agents) => agents.find((x) => x.id === victim.id)?.state === 'lost',
      'the killed agent is listed lost',
    );
    const redelivered = await waitForState(server, server.token, ids[0]!, FINISHED);
    assert.equal(redelivered.state, 'succeeded', JSON.stringify(redelivered));
    assert.equal(redelivered.result, 'first');
    assert.equal(redelivered.attempt, 2, 'the killed attempt counted; the second ran on the survivor');
    const runs = (await readFile(`${gates[0]}.runs`, 'utf8')).split('\n').filter(Boolean).map(Number);
    assert.deepEqual(runs, [victim.pid, survivor.pid]);
    const other = await waitForState(server, server.token, ids[1]!, FINISHED);
    assert.equal(other.state, 'succeeded');
    assert.equal(other.result, 'second');
    const survivorView = (await api(server, server.token, 'GET', '/api/agents')).body.agents.find(
      (x: { id: string }) => x.id === survivor.id,
    );
    assert.notEqual(survivorView.state, 'lost');
  });
});
