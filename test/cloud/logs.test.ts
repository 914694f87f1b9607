// Job logs through a real `skein up` child process: what a job prints on stdout and stderr is stored
// per line with its attempt and read back in order through GET /api/jobs/:id/logs and `skein logs`;
// `skein logs -f` follows a running job to its end; a retried job's attempts are told apart; the
// per-job cap drops the oldest lines; reading needs a token with a read scope; and a job run by a
// `skein worker` agent in another directory has its logs on the server.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { writeFile } from 'node:fs/promises';
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
  startServer,
  startWorker,
  waitForFile,
  waitForState,
} from './harness.ts';

const suite = fileCleanups();
const FINISHED = ['succeeded', 'failed', 'dead', 'cancelled'];
let dir: string;
let server: RunningServer;

before(async () => {
  dir = await makeProject(suite);
  server = await startServer(suite, dir);
});

async function submit(
  target: { url: string; token: string },
  exportName: string,
  args: unknown[],
  options = {},
) {
  const answer = await api(target, target.token, 'POST', '/api/jobs', {
    module: 'tasks.ts',
    export: exportName,
    args,
    options,
  });
  assert.equal(answer.status, 202, JSON.stringify(answer.body));
  return answer.body.id as string;
}

async function token(scope: string): Promise<string> {
  const created = await cli(dir, ['token', 'create', '--name', `logs-${scope}`, '--scope', scope]);
  assert.equal(created.code, 0, created.stderr);
  return created.stdout.trim();
}

test('a job prints on stdout and stderr: its lines read back in order with their attempt', async () => {
  const id = await submit(server, 'printLines', ['p', 5]);
  await waitForState(server, server.token, id, ['succeeded']);
  const answer = await api(server, server.token, 'GET', `/api/jobs/${id}/logs`);
  assert.equal(answer.status, 200, JSON.stringify(answer.body));
  assert.equal(answer.body.jobId, id);
  assert.equal(answer.body.state, 'succeeded');
  assert.equal(answer.body.dropped, 0);
  const numbers = [1, 2, 3, 4, 5];
  assert.deepEqual(
    answer.body.lines.map((line: { stream: string; text: string }) => `${line.stream} ${line.text}`),
    numbers.flatMap((i) => [`stdout p out ${i}`, `stderr p err ${i}`]),
  );
  for (const line of answer.body.lines) {
    assert.equal(line.attempt, 1);
    assert.equal(typeof line.at, 'number');
  }
  const seqs = answer.body.lines.map((line: { seq: number }) => line.seq);
  assert.deepEqual(
    seqs,
    seqs.toSorted((a: number, b: number) => a - b),
  );
  assert.equal(answer.body.next, seqs.at(-1));

  // A cursor pages on: after the 3rd line, at most 3 lines.
  const page = await api(server, server.token, 'GET', `/api/jobs/${id}/logs?after=${seqs[2]}&limit=3`);
  assert.deepEqual(
    page.body.lines.map((line: { text: string }) => line.text),
    ['p err 2', 'p out 3', 'p err 3'],
  );
  assert.equal(page.body.next, seqs[5]);

  // The CLI: stdout lines to stdout, stderr lines to stderr.
  const shown = await cli(dir, ['logs', id]);
  assert.equal(shown.code, 0, shown.stderr);
  assert.equal(shown.stdout, numbers.map((i) => `p out ${i}\n`).join(''));
  assert.equal(shown.stderr, numbers.map((i) => `p err ${i}\n`).join(''));
  const json = await cli(dir, ['logs', id, '--json']);
  assert.equal(json.code, 0, json.stderr);
  assert.equal(json.stdout.trim().split('\n').length, 10);
  assert.equal(JSON.parse(json.stdout.split('\n')[0]!).text, 'p out 1');
});

test('skein logs -f follows a running job and ends when it finishes', async () => {
  const gate = join(dir, `gate-${Date.now()}`);
  const id = await submit(server, 'printAroundGate', [gate]);
  await waitForFile(`${gate}.started`);
  const follower = spawn(process.execPath, [join(ROOT, 'bin/skein.ts'), 'logs', '-f', id], {
    cwd: dir,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const exited = once(follower, 'exit');
  let stdout = '';
  let stderr = '';
  follower.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
  follower.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  try {
    // The line printed before the gate arrives while the job still runs.
    const deadline = Date.now() + 15_000;
    while (!stdout.includes('before gate\n')) {
      assert.ok(Date.now() < deadline, `no line followed within 15 s: ${stdout} ${stderr}`);
      assert.equal(follower.exitCode, null, `skein logs -f exited early: ${stderr}`);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    assert.equal((await api(server, server.token, 'GET', `/api/jobs/${id}`)).body.state, 'running');
    await writeFile(gate, 'open\n');
    // Unref'd: a pending bound must not keep this file's process alive for 20 s after the test passed.
    const [code] = (await Promise.race([
      exited,
      new Promise((_, reject) =>
        setTimeout(() => reject(new Error(`not ended: ${stdout} ${stderr}`)), 20_000).unref(),
      ),
    ])) as [number];
    assert.equal(code, 0, stderr);
    assert.equal(stdout, 'before gate\nafter gate\n');
    assert.match(stderr, new RegExp(`job ${id} succeeded`));
  } finally {
    if (follower.exitCode === null) follower.kill('SIGKILL');
  }
});

test('the attempts of a retried job are told apart', async () => {
  const id = await submit(server, 'printFailOnce', [join(dir, `marker-${Date.now()}`)], {
    attempts: 2,
    backoff: { type: 'fixed', delay: 1, jitter: 'none' },
  });
  await waitForState(server, server.token, id, FINISHED);
  const answer = await api(server, server.token, 'GET', `/api/jobs/${id}/logs`);
  assert.equal(answer.body.state, 'succeeded');
  assert.deepEqual(
    answer.body.lines.map((line: { attempt: number; text: string }) => `${line.attempt} ${line.text}`),
    ['1 first try', '2 second try'],
  );
  const shown = await cli(dir, ['logs', id]);
  assert.equal(shown.stdout, 'first try\nsecond try\n');
  assert.equal(shown.stderr, '--- attempt 2 ---\n');
});

test('a job keeps its last 10000 lines: the oldest are dropped and counted', async () => {
  const id = await submit(server, 'printMany', [10_500]);
  await waitForState(server, server.token, id, ['succeeded'], 30_000);
  const texts: string[] = [];
  let after = 0;
  let dropped = -1;
  for (;;) {
    const page = await api(server, server.token, 'GET', `/api/jobs/${id}/logs?after=${after}&limit=5000`);
    assert.equal(page.status, 200, JSON.stringify(page.body));
    dropped = page.body.dropped;
    for (const line of page.body.lines) texts.push(line.text);
    after = page.body.next;
    if (page.body.lines.length < 5000) break;
  }
  assert.equal(dropped, 500);
  assert.equal(texts.length, 10_000);
  assert.equal(texts[0], 'line 501');
  assert.equal(texts.at(-1), 'line 10500');
});

test('a read token reads logs; no token gets 401, an agent token 403, an unknown job 404, bad input 400', async () => {
  const id = await submit(server, 'printLines', ['r', 1]);
  await waitForState(server, server.token, id, ['succeeded']);
  const reader = await token('read');
  const read = await api(server, reader, 'GET', `/api/jobs/${id}/logs`);
  assert.equal(read.status, 200);
  assert.equal(read.body.lines.length, 2);
  assertError(await api(server, undefined, 'GET', `/api/jobs/${id}/logs`), 401, 'SKEIN_CLOUD_UNAUTHORIZED');
  assertError(
    await api(server, await token('agent'), 'GET', `/api/jobs/${id}/logs`),
    403,
    'SKEIN_CLOUD_FORBIDDEN',
  );
  assertError(
    await api(server, reader, 'GET', '/api/jobs/no-such-job/logs'),
    404,
    'SKEIN_TASKS_JOB_NOT_FOUND',
  );
  for (const query of ['after=-1', 'limit=0', 'limit=5001', 'follow=yes', 'after=x', 'other=1']) {
    const answer = await api(server, reader, 'GET', `/api/jobs/${id}/logs?${query}`);
    assert.equal(answer.status, 400, `${query}: ${JSON.stringify(answer.body)}`);
  }
});

describe('a job run by a skein worker agent', () => {
  test('has its logs on the server', async (t) => {
    const home = await makeProject(t);
    const remote = await startServer(t, home, '--no-local-agent', '--lease-timeout', '5000');
    const created = await cli(home, ['token', 'create', '--name', 'agent', '--scope', 'agent']);
    assert.equal(created.code, 0, created.stderr);
    const machine = await makeProject(t);
    const agent = await startWorker(t, machine, remote.url, created.stdout.trim(), '--concurrency', '1');
    t.after(async () => {
      if (agent.child.exitCode === null && agent.child.signalCode === null) await agent.stop();
    });
    const id = await submit(remote, 'printLines', ['w', 3]);
    await waitForState(remote, remote.token, id, ['succeeded'], 30_000);
    const answer = await api(remote, remote.token, 'GET', `/api/jobs/${id}/logs`);
    assert.equal(answer.status, 200, JSON.stringify(answer.body));
    assert.deepEqual(
      answer.body.lines.map(
        (line: { attempt: number; stream: string; text: string }) =>
          `${line.attempt} ${line.stream} ${line.text}`,
      ),
      [1, 2, 3].flatMap((i) => [`1 stdout w out ${i}`, `1 stderr w err ${i}`]),
    );
  });
});
