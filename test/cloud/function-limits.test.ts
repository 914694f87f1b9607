// Per-function settings through a real `skein up` child process, its HTTP API and the real CLI: the
// module's config export and skein deploy's flags (which win), their validation, process isolation
// (another process; process.exit() there harms nothing), memory limits that stop a hog in a thread or a
// process while the server keeps serving, a timeout that kills a looping process, the bounded FIFO
// queue in front of a busy function (429 with Retry-After beyond it; a caller that leaves is taken
// out; the timeout counts from the start, not the wait), and rollback restoring a version's settings.

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { copyFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { bundleHash } from '../../src/cloud/index.ts';
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

const suite = fileCleanups();
let dir: string;
let server: RunningServer;
let firstHash: string;

before(async () => {
  dir = await makeProject(suite);
  await copyFile(join(ROOT, 'test/fixtures/cloud-fn-limits.ts'), join(dir, 'limits.ts'));
  server = await startServer(
    suite,
    dir,
    '--concurrency',
    '2',
    '--function-timeout',
    '20000',
    '--function-queue',
    '3',
  );
  const deployed = await cli(dir, ['deploy', 'limits.ts', '--json']);
  assert.equal(deployed.code, 0, deployed.stderr);
  firstHash = JSON.parse(deployed.stdout).hash;
});

function invoke(name: string, args: unknown[] = [], signal?: AbortSignal) {
  if (signal === undefined) return api(server, server.token, 'POST', `/fn/${name}`, { args });
  return fetch(`${server.url}/fn/${name}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${server.token}`, 'content-type': 'application/json' },
    body: JSON.stringify({ args }),
    signal,
  });
}

async function listed(name: string) {
  const functions = (await api(server, server.token, 'GET', '/api/functions')).body.functions;
  return functions.find((fn: { name: string }) => fn.name === name);
}

/** Waits (bounded) until the function has `waiting` calls in its queue. */
async function waitForWaiting(name: string, waiting: number): Promise<void> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const fn = await listed(name);
    if (fn.waiting === waiting) return;
    assert.ok(Date.now() < deadline, `${name} has ${fn.waiting} calls waiting, not ${waiting}`);
    await sleep(25);
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

// The waits on timeouts (an async call's attempts, the naps) run beside the other tests, which take
// turns: nap is called by its test only, and spinProcess (called by two) takes 8 calls at once with no
// queue to count. The redeploy changes every function of the module, so it comes after all of them.
describe('function settings, isolation, limits and queues', { concurrency: true }, () => {
  describe('one after another', { concurrency: 1 }, () => {
    test("a module's config export sets each function's settings; the listing shows them over the server's --function-* defaults", async () => {
      const pid = await listed('pid');
      assert.deepEqual(pid.settings, {
        isolation: 'process',
        memoryMb: null,
        timeout: 8000,
        concurrency: 8,
        queue: 3,
      });
      assert.deepEqual(pid.versions[0].settings, { timeout: 8000, isolation: 'process' });
      const hold = await listed('hold');
      assert.deepEqual(hold.settings, {
        isolation: 'thread',
        memoryMb: null,
        timeout: 8000,
        concurrency: 1,
        queue: 2,
      });
      assert.deepEqual((await listed('hogProcess')).settings.memoryMb, 64);

      const human = await cli(dir, ['fn', 'ls']);
      assert.equal(human.code, 0, human.stderr);
      assert.match(human.stdout, /ISOLATION\s+MEMORY\s+TIMEOUT\s+CONC\s+QUEUE/);
      assert.match(
        human.stdout,
        /^hogProcess\s+1\s+[0-9a-f]{12}\s+hogProcess\s+1\s+process\s+64MiB\s+8000ms\s+8\s+3\s/m,
      );
    });

    test('skein deploy flags win over the config export for every function of the module', async () => {
      const deployed = await cli(dir, [
        'deploy',
        'limits.ts',
        '--name',
        'tuned',
        '--isolation',
        'process',
        '--memory',
        '256',
        '--timeout',
        '5000',
        '--concurrency',
        '4',
        '--queue',
        '16',
        '--json',
      ]);
      assert.equal(deployed.code, 0, deployed.stderr);
      const body = JSON.parse(deployed.stdout);
      assert.equal(body.hash, firstHash, 'the same bundle');
      const hog = body.functions.find((fn: { name: string }) => fn.name === 'tuned.hogThread');
      assert.deepEqual(hog.settings, {
        isolation: 'process',
        memoryMb: 256,
        timeout: 5000,
        concurrency: 4,
        queue: 16,
      });
      const threadPid = await listed('tuned.threadPid');
      assert.deepEqual(threadPid.settings, {
        isolation: 'process',
        memoryMb: 256,
        timeout: 5000,
        concurrency: 4,
        queue: 16,
      });
      const answer = await invoke('tuned.threadPid');
      assert.equal(answer.status, 200, JSON.stringify(answer.body));
      assert.notEqual(answer.body, server.child.pid, 'the flag moved it to a process');
    });

    test('bad settings are refused with a typed 4xx naming the value, from the API, the module and the CLI', async () => {
      const bundle = readFileSync(join(dir, '.skein/deployments', `${firstHash}.mjs`), 'utf8');
      const deploy = (settings: unknown) =>
        api(server, server.token, 'POST', '/api/deployments', { hash: firstHash, bundle, settings });
      for (const [settings, named] of [
        [{ memoryMb: 8 }, /settings\.memoryMb must be an integer from 32 to 65536/],
        [{ isolation: 'vm' }, /settings\.isolation must be 'thread' or 'process'/],
        [{ timeout: 0 }, /settings\.timeout/],
        [{ concurrency: 1.5 }, /settings\.concurrency/],
        [{ queue: -1 }, /settings\.queue/],
        [{ memory: 256 }, /settings\.memory is not a function setting/],
      ] as const) {
        const answer = await deploy(settings);
        assertError(answer, 400, 'SKEIN_CLOUD_FUNCTION_SETTINGS_INVALID', JSON.stringify(settings));
        assert.match(answer.body.message, named);
      }
      assertError(await deploy('fast'), 400, 'SKEIN_CLOUD_INVALID_REQUEST', 'settings not an object');

      const withConfig = (config: string) =>
        `import { task } from 'skein';\nexport const one = task(import.meta, () => 1);\nexport const config = ${config};\n`;
      for (const [config, named] of [
        ["{ memoryMb: 'big' }", /config\.memoryMb must be an integer/],
        ['{ functions: { two: { timeout: 5 } } }', /config\.functions\.two names no exported task/],
        ["{ functions: { one: { isolation: 'vm' } } }", /config\.functions\.one\.isolation/],
        ['{ onStart() {} }', /config export cannot be copied/],
      ] as const) {
        const text = withConfig(config);
        const answer = await api(server, server.token, 'POST', '/api/deployments', {
          hash: bundleHash(text),
          bundle: text,
        });
        assertError(answer, 400, 'SKEIN_CLOUD_FUNCTION_SETTINGS_INVALID', config);
        assert.match(answer.body.message, named);
      }

      for (const flags of [
        ['--memory', '8'],
        ['--isolation', 'vm'],
        ['--queue', 'many'],
      ]) {
        const refused = await cli(dir, ['deploy', 'limits.ts', ...flags]);
        assert.equal(refused.code, 2, `${flags.join(' ')}: ${refused.stderr}`);
        assert.match(refused.stderr, new RegExp(flags[0]!));
      }
    });

    test('a process-isolated function runs in another process; process.exit() there harms only that process', async () => {
      const first = await invoke('pid');
      assert.equal(first.status, 200, JSON.stringify(first.body));
      assert.equal(typeof first.body, 'number');
      assert.notEqual(first.body, server.child.pid);
      assert.equal(
        (await invoke('threadPid')).body,
        server.child.pid,
        'a thread function runs in the server',
      );

      const exited = await invoke('exitNow', [3]);
      assertError(exited, 502, 'SKEIN_CLOUD_FUNCTION_FAILED', 'process.exit in a process function');
      assert.match(exited.body.message, /exit code 3/);
      const next = await invoke('pid');
      assert.equal(next.status, 200, 'the server still serves');
      assert.notEqual(next.body, server.child.pid);
    });

    test('a memory hog is stopped by its limit in a thread and in a process; the next call works', async () => {
      for (const name of ['hogThread', 'hogProcess']) {
        const answer = await invoke(name);
        assertError(answer, 502, 'SKEIN_CLOUD_FUNCTION_OUT_OF_MEMORY', name);
        assert.match(answer.body.message, /64 MiB/);
      }
      assert.equal(
        (await invoke('threadPid')).body,
        server.child.pid,
        'the server still serves thread functions',
      );
      assert.equal(typeof (await invoke('pid')).body, 'number', 'and process functions');
      const again = await invoke('hogThread');
      assertError(again, 502, 'SKEIN_CLOUD_FUNCTION_OUT_OF_MEMORY', 'a second hog on a fresh thread');
    });

    test('a busy-looping process function is killed at its timeout (504) and its process is gone', async () => {
      const pidFile = join(dir, 'spin.pid');
      const started = Date.now();
      const answer = await invoke('spinProcess', [pidFile]);
      assertError(answer, 504, 'SKEIN_CLOUD_FUNCTION_TIMEOUT', 'a spinning process');
      assert.ok(Date.now() - started >= 1400, 'not before its timeout of 1500 ms');
      const pid = Number(readFileSync(pidFile, 'utf8'));
      assert.notEqual(pid, server.child.pid);
      const deadline = Date.now() + 5000;
      while (alive(pid)) {
        assert.ok(Date.now() < deadline, `process ${pid} still runs after its timeout`);
        await sleep(50);
      }
      assert.equal(typeof (await invoke('pid')).body, 'number', 'the next call works');
    });

    test('with concurrency 1 and queue 2, four calls at once: three succeed in turn, one gets 429 with Retry-After', async () => {
      const gate = join(dir, 'gate-q');
      const calls = [0, 1, 2, 3].map(() => invoke('hold', [gate]));
      await waitForFile(`${gate}.started`);
      // The refused call answers at once, while the other three still run or wait.
      const first = await Promise.race(calls.map((call, index) => call.then(() => index)));
      const refused = await calls[first]!;
      assertError(refused, 429, 'SKEIN_CLOUD_FUNCTION_BUSY', 'the fourth call');
      assert.equal(refused.headers.get('retry-after'), '1');
      const load = await listed('hold');
      assert.deepEqual([load.running, load.waiting], [1, 2], 'one runs, two wait');
      await writeFile(gate, '');
      const answers = await Promise.all(calls);
      assert.deepEqual(answers.map((a) => a.status).sort(), [200, 200, 200, 429]);
      for (const answer of answers) if (answer.status === 200) assert.equal(answer.body, gate);
    });

    test('a caller that disconnects while queued leaves the queue', async () => {
      const gate = join(dir, 'gate-leave');
      const running = invoke('holdOne', [gate]);
      await waitForFile(`${gate}.started`);
      const leaving = new AbortController();
      const queued = invoke('holdOne', [gate], leaving.signal) as Promise<Response>;
      queued.catch(() => undefined);
      await waitForWaiting('holdOne', 1);
      assertError(await invoke('holdOne', [gate]), 429, 'SKEIN_CLOUD_FUNCTION_BUSY', 'the queue (1) is full');
      leaving.abort();
      await assert.rejects(queued);
      await waitForWaiting('holdOne', 0);
      // Its place is free again: a new call waits instead of getting 429.
      const replacement = invoke('holdOne', [gate]);
      await waitForWaiting('holdOne', 1);
      await writeFile(gate, '');
      assert.equal((await running).body, gate);
      assert.equal((await replacement).body, gate);
    });
  });

  test("an async call's time limit is its function's timeout (1500 ms here, not the server's 20000)", async () => {
    const started = Date.now();
    const answer = await api(server, server.token, 'POST', '/fn/spinProcess?async=1', {
      args: [join(dir, 'spin-async.pid')],
    });
    assert.equal(answer.status, 202, JSON.stringify(answer.body));
    const job = await api(server, server.token, 'GET', `/api/jobs/${answer.body.id}?wait=40000`);
    assert.equal(job.body.state, 'dead', JSON.stringify(job.body));
    assert.equal(job.body.error?.code, 'SKEIN_TIMEOUT', JSON.stringify(job.body.error));
    assert.ok(Date.now() - started < 20_000, 'each attempt stopped at the function timeout');
  });

  test('the timeout counts from the start of a call, not from its wait in the queue', async () => {
    // nap: concurrency 1, queue 1, timeout 2500 ms. The second call waits ~1500 ms, then runs 1500 ms:
    // 3000 ms from its arrival, 1000 ms of slack under the timeout for each run.
    const started = Date.now();
    const [a, b] = await Promise.all([invoke('nap', [1500]), invoke('nap', [1500])]);
    assert.equal(a.status, 200, JSON.stringify(a.body));
    assert.equal(b.status, 200, JSON.stringify(b.body));
    assert.ok(Date.now() - started >= 2900, 'the calls ran one after the other');
    assertError(await invoke('nap', [6000]), 504, 'SKEIN_CLOUD_FUNCTION_TIMEOUT', 'a nap past the timeout');
  });
});

test("redeploying with other settings and rolling back restores the old version's settings", async () => {
  await writeFile(
    join(dir, 'limits.ts'),
    `${readFileSync(join(dir, 'limits.ts'), 'utf8')}\nexport const v2 = 2;\n`,
  );
  const redeployed = await cli(dir, ['deploy', 'limits.ts', '--isolation', 'thread', '--json']);
  assert.equal(redeployed.code, 0, redeployed.stderr);
  const secondHash = JSON.parse(redeployed.stdout).hash;
  assert.notEqual(secondHash, firstHash);
  assert.equal((await invoke('pid')).body, server.child.pid, 'version 2 runs in a thread');
  assert.equal((await listed('pid')).settings.isolation, 'thread');

  const rolled = await cli(dir, ['fn', 'rollback', 'pid', firstHash.slice(0, 12)]);
  assert.equal(rolled.code, 0, rolled.stderr);
  const pid = await listed('pid');
  assert.equal(pid.version, 1);
  assert.equal(pid.settings.isolation, 'process');
  const answer = await invoke('pid');
  assert.equal(answer.status, 200);
  assert.notEqual(answer.body, server.child.pid, 'version 1 runs in a process again');
});
