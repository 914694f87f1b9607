// Tenants through a real `skein up` child process, its HTTP API and the real CLI: two tenants, each with
// its own tokens, submit jobs, deploy a function of the same name and create schedules of the same name;
// each lists and reads only its own; another tenant's job (its logs too), function or schedule answers
// 404 as a missing one does, /fn/<name> runs the caller's tenant's function, event streams carry only
// their tenant's events, agent tokens read no user route and mint no token, and a store from before
// tenants keeps working (its tokens and jobs become the default tenant's).

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { copyFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { CloudStore } from '../../src/cloud/cloud-store.ts';
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
  waitForState,
} from './harness.ts';

const suite = fileCleanups();
let dir: string;
let server: RunningServer;
/** Admin tokens of the two tenants: acme's made by the CLI, globex's through the API. */
let acme: string;
let globex: string;

const HOUR_MS = 3_600_000;
const EVENTS_TIMEOUT_MS = 20_000;

async function tokenFor(tenant: string, scopes: string[], by = server.token): Promise<string> {
  const created = await api(server, by, 'POST', '/api/tokens', {
    name: `${tenant} ${scopes}`,
    scopes,
    tenant,
  });
  assert.equal(created.status, 201, JSON.stringify(created.body));
  assert.equal(created.body.tenant, tenant);
  return created.body.token;
}

async function submit(token: string, args: unknown[], options?: object): Promise<string> {
  const answer = await api(server, token, 'POST', '/api/jobs', {
    module: 'tasks.ts',
    export: 'add',
    args,
    ...(options === undefined ? {} : { options }),
  });
  assert.equal(answer.status, 202, JSON.stringify(answer.body));
  return answer.body.id;
}

async function listIds(token: string, query = ''): Promise<string[]> {
  const answer = await api(server, token, 'GET', `/api/jobs${query}`);
  assert.equal(answer.status, 200, JSON.stringify(answer.body));
  return answer.body.jobs.map((job: { id: string }) => job.id);
}

/** A 404 that says exactly what a job that never existed says (with its own id). */
function assertLikeMissing(answer: ApiAnswer, id: string, what: string): void {
  assertError(answer, 404, 'SKEIN_TASKS_JOB_NOT_FOUND', what);
  assert.equal(
    answer.body.message,
    `job ${id} is not stored: it was never enqueued, or it finished and was purged after its resultTtl`,
    what,
  );
}

interface Frame {
  readonly event: string;
  // biome-ignore lint/suspicious/noExplicitAny: test frames are read field by field and checked by assert.
  readonly data: any;
}

/** GET /api/events as `token`, read up to its `: ready` line; then its frames, one by one. */
async function openEvents(token: string, signal: AbortSignal): Promise<AsyncGenerator<Frame>> {
  const response = await fetch(`${server.url}/api/events`, {
    headers: { authorization: `Bearer ${token}` },
    signal,
  });
  assert.equal(response.status, 200);
  const reader = response.body!.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = '';
  while (!buffer.includes(': ready\n\n')) {
    const { value, done } = await reader.read();
    if (done) assert.fail('the event stream ended before it was ready');
    buffer += value;
  }
  buffer = buffer.slice(buffer.indexOf(': ready\n\n') + ': ready\n\n'.length);
  async function* frames(): AsyncGenerator<Frame> {
    try {
      for (;;) {
        let end = buffer.indexOf('\n\n');
        while (end >= 0) {
          const lines = buffer.slice(0, end).split('\n');
          buffer = buffer.slice(end + 2);
          const event = lines.find((line) => line.startsWith('event: '))?.slice(7);
          const data = lines.find((line) => line.startsWith('data: '))?.slice(6);
          if (event !== undefined && data !== undefined) yield { event, data: JSON.parse(data) };
          end = buffer.indexOf('\n\n');
        }
        const { value, done } = await reader.read();
        if (done) return;
        buffer += value;
      }
    } finally {
      await reader.cancel().catch(() => undefined);
    }
  }
  return frames();
}

/** Frames of a stream until `last` matches one (included). */
async function readUntil(frames: AsyncGenerator<Frame>, last: (frame: Frame) => boolean): Promise<Frame[]> {
  const seen: Frame[] = [];
  for await (const frame of frames) {
    seen.push(frame);
    if (last(frame)) return seen;
  }
  assert.fail(`the stream ended before the awaited event; it carried ${JSON.stringify(seen)}`);
}

const jobIdsOf = (frames: readonly Frame[]): Set<string> =>
  new Set(frames.filter((frame) => frame.event === 'job').map((frame) => frame.data.jobId));

before(async () => {
  dir = await makeProject(suite);
  await copyFile(join(ROOT, 'test/fixtures/cloud-tenant-a.ts'), join(dir, 'tenant-a.ts'));
  await copyFile(join(ROOT, 'test/fixtures/cloud-tenant-b.ts'), join(dir, 'tenant-b.ts'));
  server = await startServer(suite, dir, '--concurrency', '2');
  const created = await cli(dir, [
    'token',
    'create',
    '--name',
    'acme admin',
    '--scope',
    'admin',
    '--tenant',
    'acme',
    '--json',
  ]);
  assert.equal(created.code, 0, created.stderr);
  acme = JSON.parse(created.stdout).token;
  globex = await tokenFor('globex', ['admin']);
});

// The store from before tenants has a server of its own: its test runs beside the others, which take
// turns on the shared server.
describe('tenants', { concurrency: true }, () => {
  describe('on the shared server, one after another', { concurrency: 1 }, () => {
    test('token create --tenant round trip: the CLI prints the tenant, token list shows it, a bad name is a usage error', async () => {
      const created = await cli(dir, [
        'token',
        'create',
        '--name',
        'ci',
        '--scope',
        'invoke',
        '--tenant',
        'acme',
      ]);
      assert.equal(created.code, 0, created.stderr);
      assert.match(created.stdout, /^skein_[A-Za-z0-9]{16}_[A-Za-z0-9_-]{43}\n$/);
      assert.match(created.stderr, /\(invoke\) of tenant acme created/);
      const listed = JSON.parse((await cli(dir, ['token', 'list', '--json'])).stdout) as {
        name: string;
        tenant: string;
      }[];
      assert.equal(listed.find((token) => token.name === 'ci')?.tenant, 'acme');
      assert.equal(listed.find((token) => token.name === 'operator (skein up)')?.tenant, 'default');
      const human = await cli(dir, ['token', 'list']);
      assert.match(human.stdout, /^\S+\s+ci\s+acme\s+invoke\s/m);
      for (const bad of ['Acme', 'a_b', '-acme', 'acme-', 'a'.repeat(33), '']) {
        const refused = await cli(dir, [
          'token',
          'create',
          '--name',
          'x',
          '--scope',
          'read',
          `--tenant=${bad}`,
        ]);
        assert.equal(refused.code, 2, `--tenant ${JSON.stringify(bad)}: ${refused.stderr}`);
        assert.match(refused.stderr, /--tenant must be 1 to 32 characters/);
        assertError(
          await api(server, server.token, 'POST', '/api/tokens', {
            name: 'x',
            scopes: ['read'],
            tenant: bad,
          }),
          400,
          'SKEIN_CLOUD_INVALID_REQUEST',
          `tenant ${JSON.stringify(bad)}`,
        );
      }
      // Through the CLI as a tenant's token: skein ps lists that tenant's jobs only.
      const own = await submit(acme, [1, 1]);
      const theirs = await submit(globex, [2, 2]);
      const ps = await cli(dir, ['ps', '--json'], { SKEIN_TOKEN: acme });
      assert.equal(ps.code, 0, ps.stderr);
      const ids = JSON.parse(ps.stdout).jobs.map((job: { id: string }) => job.id);
      assert.ok(ids.includes(own) && !ids.includes(theirs), JSON.stringify(ids));
      const job = await cli(dir, ['job', theirs], { SKEIN_TOKEN: acme });
      assert.equal(job.code, 1);
      assert.match(job.stderr, /\(SKEIN_TASKS_JOB_NOT_FOUND\)\n$/);
    });

    test("each tenant lists only its own jobs; reading, waiting on, cancelling or retrying the other's job is 404", async () => {
      const acmeJobs = [await submit(acme, [1, 2]), await submit(acme, [3, 4]), await submit(acme, [5, 6])];
      const globexJobs = [await submit(globex, [10, 20]), await submit(globex, [30, 40])];
      for (const id of acmeJobs) await waitForState(server, acme, id, ['succeeded']);
      for (const id of globexJobs) await waitForState(server, globex, id, ['succeeded']);

      const seenByAcme = await listIds(acme, '?limit=500');
      const seenByGlobex = await listIds(globex, '?limit=500');
      for (const id of acmeJobs) assert.ok(seenByAcme.includes(id) && !seenByGlobex.includes(id), id);
      for (const id of globexJobs) assert.ok(seenByGlobex.includes(id) && !seenByAcme.includes(id), id);
      // The same with a state, and a page at a time, oldest first.
      const succeeded = await listIds(acme, '?state=succeeded&limit=500');
      assert.deepEqual(
        succeeded.filter((id) => acmeJobs.includes(id)),
        acmeJobs,
      );
      assert.ok(!succeeded.some((id) => globexJobs.includes(id)));
      const all = await listIds(acme, '?limit=500');
      const pages = [
        ...(await listIds(acme, '?limit=2&offset=0')),
        ...(await listIds(acme, '?limit=2&offset=2')),
        ...(await listIds(acme, '?limit=500&offset=4')),
      ];
      assert.deepEqual(pages, all);
      const page = await api(server, acme, 'GET', '/api/jobs?state=succeeded&limit=1&offset=1');
      assert.equal(page.body.jobs.length, 1);
      assert.equal(page.body.jobs[0].id, succeeded[1]);
      assert.equal(page.body.jobs[0].tenant, 'acme');
      // An operator (skein up's token) sees both, each with its tenant.
      const everything = await api(server, server.token, 'GET', '/api/jobs?limit=500');
      const tenantOf = new Map(
        everything.body.jobs.map((job: { id: string; tenant: string }) => [job.id, job.tenant]),
      );
      for (const id of acmeJobs) assert.equal(tenantOf.get(id), 'acme');
      for (const id of globexJobs) assert.equal(tenantOf.get(id), 'globex');

      const other = globexJobs[0]!;
      assert.equal((await api(server, globex, 'GET', `/api/jobs/${other}`)).body.result, 30);
      assertLikeMissing(await api(server, acme, 'GET', `/api/jobs/${other}`), other, 'read');
      assertLikeMissing(await api(server, acme, 'GET', `/api/jobs/${other}?wait=5000`), other, 'wait');
      assertLikeMissing(await api(server, acme, 'GET', `/api/jobs/${other}/logs`), other, 'logs');
      assertLikeMissing(
        await api(server, acme, 'GET', `/api/jobs/${other}/logs?follow=1`),
        other,
        'follow logs',
      );
      assert.equal((await api(server, globex, 'GET', `/api/jobs/${other}/logs`)).status, 200);
      assert.equal(
        (await api(server, server.token, 'GET', `/api/jobs/${other}/logs`)).status,
        200,
        'an operator',
      );
      assertLikeMissing(await api(server, acme, 'POST', `/api/jobs/${other}/cancel`), other, 'cancel');
      assertLikeMissing(await api(server, acme, 'POST', `/api/jobs/${other}/retry`), other, 'retry');
      const never = '0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b';
      assertLikeMissing(await api(server, acme, 'GET', `/api/jobs/${never}`), never, 'a job that never was');

      // A dead job: its tenant retries it; the other tenant cannot, and the job stays dead.
      const failing = await api(server, globex, 'POST', '/api/jobs', {
        module: 'tasks.ts',
        export: 'fail',
        args: ['on purpose'],
        options: { attempts: 1 },
      });
      assert.equal(failing.status, 202, JSON.stringify(failing.body));
      const dead = failing.body.id;
      await waitForState(server, globex, dead, ['dead', 'failed']);
      assertLikeMissing(await api(server, acme, 'POST', `/api/jobs/${dead}/retry`), dead, 'retry a dead job');
      assert.ok(
        ['dead', 'failed'].includes((await api(server, globex, 'GET', `/api/jobs/${dead}`)).body.state),
      );
      const retried = await api(server, globex, 'POST', `/api/jobs/${dead}/retry`);
      assert.equal(retried.status, 200, JSON.stringify(retried.body));

      // A waiting job: the other tenant's cancel leaves it waiting; its own cancels it.
      const delayed = await submit(globex, [1, 1], { delay: HOUR_MS });
      assertLikeMissing(await api(server, acme, 'POST', `/api/jobs/${delayed}/cancel`), delayed, 'cancel');
      assert.equal((await api(server, globex, 'GET', `/api/jobs/${delayed}`)).body.state, 'scheduled');
      assert.equal(
        (await api(server, globex, 'POST', `/api/jobs/${delayed}/cancel`)).body.outcome,
        'cancelled',
      );

      // No token, or a wrong one: 401 before any tenant is looked at.
      assertError(await api(server, undefined, 'GET', `/api/jobs/${other}`), 401, 'SKEIN_CLOUD_UNAUTHORIZED');
      assertError(
        await api(server, `skein_0123456789abcdef_${'A'.repeat(43)}`, 'GET', `/api/jobs/${other}`),
        401,
        'SKEIN_CLOUD_UNAUTHORIZED',
      );
    });

    test('idempotency keys are per tenant: the same key in two tenants makes two jobs', async () => {
      const first = await submit(acme, [1, 1], { idempotencyKey: 'nightly-1' });
      const again = await submit(acme, [1, 1], { idempotencyKey: 'nightly-1' });
      const theirs = await submit(globex, [1, 1], { idempotencyKey: 'nightly-1' });
      assert.equal(again, first);
      assert.notEqual(theirs, first);
      assert.equal((await api(server, globex, 'GET', `/api/jobs/${theirs}?wait=10000`)).body.result, 2);
      assertLikeMissing(await api(server, globex, 'GET', `/api/jobs/${first}`), first, 'the other key');
    });

    test("functions are per tenant: two deploy the same name, /fn/<name> runs the caller's, lists and rollback see only their own", async () => {
      const deployA = await cli(dir, ['deploy', 'tenant-a.ts', '--json'], { SKEIN_TOKEN: acme });
      assert.equal(deployA.code, 0, deployA.stderr);
      const deployB = await cli(dir, ['deploy', 'tenant-b.ts', '--json'], { SKEIN_TOKEN: globex });
      assert.equal(deployB.code, 0, deployB.stderr);
      const hashA = JSON.parse(deployA.stdout).hash;
      const hashB = JSON.parse(deployB.stdout).hash;
      assert.notEqual(hashA, hashB);
      assert.deepEqual(
        JSON.parse(deployA.stdout).functions.map((fn: { name: string }) => fn.name),
        ['whoami'],
      );

      const call = (token: string, query = '') =>
        api(server, token, 'POST', `/fn/whoami${query}`, { args: ['hello'] });
      assert.equal((await call(acme)).body, 'hello from acme');
      assert.equal((await call(globex)).body, 'hello from globex');
      const acmeInvoker = await tokenFor('acme', ['invoke']);
      assert.equal((await call(acmeInvoker)).body, 'hello from acme');
      // The operator's own tenant (default) deployed no whoami.
      assertError(await call(server.token), 404, 'SKEIN_CLOUD_FUNCTION_NOT_FOUND', 'default tenant');
      const cliCall = await cli(dir, ['invoke', 'whoami', '--args', '["cli"]'], { SKEIN_TOKEN: globex });
      assert.equal(cliCall.code, 0, cliCall.stderr);
      assert.equal(cliCall.stdout, '"cli from globex"\n');

      // An async call is a job of the caller's tenant.
      const queued = await call(acme, '?async=1');
      assert.equal(queued.status, 202, JSON.stringify(queued.body));
      assert.deepEqual({ fn: queued.body.function, hash: queued.body.hash }, { fn: 'whoami', hash: hashA });
      assert.equal(
        (await api(server, acme, 'GET', `/api/jobs/${queued.body.id}?wait=15000`)).body.result,
        'hello from acme',
      );
      assertLikeMissing(
        await api(server, globex, 'GET', `/api/jobs/${queued.body.id}`),
        queued.body.id,
        'async',
      );

      const listA = (await api(server, acme, 'GET', '/api/functions')).body.functions;
      const listB = (await api(server, globex, 'GET', '/api/functions')).body.functions;
      assert.deepEqual(
        listA.map((fn: { name: string; tenant: string; hash: string }) => [fn.name, fn.tenant, fn.hash]),
        [['whoami', 'acme', hashA]],
      );
      assert.deepEqual(
        listB.map((fn: { name: string; tenant: string; hash: string }) => [fn.name, fn.tenant, fn.hash]),
        [['whoami', 'globex', hashB]],
      );
      const listed = await cli(dir, ['fn', 'list', '--json'], { SKEIN_TOKEN: acme });
      assert.deepEqual(
        JSON.parse(listed.stdout).map((fn: { name: string }) => fn.name),
        ['whoami'],
      );
      const everyone = (await api(server, server.token, 'GET', '/api/functions')).body.functions;
      assert.deepEqual(
        everyone
          .filter((fn: { name: string }) => fn.name === 'whoami')
          .map((fn: { tenant: string }) => fn.tenant)
          .sort(),
        ['acme', 'globex'],
      );

      // Rolling back to the other tenant's bundle: that hash was never a version of this tenant's whoami.
      assertError(
        await api(server, globex, 'POST', '/api/functions/whoami/rollback', { hash: hashA }),
        404,
        'SKEIN_CLOUD_FUNCTION_NOT_FOUND',
        "rollback to the other tenant's bundle",
      );
      assert.equal((await call(globex)).body, 'hello from globex');
      // The same bundle deployed by both is stored once and still runs as each tenant's own function.
      const shared = await cli(dir, ['deploy', 'tenant-a.ts', '--name', 'copy', '--json'], {
        SKEIN_TOKEN: globex,
      });
      assert.equal(shared.code, 0, shared.stderr);
      assert.equal(JSON.parse(shared.stdout).hash, hashA);
      assert.equal(JSON.parse(shared.stdout).stored, false);
      assert.equal(
        (await api(server, globex, 'POST', '/fn/copy.whoami', { args: ['hi'] })).body,
        'hi from acme',
      );
      assertError(
        await api(server, acme, 'POST', '/fn/copy.whoami', { args: ['hi'] }),
        404,
        'SKEIN_CLOUD_FUNCTION_NOT_FOUND',
        "the other tenant's function of a bundle both have",
      );
    });

    test('schedules are per tenant: the same name in two tenants, each reads, pauses and removes only its own', async () => {
      const create = (token: string, name: string, extra: object = { paused: true }) =>
        api(server, token, 'POST', '/api/schedules', {
          name,
          every: HOUR_MS,
          module: 'tasks.ts',
          export: 'add',
          args: [1, 2],
          ...extra,
        });
      assert.equal((await create(acme, 'report')).status, 201);
      const second = await create(globex, 'report', {});
      assert.equal(second.status, 201, JSON.stringify(second.body));
      assert.equal(second.body.tenant, 'globex');
      assert.equal((await create(acme, 'acme-only')).status, 201);
      assertError(
        await create(acme, 'report'),
        409,
        'SKEIN_CLOUD_SCHEDULE_EXISTS',
        'a name twice in one tenant',
      );

      const names = async (token: string) =>
        (await api(server, token, 'GET', '/api/schedules')).body.schedules.map(
          (s: { name: string; tenant: string; state: string }) => `${s.tenant}/${s.name}:${s.state}`,
        );
      assert.deepEqual(await names(acme), ['acme/acme-only:paused', 'acme/report:paused']);
      assert.deepEqual(await names(globex), ['globex/report:active']);
      const cliList = await cli(dir, ['schedule', 'ls', '--json'], { SKEIN_TOKEN: globex });
      assert.deepEqual(
        JSON.parse(cliList.stdout).map((s: { name: string }) => s.name),
        ['report'],
      );

      for (const [method, path] of [
        ['GET', '/api/schedules/acme-only'],
        ['POST', '/api/schedules/acme-only/pause'],
        ['POST', '/api/schedules/acme-only/resume'],
        ['DELETE', '/api/schedules/acme-only'],
      ] as const) {
        assertError(
          await api(server, globex, method, path),
          404,
          'SKEIN_CLOUD_SCHEDULE_NOT_FOUND',
          `${method} ${path} of the other tenant`,
        );
      }
      // Pausing and removing by name acts on the caller's own schedule of that name.
      assert.equal((await api(server, acme, 'POST', '/api/schedules/report/resume')).body.state, 'active');
      assert.equal((await api(server, globex, 'POST', '/api/schedules/report/pause')).body.state, 'paused');
      assert.deepEqual(await names(acme), ['acme/acme-only:paused', 'acme/report:active']);
      assert.equal((await api(server, globex, 'DELETE', '/api/schedules/report')).status, 200);
      assert.deepEqual(await names(globex), []);
      assert.deepEqual(await names(acme), ['acme/acme-only:paused', 'acme/report:active']);
      assert.equal((await api(server, acme, 'DELETE', '/api/schedules/report')).status, 200);

      // A fired job is the schedule's tenant's.
      assert.equal((await create(globex, 'often', { every: 1000 })).status, 201);
      const deadline = Date.now() + 15_000;
      let history: { jobId: string }[] = [];
      while (history.length === 0) {
        if (Date.now() > deadline) assert.fail('the schedule fired no job within 15 s');
        await sleep(100);
        history = (await api(server, globex, 'GET', '/api/schedules/often')).body.history;
      }
      const fired = history[0]!.jobId;
      await api(server, globex, 'DELETE', '/api/schedules/often');
      assert.equal((await api(server, globex, 'GET', `/api/jobs/${fired}?wait=10000`)).body.result, 3);
      assertLikeMissing(await api(server, acme, 'GET', `/api/jobs/${fired}`), fired, 'a fired job');
      assert.ok((await listIds(globex, '?limit=500')).includes(fired));
    });

    test("GET /api/events carries only the token's tenant's job and schedule events; an operator's carries all", async () => {
      const stop = new AbortController();
      const timer = setTimeout(() => stop.abort(), EVENTS_TIMEOUT_MS);
      try {
        const acmeStream = await openEvents(acme, stop.signal);
        const globexStream = await openEvents(globex, stop.signal);
        const operatorStream = await openEvents(server.token, stop.signal);
        const theirs = await submit(globex, [1, 1]);
        await waitForState(server, globex, theirs, ['succeeded']);
        assert.equal(
          (
            await api(server, globex, 'POST', '/api/schedules', {
              name: 'events-probe',
              every: HOUR_MS,
              module: 'tasks.ts',
              export: 'add',
              paused: true,
            })
          ).status,
          201,
        );
        const own = await submit(acme, [2, 2]);
        const ownDone = (frame: Frame) =>
          frame.event === 'job' && frame.data.jobId === own && frame.data.type === 'succeeded';
        const seenByAcme = await readUntil(acmeStream, ownDone);
        assert.ok(!jobIdsOf(seenByAcme).has(theirs), 'a job event of the other tenant');
        assert.deepEqual(
          seenByAcme.filter((frame) => frame.event === 'schedule'),
          [],
          'a schedule event of the other tenant',
        );
        assert.deepEqual(
          seenByAcme.filter((frame) => frame.data.jobId === own).map((frame) => frame.data.type),
          ['enqueued', 'started', 'succeeded'],
        );

        const last = await submit(globex, [3, 3]);
        const seenByGlobex = await readUntil(
          globexStream,
          (frame) => frame.event === 'job' && frame.data.jobId === last && frame.data.type === 'succeeded',
        );
        assert.ok(jobIdsOf(seenByGlobex).has(theirs));
        assert.ok(!jobIdsOf(seenByGlobex).has(own), 'a job event of the other tenant');
        assert.ok(
          seenByGlobex.some((frame) => frame.event === 'schedule' && frame.data.schedule === 'events-probe'),
          'its own schedule event',
        );

        const seenByOperator = await readUntil(
          operatorStream,
          (frame) => frame.event === 'job' && frame.data.jobId === last && frame.data.type === 'succeeded',
        );
        for (const id of [theirs, own, last]) assert.ok(jobIdsOf(seenByOperator).has(id), id);
        assert.ok(
          seenByOperator.some(
            (frame) => frame.event === 'schedule' && frame.data.schedule === 'events-probe',
          ),
        );
      } finally {
        clearTimeout(timer);
        stop.abort();
        await api(server, globex, 'DELETE', '/api/schedules/events-probe');
      }
    });

    test("tokens: an agent token reads no user route and mints no token; a tenant's admin manages only its tenant's tokens", async () => {
      const agent = await tokenFor('default', ['agent']);
      const job = await submit(acme, [1, 1]);
      for (const [method, path, body] of [
        ['GET', '/api/jobs'],
        ['GET', `/api/jobs/${job}`],
        ['GET', `/api/jobs/${job}/logs`],
        ['POST', `/api/jobs/${job}/cancel`],
        ['GET', '/api/functions'],
        ['POST', '/fn/whoami', { args: [] }],
        ['GET', '/api/schedules'],
        ['GET', '/api/events'],
        ['GET', '/api/tokens'],
        ['POST', '/api/tokens', { name: 'minted', scopes: ['read'] }],
        ['POST', '/api/tokens', { name: 'minted', scopes: ['agent'] }],
      ] as [string, string, unknown?][]) {
        assertError(
          await api(server, agent, method, path, body),
          403,
          'SKEIN_CLOUD_FORBIDDEN',
          `agent ${method} ${path}`,
        );
      }

      // A tenant's admin: tokens of its own tenant, never agent or operator tokens, never another tenant's.
      const reader = await api(server, acme, 'POST', '/api/tokens', {
        name: 'acme reader',
        scopes: ['read'],
      });
      assert.equal(reader.status, 201, JSON.stringify(reader.body));
      assert.equal(reader.body.tenant, 'acme');
      for (const [body, what] of [
        [{ name: 'x', scopes: ['read'], tenant: 'globex' }, 'a token of another tenant'],
        [{ name: 'x', scopes: ['agent'] }, 'an agent token'],
        [{ name: 'x', scopes: ['operator'] }, 'an operator token'],
      ] as const) {
        assertError(await api(server, acme, 'POST', '/api/tokens', body), 403, 'SKEIN_CLOUD_FORBIDDEN', what);
      }
      const registration = {
        name: 'a',
        host: 'h',
        cores: 1,
        memory: 1,
        gpus: [],
        labels: {},
        concurrency: 1,
      };
      assertError(
        await api(server, acme, 'POST', '/api/agents', registration),
        403,
        'SKEIN_CLOUD_FORBIDDEN',
        "a tenant's admin registers no agent (it would run every tenant's jobs)",
      );
      const acmeTokens = (await api(server, acme, 'GET', '/api/tokens')).body.tokens;
      assert.ok(acmeTokens.length > 0);
      assert.ok(
        acmeTokens.every((token: { tenant: string }) => token.tenant === 'acme'),
        JSON.stringify(acmeTokens),
      );
      const globexTokens = (await api(server, globex, 'GET', '/api/tokens')).body.tokens;
      const globexId = globexTokens[0].id;
      assertError(
        await api(server, acme, 'DELETE', `/api/tokens/${globexId}`),
        404,
        'SKEIN_CLOUD_TOKEN_NOT_FOUND',
        "revoking another tenant's token",
      );
      const operatorId = /^skein_([A-Za-z0-9]{16})_/.exec(server.token)![1]!;
      const defaultAdmin = await tokenFor('default', ['admin']);
      assertError(
        await api(server, defaultAdmin, 'DELETE', `/api/tokens/${operatorId}`),
        403,
        'SKEIN_CLOUD_FORBIDDEN',
        "the default tenant's admin revokes the operator's token",
      );
      // The operator may revoke any tenant's token: its next call is a 401.
      const doomed = await tokenFor('acme', ['read']);
      const doomedId = /^skein_([A-Za-z0-9]{16})_/.exec(doomed)![1]!;
      assert.equal((await api(server, server.token, 'DELETE', `/api/tokens/${doomedId}`)).status, 200);
      assertError(await api(server, doomed, 'GET', '/api/jobs'), 401, 'SKEIN_CLOUD_UNAUTHORIZED');
    });

    test("a page of a tenant's jobs stays right past one walk step: 600 waiting jobs of one tenant, 3 of another", async () => {
      // A few jobs that run now, so globex holds more jobs than there are scheduled ones in the store.
      for (let i = 0; i < 5; i++)
        await waitForState(server, globex, await submit(globex, [i, i]), ['succeeded']);
      const many: string[] = [];
      for (let batch = 0; batch < 12; batch++) {
        many.push(
          ...(await Promise.all(
            Array.from({ length: 50 }, (_, i) => submit(globex, [batch, i], { delay: HOUR_MS })),
          )),
        );
      }
      const few = [
        await submit(acme, [1, 0], { delay: HOUR_MS }),
        await submit(acme, [2, 0], { delay: HOUR_MS }),
        await submit(acme, [3, 0], { delay: HOUR_MS }),
      ];
      // globex holds more jobs than are scheduled: the server walks the store's scheduled list (two steps).
      const first = await listIds(globex, '?state=scheduled&limit=500');
      const rest = await listIds(globex, '?state=scheduled&limit=500&offset=500');
      const all = [...first, ...rest];
      assert.equal(new Set(all).size, all.length, 'no job twice');
      assert.deepEqual([...all].sort(), [...many].sort());
      assert.deepEqual(await listIds(globex, '?state=scheduled&limit=7&offset=498'), all.slice(498, 505));
      // acme holds fewer: the server walks acme's own index.
      assert.deepEqual(await listIds(acme, '?state=scheduled&limit=500'), few);
      assert.deepEqual(await listIds(acme, '?state=scheduled&limit=2&offset=1'), few.slice(1));
      // All states: a range of the tenant's index.
      const everything = [
        ...(await listIds(globex, '?limit=500')),
        ...(await listIds(globex, '?limit=500&offset=500')),
      ];
      for (const id of many) assert.ok(everything.includes(id), id);
      assert.ok(!everything.some((id) => few.includes(id)));
    });

    test("a tenant's job page is a range of an index of cloud.db, whatever the number of jobs", (t) => {
      const folder = mkdtempSync(join(tmpdir(), 'skein-tenants-'));
      const store = new CloudStore(join(folder, 'cloud.db'));
      t.after(() => {
        store.close();
        rmSync(folder, { recursive: true, force: true });
      });
      const jobs = Array.from({ length: 50_000 }, (_, i) => ({
        jobId: `job-${String(i).padStart(6, '0')}`,
        tenant: i % 10 === 0 ? 'small' : 'big',
        createdAt: 1_000_000 + i,
      }));
      store.recordJobTenants(jobs);
      assert.equal(store.tenantJobCount('small'), 5000);
      assert.equal(store.tenantJobCount('big'), 45_000);
      assert.deepEqual(store.tenantJobIds('small', 3, 4000), ['job-040000', 'job-040010', 'job-040020']);
      assert.equal(store.jobTenant('job-000007'), 'big');
      store.recordJobTenants([{ jobId: 'job-000007', tenant: 'small', createdAt: 0 }]);
      assert.equal(store.jobTenant('job-000007'), 'big', 'a job keeps the tenant it was recorded with');
      store.forgetJobTenants(['job-040000']);
      assert.deepEqual(store.tenantJobIds('small', 1, 4000), ['job-040010']);
      const db = new DatabaseSync(join(folder, 'cloud.db'));
      const plan = db
        .prepare(
          'EXPLAIN QUERY PLAN SELECT job_id FROM job_tenants WHERE tenant = ? ORDER BY created_at, job_id LIMIT ? OFFSET ?',
        )
        .all('small', 50, 4000)
        .map((row) => String((row as { detail: string }).detail))
        .join('; ');
      db.close();
      assert.match(plan, /USING (COVERING )?INDEX job_tenants_by_tenant/);
      assert.doesNotMatch(plan, /TEMP B-TREE/, 'no sort: the index gives the order');
    });
  });

  test("a store from before tenants keeps working: its tokens and jobs become the default tenant's, and skein up saves an operator token", async (t) => {
    const old = await makeProject(t);
    const first = await startServer(t, old);
    const make = async (scopes: string[]) => {
      const created = await api(first, first.token, 'POST', '/api/tokens', {
        name: `legacy ${scopes}`,
        scopes,
      });
      assert.equal(created.status, 201, JSON.stringify(created.body));
      return created.body.token as string;
    };
    const legacyAdmin = await make(['admin']);
    const legacyReader = await make(['read']);
    const submitted = await api(first, legacyAdmin, 'POST', '/api/jobs', {
      module: 'tasks.ts',
      export: 'add',
      args: [20, 22],
    });
    assert.equal(submitted.status, 202, JSON.stringify(submitted.body));
    const job = submitted.body.id;
    assert.equal((await api(first, legacyAdmin, 'GET', `/api/jobs/${job}?wait=15000`)).body.result, 42);
    assert.equal(await first.stop(), 0);

    // What a server from before tenants left: tokens without a tenant, no record of whose jobs are whose,
    // and an admin token (without the operator scope) saved for the CLI.
    const db = new DatabaseSync(join(old, '.skein/cloud.db'));
    db.exec('DROP TABLE job_tenants; DROP TABLE cloud_meta; ALTER TABLE tokens DROP COLUMN tenant;');
    db.close();
    await writeFile(
      join(old, '.skein/credentials.json'),
      JSON.stringify({ server: first.url, token: legacyAdmin }),
      {
        mode: 0o600,
      },
    );

    const second = await startServer(t, old);
    assert.notEqual(second.token, legacyAdmin, 'skein up saved a new operator token');
    for (const token of [legacyAdmin, legacyReader, second.token]) {
      const listed = await api(second, token, 'GET', '/api/jobs');
      assert.equal(listed.status, 200, JSON.stringify(listed.body));
      assert.deepEqual(
        listed.body.jobs.map((j: { id: string; tenant: string }) => [j.id, j.tenant]),
        [[job, 'default']],
      );
      assert.equal((await api(second, token, 'GET', `/api/jobs/${job}`)).body.result, 42);
    }
    const tokens = (await api(second, second.token, 'GET', '/api/tokens')).body.tokens;
    const byName = new Map(tokens.map((token: { name: string }) => [token.name, token]));
    assert.equal((byName.get('legacy admin') as { tenant: string }).tenant, 'default');
    assert.deepEqual((byName.get('operator (skein up)') as { scopes: string[] }).scopes, [
      'admin',
      'operator',
    ]);
    // The old admin administers the default tenant only now.
    assert.equal(
      (await api(second, legacyAdmin, 'POST', '/api/tokens', { name: 'n', scopes: ['read'] })).body.tenant,
      'default',
    );
    assertError(
      await api(second, legacyAdmin, 'POST', '/api/tokens', { name: 'n', scopes: ['read'], tenant: 'acme' }),
      403,
      'SKEIN_CLOUD_FORBIDDEN',
    );
    const outsider = (
      await api(second, second.token, 'POST', '/api/tokens', { name: 'o', scopes: ['read'], tenant: 'acme' })
    ).body.token;
    assertLikeMissing(await api(second, outsider, 'GET', `/api/jobs/${job}`), job, 'a legacy job from acme');
    assert.deepEqual((await api(second, outsider, 'GET', '/api/jobs')).body.jobs, []);
    // Restarted again, the backfill is not repeated and the operator token is reused.
    assert.equal(await second.stop(), 0);
    const third = await startServer(t, old);
    assert.equal(third.token, second.token);
    assert.equal((await api(third, legacyReader, 'GET', `/api/jobs/${job}`)).body.result, 42);
  });
});
