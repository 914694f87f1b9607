// Serverless functions through a real `skein up` child process, its HTTP API, the real CLI and
// CloudClient: skein deploy (esbuild bundle, content-addressed on the server), sync and async calls,
// a function's error over the wire, the timeout that terminates a thread, 429 beyond the concurrency
// limit, redeploy and rollback, scopes, and refused bundles.

import assert from 'node:assert/strict';
import { existsSync, statSync } from 'node:fs';
import { copyFile, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { bundleHash, CloudClient } from '../../src/cloud/index.ts';
import { InvalidArgumentError, SkeinError } from '../../src/errors.ts';
import {
  api,
  assertError,
  cli,
  fileCleanups,
  makeProject,
  ROOT,
  type RunningServer,
  startServer,
  waitForFile,
} from './harness.ts';

const FUNCTION_TIMEOUT_MS = 1500;
/** Short, so that jobs a killed server held run again soon after the restart. */
const LEASE_TIMEOUT_MS = 1000;
/** Short, so that a test sees a bundle's warm pool closed. */
const IDLE_TIMEOUT_MS = 1500;
const suite = fileCleanups();
let dir: string;
let server: RunningServer;
let firstHash: string;

before(async () => {
  dir = await makeProject(suite);
  await copyFile(join(ROOT, 'test/fixtures/cloud-functions.ts'), join(dir, 'fns.ts'));
  await copyFile(join(ROOT, 'test/fixtures/cloud-function-suffix.ts'), join(dir, 'cloud-function-suffix.ts'));
  server = await startServer(
    suite,
    dir,
    '--concurrency',
    '2',
    '--function-concurrency',
    '2',
    '--function-timeout',
    String(FUNCTION_TIMEOUT_MS),
    '--lease-timeout',
    String(LEASE_TIMEOUT_MS),
    '--function-idle-timeout',
    String(IDLE_TIMEOUT_MS),
  );
  const deployed = await cli(dir, ['deploy', 'fns.ts', '--json']);
  assert.equal(deployed.code, 0, deployed.stderr);
  firstHash = JSON.parse(deployed.stdout).hash;
});

function invoke(name: string, args: unknown[], query = '', token = server.token) {
  return api(server, token, 'POST', `/fn/${name}${query}`, { args });
}

// The async call past the timeout waits out three attempts and their backoffs: it runs beside the
// tests that deploy, call and refuse, which take turns (one more call of spin, on a thread of its own,
// is within --function-concurrency 2; none deploys another bundle). The tests that need the bundle left
// alone (its pool going cold) or change its versions come after both.
describe('functions on the shared server', { concurrency: true }, () => {
  describe('deploy, call, time out and refuse', { concurrency: 1 }, () => {
    test('skein deploy makes each exported task a function, and POST /fn/<name> answers its result', async () => {
      assert.match(firstHash, /^[0-9a-f]{64}$/);
      const listed = await cli(dir, ['fn', 'list', '--json']);
      assert.equal(listed.code, 0, listed.stderr);
      const names = JSON.parse(listed.stdout).map((fn: { name: string }) => fn.name);
      for (const name of ['add', 'failCustom', 'failSkein', 'failType', 'greet', 'hold', 'spin'])
        assert.ok(names.includes(name), `${name} in ${names}`);
      assert.ok(!names.includes('notATask'), 'an export that is not a task is no function');

      const sync = await invoke('add', [40, 2]);
      assert.equal(sync.status, 200, JSON.stringify(sync.body));
      assert.equal(sync.body, 42);
      assert.match(sync.headers.get('content-type') ?? '', /^application\/json/);
      const greeted = await cli(dir, ['invoke', 'greet', '--args', '["ada"]']);
      assert.equal(greeted.code, 0, greeted.stderr);
      assert.equal(greeted.stdout, '"hello ada from v1"\n', 'the imported module was bundled in');

      const human = await cli(dir, ['fn', 'list']);
      assert.match(
        human.stdout,
        new RegExp(`^greet\\s+1\\s+${firstHash.slice(0, 12)}\\s+greet\\s+1\\s`, 'm'),
      );
    });

    test('a bundle is content-addressed: the same source gives the same hash and one file', async () => {
      const again = await cli(dir, ['deploy', 'fns.ts', '--json']);
      assert.equal(again.code, 0, again.stderr);
      const second = JSON.parse(again.stdout);
      assert.equal(second.hash, firstHash);
      assert.equal(second.stored, false);
      const prefixed = await cli(dir, ['deploy', 'fns.ts', '--name', 'team', '--json']);
      const third = JSON.parse(prefixed.stdout);
      assert.equal(third.hash, firstHash);
      assert.ok(third.functions.some((fn: { name: string }) => fn.name === 'team.add'));
      assert.equal((await invoke('team.add', [1, 2])).body, 3);

      const files = await readdir(join(dir, '.skein/deployments'));
      assert.deepEqual(files, [`${firstHash}.mjs`], 'one file, named by its hash, no temporary left');
      const mode = statSync(join(dir, '.skein/deployments', files[0]!)).mode & 0o777;
      assert.equal(mode, 0o400, 'the stored bundle is read-only');
      const versions = (await api(server, server.token, 'GET', '/api/functions')).body.functions.find(
        (fn: { name: string }) => fn.name === 'add',
      ).versions;
      assert.equal(versions.length, 1, 'deploying the same bundle again adds no version');
    });

    test('POST /fn/<name>?async=1 answers 202 with a job id whose job holds the result', async () => {
      const answer = await invoke('add', [20, 22], '?async=1');
      assert.equal(answer.status, 202, JSON.stringify(answer.body));
      assert.equal(answer.body.function, 'add');
      assert.equal(answer.body.hash, firstHash);
      const job = await api(server, server.token, 'GET', `/api/jobs/${answer.body.id}?wait=15000`);
      assert.equal(job.body.state, 'succeeded', JSON.stringify(job.body));
      assert.equal(job.body.result, 42);
      assert.equal(job.body.task, `.skein/deployments/${firstHash}.mjs:add`);

      const viaCli = await cli(dir, ['invoke', 'greet', '--args', '["bob"]', '--async']);
      assert.equal(viaCli.code, 0, viaCli.stderr);
      const shown = await cli(dir, ['job', viaCli.stdout.trim(), '--wait', '--json']);
      assert.equal(JSON.parse(shown.stdout).result, 'hello bob from v1');
    });

    test('a function that throws answers 502 SKEIN_CLOUD_FUNCTION_FAILED; the client rebuilds its cause from an allow-list only', async () => {
      const raw = await invoke('failType', ['bad input']);
      assertError(raw, 502, 'SKEIN_CLOUD_FUNCTION_FAILED', 'a TypeError');
      assert.deepEqual(raw.body.cause, { name: 'TypeError', message: 'bad input', code: null });

      const client = new CloudClient({ server: server.url, token: server.token });
      await assert.rejects(client.invoke('failType', ['typed']), (error: unknown) => {
        assert.ok(error instanceof SkeinError);
        assert.equal(error.code, 'SKEIN_CLOUD_FUNCTION_FAILED');
        assert.ok(error.cause instanceof TypeError, 'a built-in class is rebuilt');
        assert.equal((error.cause as Error).message, 'typed');
        return true;
      });
      await assert.rejects(client.invoke('failSkein'), (error: unknown) => {
        assert.ok(
          (error as Error).cause instanceof InvalidArgumentError,
          'a Skein code is rebuilt as its class',
        );
        assert.equal(((error as Error).cause as SkeinError).code, 'SKEIN_TASK_INVALID');
        return true;
      });
      await assert.rejects(client.invoke('failCustom'), (error: unknown) => {
        const cause = (error as Error).cause as Error;
        assert.equal(cause.constructor, Error, 'an unknown class becomes a plain Error');
        assert.equal(cause.name, 'EvilError');
        assert.equal(cause.message, 'an error of a class the client does not know');
        return true;
      });
      const viaCli = await cli(dir, ['invoke', 'failType', '--args', '["from the cli"]']);
      assert.equal(viaCli.code, 1);
      assert.match(viaCli.stderr, /TypeError: from the cli \(SKEIN_CLOUD_FUNCTION_FAILED\)/);
    });

    test('a call past --function-timeout answers 504 SKEIN_CLOUD_FUNCTION_TIMEOUT and its thread is terminated', async () => {
      const tick = join(dir, 'spin.tick');
      const started = Date.now();
      const answer = await invoke('spin', [tick]);
      assertError(answer, 504, 'SKEIN_CLOUD_FUNCTION_TIMEOUT', 'a spinning function');
      assert.ok(Date.now() - started >= FUNCTION_TIMEOUT_MS - 50, 'not before the timeout');
      const size = statSync(tick).size;
      assert.ok(size > 0, 'the function ran');
      await sleep(300);
      assert.equal(statSync(tick).size, size, 'the spinning thread no longer runs');
      assert.equal((await invoke('add', [1, 1])).body, 2, 'the pool serves the next call');
    });

    test('a function beyond --function-concurrency calls gets 429 SKEIN_CLOUD_FUNCTION_BUSY with Retry-After', async () => {
      const gates = [join(dir, 'hold-1'), join(dir, 'hold-2')];
      const held = gates.map((gate) => invoke('hold', [gate]));
      for (const gate of gates) await waitForFile(`${gate}.started`);
      const refused = await invoke('hold', [join(dir, 'hold-3')]);
      assertError(refused, 429, 'SKEIN_CLOUD_FUNCTION_BUSY', 'a third call');
      assert.equal(refused.headers.get('retry-after'), '1');
      assert.ok(!existsSync(join(dir, 'hold-3.started')), 'the refused call never ran');
      const client = new CloudClient({ server: server.url, token: server.token });
      await assert.rejects(client.invoke('hold', ['x']), {
        code: 'SKEIN_CLOUD_FUNCTION_BUSY',
        retryAfter: 1,
      });
      for (const gate of gates) await writeFile(gate, '');
      for (const answer of await Promise.all(held)) assert.equal(answer.body, 'released');
      assert.equal((await invoke('hold', [gates[0]])).body, 'released', 'a slot is free again');
    });
  });

  test('an async call past --function-timeout ends failed with SKEIN_TIMEOUT and its thread is terminated', async () => {
    const tick = join(dir, 'spin-async.tick');
    const answer = await invoke('spin', [tick], '?async=1');
    assert.equal(answer.status, 202, JSON.stringify(answer.body));
    const job = await api(server, server.token, 'GET', `/api/jobs/${answer.body.id}?wait=20000`);
    assert.ok(job.body.state === 'failed' || job.body.state === 'dead', JSON.stringify(job.body));
    assert.equal(job.body.error?.code, 'SKEIN_TIMEOUT', JSON.stringify(job.body.error));
    const size = statSync(tick).size;
    assert.ok(size > 0, 'the function ran');
    await sleep(300);
    assert.equal(statSync(tick).size, size, 'the spinning thread no longer runs');
    const next = await invoke('add', [3, 4], '?async=1');
    const done = await api(server, server.token, 'GET', `/api/jobs/${next.body.id}?wait=15000`);
    assert.equal(done.body.result, 7, 'the agent runs the next async call');
  });
});

test('a bundle gets a warm pool at its first call and loses it after --function-idle-timeout without one', async () => {
  const warmth = async () =>
    (await api(server, server.token, 'GET', '/api/functions')).body.functions.find(
      (fn: { name: string }) => fn.name === 'add',
    ).warm;
  assert.equal((await invoke('add', [1, 2])).body, 3);
  const calledAt = Date.now();
  assert.equal(await warmth(), true);
  const deadline = calledAt + IDLE_TIMEOUT_MS + 5000;
  while (await warmth()) {
    assert.ok(Date.now() < deadline, 'the pool is still warm long after its idle timeout');
    await sleep(100);
  }
  assert.ok(Date.now() - calledAt >= IDLE_TIMEOUT_MS - 100, 'not closed before its idle timeout');
  assert.equal((await invoke('add', [2, 3])).body, 5, 'the next call warms it again');
});

test('redeploying changes the result and skein fn rollback restores the old one', async () => {
  await writeFile(join(dir, 'cloud-function-suffix.ts'), "export const SUFFIX = 'v2';\n");
  const redeployed = await cli(dir, ['deploy', 'fns.ts', '--json']);
  assert.equal(redeployed.code, 0, redeployed.stderr);
  const secondHash = JSON.parse(redeployed.stdout).hash;
  assert.notEqual(secondHash, firstHash);
  assert.equal((await invoke('greet', ['ada'])).body, 'hello ada from v2');

  const rolled = await cli(dir, ['fn', 'rollback', 'greet', firstHash.slice(0, 10)]);
  assert.equal(rolled.code, 0, rolled.stderr);
  assert.equal(rolled.stdout, `function greet now runs version 1 (bundle ${firstHash})\n`);
  assert.equal((await invoke('greet', ['ada'])).body, 'hello ada from v1');
  assert.equal((await invoke('add', [2, 2])).body, 4, 'the other functions stay on the new bundle');
  const greet = (await api(server, server.token, 'GET', '/api/functions')).body.functions.find(
    (fn: { name: string }) => fn.name === 'greet',
  );
  assert.deepEqual(
    greet.versions.map((v: { version: number; hash: string }) => [v.version, v.hash]),
    [
      [1, firstHash],
      [2, secondHash],
    ],
  );
  assert.equal(greet.version, 1);

  assertError(
    await api(server, server.token, 'POST', '/api/functions/greet/rollback', { hash: 'abcdef0' }),
    404,
    'SKEIN_CLOUD_FUNCTION_NOT_FOUND',
    'a hash greet never had',
  );
  assertError(await invoke('nope', []), 404, 'SKEIN_CLOUD_FUNCTION_NOT_FOUND', 'an unknown function');
  await writeFile(join(dir, 'cloud-function-suffix.ts'), "export const SUFFIX = 'v1';\n");
});

test('calling a function needs a token with the invoke scope, deploying one with deploy', async () => {
  assertError(
    await api(server, undefined, 'POST', '/fn/add', { args: [1, 2] }),
    401,
    'SKEIN_CLOUD_UNAUTHORIZED',
    'no token',
  );
  const reader = (await api(server, server.token, 'POST', '/api/tokens', { name: 'r', scopes: ['read'] }))
    .body.token;
  const invoker = (await api(server, server.token, 'POST', '/api/tokens', { name: 'i', scopes: ['invoke'] }))
    .body.token;
  assertError(await invoke('add', [1, 2], '', reader), 403, 'SKEIN_CLOUD_FORBIDDEN', 'a read token');
  assert.equal((await invoke('add', [1, 2], '', invoker)).body, 3);
  assert.equal((await api(server, reader, 'GET', '/api/functions')).status, 200);
  const paths = (await api(server, reader, 'GET', '/api/openapi.json')).body.paths;
  assert.deepEqual(paths['/fn/{name}'].post['x-skein-scopes'], ['admin', 'invoke']);
  assert.deepEqual(paths['/api/deployments'].post['x-skein-scopes'], ['admin', 'deploy']);
  const bundle = 'export const x = 1;\n';
  for (const token of [reader, invoker]) {
    assertError(
      await api(server, token, 'POST', '/api/deployments', { hash: bundleHash(bundle), bundle }),
      403,
      'SKEIN_CLOUD_FORBIDDEN',
    );
    assertError(
      await api(server, token, 'POST', '/api/functions/greet/rollback', { hash: firstHash }),
      403,
      'SKEIN_CLOUD_FORBIDDEN',
    );
  }
});

test('a bundle that fails its hash, throws while loading or exports no task is refused and not kept', async () => {
  const deploy = (bundle: string, hash = bundleHash(bundle)) =>
    api(server, server.token, 'POST', '/api/deployments', { hash, bundle });
  assertError(
    await deploy('export const x = 1;\n', 'a'.repeat(64)),
    400,
    'SKEIN_CLOUD_BUNDLE_INVALID',
    'a wrong hash',
  );
  const throwing = "throw new Error('boom while loading');\n";
  const thrown = await deploy(throwing);
  assertError(thrown, 400, 'SKEIN_CLOUD_BUNDLE_INVALID', 'a bundle that throws');
  assert.match(thrown.body.message, /boom while loading/);
  assertError(await deploy('export const x = 1;\n'), 400, 'SKEIN_CLOUD_BUNDLE_INVALID', 'no task');
  const exiting = 'process.exit(3);\n';
  assertError(await deploy(exiting), 400, 'SKEIN_CLOUD_BUNDLE_INVALID', 'a bundle that exits');
  const files = await readdir(join(dir, '.skein/deployments'));
  for (const bad of [throwing, exiting, 'export const x = 1;\n'])
    assert.ok(!files.includes(`${bundleHash(bad)}.mjs`), 'a refused bundle is not kept');
  assertError(
    await api(server, server.token, 'POST', '/api/deployments', { hash: firstHash, bundle: '', code: 'x' }),
    400,
    'SKEIN_CLOUD_INVALID_REQUEST',
  );
  assert.equal((await invoke('add', [1, 2])).body, 3, 'the server is unharmed');

  await writeFile(join(dir, 'broken.ts'), 'export const = ;\n');
  const viaCli = await cli(dir, ['deploy', 'broken.ts']);
  assert.equal(viaCli.code, 1);
  assert.match(viaCli.stderr, /^bundling broken\.ts…$/m, 'the step running is shown');
  assert.match(viaCli.stderr, /skein deploy: cannot bundle "broken.ts": .*\(SKEIN_CLOUD_BUNDLE_INVALID\)/);
});

test('after kill -9 and a restart, functions keep their versions and an acknowledged async call runs', async () => {
  const gates = [join(dir, 'busy-1'), join(dir, 'busy-2')];
  // The agent's two threads are held, so the next async call is acknowledged but cannot finish.
  for (const gate of gates) assert.equal((await invoke('hold', [gate], '?async=1')).status, 202);
  for (const gate of gates) await waitForFile(`${gate}.started`);
  const pending = await invoke('add', [5, 6], '?async=1');
  assert.equal(pending.status, 202);
  await server.kill9();
  for (const gate of gates) await writeFile(gate, '');

  // The restarted agent knows the function tasks from .skein/cloud.db: nothing imports the bundle here.
  server = await startServer(suite, dir, '--concurrency', '2', '--lease-timeout', String(LEASE_TIMEOUT_MS));
  const job = await api(server, server.token, 'GET', `/api/jobs/${pending.body.id}?wait=15000`);
  assert.equal(job.body.state, 'succeeded', JSON.stringify(job.body));
  assert.equal(job.body.result, 11);
  assert.equal((await invoke('greet', ['ada'])).body, 'hello ada from v1', 'the rollback survived');
  const greet = (await api(server, server.token, 'GET', '/api/functions')).body.functions.find(
    (fn: { name: string }) => fn.name === 'greet',
  );
  assert.equal(greet.versions.length, 2);
});
