// Jobs through a real `skein up` child process, its HTTP API and the real CLI: submit and result, failure
// and retry, cancel (waiting and running), listing with paging, live events over SSE, the OpenAPI
// document, and bad input of every kind answered with a 4xx and a stable code, never a 500.

import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { copyFile, mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { request as httpRequest } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { before, test } from 'node:test';
import { CloudClient } from '../../src/cloud/index.ts';
import {
  type ApiAnswer,
  api,
  assertError,
  cli,
  fileCleanups,
  makeProject,
  ROOT,
  type RunningServer,
  startServer,
  waitForFile,
  waitForState,
} from './harness.ts';

const suite = fileCleanups();
let dir: string;
let server: RunningServer;

before(async () => {
  dir = await makeProject(suite);
  server = await startServer(suite, dir);
});

async function submit(body: unknown): Promise<ApiAnswer> {
  return api(server, server.token, 'POST', '/api/jobs', body);
}

/**
 * POSTs a body the server refuses before reading it all (over its body limit): the server may answer and
 * close while the body is still being written, which fetch reports as a failure (EPIPE) though the answer
 * came. node:http hands over the answer whatever happens to the rest of the upload.
 */
function submitOversized(body: unknown): Promise<ApiAnswer> {
  return new Promise((resolve, reject) => {
    const url = new URL('/api/jobs', server.url);
    const request = httpRequest(url, {
      method: 'POST',
      headers: { authorization: `Bearer ${server.token}`, 'content-type': 'application/json' },
    });
    request.on('response', (response) => {
      let text = '';
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => (text += chunk));
      response.on('end', () =>
        resolve({ status: response.statusCode ?? 0, headers: new Headers(), body: JSON.parse(text) }),
      );
    });
    // A write cut short by the server's early answer is expected; only a missing answer fails.
    request.on('error', (error) => setTimeout(() => reject(error), 5000).unref());
    request.end(JSON.stringify(body));
  });
}

test('skein submit --wait runs the task on the server and prints its result; skein job and ps show the job', async () => {
  const submitted = await cli(dir, ['submit', 'tasks.ts:add', '--args', '[40, 2]', '--wait']);
  assert.equal(submitted.code, 0, submitted.stderr);
  assert.equal(submitted.stdout, '42\n');
  const id = /job (\S+) succeeded after 1 attempt/.exec(submitted.stderr)?.[1];
  assert.ok(id !== undefined, submitted.stderr);

  const shown = await cli(dir, ['job', id, '--json']);
  assert.equal(shown.code, 0, shown.stderr);
  const job = JSON.parse(shown.stdout);
  assert.equal(job.state, 'succeeded');
  assert.equal(job.result, 42);
  assert.deepEqual(job.args, [40, 2]);
  assert.equal(job.task, 'tasks.ts:add');
  assert.equal(job.attempt, 1);
  assert.ok(job.createdAt <= job.startedAt && job.startedAt <= job.finishedAt);

  const human = await cli(dir, ['job', id]);
  assert.match(human.stdout, /^state\s+succeeded$/m);
  assert.match(human.stdout, /^result\s+42$/m);

  const ps = await cli(dir, ['ps', '--state', 'succeeded']);
  assert.equal(ps.code, 0, ps.stderr);
  assert.match(ps.stdout, /^ID\s+STATE\s+TASK\s+ATTEMPTS\s+CREATED$/m);
  assert.match(ps.stdout, new RegExp(`^${id}\\s+succeeded\\s+tasks\\.ts:add\\s+1/3\\s`, 'm'));
});

test('a failing task ends dead with its error, and skein retry runs it again to success', async () => {
  const marker = join(dir, 'fail-once.marker');
  const failed = await cli(dir, [
    'submit',
    'tasks.ts:failOnce',
    '--args',
    JSON.stringify([marker]),
    '--attempts',
    '1',
    '--wait',
  ]);
  assert.equal(failed.code, 1, failed.stderr);
  const id = /job (\S+) dead after 1 attempt: Error: first attempt fails on purpose/.exec(failed.stderr)?.[1];
  assert.ok(id !== undefined, failed.stderr);
  const dead = await api(server, server.token, 'GET', `/api/jobs/${id}`);
  assert.equal(dead.body.state, 'dead');
  assert.deepEqual(dead.body.error, { name: 'Error', message: 'first attempt fails on purpose', code: null });

  const retried = await cli(dir, ['retry', id]);
  assert.equal(retried.code, 0, retried.stderr);
  assert.equal(retried.stdout, `job ${id} queued again\n`);
  const done = await cli(dir, ['job', id, '--wait', '--json']);
  assert.equal(JSON.parse(done.stdout).state, 'succeeded');
  assert.equal(JSON.parse(done.stdout).result, 'second time lucky');

  const again = await api(server, server.token, 'POST', `/api/jobs/${id}/retry`);
  assertError(again, 409, 'SKEIN_CLOUD_JOB_NOT_RETRYABLE', 'retry of a succeeded job');
});

test('skein cancel cancels a waiting job at once and a running one through its signal', async () => {
  const delayed = await submit({
    module: 'tasks.ts',
    export: 'add',
    args: [1, 2],
    options: { delay: 600_000 },
  });
  assert.equal(delayed.status, 202, JSON.stringify(delayed.body));
  assert.equal(
    (await api(server, server.token, 'GET', `/api/jobs/${delayed.body.id}`)).body.state,
    'scheduled',
  );
  const cancelled = await cli(dir, ['cancel', delayed.body.id]);
  assert.equal(cancelled.code, 0, cancelled.stderr);
  assert.equal(cancelled.stdout, `job ${delayed.body.id} cancelled\n`);
  assert.equal(
    (await api(server, server.token, 'GET', `/api/jobs/${delayed.body.id}`)).body.state,
    'cancelled',
  );

  const gate = join(dir, 'cancel-running.gate');
  const running = await submit({ module: 'tasks.ts', export: 'waitForFile', args: [gate, 'never'] });
  assert.equal(running.status, 202);
  await waitForFile(`${gate}.started`);
  const requested = await cli(dir, ['cancel', running.body.id, '--json']);
  assert.deepEqual(JSON.parse(requested.stdout), { id: running.body.id, outcome: 'requested' });
  const view = await waitForState(server, server.token, running.body.id, ['cancelled', 'succeeded', 'dead']);
  assert.equal(view.state, 'cancelled');
  assert.equal(view.result, null);

  const finished = await api(server, server.token, 'POST', `/api/jobs/${running.body.id}/cancel`);
  assert.deepEqual(finished.body, { id: running.body.id, outcome: 'finished' });
  assertError(
    await api(server, server.token, 'POST', '/api/jobs/no-such-job/cancel'),
    404,
    'SKEIN_TASKS_JOB_NOT_FOUND',
  );
  assertError(
    await api(server, server.token, 'GET', '/api/jobs/no-such-job'),
    404,
    'SKEIN_TASKS_JOB_NOT_FOUND',
  );
});

test('GET /api/jobs filters by state and pages without gaps or repeats', async () => {
  const ids: string[] = [];
  for (let i = 0; i < 5; i++) {
    const answer = await submit({
      module: 'tasks.ts',
      export: 'add',
      args: [i, 0],
      options: { delay: 600_000 },
    });
    ids.push(answer.body.id);
  }
  const pages: string[] = [];
  for (let offset = 0; ; offset += 2) {
    const page = await api(server, server.token, 'GET', `/api/jobs?state=scheduled&limit=2&offset=${offset}`);
    assert.equal(page.status, 200);
    assert.ok(page.body.jobs.length <= 2);
    assert.ok(page.body.jobs.every((job: { state: string }) => job.state === 'scheduled'));
    pages.push(...page.body.jobs.map((job: { id: string }) => job.id));
    if (page.body.jobs.length < 2) break;
  }
  assert.deepEqual(pages, ids, 'pages hold every scheduled job once, oldest first');
  const all = await api(server, server.token, 'GET', '/api/jobs?limit=500');
  const states = new Set(all.body.jobs.map((job: { state: string }) => job.state));
  assert.ok(states.has('scheduled') && states.has('succeeded'), `every state listed: ${[...states]}`);
  for (const id of ids) await api(server, server.token, 'POST', `/api/jobs/${id}/cancel`);
  const json = await cli(dir, ['ps', '--state', 'scheduled', '--json']);
  assert.deepEqual(JSON.parse(json.stdout).jobs, []);
});

test('GET /api/events streams the enqueued, started and succeeded events of a job', async () => {
  const client = new CloudClient({ server: server.url, token: server.token });
  const stop = new AbortController();
  const timeout = setTimeout(() => stop.abort(), 15_000);
  try {
    const events = await client.events(stop.signal);
    const submitted = await submit({ module: 'tasks.ts', export: 'add', args: [3, 4] });
    const seen: string[] = [];
    for await (const event of events) {
      if (event.jobId !== submitted.body.id) continue;
      seen.push(event.type);
      assert.equal(event.queue, 'default');
      assert.equal(typeof event.at, 'number');
      if (event.type === 'succeeded') break;
    }
    assert.deepEqual(seen, ['enqueued', 'started', 'succeeded']);
  } finally {
    clearTimeout(timeout);
    stop.abort();
  }
});

test('malformed requests get a 4xx with a stable code, never a 500', async () => {
  const token = server.token;
  const cases: [string, Promise<ApiAnswer>, number, string][] = [
    ['not JSON', api(server, token, 'POST', '/api/jobs', '{"module": '), 400, 'SKEIN_CLOUD_INVALID_REQUEST'],
    ['empty body', api(server, token, 'POST', '/api/jobs', ''), 400, 'SKEIN_CLOUD_INVALID_REQUEST'],
    ['a JSON array', submit([1, 2]), 400, 'SKEIN_CLOUD_INVALID_REQUEST'],
    ['no export', submit({ module: 'tasks.ts' }), 400, 'SKEIN_CLOUD_INVALID_REQUEST'],
    [
      'an unknown field',
      submit({ module: 'tasks.ts', export: 'add', run: 'rm -rf /' }),
      400,
      'SKEIN_CLOUD_INVALID_REQUEST',
    ],
    [
      'args not an array',
      submit({ module: 'tasks.ts', export: 'add', args: '1, 2' }),
      400,
      'SKEIN_CLOUD_INVALID_REQUEST',
    ],
    [
      'a string delay',
      submit({ module: 'tasks.ts', export: 'add', options: { delay: '5' } }),
      400,
      'SKEIN_CLOUD_INVALID_REQUEST',
    ],
    [
      'an unknown option',
      submit({ module: 'tasks.ts', export: 'add', options: { eval: 'x' } }),
      400,
      'SKEIN_CLOUD_INVALID_REQUEST',
    ],
    [
      'priority out of range',
      submit({ module: 'tasks.ts', export: 'add', options: { priority: 10 ** 9 } }),
      400,
      'SKEIN_TASKS_INVALID_OPTION',
    ],
    [
      'maxDelay below delay',
      submit({ module: 'tasks.ts', export: 'add', options: { backoff: { delay: 1000, maxDelay: 10 } } }),
      400,
      'SKEIN_TASKS_INVALID_OPTION',
    ],
    [
      'text/plain',
      api(server, token, 'POST', '/api/jobs', 'add', { 'content-type': 'text/plain' }),
      415,
      'SKEIN_CLOUD_INVALID_REQUEST',
    ],
    [
      'a 2 MiB body',
      submitOversized({ module: 'tasks.ts', export: 'add', args: ['x'.repeat(2 * 1024 * 1024)] }),
      413,
      'SKEIN_CLOUD_PAYLOAD_TOO_LARGE',
    ],
    [
      'args nested 1000 deep',
      submit({
        module: 'tasks.ts',
        export: 'add',
        args: JSON.parse(`${'['.repeat(1000)}${']'.repeat(1000)}`),
      }),
      400,
      'SKEIN_CLOUD_INVALID_REQUEST',
    ],
    [
      'a time limit no timer can hold',
      submit({ module: 'tasks.ts', export: 'add', options: { timeLimit: 2 ** 31 } }),
      400,
      'SKEIN_CLOUD_INVALID_REQUEST',
    ],
    [
      'a delay of 1e300 ms',
      submit({ module: 'tasks.ts', export: 'add', options: { delay: 1e300 } }),
      400,
      'SKEIN_CLOUD_INVALID_REQUEST',
    ],
    [
      '__proto__ in the body',
      api(
        server,
        token,
        'POST',
        '/api/jobs',
        '{"module":"tasks.ts","export":"add","args":[{"__proto__":{"x":1}}]}',
      ),
      400,
      'SKEIN_CLOUD_INVALID_REQUEST',
    ],
    [
      'a query where none is taken',
      api(server, token, 'GET', '/api/tokens?all=1'),
      400,
      'SKEIN_CLOUD_INVALID_REQUEST',
    ],
    [
      'an unknown query parameter',
      api(server, token, 'GET', '/api/jobs?sort=id'),
      400,
      'SKEIN_CLOUD_INVALID_REQUEST',
    ],
    ['a bad limit', api(server, token, 'GET', '/api/jobs?limit=ten'), 400, 'SKEIN_CLOUD_INVALID_REQUEST'],
    ['limit 0', api(server, token, 'GET', '/api/jobs?limit=0'), 400, 'SKEIN_CLOUD_INVALID_REQUEST'],
    ['a bad state', api(server, token, 'GET', '/api/jobs?state=zombie'), 400, 'SKEIN_CLOUD_INVALID_REQUEST'],
    [
      'wait too long',
      api(server, token, 'GET', '/api/jobs/x?wait=99999'),
      400,
      'SKEIN_CLOUD_INVALID_REQUEST',
    ],
    ['a bad job id', api(server, token, 'GET', '/api/jobs/a%20b'), 400, 'SKEIN_CLOUD_INVALID_REQUEST'],
    ['an unknown route', api(server, token, 'GET', '/api/nothing'), 404, 'SKEIN_CLOUD_ROUTE_NOT_FOUND'],
    ['a bad export name', submit({ module: 'tasks.ts', export: 'a-b' }), 404, 'SKEIN_CLOUD_TASK_NOT_FOUND'],
  ];
  for (const [what, answer, status, code] of cases) assertError(await answer, status, code, what);
});

test('task modules outside the project, in .skein/ or node_modules/, or not exporting a task are refused and never imported', async (t) => {
  const outside = await mkdtemp(join(tmpdir(), 'skein-outside-'));
  t.after(() => rm(outside, { recursive: true, force: true }));
  await mkdir(join(outside, 'node_modules'));
  await symlink(ROOT, join(outside, 'node_modules/skein'), 'dir');
  await copyFile(join(ROOT, 'test/fixtures/cloud-outside-module.ts'), join(outside, 'evil.ts'));
  await symlink(join(outside, 'evil.ts'), join(dir, 'linked.ts'));
  const refused = [
    '../evil.ts',
    `../${outside.split('/').pop()}/evil.ts`,
    join(outside, 'evil.ts'),
    `file://${join(outside, 'evil.ts')}`,
    'https://example.com/evil.ts',
    'data:text/javascript,process.exit(1)',
    'node:child_process',
    'linked.ts',
    'sub/../../evil.ts',
    '.skein/credentials.json',
    '.skein/x.ts',
    'node_modules/skein/src/index.ts',
    'package.json',
    '.',
  ];
  for (const module of refused) {
    assertError(
      await submit({ module, export: 'add', args: [1, 2] }),
      400,
      'SKEIN_CLOUD_MODULE_REFUSED',
      module,
    );
  }
  const cli404 = await cli(dir, ['submit', '../evil.ts:add']);
  assert.equal(cli404.code, 1);
  assert.match(cli404.stderr, /leads outside the project directory;.*\(SKEIN_CLOUD_MODULE_REFUSED\)\n$/);
  assert.ok(!existsSync(join(outside, 'imported-marker.txt')), 'the outside module was never imported');

  await writeFile(
    join(dir, 'factory.ts'),
    "import { task } from 'skein';\nexport function makeTask() { return task(import.meta, () => 1); }\n",
  );
  await writeFile(
    join(dir, 'made.ts'),
    "import { makeTask } from './factory.ts';\nexport const made = makeTask();\n",
  );
  for (const [module, name] of [
    ['made.ts', 'made'],
    ['missing.ts', 'add'],
    ['tasks.ts', 'nope'],
    ['tasks.ts', 'notATask'],
  ] as const) {
    assertError(
      await submit({ module, export: name }),
      404,
      'SKEIN_CLOUD_TASK_NOT_FOUND',
      `${module}:${name}`,
    );
  }
});

test('GET /api/openapi.json documents every route with its schemas', async () => {
  const answer = await api(server, server.token, 'GET', '/api/openapi.json');
  assert.equal(answer.status, 200);
  assert.equal(answer.body.openapi, '3.1.0');
  assert.deepEqual(Object.keys(answer.body.paths).sort(), [
    '/api/agents',
    '/api/agents/{id}',
    '/api/agents/{id}/claim',
    '/api/agents/{id}/heartbeat',
    '/api/agents/{id}/held',
    '/api/agents/{id}/job',
    '/api/agents/{id}/leases',
    '/api/agents/{id}/logs',
    '/api/agents/{id}/news',
    '/api/bundles/{hash}',
    '/api/console/activity',
    '/api/console/functions/stats',
    '/api/console/jobs',
    '/api/console/jobs/{id}',
    '/api/console/spans',
    '/api/console/whoami',
    '/api/deployments',
    '/api/events',
    '/api/functions',
    '/api/functions/{name}/rollback',
    '/api/jobs',
    '/api/jobs/{id}',
    '/api/jobs/{id}/cancel',
    '/api/jobs/{id}/logs',
    '/api/jobs/{id}/retry',
    '/api/mpi/placements',
    '/api/openapi.json',
    '/api/schedules',
    '/api/schedules/{name}',
    '/api/schedules/{name}/pause',
    '/api/schedules/{name}/resume',
    '/api/tokens',
    '/api/tokens/{id}',
    '/fn/{name}',
  ]);
  const submitOp = answer.body.paths['/api/jobs'].post;
  assert.deepEqual(submitOp.requestBody.content['application/json'].schema.required, ['module', 'export']);
  assert.equal(submitOp.requestBody.content['application/json'].schema.additionalProperties, false);
  assert.deepEqual(Object.keys(submitOp.responses).sort(), ['202', '400', '401', '403', '404', '413', '429']);
  assert.deepEqual(answer.body.paths['/api/agents/{id}/claim'].post['x-skein-scopes'], ['operator', 'agent']);
  assert.deepEqual(answer.body.paths['/api/agents'].get['x-skein-scopes'], [
    'admin',
    'read',
    'invoke',
    'deploy',
  ]);
});

test('the CLI says what is missing when it has no credentials or cannot reach the server', async (t) => {
  const empty = await mkdtemp(join(tmpdir(), 'skein-nocreds-'));
  t.after(() => rm(empty, { recursive: true, force: true }));
  const none = await cli(empty, ['ps']);
  assert.equal(none.code, 1);
  assert.match(none.stderr, /^skein ps: no server URL: .*\(SKEIN_CLOUD_NO_CREDENTIALS\)\n$/);

  const viaEnv = await cli(empty, ['ps', '--json'], { SKEIN_SERVER: server.url, SKEIN_TOKEN: server.token });
  assert.equal(viaEnv.code, 0, viaEnv.stderr);
  assert.ok(Array.isArray(JSON.parse(viaEnv.stdout).jobs));

  const refused = await cli(empty, ['ps', '--server', 'http://127.0.0.1:1', '--token', server.token]);
  assert.equal(refused.code, 1);
  assert.match(
    refused.stderr,
    /cannot reach the Skein server at http:\/\/127\.0\.0\.1:1 .*\(SKEIN_CLOUD_UNREACHABLE\)/,
  );

  const usage = await cli(dir, ['submit', 'tasks.ts', '--args', '[1]']);
  assert.equal(usage.code, 2);
  assert.match(usage.stderr, /name the task as <module>:<export>/);
  const notArray = await cli(dir, ['submit', 'tasks.ts:add', '--args', '{"a":1}']);
  assert.equal(notArray.code, 2);
  assert.match(notArray.stderr, /--args must be a JSON array/);
});
