// `skein up --redis`: the queue lives on Redis (a random key prefix, deleted afterwards), not in
// .skein/tasks.db; kill -9 of the server and a restart on the same directory and prefix lose no
// acknowledged job. A Redis that cannot be reached, or a URL that is not Redis, stops the start.

import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import {
  deleteStore,
  freePort,
  REDIS_MISSING,
  REDIS_URL,
  randomPrefix,
  redisAvailable,
} from '../tasks/redis-helpers.ts';
import {
  api,
  checkAfterRestart,
  cli,
  makeProject,
  startServer,
  startWorker,
  submitBeforeKill,
  waitForAgents,
} from './harness.ts';

const UP = await redisAvailable();

// Each test has a project, a server and a Redis prefix of its own: they run at once.
describe('skein up --redis', { skip: UP ? false : REDIS_MISSING, concurrency: true }, () => {
  test('keeps jobs on Redis: kill -9 and a restart on the same prefix run every acknowledged job', async (t) => {
    const prefix = randomPrefix();
    t.after(async () => {
      await deleteStore(prefix);
    });
    const dir = await makeProject(t);
    const args = ['--redis', REDIS_URL, '--redis-prefix', prefix, '--lease-timeout', '1000'];
    const first = await startServer(t, dir, ...args);
    const scenario = await submitBeforeKill(first, dir);
    await first.kill9();
    assert.equal(existsSync(join(dir, '.skein/tasks.db')), false, 'no SQLite job store was made');
    await writeFile(scenario.gate, 'open\n');
    const second = await startServer(t, dir, ...args);
    assert.equal(second.token, first.token, 'tokens stay in .skein/cloud.db');
    await checkAfterRestart(second, dir, scenario);

    // Another prefix on the same Redis is another store: none of these jobs.
    const otherPrefix = randomPrefix();
    t.after(async () => {
      await deleteStore(otherPrefix);
    });
    assert.equal(await second.stop(), 0, second.stderr());
    const other = await startServer(t, dir, '--redis', REDIS_URL, '--redis-prefix', otherPrefix);
    assert.deepEqual((await api(other, other.token, 'GET', '/api/jobs')).body.jobs, []);
    assert.equal(await other.stop(), 0, other.stderr());
  });

  test('an agent rides out kill -9 of the server: after a restart on the same port it runs jobs as the same agent', async (t) => {
    const prefix = randomPrefix();
    t.after(async () => {
      await deleteStore(prefix);
    });
    const dir = await makeProject(t);
    const port = String(await freePort());
    const args = ['--port', port, '--redis', REDIS_URL, '--redis-prefix', prefix, '--no-local-agent'];
    const first = await startServer(t, dir, ...args);
    const token = (await cli(dir, ['token', 'create', '--name', 'w', '--scope', 'agent'])).stdout.trim();
    const home = await makeProject(t);
    const agent = await startWorker(t, home, first.url, token, '--concurrency', '1');
    const before = await cli(dir, ['submit', 'tasks.ts:add', '--args', '[1, 2]', '--wait']);
    assert.equal(before.stdout, '3\n', before.stderr);
    await first.kill9();
    const second = await startServer(t, dir, ...args);
    assert.equal(second.url, first.url);
    const after = await cli(dir, ['submit', 'tasks.ts:add', '--args', '[3, 4]', '--wait']);
    assert.equal(after.stdout, '7\n', after.stderr);
    const agents = await waitForAgents(second, second.token, (list) => list.length === 1, 'one agent');
    assert.equal(agents[0].id, agent.id, 'the agent kept its registration (on Redis)');
    assert.ok(
      agent.stderr().split('a call to the server failed').length - 1 <= 1,
      `one warning per outage, not one per retry: ${agent.stderr()}`,
    );
    assert.equal(await agent.stop(), 0, agent.stderr());
  });

  test('an unreachable Redis or a URL that is not redis:// stops skein up with the code', async (t) => {
    const dir = await makeProject(t);
    const away = await cli(dir, ['up', '--port', '0', '--redis', 'redis://127.0.0.1:1']);
    assert.equal(away.code, 1);
    assert.match(away.stderr, /^skein up: .*\(SKEIN_TASKS_BROKER_UNAVAILABLE\)$/m);
    const wrong = await cli(dir, ['up', '--port', '0', '--redis', 'http://127.0.0.1:6379']);
    assert.equal(wrong.code, 1);
    assert.match(
      wrong.stderr,
      /redis must be a redis:\/\/ or rediss:\/\/ URL .*\(SKEIN_CLOUD_INVALID_OPTION\)/,
    );
  });
});
