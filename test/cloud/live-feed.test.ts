// The event stream's live view for real: a `skein up --no-local-agent` child process and a `skein
// worker` agent. An operator's stream sees the agent register (ready), turn lost after a SIGKILL, and
// metrics of the queue every 2 s; a tenant's stream sees the agent events too but no metrics (they
// count every tenant's jobs).

import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  api,
  cli,
  fileCleanups,
  makeProject,
  openEventStream,
  type RunningServer,
  startServer,
  startWorker,
  waitForFrame,
} from './harness.ts';

const AGENT_TIMEOUT_MS = 1500;
const suite = fileCleanups();
let dir: string;
let server: RunningServer;

before(async () => {
  dir = await makeProject(suite);
  server = await startServer(suite, dir, '--no-local-agent', '--agent-timeout', String(AGENT_TIMEOUT_MS));
});

test('an agent registering and then killed shows on the stream as ready, then lost; operators get metrics', async (t) => {
  const created = await cli(dir, ['token', 'create', '--name', 'agents', '--scope', 'agent']);
  assert.equal(created.code, 0, created.stderr);
  const reader = await cli(dir, ['token', 'create', '--name', 'acme', '--scope', 'read', '--tenant', 'acme']);
  assert.equal(reader.code, 0, reader.stderr);
  const operator = await openEventStream(server, server.token);
  const tenant = await openEventStream(server, reader.stdout.trim());
  t.after(async () => {
    await operator.stop();
    await tenant.stop();
  });
  // The feed learns the agents there are when a stream opens; one registered later is new to it.
  await sleep(1500);
  const home = await makeProject(t);
  const agent = await startWorker(t, home, server.url, created.stdout.trim());
  for (const stream of [operator, tenant]) {
    const registered = await waitForFrame(
      stream.frames,
      (f) => f.event === 'agent' && f.data.id === agent.id && f.data.from === null,
      'the agent registers',
    );
    assert.equal(registered.data.state, 'ready');
  }
  const submitted = await api(server, server.token, 'POST', '/api/jobs', {
    module: 'tasks.ts',
    export: 'add',
    args: [1, 2],
  });
  assert.equal(submitted.status, 202, JSON.stringify(submitted.body));
  const metrics = await waitForFrame(
    operator.frames,
    (f) => f.event === 'metrics' && (f.data.agents as { ready: number }).ready >= 1,
    'a metrics event with the agent',
  );
  assert.equal(typeof metrics.data.queue, 'string');
  assert.equal(typeof (metrics.data.counts as { succeeded: number }).succeeded, 'number');
  assert.equal(typeof metrics.data.finishedLastMinute, 'number');
  await agent.kill9();
  for (const stream of [operator, tenant]) {
    const lost = await waitForFrame(
      stream.frames,
      (f) => f.event === 'agent' && f.data.id === agent.id && f.data.state === 'lost',
      'the killed agent is lost',
    );
    assert.ok(lost.data.from === 'ready' || lost.data.from === 'busy', JSON.stringify(lost.data));
  }
  assert.equal(
    tenant.frames.some((f) => f.event === 'metrics'),
    false,
    "a tenant's stream gets no metrics of every tenant's jobs",
  );
});
