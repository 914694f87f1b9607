// CloudServer in this process, as a program embeds it: start on port 0, a job through CloudClient, an
// open event stream ended by close(), and close() idempotent (the same promise) with the port released.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { CloudClient, CloudServer } from '../../src/cloud/index.ts';
import { makeProject } from './harness.ts';

const STREAM_END_TIMEOUT_MS = 10_000;

test('CloudServer.start serves jobs in this process; close() ends event streams, is idempotent and frees the port', async (t) => {
  const dir = await makeProject(t);
  const server = await CloudServer.start({ projectDir: dir, port: 0, concurrency: 1 });
  t.after(() => server.close());
  assert.match(server.url, /^http:\/\/127\.0\.0\.1:\d+$/);
  assert.equal(server.concurrency, 1);
  const client = new CloudClient({ server: server.url, token: server.adminToken });
  const { id } = await client.submit({ module: 'tasks.ts', export: 'add', args: [5, 6] });
  const job = await client.job(id, { wait: 10_000 });
  assert.equal(job.state, 'succeeded');
  assert.equal(job.result, 11);

  const events = await client.events(AbortSignal.timeout(STREAM_END_TIMEOUT_MS));
  const drained = (async () => {
    let count = 0;
    for await (const _event of events) count++;
    return count;
  })();
  const closing = server.close();
  assert.equal(server.close(), closing, 'a second close() gets the same promise');
  await closing;
  assert.equal(typeof (await drained), 'number', 'the event stream ended when the server closed');
  await assert.rejects(client.jobs(), { code: 'SKEIN_CLOUD_UNREACHABLE' });
});
