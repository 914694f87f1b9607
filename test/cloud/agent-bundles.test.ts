// Deployed bundles on remote agents, for real: a `skein up --no-local-agent` child process (SQLite
// store), a function deployed with the real CLI, and `skein worker` child processes in project
// directories of their own that hold neither the function's module nor .skein/deployments/. An async
// call runs on such an agent, which fetches the bundle once (counted by a proxy between agent and
// server), keeps it in .skein/agent-cache/ under its hash and reuses it after a restart; a damaged
// cached file is fetched again; bytes that do not match their hash are never run; GET
// /api/bundles/<hash> checks its token's scope and the hash.

import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { chmod, copyFile, mkdir, readFile, realpath, stat, writeFile } from 'node:fs/promises';
import { createServer, request } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { BundleCache } from '../../src/cloud/bundle-cache.ts';
import { CloudClient } from '../../src/cloud/client.ts';
import {
  api,
  assertError,
  cli,
  FINISHED_STATES,
  fileCleanups,
  makeProject,
  ROOT,
  type RunningServer,
  type RunningWorker,
  startServer,
  startWorker,
  waitForState,
} from './harness.ts';

/** Jobs of a 2-core box that stalls: far more than a call needs, still a bounded wait. */
const JOB_TIMEOUT_MS = 40_000;
const suite = fileCleanups();
let dir: string;
let server: RunningServer;
let hash: string;
let agentToken: string;

function sha256(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

async function token(scope: string, inDir = dir): Promise<string> {
  const created = await cli(inDir, ['token', 'create', '--name', `bundles-${scope}`, '--scope', scope]);
  assert.equal(created.code, 0, created.stderr);
  return created.stdout.trim();
}

/** A server with the bundle deployed, and an agent token for it. */
interface Site {
  readonly dir: string;
  readonly server: RunningServer;
  readonly hash: string;
  readonly agentToken: string;
}

async function deploySite(cleanups: { after(fn: () => Promise<void>): void }): Promise<Site> {
  const home = await makeProject(cleanups);
  await copyFile(join(ROOT, 'test/fixtures/cloud-bundle-fns.ts'), join(home, 'fns.ts'));
  await copyFile(join(ROOT, 'test/fixtures/cloud-bundle-label.ts'), join(home, 'cloud-bundle-label.ts'));
  const running = await startServer(cleanups, home, '--no-local-agent', '--lease-timeout', '5000');
  const deployed = await cli(home, ['deploy', 'fns.ts', '--json']);
  assert.equal(deployed.code, 0, deployed.stderr);
  return {
    dir: home,
    server: running,
    hash: JSON.parse(deployed.stdout).hash,
    agentToken: await token('agent', home),
  };
}

let shared: Site;

before(async () => {
  shared = await deploySite(suite);
  ({ dir, server, hash, agentToken } = shared);
});

/** An HTTP proxy to the server that counts the bundle downloads going through it. */
async function countingProxy(t: { after(fn: () => Promise<void>): void }): Promise<{
  url: string;
  downloads: () => number;
}> {
  let downloads = 0;
  const proxy = createServer((incoming, outgoing) => {
    if (incoming.method === 'GET' && incoming.url?.startsWith('/api/bundles/') === true) downloads += 1;
    const upstream = request(
      new URL(incoming.url ?? '/', server.url),
      { method: incoming.method, headers: incoming.headers },
      (answer) => {
        outgoing.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(outgoing);
      },
    );
    upstream.on('error', () => outgoing.destroy());
    incoming.pipe(upstream);
  });
  proxy.listen(0, '127.0.0.1');
  await new Promise((resolve) => proxy.once('listening', resolve));
  t.after(async () => {
    proxy.closeAllConnections();
    await new Promise((resolve) => proxy.close(resolve));
  });
  return { url: `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`, downloads: () => downloads };
}

/** `skein worker` in `home` through `url`, stopped after the test. */
async function worker(
  t: { after(fn: () => Promise<void>): void },
  home: string,
  url: string,
  ...args: string[]
): Promise<RunningWorker> {
  return workerOf(shared, t, home, url, ...args);
}

/** `skein worker` in `home` through `url` with the agent token of `site`, stopped after the test. */
async function workerOf(
  site: Site,
  t: { after(fn: () => Promise<void>): void },
  home: string,
  url: string,
  ...args: string[]
): Promise<RunningWorker> {
  const running = await startWorker(t, home, url, site.agentToken, ...args);
  t.after(async () => {
    if (running.child.exitCode === null && running.child.signalCode === null) await running.stop();
  });
  return running;
}

async function callAsync(n: number, on: Site = shared): Promise<string> {
  const answer = await api(on.server, on.server.token, 'POST', '/fn/where?async=1', { args: [n] });
  assert.equal(answer.status, 202, JSON.stringify(answer.body));
  assert.equal(answer.body.hash, on.hash);
  return answer.body.id as string;
}

async function succeeded(id: string, n: number, home: string, on: Site = shared): Promise<void> {
  const job = await waitForState(on.server, on.server.token, id, FINISHED_STATES, JOB_TIMEOUT_MS);
  assert.equal(job.state, 'succeeded', JSON.stringify(job));
  assert.deepEqual(job.result, { n, label: 'from the bundle', cwd: await realpath(home) });
}

// The test of altered bytes has a server of its own and waits out the agent's retryInterval (5 s): it
// runs beside the others, which take turns on the shared server (their agents claim any of its jobs).
describe('bundles on agents', { concurrency: true }, () => {
  describe('on the shared server, one after another', { concurrency: 1 }, () => {
    test('an async call runs on a skein worker that fetches the bundle once, caches it by hash and reuses it after a restart', async (t) => {
      const home = await makeProject(t);
      assert.ok(!existsSync(join(home, 'fns.ts')) && !existsSync(join(home, '.skein')));
      const proxy = await countingProxy(t);
      // Queued before any agent runs, so the first agent claims them together: one download between them.
      const ids = await Promise.all([1, 2, 3, 4, 5, 6].map((n) => callAsync(n)));
      const first = await worker(t, home, proxy.url, '--concurrency', '4');
      for (const [i, id] of ids.entries()) await succeeded(id, i + 1, home);
      assert.equal(proxy.downloads(), 1, 'six jobs of one bundle, one download');

      const cached = join(home, '.skein/agent-cache', `${hash}.mjs`);
      assert.equal(sha256(await readFile(cached)), hash, 'the cached file is the bundle its name says');
      assert.equal((await stat(cached)).mode & 0o777, 0o400, 'cached read-only');
      assert.ok(!existsSync(join(home, '.skein/deployments')), 'the agent keeps bundles in its cache only');
      const before = await stat(cached);

      await succeeded(await callAsync(7), 7, home);
      assert.equal(proxy.downloads(), 1, 'a second call uses the cached bundle');

      assert.equal(await first.stop(), 0, first.stderr());
      await worker(t, home, proxy.url, '--concurrency', '1');
      await succeeded(await callAsync(8), 8, home);
      assert.equal(proxy.downloads(), 1, 'a restarted agent reuses the verified file');
      const afterRestart = await stat(cached);
      assert.equal(afterRestart.ino, before.ino, 'the file was not written again');
      assert.equal(afterRestart.mtimeMs, before.mtimeMs);
    });

    test('a damaged file in the cache is deleted and the bundle fetched again before it runs', async (t) => {
      const home = await makeProject(t);
      const cached = join(home, '.skein/agent-cache', `${hash}.mjs`);
      await mkdir(join(home, '.skein/agent-cache'), { recursive: true });
      const marker = join(home, 'damaged-code-ran');
      await writeFile(
        cached,
        `import { writeFileSync } from 'node:fs';\nwriteFileSync(${JSON.stringify(marker)}, '');\nexport const where = 1;\n`,
      );
      const proxy = await countingProxy(t);
      const running = await worker(t, home, proxy.url, '--concurrency', '1');
      await succeeded(await callAsync(9), 9, home);
      assert.equal(proxy.downloads(), 1);
      assert.equal(sha256(await readFile(cached)), hash);
      assert.ok(!existsSync(marker), 'the damaged file never ran');
      assert.match(running.stderr(), /cached bundle .* is damaged/);
    });

    test('concurrent needs of one bundle share one download; a failed fetch is not tried again for retryInterval', async (t) => {
      const home = await makeProject(t);
      const proxy = await countingProxy(t);
      const client = new CloudClient({ server: proxy.url, token: agentToken });
      const cache = new BundleCache({
        dir: join(home, '.skein/agent-cache'),
        fetch: (wanted) => client.download(`/api/bundles/${wanted}`, 128 * 1024 * 1024),
        retryInterval: 300,
      });
      await Promise.all(Array.from({ length: 10 }, () => cache.ensure(hash)));
      assert.equal(proxy.downloads(), 1);
      assert.equal(cache.fetched, 1);
      assert.equal(sha256(await readFile(join(home, '.skein/agent-cache', `${hash}.mjs`))), hash);

      const unknown = '0'.repeat(64);
      const failures = await Promise.allSettled([cache.ensure(unknown), cache.ensure(unknown)]);
      for (const failure of failures) {
        assert.equal(failure.status, 'rejected');
        assert.equal((failure as PromiseRejectedResult).reason.code, 'SKEIN_CLOUD_BUNDLE_NOT_FOUND');
      }
      assert.equal(proxy.downloads(), 2, 'the two failing needs shared one request too');
      assert.equal(cache.usable(unknown), false, 'not tried again at once');
      assert.equal(cache.usable(hash), true);
      assert.equal(cache.usable(unknown, Date.now() + 300), true, 'tried again after retryInterval');
    });

    test('GET /api/bundles/<hash> answers the bundle to agent and deploy tokens only, 404 for an unknown hash, 400 for a malformed one', async () => {
      const stored = await readFile(join(dir, '.skein/deployments', `${hash}.mjs`));
      for (const [what, bearer] of [
        ['agent', agentToken],
        ['deploy', await token('deploy')],
        ['admin', server.token],
      ] as const) {
        const response = await fetch(`${server.url}/api/bundles/${hash}`, {
          headers: { authorization: `Bearer ${bearer}` },
          signal: AbortSignal.timeout(30_000),
        });
        assert.equal(response.status, 200, what);
        assert.match(response.headers.get('content-type') ?? '', /^text\/javascript/, what);
        const bytes = new Uint8Array(await response.arrayBuffer());
        assert.equal(sha256(bytes), hash, `${what}: the bytes hash to their name`);
        assert.deepEqual(Buffer.from(bytes), stored, what);
      }
      assertError(
        await api(server, undefined, 'GET', `/api/bundles/${hash}`),
        401,
        'SKEIN_CLOUD_UNAUTHORIZED',
        'no token',
      );
      for (const scope of ['read', 'invoke']) {
        assertError(
          await api(server, await token(scope), 'GET', `/api/bundles/${hash}`),
          403,
          'SKEIN_CLOUD_FORBIDDEN',
          scope,
        );
      }
      assertError(
        await api(server, agentToken, 'GET', `/api/bundles/${'0'.repeat(64)}`),
        404,
        'SKEIN_CLOUD_BUNDLE_NOT_FOUND',
        'unknown hash',
      );
      for (const bad of [
        'abc',
        hash.toUpperCase(),
        `${hash}.mjs`,
        `${hash.slice(0, 63)}g`,
        `..%2F..%2F.skein%2Fcloud.db`,
        `%2E%2E%2Fcloud.db`,
      ]) {
        assertError(
          await api(server, agentToken, 'GET', `/api/bundles/${bad}`),
          400,
          'SKEIN_CLOUD_INVALID_REQUEST',
          bad,
        );
      }
    });
  });

  test('bytes that do not match their hash are never run: the agent leaves the job queued and runs it once the server has the right bundle', async (t) => {
    // A server of its own: this test alters the stored bundle while the others fetch theirs.
    const site = await deploySite(t);
    const file = join(site.dir, '.skein/deployments', `${site.hash}.mjs`);
    const original = await readFile(file);
    const marker = join(site.dir, 'tampered-code-ran');
    // No restore after the test: the site's directory goes with it.
    await chmod(file, 0o600);
    await writeFile(
      file,
      `import { writeFileSync } from 'node:fs';\nwriteFileSync(${JSON.stringify(marker)}, '');\n${original.toString('utf8')}`,
    );
    const home = await makeProject(t);
    const running = await workerOf(site, t, home, site.server.url, '--concurrency', '1');
    const id = await callAsync(10, site);
    const deadline = Date.now() + JOB_TIMEOUT_MS;
    while (!running.stderr().includes('SKEIN_CLOUD_BUNDLE_MISMATCH')) {
      if (Date.now() > deadline) assert.fail(`no mismatch warning: ${running.stderr()}`);
      await sleep(50);
    }
    // Given back unstarted, for other agents (the warning comes just before the release).
    const job = await waitForState(site.server, site.server.token, id, ['queued'], JOB_TIMEOUT_MS);
    assert.equal(job.attempt, 0, 'the attempt was not counted');
    assert.ok(!existsSync(join(home, '.skein/agent-cache', `${site.hash}.mjs`)), 'nothing cached');
    assert.ok(!existsSync(marker), 'the altered bundle never ran');

    await writeFile(file, original);
    await succeeded(id, 10, home, site);
    assert.ok(!existsSync(marker));
  });
});
