// Schedules through a real `skein up` child process, its HTTP API and the real CLI: a schedule every
// second stores jobs the agent runs, cron and interval validation, unknown targets, pause and resume,
// removal, the history, a deployed function as target, scopes, events over SSE, the CLI round trip,
// and a SIGKILL of the server: the schedule is still there after the restart and fires again, each
// tick once.

import assert from 'node:assert/strict';
import { copyFile, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { before, describe, type TestContext, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  deleteStore,
  REDIS_MISSING,
  REDIS_URL,
  randomPrefix,
  redisAvailable,
} from '../tasks/redis-helpers.ts';
import {
  type ApiAnswer,
  api,
  assertError,
  cli,
  FINISHED_STATES,
  fileCleanups,
  makeProject,
  openEventStream,
  ROOT,
  type RunningServer,
  startServer,
  waitForFrame,
  waitForState,
} from './harness.ts';

/** Short, so that a job the killed server was running runs again soon after the restart. */
const LEASE_TIMEOUT_MS = 1000;
const REDIS_UP = await redisAvailable();
const suite = fileCleanups();
let dir: string;
let server: RunningServer;

before(async () => {
  dir = await makeProject(suite);
  await copyFile(join(ROOT, 'test/fixtures/cloud-schedule-fns.ts'), join(dir, 'schedule-fns.ts'));
  server = await startServer(suite, dir, '--concurrency', '2');
  const deployed = await cli(dir, ['deploy', 'schedule-fns.ts', '--json']);
  assert.equal(deployed.code, 0, deployed.stderr);
});

type Body = ApiAnswer['body'];

function create(body: Record<string, unknown>, token = server.token, on: RunningServer = server) {
  return api(on, token, 'POST', '/api/schedules', body);
}

/** The task most schedules here fire: tasks.ts's add. */
const ADD_TASK = { module: 'tasks.ts', export: 'add' } as const;

/** create(), asserting the schedule was stored (201). */
async function createOk(body: Record<string, unknown>, token = server.token, on: RunningServer = server) {
  const created = await create(body, token, on);
  assert.equal(created.status, 201, JSON.stringify(created.body));
  return created;
}

/** Polls GET /api/schedules/:name until `check` holds (bounded); returns the schedule. */
async function waitForSchedule(
  name: string,
  check: (schedule: Body) => boolean,
  what: string,
  on: RunningServer = server,
  timeoutMs = 20_000,
): Promise<Body> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const answer = await api(on, on.token, 'GET', `/api/schedules/${name}?history=100`);
    assert.equal(answer.status, 200, JSON.stringify(answer.body));
    if (check(answer.body)) return answer.body;
    if (Date.now() > deadline) assert.fail(`${what}: ${JSON.stringify(answer.body)}`);
    await sleep(50);
  }
}

async function remove(name: string, on: RunningServer = server): Promise<void> {
  const answer = await api(on, on.token, 'DELETE', `/api/schedules/${name}`);
  assert.equal(answer.status, 200, JSON.stringify(answer.body));
}

// The tests run at once: most of their time is waiting for ticks. Each uses schedules, tokens and job
// arguments of its own on the shared server (or a server of its own), so none sees another's.
describe('schedules', { concurrency: true }, () => {
  test('a schedule every second stores a job each tick; the agent runs each and the history lists them', async () => {
    const before = Date.now();
    const created = await createOk({
      name: 'add-every-second',
      every: 1000,
      ...ADD_TASK,
      args: [2, 3],
    });
    assert.equal(created.body.state, 'active');
    assert.equal(created.body.task, 'tasks.ts:add');
    assert.equal(created.body.function, null);
    assert.equal(created.body.every, 1000);
    assert.equal(created.body.cron, null);
    assert.deepEqual(created.body.args, [2, 3]);
    assert.equal(created.body.nextRunAt % 1000, 0, 'interval ticks are aligned to multiples since the epoch');
    assert.ok(created.body.nextRunAt > before && created.body.nextRunAt <= Date.now() + 1000);

    const schedule = await waitForSchedule('add-every-second', (s) => s.history.length >= 2, 'two firings');
    const ticks = schedule.history.map((run: Body) => run.tickAt);
    assert.equal(new Set(ticks).size, ticks.length, 'each tick fired once');
    assert.ok(
      ticks.every((tick: number, i: number) => tick % 1000 === 0 && (i === 0 || tick < ticks[i - 1])),
      `newest first, aligned: ${ticks}`,
    );
    for (const run of schedule.history) {
      assert.ok(run.firedAt >= run.tickAt, 'a job is stored at or after its tick');
      const job = await waitForState(server, server.token, run.jobId, FINISHED_STATES);
      assert.equal(job.state, 'succeeded');
      assert.equal(job.result, 5);
      assert.equal(job.task, 'tasks.ts:add');
    }
    assert.equal(schedule.lastRunAt, ticks[0]);
    const again = await waitForSchedule(
      'add-every-second',
      (s) => s.history.some((r: Body) => r.state === 'succeeded'),
      'states',
    );
    assert.ok(again.history.every((run: Body) => typeof run.state === 'string'));
    await remove('add-every-second');
  });

  test('the list shows every schedule with its state and next run; a cron schedule runs at its next UTC match', async () => {
    await createOk({
      name: 'every-five-minutes',
      cron: '*/5 * * * *',
      ...ADD_TASK,
      args: [1, 2],
    });
    const paused = await createOk({
      name: 'paused-one',
      every: 60_000,
      ...ADD_TASK,
      paused: true,
    });
    assert.equal(paused.body.state, 'paused');
    assert.equal(paused.body.nextRunAt, null);

    const listed = await api(server, server.token, 'GET', '/api/schedules');
    assert.equal(listed.status, 200);
    const byName = new Map(listed.body.schedules.map((s: Body) => [s.name, s]));
    const five = byName.get('every-five-minutes') as Body;
    assert.equal(five.state, 'active');
    assert.equal(five.cron, '*/5 * * * *');
    assert.equal(five.error, null);
    assert.equal(five.nextRunAt % 300_000, 0, 'the next multiple of five minutes, UTC');
    assert.ok(five.nextRunAt > Date.now() - 1000 && five.nextRunAt <= Date.now() + 300_000);
    assert.equal(five.lastRunAt, null);
    assert.equal((byName.get('paused-one') as Body).state, 'paused');
    assert.equal((byName.get('paused-one') as Body).nextRunAt, null);
    await remove('every-five-minutes');
    await remove('paused-one');
  });

  test('bad cron expressions, conflicting fields and unknown targets are refused with a code, and store nothing', async () => {
    assertError(
      await create({ name: 'bad', cron: 'not a cron', ...ADD_TASK }),
      400,
      'SKEIN_TASKS_INVALID_CRON',
      'unparsable',
    );
    assertError(
      await create({ name: 'bad', cron: '61 * * * *', ...ADD_TASK }),
      400,
      'SKEIN_TASKS_INVALID_CRON',
      'minute 61',
    );
    assertError(
      await create({ name: 'bad', cron: '0 0 30 2 *', ...ADD_TASK }),
      400,
      'SKEIN_TASKS_INVALID_CRON',
      'never fires',
    );
    assertError(
      await create({ name: 'bad', cron: '* * * * *', every: 1000, ...ADD_TASK }),
      400,
      'SKEIN_CLOUD_INVALID_REQUEST',
      'both',
    );
    assertError(await create({ name: 'bad', ...ADD_TASK }), 400, 'SKEIN_CLOUD_INVALID_REQUEST', 'neither');
    assertError(
      await create({ name: 'bad', every: 10, ...ADD_TASK }),
      400,
      'SKEIN_CLOUD_INVALID_REQUEST',
      'too often',
    );
    assertError(
      await create({ name: 'bad', every: 1.5e3 + 0.5, ...ADD_TASK }),
      400,
      'SKEIN_CLOUD_INVALID_REQUEST',
      'fraction',
    );
    assertError(
      await create({ name: 'bad', cron: '* * * * *', timeZone: 'Europe/Paris', ...ADD_TASK }),
      400,
      'SKEIN_CLOUD_INVALID_REQUEST',
      'time zones are not supported: cron is UTC',
    );
    assertError(await create({ name: 'bad', every: 1000 }), 400, 'SKEIN_CLOUD_INVALID_REQUEST', 'no target');
    assertError(
      await create({ name: 'bad', every: 1000, module: 'tasks.ts' }),
      400,
      'SKEIN_CLOUD_INVALID_REQUEST',
      'no export',
    );
    assertError(
      await create({ name: 'bad', every: 1000, function: 'stamp', ...ADD_TASK }),
      400,
      'SKEIN_CLOUD_INVALID_REQUEST',
      'two targets',
    );
    assertError(
      await create({ name: 'a b', every: 1000, ...ADD_TASK }),
      400,
      'SKEIN_CLOUD_INVALID_REQUEST',
      'name',
    );
    assertError(
      await create({ name: 'bad', every: 1000, ...ADD_TASK, options: { idempotencyKey: 'k' } }),
      400,
      'SKEIN_CLOUD_INVALID_REQUEST',
      'each tick has its own idempotency key',
    );
    assertError(
      await create({ name: 'bad', every: 1000, ...ADD_TASK, options: { priority: 10_000_000 } }),
      400,
      'SKEIN_TASKS_INVALID_OPTION',
      'priority out of range',
    );
    assertError(
      await create({ name: 'bad', every: 1000, ...ADD_TASK, extra: 1 }),
      400,
      'SKEIN_CLOUD_INVALID_REQUEST',
      'unknown field',
    );
    assertError(
      await create({ name: 'bad', every: 1000, module: 'missing.ts', export: 'add' }),
      404,
      'SKEIN_CLOUD_TASK_NOT_FOUND',
      'no module',
    );
    assertError(
      await create({ name: 'bad', every: 1000, module: 'tasks.ts', export: 'notATask' }),
      404,
      'SKEIN_CLOUD_TASK_NOT_FOUND',
      'not a task',
    );
    assertError(
      await create({ name: 'bad', every: 1000, module: '../outside.ts', export: 'add' }),
      400,
      'SKEIN_CLOUD_MODULE_REFUSED',
      'outside the project',
    );
    assertError(
      await create({ name: 'bad', every: 1000, function: 'noSuchFunction' }),
      404,
      'SKEIN_CLOUD_FUNCTION_NOT_FOUND',
      'no function',
    );
    const listed = await api(server, server.token, 'GET', '/api/schedules');
    assert.ok(!listed.body.schedules.some((s: Body) => s.name === 'bad'), 'nothing refused was stored');

    await createOk({ name: 'unique', every: 60_000, ...ADD_TASK });
    assertError(
      await create({ name: 'unique', every: 1000, ...ADD_TASK }),
      409,
      'SKEIN_CLOUD_SCHEDULE_EXISTS',
      'taken',
    );
    await remove('unique');
    for (const [method, path] of [
      ['GET', '/api/schedules/unique'],
      ['DELETE', '/api/schedules/unique'],
      ['POST', '/api/schedules/unique/pause'],
      ['POST', '/api/schedules/unique/resume'],
    ] as const) {
      assertError(await api(server, server.token, method, path), 404, 'SKEIN_CLOUD_SCHEDULE_NOT_FOUND', path);
    }
    assertError(
      await api(server, server.token, 'GET', '/api/schedules/unique?history=x'),
      400,
      'SKEIN_CLOUD_INVALID_REQUEST',
      'history',
    );
  });

  test('pause stops the firings, resume starts them again from the next tick, remove deletes the schedule but not its jobs', async () => {
    await createOk({
      name: 'pausable',
      every: 1000,
      ...ADD_TASK,
      args: [7, 7],
    });
    await waitForSchedule('pausable', (s) => s.history.length >= 1, 'a first firing');

    const paused = await api(server, server.token, 'POST', '/api/schedules/pausable/pause');
    assert.equal(paused.status, 200, JSON.stringify(paused.body));
    assert.equal(paused.body.state, 'paused');
    assert.equal(paused.body.nextRunAt, null);
    const pausedAt: number = paused.body.updatedAt;
    const firedBefore = (await api(server, server.token, 'GET', '/api/schedules/pausable?history=100')).body
      .history;
    assert.equal(
      (await api(server, server.token, 'POST', '/api/schedules/pausable/pause')).body.state,
      'paused',
      'idempotent',
    );
    await sleep(2500);
    const whilePaused = (await api(server, server.token, 'GET', '/api/schedules/pausable?history=100')).body;
    assert.equal(whilePaused.state, 'paused');
    assert.deepEqual(
      whilePaused.history.map((run: Body) => run.jobId),
      firedBefore.map((run: Body) => run.jobId),
      'no firing while paused',
    );

    const resumed = await api(server, server.token, 'POST', '/api/schedules/pausable/resume');
    assert.equal(resumed.status, 200, JSON.stringify(resumed.body));
    assert.equal(resumed.body.state, 'active');
    assert.ok(resumed.body.nextRunAt > pausedAt);
    const resumedAt: number = resumed.body.updatedAt;
    const after = await waitForSchedule(
      'pausable',
      (s) => s.history.length > firedBefore.length,
      'a firing after the resume',
    );
    // Server times: a tick fired before the pause is not later than it, the first after the resume is later.
    assert.ok(after.history[0].tickAt > resumedAt, 'the ticks missed while paused were not fired late');
    assert.ok(after.history.every((run: Body) => run.tickAt <= pausedAt || run.tickAt > resumedAt));

    const removed = await api(server, server.token, 'DELETE', '/api/schedules/pausable');
    assert.equal(removed.status, 200);
    assert.equal(removed.body.name, 'pausable');
    const removedAt = Date.now();
    assertError(
      await api(server, server.token, 'GET', '/api/schedules/pausable'),
      404,
      'SKEIN_CLOUD_SCHEDULE_NOT_FOUND',
    );
    const job = await waitForState(server, server.token, after.history[0].jobId, FINISHED_STATES);
    assert.equal(job.result, 14, 'the jobs a removed schedule made stay');
    await sleep(1500);
    const jobs = (await api(server, server.token, 'GET', '/api/jobs?limit=500')).body.jobs;
    const late = jobs.filter(
      (j: Body) => JSON.stringify(j.args) === '[7,7]' && j.createdAt > removedAt + 100,
    );
    assert.deepEqual(late, [], 'no firing after the removal');
  });

  test('a schedule of a deployed function calls its current version as a job at each tick', async () => {
    assertError(
      await create({ name: 'fn-options', every: 1000, function: 'stamp', options: { attempts: 1 } }),
      400,
      'SKEIN_CLOUD_INVALID_REQUEST',
      'job options are for task targets',
    );
    const created = await createOk({
      name: 'fn-every-second',
      every: 1000,
      function: 'stamp',
      args: ['tick'],
    });
    assert.equal(created.body.function, 'stamp');
    assert.equal(created.body.task, null);
    const schedule = await waitForSchedule(
      'fn-every-second',
      (s) => s.history.length >= 1,
      'a function firing',
    );
    const job = await waitForState(server, server.token, schedule.history[0].jobId, FINISHED_STATES);
    assert.equal(job.state, 'succeeded', JSON.stringify(job));
    assert.match(job.result, /^tick ran in \d+$/);
    assert.match(job.task, /^\.skein\/deployments\/[0-9a-f]{64}\.mjs:stamp$/);

    // A deploy of a new version: the schedule calls it from the next ticks on.
    const source = await readFile(join(dir, 'schedule-fns.ts'), 'utf8');
    await writeFile(join(dir, 'schedule-fns-v2.ts'), source.replace('ran in', 'v2 ran in'));
    const redeployed = await cli(dir, ['deploy', 'schedule-fns-v2.ts', '--json']);
    assert.equal(redeployed.code, 0, redeployed.stderr);
    const newHash = JSON.parse(redeployed.stdout).hash;
    const followed = await waitForSchedule(
      'fn-every-second',
      (s) => s.history.some((run: Body) => run.state === 'succeeded' && run.tickAt > Date.now() - 1500),
      'a firing after the deploy',
    );
    const deadline = Date.now() + 20_000;
    let latest = await waitForState(server, server.token, followed.history[0].jobId, FINISHED_STATES);
    while (!latest.task.includes(newHash)) {
      if (Date.now() > deadline)
        assert.fail(`the schedule still calls the old version: ${JSON.stringify(latest)}`);
      await sleep(250);
      const now = (await api(server, server.token, 'GET', '/api/schedules/fn-every-second')).body;
      latest = await waitForState(server, server.token, now.history[0].jobId, FINISHED_STATES);
    }
    assert.equal(latest.state, 'succeeded', JSON.stringify(latest));
    assert.match(latest.result, /^tick v2 ran in \d+$/);
    await remove('fn-every-second');
  });

  test('scopes: read, invoke and deploy tokens read schedules; only deploy (and admin) change them', async () => {
    const tokens: Record<string, string> = {};
    for (const scope of ['read', 'invoke', 'deploy', 'agent']) {
      const made = await api(server, server.token, 'POST', '/api/tokens', {
        name: `schedules-${scope}`,
        scopes: [scope],
      });
      assert.equal(made.status, 201);
      tokens[scope] = made.body.token;
    }
    const body = { name: 'scoped', every: 60_000, ...ADD_TASK, args: [1, 1] };
    assertError(await create(body, tokens.read), 403, 'SKEIN_CLOUD_FORBIDDEN', 'read creates');
    assertError(await create(body, tokens.invoke), 403, 'SKEIN_CLOUD_FORBIDDEN', 'invoke creates');
    assertError(await create(body, tokens.agent), 403, 'SKEIN_CLOUD_FORBIDDEN', 'agent creates');
    assertError(
      await api(server, undefined, 'POST', '/api/schedules', body),
      401,
      'SKEIN_CLOUD_UNAUTHORIZED',
      'no token',
    );
    await createOk(body, tokens.deploy);
    for (const scope of ['read', 'invoke', 'deploy']) {
      assert.equal((await api(server, tokens[scope], 'GET', '/api/schedules')).status, 200, scope);
      assert.equal((await api(server, tokens[scope], 'GET', '/api/schedules/scoped')).status, 200, scope);
    }
    assertError(
      await api(server, tokens.agent, 'GET', '/api/schedules'),
      403,
      'SKEIN_CLOUD_FORBIDDEN',
      'agent reads',
    );
    for (const [method, path] of [
      ['POST', '/api/schedules/scoped/pause'],
      ['POST', '/api/schedules/scoped/resume'],
      ['DELETE', '/api/schedules/scoped'],
    ] as const) {
      assertError(await api(server, tokens.read, method, path), 403, 'SKEIN_CLOUD_FORBIDDEN', `read ${path}`);
      assertError(
        await api(server, tokens.invoke, method, path),
        403,
        'SKEIN_CLOUD_FORBIDDEN',
        `invoke ${path}`,
      );
    }
    assert.equal((await api(server, tokens.deploy, 'POST', '/api/schedules/scoped/pause')).status, 200);
    assert.equal((await api(server, tokens.deploy, 'DELETE', '/api/schedules/scoped')).status, 200);

    const document = (await api(server, server.token, 'GET', '/api/openapi.json')).body;
    assert.deepEqual(document.paths['/api/schedules'].post['x-skein-scopes'], ['admin', 'deploy']);
    assert.deepEqual(document.paths['/api/schedules'].get['x-skein-scopes'], [
      'admin',
      'read',
      'invoke',
      'deploy',
    ]);
    assert.ok(document.paths['/api/schedules/{name}'].delete);
    assert.ok(document.paths['/api/schedules/{name}/pause'].post);
  });

  test('GET /api/events streams schedule events: created, fired (with the job), paused, resumed, removed', async () => {
    const stream = await openEventStream(server, server.token);
    try {
      const seen = async (type: string) =>
        (
          await waitForFrame(
            stream.frames,
            (frame) =>
              frame.event === 'schedule' && frame.data.type === type && frame.data.schedule === 'evented',
            `no ${type} event`,
          )
        ).data;
      assert.equal((await create({ name: 'evented', every: 1000, ...ADD_TASK, args: [0, 0] })).status, 201);
      await seen('created');
      const fired = await seen('fired');
      assert.equal(typeof fired.jobId, 'string');
      assert.equal(fired.tickAt % 1000, 0);
      await api(server, server.token, 'POST', '/api/schedules/evented/pause');
      await seen('paused');
      await api(server, server.token, 'POST', '/api/schedules/evented/resume');
      await seen('resumed');
      await remove('evented');
      await seen('removed');
    } finally {
      await stream.stop();
    }
  });

  test('the CLI adds, lists, shows, pauses, resumes and removes a schedule (--json and text)', async () => {
    const added = await cli(dir, [
      'schedule',
      'add',
      'cli-every',
      '--every',
      '1s',
      'tasks.ts:add',
      '--args',
      '[4, 5]',
      '--attempts',
      '2',
      '--json',
    ]);
    assert.equal(added.code, 0, added.stderr);
    const view = JSON.parse(added.stdout);
    assert.equal(view.name, 'cli-every');
    assert.equal(view.every, 1000);
    assert.equal(view.task, 'tasks.ts:add');
    assert.deepEqual(view.args, [4, 5]);
    assert.deepEqual(view.options, { attempts: 2 });

    const text = await cli(dir, ['schedule', 'ls']);
    assert.equal(text.code, 0, text.stderr);
    assert.match(text.stdout, /^NAME\s+STATE\s+SCHEDULE\s+TARGET\s+NEXT RUN\s+LAST RUN/);
    assert.match(text.stdout, /cli-every\s+active\s+every 1s\s+tasks\.ts:add\s+in \d+s/);
    const listed = await cli(dir, ['schedule', 'ls', '--json']);
    assert.ok(JSON.parse(listed.stdout).some((s: Body) => s.name === 'cli-every' && s.nextRunAt !== null));

    await waitForSchedule('cli-every', (s) => s.history.length >= 1, 'a firing');
    const shown = await cli(dir, ['schedule', 'show', 'cli-every', '--json']);
    assert.equal(shown.code, 0, shown.stderr);
    const detail = JSON.parse(shown.stdout);
    assert.ok(detail.history.length >= 1);
    const job = await waitForState(server, server.token, detail.history.at(-1).jobId, FINISHED_STATES);
    assert.equal(job.result, 9);
    assert.equal(job.maxAttempts, 2, 'the job options apply to each firing');
    const shownText = await cli(dir, ['schedule', 'show', 'cli-every']);
    assert.match(shownText.stdout, /^schedule cli-every: active, every 1s, runs tasks\.ts:add \[4,5\]/);
    assert.match(shownText.stdout, /JOB\s+TICK\s+STATE/);

    const paused = await cli(dir, ['schedule', 'pause', 'cli-every', '--json']);
    assert.equal(JSON.parse(paused.stdout).state, 'paused');
    const resumed = await cli(dir, ['schedule', 'resume', 'cli-every']);
    assert.match(resumed.stdout, /^schedule cli-every resumed; next run in \d+s\n$/);
    const removed = await cli(dir, ['schedule', 'rm', 'cli-every', '--json']);
    assert.equal(JSON.parse(removed.stdout).name, 'cli-every');
    const gone = await cli(dir, ['schedule', 'show', 'cli-every']);
    assert.equal(gone.code, 1);
    assert.match(gone.stderr, /SKEIN_CLOUD_SCHEDULE_NOT_FOUND/);

    const cron = await cli(dir, [
      'schedule',
      'add',
      'cli-cron',
      '--cron',
      '0 3 * * *',
      '--fn',
      'stamp',
      '--args',
      '["night"]',
      '--paused',
    ]);
    assert.equal(cron.code, 0, cron.stderr);
    assert.match(cron.stdout, /^schedule cli-cron created paused: cron 0 3 \* \* \*, runs fn stamp\n$/);
    assert.equal((await cli(dir, ['schedule', 'rm', 'cli-cron'])).code, 0);

    const badCron = await cli(dir, ['schedule', 'add', 'x', '--cron', '* * *', 'tasks.ts:add']);
    assert.equal(badCron.code, 1);
    assert.match(badCron.stderr, /SKEIN_TASKS_INVALID_CRON/);
    // Usage errors store nothing: the CLIs run at once.
    const usages = [
      ['schedule', 'add', 'x', 'tasks.ts:add'],
      ['schedule', 'add', 'x', '--every', '1s', '--cron', '* * * * *', 'tasks.ts:add'],
      ['schedule', 'add', 'x', '--every', '10ms', 'tasks.ts:add'],
      ['schedule', 'add', 'x', '--every', '1s'],
      ['schedule', 'add', 'x', '--every', '1s', '--fn', 'stamp', '--attempts', '2'],
      ['schedule', 'frobnicate'],
      ['schedule', 'pause'],
    ];
    const outcomes = await Promise.all(usages.map((usage) => cli(dir, usage)));
    for (const [i, outcome] of outcomes.entries()) {
      assert.equal(outcome.code, 2, `${usages[i]!.join(' ')}: ${outcome.stderr}`);
    }
  });

  /**
   * Creates a schedule every 3 s, SIGKILLs the server right after a firing (well inside a tick period,
   * so a restart that fired that tick again would show), restarts it on the same directory and checks
   * the schedule fires again, each tick once.
   */
  async function checkKillAndRestart(t: TestContext, ...serverArgs: string[]): Promise<void> {
    const project = await makeProject(t);
    const first = await startServer(
      t,
      project,
      '--concurrency',
      '1',
      '--lease-timeout',
      String(LEASE_TIMEOUT_MS),
      ...serverArgs,
    );
    await createOk({ name: 'durable', every: 3000, ...ADD_TASK, args: [1, 2] }, first.token, first);
    const fired = await waitForSchedule(
      'durable',
      (s) => s.history.length >= 1,
      'a firing before the kill',
      first,
    );
    await first.kill9();
    const lastTick = fired.history[0].tickAt;

    const second = await startServer(
      t,
      project,
      '--concurrency',
      '1',
      '--lease-timeout',
      String(LEASE_TIMEOUT_MS),
      ...serverArgs,
    );
    const listed = await api(second, second.token, 'GET', '/api/schedules');
    const durable = listed.body.schedules.find((s: Body) => s.name === 'durable');
    assert.equal(durable.state, 'active', JSON.stringify(durable));
    assert.equal(durable.error, null);
    assert.ok(durable.nextRunAt > lastTick, 'the next run is after the last fired tick');
    const after = await waitForSchedule(
      'durable',
      (s) => s.history.some((run: Body) => run.tickAt > lastTick),
      'a firing after the restart',
      second,
    );
    const ticks = after.history.map((run: Body) => run.tickAt);
    assert.equal(new Set(ticks).size, ticks.length, `each tick fired once: ${ticks}`);
    for (const run of after.history) {
      const job = await waitForState(second, second.token, run.jobId, FINISHED_STATES);
      assert.equal(job.result, 3);
    }
    // Every job in the store was made by the schedule, one per tick: none twice across the restart.
    const jobs = (await api(second, second.token, 'GET', '/api/jobs?limit=500')).body.jobs;
    const ids = new Set(after.history.map((run: Body) => run.jobId));
    assert.ok(jobs.length <= ticks.length + 1, `jobs ${jobs.length}, ticks ${ticks.length}`);
    assert.ok(
      jobs.every((job: Body) => ids.has(job.id) || job.createdAt > after.history[0].firedAt),
      'no job outside the history but one stored since the last read',
    );
    assert.equal(await second.stop(), 0, second.stderr());
  }

  test('a schedule survives a SIGKILL of the server: after the restart it fires again, each tick once', async (t) => {
    await checkKillAndRestart(t);
  });

  test('a schedule whose task is gone at start is listed with its error and fires again once resumed with the task back', async (t) => {
    const project = await makeProject(t);
    await copyFile(join(project, 'tasks.ts'), join(project, 'later.ts'));
    const first = await startServer(t, project, '--concurrency', '1');
    await createOk(
      { name: 'fragile', every: 1000, module: 'later.ts', export: 'add', args: [3, 4] },
      first.token,
      first,
    );
    assert.equal(await first.stop(), 0, first.stderr());
    await rm(join(project, 'later.ts'));

    const second = await startServer(t, project, '--concurrency', '1');
    const listed = (await api(second, second.token, 'GET', '/api/schedules')).body.schedules;
    const fragile = listed.find((s: Body) => s.name === 'fragile');
    assert.equal(fragile.state, 'active');
    assert.match(fragile.error, /later\.ts:add.*does not exist/);
    assert.equal(fragile.nextRunAt, null, 'it cannot fire');
    assert.match(second.stderr(), /schedule fragile cannot fire/);
    assertError(
      await api(second, second.token, 'POST', '/api/schedules/fragile/resume'),
      404,
      'SKEIN_CLOUD_TASK_NOT_FOUND',
      'still gone',
    );

    await copyFile(join(project, 'tasks.ts'), join(project, 'later.ts'));
    const resumed = await api(second, second.token, 'POST', '/api/schedules/fragile/resume');
    assert.equal(resumed.status, 200, JSON.stringify(resumed.body));
    assert.equal(resumed.body.error, null);
    assert.ok(resumed.body.nextRunAt > Date.now() - 1000);
    const fired = await waitForSchedule(
      'fragile',
      (s) => s.history.length >= 1,
      'a firing after the resume',
      second,
    );
    const job = await waitForState(second, second.token, fired.history[0].jobId, FINISHED_STATES);
    assert.equal(job.result, 7);
    assert.equal(await second.stop(), 0, second.stderr());
  });

  describe('skein up --redis', { skip: REDIS_UP ? false : REDIS_MISSING }, () => {
    test('schedules stay in .skein/cloud.db and their ticks are claimed on Redis: a SIGKILL and restart fire each tick once', async (t) => {
      const prefix = randomPrefix();
      t.after(async () => {
        await deleteStore(prefix);
      });
      await checkKillAndRestart(t, '--redis', REDIS_URL, '--redis-prefix', prefix);
    });
  });
});
