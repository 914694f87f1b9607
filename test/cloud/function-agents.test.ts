// Synchronous function calls on agents, for real: `skein up` child processes, a function module
// deployed with the real CLI, `skein worker` agents in project directories of their own. A server
// without a local agent sends every sync call to an agent (none live: 503 SKEIN_CLOUD_NO_AGENT); its
// timeout, error and memory limit hold there as on the server. A server with its own workers sends a
// call to an agent only when its workers are all busy, so a burst of calls runs on both.

import assert from 'node:assert/strict';
import { copyFile } from 'node:fs/promises';
import { join } from 'node:path';
import { before, describe, test } from 'node:test';
import {
  api,
  assertError,
  cli,
  fileCleanups,
  makeProject,
  ROOT,
  type RunningServer,
  type RunningWorker,
  startServer,
  startWorker,
  waitForAgents,
} from './harness.ts';

const suite = fileCleanups();

/** A project with agent-fns.ts deployed on a server started with `args`, and an agent token. */
async function deployedServer(...args: string[]): Promise<{ server: RunningServer; agentToken: string }> {
  const dir = await makeProject(suite);
  await copyFile(join(ROOT, 'test/fixtures/cloud-agent-fns.ts'), join(dir, 'agent-fns.ts'));
  const server = await startServer(suite, dir, ...args);
  const deployed = await cli(dir, ['deploy', 'agent-fns.ts', '--json']);
  assert.equal(deployed.code, 0, deployed.stderr);
  const created = await cli(dir, ['token', 'create', '--name', 'agents', '--scope', 'agent']);
  assert.equal(created.code, 0, created.stderr);
  return { server, agentToken: created.stdout.trim() };
}

/** An agent in a project directory of its own (it gets the bundle from the server), once listed ready. */
async function agent(server: RunningServer, agentToken: string, concurrency: number): Promise<RunningWorker> {
  const home = await makeProject(suite);
  const running = await startWorker(
    suite,
    home,
    server.url,
    agentToken,
    '--concurrency',
    String(concurrency),
  );
  await waitForAgents(
    server,
    server.token,
    (agents) =>
      agents.some(
        (listed: { id: string; state: string }) => listed.id === running.id && listed.state === 'ready',
      ),
    'the agent is listed ready',
  );
  return running;
}

// The two servers share nothing: their describes run at once.
describe('function calls on agents', { concurrency: true }, () => {
  describe('a server that runs no function code (--no-local-agent)', { concurrency: 1 }, () => {
    let server: RunningServer;
    let agentToken: string;
    let worker: RunningWorker;

    before(async () => {
      ({ server, agentToken } = await deployedServer('--no-local-agent', '--agent-timeout', '3000'));
    });

    test('refuses a sync call with 503 SKEIN_CLOUD_NO_AGENT and Retry-After while no agent is live', async () => {
      const answer = await api(server, server.token, 'POST', '/fn/where', { args: [0] });
      assertError(answer, 503, 'SKEIN_CLOUD_NO_AGENT');
      assert.equal(answer.headers.get('retry-after'), '1');
      assert.match(answer.body.message, /skein worker/);
    });

    test('runs sync calls on the agent and answers their results', async () => {
      worker = await agent(server, agentToken, 2);
      const answers = await Promise.all(
        Array.from({ length: 4 }, () => api(server, server.token, 'POST', '/fn/where', { args: [50] })),
      );
      for (const answer of answers) {
        assert.equal(answer.status, 200, JSON.stringify(answer.body));
        assert.equal(answer.body, worker.pid, 'the call ran in the agent process');
      }
    });

    test("a call past its timeout on the agent is 504 SKEIN_CLOUD_FUNCTION_TIMEOUT, and the agent's thread is stopped", async () => {
      const answer = await api(server, server.token, 'POST', '/fn/spin', { args: [] });
      assertError(answer, 504, 'SKEIN_CLOUD_FUNCTION_TIMEOUT');
      assert.match(answer.body.message, /1500 ms.*on its agent/);
      // The agent's threads are free again: a call after it is answered.
      const next = await api(server, server.token, 'POST', '/fn/where', { args: [0] });
      assert.equal(next.status, 200, JSON.stringify(next.body));
    });

    test("a function's error comes back as 502 SKEIN_CLOUD_FUNCTION_FAILED with the error as data", async () => {
      const answer = await api(server, server.token, 'POST', '/fn/refuse', { args: ['that'] });
      assertError(answer, 502, 'SKEIN_CLOUD_FUNCTION_FAILED');
      assert.equal(answer.body.cause.name, 'TypeError');
      assert.equal(answer.body.cause.message, 'cannot use that');
    });

    test('a call past its memory limit on the agent is 502 SKEIN_CLOUD_FUNCTION_OUT_OF_MEMORY', async () => {
      const answer = await api(server, server.token, 'POST', '/fn/hog', { args: [] });
      assertError(answer, 502, 'SKEIN_CLOUD_FUNCTION_OUT_OF_MEMORY');
      assert.match(answer.body.message, /64 MiB/);
    });

    test('the calls are jobs of the caller, listed with the others', async () => {
      const listed = await api(server, server.token, 'GET', '/api/jobs?limit=100');
      assert.equal(listed.status, 200, JSON.stringify(listed.body));
      const tasks = listed.body.jobs.map((job: { task: string }) => job.task);
      assert.ok(
        tasks.some((name: string) => name.endsWith(':where')),
        `a where call is listed: ${JSON.stringify(tasks)}`,
      );
    });

    test('once its only agent stops, calls are refused again', async () => {
      await worker.stop();
      await waitForAgents(
        server,
        server.token,
        (agents) =>
          agents.every((listed: { state: string }) => listed.state === 'stopped' || listed.state === 'lost'),
        'the agent is listed stopped',
      );
      // The server reads the registry at most once a second.
      const deadline = Date.now() + 10_000;
      for (;;) {
        const answer = await api(server, server.token, 'POST', '/fn/where', { args: [0] });
        if (answer.status === 503) {
          assertError(answer, 503, 'SKEIN_CLOUD_NO_AGENT');
          break;
        }
        assert.ok(Date.now() < deadline, `still answered ${answer.status} 10 s after the agent stopped`);
        await new Promise((resolve) => setTimeout(resolve, 200));
      }
    });
  });

  describe('a server with its own workers', () => {
    test('sends calls to an agent only when its own workers are all busy', async () => {
      const { server, agentToken } = await deployedServer('--concurrency', '1');
      const worker = await agent(server, agentToken, 2);
      // One call alone runs on the server.
      const alone = await api(server, server.token, 'POST', '/fn/where', { args: [0] });
      assert.equal(alone.status, 200, JSON.stringify(alone.body));
      assert.equal(alone.body, server.child.pid, 'a lone call runs on the server');
      // Three at once: the server's one worker takes one, the agent's two the others.
      const answers = await Promise.all(
        Array.from({ length: 3 }, () => api(server, server.token, 'POST', '/fn/where', { args: [1500] })),
      );
      const pids = answers.map((answer) => {
        assert.equal(answer.status, 200, JSON.stringify(answer.body));
        return answer.body as number;
      });
      assert.ok(pids.includes(server.child.pid!), `one ran on the server: ${pids}`);
      assert.ok(pids.includes(worker.pid), `one ran on the agent: ${pids}`);
    });
  });
});
