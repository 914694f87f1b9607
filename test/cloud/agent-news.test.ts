// The job store's news reaches agents: GET /api/agents/:id/news streams, to the agent that registered
// with the token, an event for each job enqueued (and retried, cancelled, whose lease expired), and an
// agent's HttpBroker turns that stream into the Broker's news(), so its Worker claims a new job at once
// rather than at its next poll. Against a real `skein up` child process; only agents may listen.

import assert from 'node:assert/strict';
import { join } from 'node:path';
import { before, test } from 'node:test';
import { BundleCache } from '../../src/cloud/bundle-cache.ts';
import { CloudClient } from '../../src/cloud/client.ts';
import { HttpBroker } from '../../src/cloud/http-broker.ts';
import type { BrokerEvent } from '../../src/tasks/index.ts';
import { api, assertError, fileCleanups, makeProject, type RunningServer, startServer } from './harness.ts';

const suite = fileCleanups();
let dir: string;
let server: RunningServer;
let agentToken: string;
let agentId: string;

const REGISTRATION = {
  name: 'news',
  host: 'h',
  cores: 1,
  memory: 1024,
  gpus: [],
  labels: {},
  concurrency: 1,
};

before(async () => {
  dir = await makeProject(suite);
  server = await startServer(suite, dir, '--no-local-agent');
  agentToken = (await api(server, server.token, 'POST', '/api/tokens', { name: 'agent', scopes: ['agent'] }))
    .body.token;
  const registered = await api(server, agentToken, 'POST', '/api/agents', REGISTRATION);
  assert.equal(registered.status, 201, JSON.stringify(registered.body));
  agentId = registered.body.id;
});

/** Reads `events` until one matches (without ending the stream), bounded by a generous timeout. */
async function first(
  events: AsyncIterator<BrokerEvent>,
  match: (event: BrokerEvent) => boolean,
): Promise<BrokerEvent> {
  const deadline = AbortSignal.timeout(20_000);
  const seen: BrokerEvent[] = [];
  while (!deadline.aborted) {
    const next = await events.next();
    if (next.done) break;
    seen.push(next.value);
    if (match(next.value)) return next.value;
  }
  assert.fail(`no matching news event; saw ${JSON.stringify(seen)}`);
}

async function submit(): Promise<string> {
  const answer = await api(server, server.token, 'POST', '/api/jobs', {
    module: 'tasks.ts',
    export: 'add',
    args: [1, 2],
  });
  assert.equal(answer.status, 202, JSON.stringify(answer.body));
  return answer.body.id;
}

test("the agent's news stream carries an enqueued event for a job submitted after it subscribed, then its cancel", async () => {
  const stop = new AbortController();
  const client = new CloudClient({ server: server.url, token: agentToken });
  const events = (await client.agentNews(agentId, stop.signal))[Symbol.asyncIterator]();
  try {
    const id = await submit();
    const enqueued = await first(events, (event) => event.jobId === id);
    assert.equal(enqueued.type, 'enqueued');
    assert.equal(enqueued.queue, 'default');
    assert.equal(typeof enqueued.at, 'number');
    assert.equal((await api(server, server.token, 'POST', `/api/jobs/${id}/cancel`)).status, 200);
    assert.equal((await first(events, (event) => event.jobId === id)).type, 'cancelled');
  } finally {
    stop.abort();
  }
});

test("an HttpBroker's news() is that stream: a Worker on it wakes as soon as a job is enqueued", async () => {
  const client = new CloudClient({ server: server.url, token: agentToken });
  const bundles = new BundleCache({
    dir: join(dir, '.skein/agent-cache'),
    fetch: () => Promise.reject(new Error('unused')),
  });
  const broker = new HttpBroker({ client, agentId, projectDir: dir, bundles });
  const stop = new AbortController();
  try {
    const news = broker.news('default', stop.signal)[Symbol.asyncIterator]();
    // The subscription is made on the first next(); the job is submitted once it is under way.
    const next = news.next();
    await new Promise((resolve) => setTimeout(resolve, 500));
    const id = await submit();
    let event = await next;
    while (!event.done && event.value.jobId !== id) event = await news.next();
    assert.equal(event.done, false, 'the stream ended before the job was enqueued');
    assert.equal((event.value as BrokerEvent).type, 'enqueued');
  } finally {
    stop.abort();
    await broker.close();
  }
});

test('only the agent that registered with the token may listen: others get 404, non-agent tokens 403', async () => {
  const otherAgent = (
    await api(server, server.token, 'POST', '/api/tokens', { name: 'other', scopes: ['agent'] })
  ).body.token;
  assertError(
    await api(server, otherAgent, 'GET', `/api/agents/${agentId}/news`),
    404,
    'SKEIN_CLOUD_AGENT_NOT_FOUND',
  );
  const reader = (
    await api(server, server.token, 'POST', '/api/tokens', { name: 'reader', scopes: ['read'] })
  ).body.token;
  assertError(await api(server, reader, 'GET', `/api/agents/${agentId}/news`), 403, 'SKEIN_CLOUD_FORBIDDEN');
  assertError(
    await api(server, undefined, 'GET', `/api/agents/${agentId}/news`),
    401,
    'SKEIN_CLOUD_UNAUTHORIZED',
  );
});
