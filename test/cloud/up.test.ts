// `skein up` as a user sees it: the text it prints (URL, admin token, where it saved them, the next
// commands), Ctrl-C (SIGINT) stopping it with exit 0, and the help of the cloud commands.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { cli, makeProject, ROOT } from './harness.ts';

const WAIT_MS = 20_000;

test('skein up prints the URL, the admin token and the next commands; SIGINT stops it and it exits 0', async (t) => {
  const dir = await makeProject(t);
  const child = spawn(
    process.execPath,
    [join(ROOT, 'bin/skein.ts'), 'up', '--port', '0', '--concurrency', '1'],
    {
      cwd: dir,
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  const exited = once(child, 'exit');
  t.after(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const deadline = Date.now() + WAIT_MS;
  while (!stdout.includes('Stop with Ctrl-C.')) {
    assert.ok(Date.now() < deadline && child.exitCode === null, `skein up did not come up: ${stderr}`);
    await sleep(20);
  }
  const url = /^Skein is up at (http:\/\/127\.0\.0\.1:\d+)$/m.exec(stdout)?.[1];
  assert.ok(url !== undefined, stdout);
  const token = /^ {2}token {4}(skein_\S+) \(admin, saved in \.skein\/credentials\.json\)$/m.exec(
    stdout,
  )?.[1];
  assert.ok(token !== undefined, stdout);
  assert.match(stdout, /^ {2}agent {4}1 thread$/m);
  assert.match(stdout, /^ {2}npx skein submit <module\.ts>:<export> --args '\[\.\.\.\]' --wait$/m);
  assert.match(stdout, /^ {2}npx skein deploy <module\.ts> +\(each exported task becomes a function\)$/m);
  assert.match(stdout, /^ {2}npx skein invoke <export> --args '\[\.\.\.\]'$/m);
  assert.deepEqual(JSON.parse(await readFile(join(dir, '.skein/credentials.json'), 'utf8')), {
    server: url,
    token,
  });

  const submitted = await cli(dir, ['submit', 'tasks.ts:add', '--args', '[2, 2]', '--wait']);
  assert.equal(submitted.stdout, '4\n', submitted.stderr);

  child.kill('SIGINT');
  const [code] = await exited;
  assert.equal(code, 0, stderr);
  assert.match(stderr, /SIGINT: stopping/);
  assert.match(stderr, /Skein stopped\n$/);
});

test('skein --help lists the cloud commands and each prints its own help', async () => {
  const help = await cli(ROOT, ['--help']);
  for (const command of [
    'up',
    'worker',
    'agents',
    'submit',
    'ps',
    'job',
    'cancel',
    'retry',
    'token',
    'deploy',
    'fn',
    'invoke',
  ]) {
    assert.match(help.stdout, new RegExp(`^ {2}${command} `, 'm'), command);
    const own = await cli(ROOT, [command, '--help']);
    assert.equal(own.code, 0, `${command}: ${own.stderr}`);
    assert.match(own.stdout, new RegExp(`^Usage: skein ${command} `), command);
  }
  const noAction = await cli(ROOT, ['token']);
  assert.equal(noAction.code, 2);
  assert.match(noAction.stderr, /^skein token: name an action: create, list or revoke/);
  const usage: [string[], RegExp][] = [
    [['fn'], /^skein fn: name an action: list or rollback/],
    [['fn', 'rollback', 'greet', 'zz'], /^skein fn: the hash must be 7 to 64 hex characters/],
    [['invoke', 'add', '--args', '{}'], /^skein invoke: --args must be a JSON array/],
    [['deploy'], /^skein deploy: give exactly one module to deploy/],
    [['deploy', 'fns.ts', '--name', 'a b'], /^skein deploy: --name must be 1 to 64 letters/],
  ];
  for (const [args, message] of usage) {
    const answer = await cli(ROOT, args);
    assert.equal(answer.code, 2, args.join(' '));
    assert.match(answer.stderr, message);
  }
  const noServer = await cli(ROOT, ['worker', '--token', 'skein_x']);
  assert.equal(noServer.code, 2);
  assert.match(noServer.stderr, /^skein worker: skein worker needs --server <url>/);
  const badLabel = await cli(ROOT, [
    'worker',
    '--server',
    'http://127.0.0.1:1',
    '--token',
    't',
    '--label',
    'nokey',
  ]);
  assert.equal(badLabel.code, 2);
  assert.match(badLabel.stderr, /--label must be key=value/);
  const away = await cli(ROOT, ['worker', '--server', 'http://127.0.0.1:1', '--token', 't']);
  assert.equal(away.code, 1);
  assert.match(
    away.stderr,
    /^skein worker: cannot reach the Skein server at http:\/\/127\.0\.0\.1:1 .*\(SKEIN_CLOUD_UNREACHABLE\)/,
  );
});
