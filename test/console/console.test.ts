// The web console in a real browser (Debian's chromium through playwright-core) against a real
// `skein up` child process: login, a job turning succeeded live, its logs, retrying a failed job,
// deploying and invoking a function from the page, an agent (skein worker) appearing and leaving, the
// timeline's spans for a parallel map; every view on a laptop and a phone screen, screenshots saved.

import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { before, test } from 'node:test';
import { pathToFileURL } from 'node:url';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import type { Task } from '../../src/task.ts';
import { chain, SqliteBroker, signature, TaskQueue } from '../../src/tasks/index.ts';
import {
  api,
  assertError,
  fileCleanups,
  makeProject,
  type RunningServer,
  startServer,
  startWorker,
  waitForState,
} from '../cloud/harness.ts';
import {
  collectPageErrors,
  ensureConsoleBuilt,
  launch,
  missingBrowser,
  overflowOf,
  screenshot,
} from './browser.ts';

const missing = missingBrowser();
const WAIT_MS = 20_000;
/** A name long enough to break a layout that does not truncate or wrap. */
const LONG = `a-very-long-name-${'x'.repeat(80)}`;

// One server, one browser for the file: starting them is most of the time.
const fixture = fileCleanups();
let dir: string;
let server: RunningServer;
let browser: Browser;
let context: BrowserContext;
let page: Page;
let pageErrors: string[];
/** A job with an error, logs and two attempts, for the job page's screenshots. */
let retriedJob = '';

before(async () => {
  if (missing !== undefined) return;
  await ensureConsoleBuilt();
  dir = await makeProject(fixture);
  server = await startServer(fixture, dir, '--agent-timeout', '3000', '--concurrency', '2');
  browser = await launch();
  fixture.after(() => browser.close());
  context = await browser.newContext({ viewport: { width: 1280, height: 860 } });
  context.setDefaultTimeout(WAIT_MS);
  page = await context.newPage();
  pageErrors = collectPageErrors(page);
});

const skip = missing === undefined ? false : missing;

async function submit(task: string, args: unknown[], options?: object): Promise<string> {
  const answer = await api(server, server.token, 'POST', '/api/jobs', {
    module: 'tasks.ts',
    export: task,
    args,
    ...(options === undefined ? {} : { options }),
  });
  assert.equal(answer.status, 202, JSON.stringify(answer.body));
  return answer.body.id;
}

async function login(target: Page): Promise<void> {
  await target.goto(`${server.url}/`);
  await target.getByLabel('Token').fill(server.token);
  await target.getByRole('button', { name: 'Log in' }).click();
  await target.getByRole('heading', { name: 'Overview' }).waitFor();
}

test('shows nothing but the login form without a token, refuses a wrong one, and logs in with a good one', {
  skip,
}, async () => {
  await page.goto(`${server.url}/jobs`);
  await page.getByRole('heading', { name: 'Skein console' }).waitFor();
  assert.equal(await page.getByRole('navigation').count(), 0, 'no navigation before login');
  assert.equal(await page.locator('table').count(), 0, 'no data before login');
  await page.getByLabel('Token').fill('skein_0000000000000000_wrong');
  await page.getByRole('button', { name: 'Log in' }).click();
  await page.getByRole('alert').filter({ hasText: 'SKEIN_CLOUD_UNAUTHORIZED' }).waitFor();
  await page.getByLabel('Token').fill(server.token);
  await page.getByRole('button', { name: 'Log in' }).click();
  // The path asked for before login is the page shown after it.
  await page.getByRole('heading', { name: 'Jobs' }).waitFor();
  await page.getByRole('status', { name: 'live: connected' }).waitFor();
  await page.getByRole('link', { name: 'Overview' }).click();
  await page.getByRole('heading', { name: 'Overview' }).waitFor();
  // The first metrics event (every 2 s) fills the queue depth.
  await page.getByTestId('count-succeeded').waitFor();
});

test('a submitted job moves to succeeded on the jobs page without a reload, and its logs open', {
  skip,
}, async () => {
  await page.getByRole('link', { name: 'Jobs', exact: true }).click();
  await page.getByRole('heading', { name: 'Jobs' }).waitFor();
  const gate = join(dir, 'gate-live');
  const id = await submit('printAroundGate', [gate]);
  const row = page.locator(`tr[data-job="${id}"]`);
  await row.and(page.locator('[data-state="running"]')).waitFor();
  const loads = [];
  page.on('load', () => loads.push(1));
  await writeFile(gate, 'open\n');
  await row.and(page.locator('[data-state="succeeded"]')).waitFor();
  assert.equal(loads.length, 0, 'the page was not reloaded');
  await row.getByRole('link').click();
  await page.getByRole('heading', { name: 'tasks.ts:printAroundGate' }).waitFor();
  await page.getByTestId('logs').filter({ hasText: 'after gate' }).waitFor();
  assert.match((await page.getByTestId('logs').textContent()) ?? '', /before gate\s+after gate/);
  await page.getByText('"opened"').waitFor();
});

test('retries a failed job from its page and sees it succeed', { skip }, async () => {
  const id = await submit('printFailOnce', [join(dir, 'marker-retry')], { attempts: 1 });
  const failed = await waitForState(server, server.token, id, ['failed', 'dead']);
  retriedJob = id;
  await page.goto(`${server.url}/jobs/${id}`);
  await page.getByText('first attempt fails on purpose').first().waitFor();
  assert.match(
    (await page.locator('pre.stack-trace').textContent()) ?? '',
    /printFailOnce|at /,
    'the stack is shown',
  );
  await page.getByRole('button', { name: 'Retry' }).click();
  await page.locator('.title-row .badge', { hasText: 'succeeded' }).waitFor();
  await page.getByTestId('logs').filter({ hasText: 'second try' }).waitFor();
  assert.notEqual(failed.state, 'succeeded');
});

test('replays a finished job as a new one, and cancels a running job from its page', { skip }, async () => {
  await page.goto(`${server.url}/jobs/${retriedJob}`);
  await page.getByRole('button', { name: 'Replay' }).click();
  await page.waitForURL((url) => url.pathname.startsWith('/jobs/') && !url.pathname.endsWith(retriedJob));
  const replayed = new URL(page.url()).pathname.slice('/jobs/'.length);
  await page.locator('.title-row .badge', { hasText: 'succeeded' }).waitFor();
  assert.equal((await waitForState(server, server.token, replayed, ['succeeded'])).result, 'ok');

  const gate = join(dir, 'gate-never');
  const id = await submit('waitForFile', [gate, 'never']);
  await page.goto(`${server.url}/jobs/${id}`);
  await page.locator('.title-row .badge', { hasText: 'running' }).waitFor();
  await page.getByRole('button', { name: 'Cancel' }).click();
  await page.locator('.title-row .badge', { hasText: 'cancelled' }).waitFor();
});

test("a chain's jobs link each other on their pages as parent and child", { skip }, async () => {
  // Canvases are not submitted through the API: the chain goes straight into the server's store, once
  // a job of the API has made the server's agent serve the task.
  await waitForState(server, server.token, await submit('add', [0, 0]), ['succeeded']);
  const { add } = (await import(pathToFileURL(join(dir, 'tasks.ts')).href)) as {
    add: Task<[number, number], number>;
  };
  const broker = new SqliteBroker({ path: join(dir, '.skein/tasks.db') });
  const queue = new TaskQueue({ broker });
  try {
    const started = await chain(queue, [signature(add, [1, 2]), signature(add, [10])]);
    assert.equal(await started.result({ timeout: WAIT_MS }), 13);
    const [first, second] = started.ids;
    assert.ok(first !== undefined && second !== undefined);
    await page.goto(`${server.url}/jobs/${first}`);
    await page.getByRole('region', { name: 'Parent and children' }).getByRole('link').first().waitFor();
    await page
      .getByRole('region', { name: 'Parent and children' })
      .locator(`a[href="/jobs/${second}"]`)
      .click();
    await page.getByText('13', { exact: true }).first().waitFor();
    await page
      .getByRole('region', { name: 'Parent and children' })
      .locator(`a[href="/jobs/${first}"]`)
      .waitFor();
  } finally {
    await queue.close();
    await broker.close();
  }
});

test('deploys a bundle, invokes its function and rolls it back from the functions page', {
  skip,
}, async () => {
  const bundle = join(dir, 'greet.mjs');
  await writeFile(
    bundle,
    "import { task } from 'skein';\nexport const greetConsole = task(import.meta, (name) => 'hello ' + name);\n",
  );
  await page.getByRole('link', { name: 'Functions' }).click();
  await page.getByLabel('Bundle (.mjs or .js, one ES module)').setInputFiles(bundle);
  await page.getByRole('button', { name: 'Deploy', exact: true }).click();
  await page.getByTestId('deploy-result').filter({ hasText: 'Deployed greetConsole' }).waitFor();
  const card = page.locator('[data-function="greetConsole"]');
  await card.getByLabel('Arguments (JSON array)').fill('["console"]');
  await card.getByRole('button', { name: 'Invoke' }).click();
  await card.getByTestId('invoke-result').filter({ hasText: '"hello console"' }).waitFor();
  await card.getByLabel('Arguments (JSON array)').fill('not json');
  await card.getByRole('button', { name: 'Invoke' }).click();
  await card.getByTestId('invoke-result').filter({ hasText: 'not JSON' }).waitFor();
  // The call's latency is on the card once the stats reload (every 5 s).
  await card.locator('dd', { hasText: /^1$/ }).first().waitFor();

  // A second version, then a rollback to the first, from the page.
  const second = join(dir, 'greet-v2.mjs');
  await writeFile(
    second,
    "import { task } from 'skein';\nexport const greetConsole = task(import.meta, (name) => 'hi ' + name);\n",
  );
  await page.getByLabel('Bundle (.mjs or .js, one ES module)').setInputFiles(second);
  await page.getByRole('button', { name: 'Deploy', exact: true }).click();
  await page.getByTestId('deploy-result').filter({ hasText: 'Deployed' }).waitFor();
  console.log(
    'DEBUG',
    await page.getByTestId('deploy-result').textContent(),
    await card.locator('header').textContent(),
  );
  await card.getByText('v2 ·').waitFor();
  await card.getByLabel('Arguments (JSON array)').fill('["again"]');
  await card.getByRole('button', { name: 'Invoke' }).click();
  await card.getByTestId('invoke-result').filter({ hasText: '"hi again"' }).waitFor();
  await card.getByText('Versions (2)').click();
  await card.getByRole('button', { name: 'Roll back to v1' }).click();
  await card.getByText('v1 ·').waitFor();
  await card.getByRole('button', { name: 'Invoke' }).click();
  await card.getByTestId('invoke-result').filter({ hasText: '"hello again"' }).waitFor();
});

test('an agent appears on the agents page when skein worker starts, leaves when it stops, and shows lost when killed', {
  skip,
}, async () => {
  const token = await api(server, server.token, 'POST', '/api/tokens', {
    name: 'console workers',
    scopes: ['agent'],
  });
  assert.equal(token.status, 201, JSON.stringify(token.body));
  await page.getByRole('link', { name: 'Agents' }).click();
  await page.getByRole('heading', { name: 'Agents' }).waitFor();
  // Both start at once; the one to be killed is killed first, so that the --agent-timeout (3 s here)
  // after which it is listed lost passes while the other one is looked at and stopped.
  const [worker, killed] = await Promise.all([
    startWorker(fixture, dir, server.url, token.body.token, '--name', LONG, '--concurrency', '1'),
    startWorker(fixture, dir, server.url, token.body.token, '--name', 'doomed', '--concurrency', '1'),
  ]);
  const doomed = page.locator(`[data-agent="${killed.id}"]`);
  await doomed.and(page.locator('[data-state="ready"]')).waitFor();
  await killed.kill9();
  const card = page.locator(`[data-agent="${worker.id}"]`);
  await card.and(page.locator('[data-state="ready"]')).waitFor();
  assert.ok((await overflowOf(page)) <= 0, 'a long agent name does not widen the page');
  await screenshot(page, 'agents-desktop');
  assert.equal(await worker.stop(), 0);
  await card.waitFor({ state: 'detached' });
  await page.getByLabel('Show stopped').check();
  await card.and(page.locator('[data-state="stopped"]')).waitFor();
  // One killed with SIGKILL is listed lost once its heartbeats stop for --agent-timeout.
  await doomed.and(page.locator('[data-state="lost"]')).waitFor();
});

test('the timeline shows one span per job of a parallel map, on the worker threads that ran them', {
  skip,
}, async () => {
  await page.getByRole('link', { name: 'Timeline' }).click();
  await page.getByRole('heading', { name: 'Timeline' }).waitFor();
  const ids = await Promise.all(Array.from({ length: 8 }, (_, i) => submit('add', [i, i])));
  for (const id of ids) await waitForState(server, server.token, id, ['succeeded']);
  for (const id of ids) await page.locator(`[data-span="${id}"]`).first().waitFor();
  await page.getByRole('button', { name: 'Zoom in' }).click();
  await page.getByRole('checkbox', { name: 'Live' }).waitFor();
  assert.equal(
    await page.getByRole('checkbox', { name: 'Live' }).isChecked(),
    false,
    'zooming stops following now',
  );
  await page.keyboard.press('-');
  await page.getByTestId('timeline-summary').waitFor();
});

test('the jobs list filters and searches on the server and pages', { skip }, async () => {
  await page.goto(`${server.url}/jobs?state=failed,dead`);
  await page.getByRole('heading', { name: 'Jobs' }).waitFor();
  await page
    .getByTestId('jobs-summary')
    .filter({ hasText: /\d+ jobs/ })
    .waitFor();
  await page.getByLabel('Search').fill('printAroundGate');
  const states = page.getByRole('group', { name: 'States' });
  await states.getByLabel('failed', { exact: true }).uncheck();
  await states.getByLabel('dead', { exact: true }).uncheck();
  await page.getByRole('button', { name: 'Apply' }).click();
  await page.waitForURL(/q=printAroundGate/);
  await page.locator('tr[data-job]').first().waitFor();
  for (const text of await page.locator('tbody tr td:first-child').allInnerTexts()) {
    assert.match(text, /printAroundGate/);
  }
});

test('pauses and resumes a schedule, and shows the jobs it made', { skip }, async () => {
  const name = `nightly-${LONG}`.slice(0, 64);
  const made = await api(server, server.token, 'POST', '/api/schedules', {
    name,
    every: 3_600_000,
    module: 'tasks.ts',
    export: 'add',
    args: [1, 2],
  });
  assert.equal(made.status, 201, JSON.stringify(made.body));
  await page.getByRole('link', { name: 'Schedules' }).click();
  const row = page.locator(`tr[data-schedule="${name}"]`);
  await row.getByText('active').waitFor();
  await row.getByRole('button', { name: 'Pause' }).click();
  await row.getByText('paused').waitFor();
  await row.getByRole('button', { name: 'Resume' }).click();
  await row.getByText('active').waitFor();
  await row.getByRole('button', { name: 'History' }).click();
  await page.getByText('It has not fired yet.').waitFor();
});

test('creates a token with scopes, shows its text once, and revokes it', { skip }, async () => {
  await page.getByRole('link', { name: 'Tokens' }).click();
  await page.getByLabel('Name').fill('console reader');
  await page.getByRole('group', { name: 'Scopes' }).getByLabel('invoke').check();
  await page.getByRole('button', { name: 'Create' }).click();
  const text = await page.getByTestId('new-token').inputValue();
  assert.match(text, /^skein_/);
  assert.equal((await api(server, text, 'GET', '/api/console/whoami')).body.name, 'console reader');
  page.once('dialog', (dialog) => void dialog.accept());
  await page.getByRole('button', { name: 'Revoke console reader' }).click();
  await page.locator('tr', { hasText: 'console reader' }).getByText('revoked').waitFor();
  assert.equal((await api(server, text, 'GET', '/api/console/whoami')).status, 401);
});

test("the console's routes keep tenants apart and refuse bad queries with a code", { skip }, async () => {
  const made = await api(server, server.token, 'POST', '/api/tokens', {
    name: 'acme reader',
    scopes: ['invoke', 'read'],
    tenant: 'acme',
  });
  assert.equal(made.status, 201, JSON.stringify(made.body));
  const acme = made.body.token as string;
  const ours = await submit('add', [40, 2]);
  const theirs = (
    await api(server, acme, 'POST', '/api/jobs', { module: 'tasks.ts', export: 'add', args: [1, 1] })
  ).body.id as string;
  await waitForState(server, acme, theirs, ['succeeded']);
  await waitForState(server, server.token, ours, ['succeeded']);
  const page = await api(server, acme, 'GET', '/api/console/jobs?limit=200');
  assert.deepEqual(
    page.body.jobs.map((job: { id: string }) => job.id),
    [theirs],
    "a tenant's search finds its own jobs only",
  );
  assert.equal(page.body.total, null, "a tenant's page is scanned, its total unknown");
  assert.equal((await api(server, acme, 'GET', `/api/console/jobs?q=${ours}`)).body.jobs.length, 0);
  assertError(await api(server, acme, 'GET', `/api/console/jobs/${ours}`), 404, 'SKEIN_TASKS_JOB_NOT_FOUND');
  assert.equal((await api(server, acme, 'GET', `/api/console/jobs/${theirs}`)).body.job.result, 2);
  const spans = await api(server, acme, 'GET', '/api/console/spans');
  assert.ok(
    spans.body.spans.every((span: { jobId: string }) => span.jobId === theirs),
    'spans of its jobs only',
  );
  assertError(await api(server, acme, 'GET', '/api/console/activity'), 403, 'SKEIN_CLOUD_FORBIDDEN');
  assert.deepEqual((await api(server, acme, 'GET', '/api/console/whoami')).body, {
    id: made.body.id,
    name: 'acme reader',
    scopes: ['invoke', 'read'],
    tenant: 'acme',
    operator: false,
    server: { version: (await import('../../src/version.ts')).version, localAgentThreads: 2 },
  });
  const bad: [string, string][] = [
    ['/api/console/jobs?state=lost', 'an unknown state'],
    ['/api/console/jobs?limit=201', 'a page over 200'],
    ['/api/console/jobs?offset=9990&limit=50', 'a deep offset across states'],
    ['/api/console/jobs?from=soon', 'a time that is not epoch ms'],
    ['/api/console/jobs?sort=asc', 'an unknown parameter'],
    ['/api/console/spans?from=2000&to=1000', 'a window that ends before it starts'],
    ['/api/console/spans?limit=0', 'no spans'],
  ];
  for (const [path, what] of bad) {
    assertError(await api(server, server.token, 'GET', path), 400, 'SKEIN_CLOUD_INVALID_REQUEST', what);
  }
  assert.equal((await api(server, undefined, 'GET', '/api/console/whoami')).status, 401);

  // The same tenant in the browser: its jobs only, no every-tenant charts, no token management.
  const tenantContext = await browser.newContext({ viewport: { width: 1280, height: 860 } });
  tenantContext.setDefaultTimeout(WAIT_MS);
  const tenantPage = await tenantContext.newPage();
  await tenantPage.goto(`${server.url}/`);
  await tenantPage.getByLabel('Token').fill(acme);
  await tenantPage.getByRole('button', { name: 'Log in' }).click();
  await tenantPage.getByText('they need an operator token').waitFor();
  await tenantPage.getByRole('link', { name: 'Jobs', exact: true }).click();
  await tenantPage.locator(`tr[data-job="${theirs}"]`).waitFor();
  assert.equal(await tenantPage.locator('tr[data-job]').count(), 1);
  await tenantPage.getByRole('link', { name: 'Tokens' }).click();
  await tenantPage.getByText('Managing tokens needs the admin scope').waitFor();
  await tenantContext.close();
});

test('serves the console compressed and cached, every page path as the app, API paths as the API', {
  skip,
}, async () => {
  const html = await fetch(`${server.url}/jobs/some-id`, { headers: { 'accept-encoding': 'br' } });
  assert.equal(html.status, 200);
  assert.equal(html.headers.get('content-encoding'), 'br');
  assert.equal(html.headers.get('cache-control'), 'no-cache');
  assert.match(html.headers.get('content-security-policy') ?? '', /default-src 'self'/);
  const page = await html.text();
  const scripts = [...page.matchAll(/(?:src|href)="(\/assets\/[^"]+\.(?:js|css))"/g)].map((m) => m[1]!);
  assert.ok(
    scripts.some((path) => path.endsWith('.js')),
    page,
  );
  let compressedJs = 0;
  for (const path of scripts) {
    const asset = await fetch(`${server.url}${path}`, { headers: { 'accept-encoding': 'gzip' } });
    assert.equal(asset.status, 200);
    assert.equal(asset.headers.get('cache-control'), 'public, max-age=31536000, immutable');
    assert.equal(asset.headers.get('content-encoding'), 'gzip');
    // fetch decodes the body: the bytes on the wire are the content-length.
    const bytes = Number(asset.headers.get('content-length'));
    assert.ok(bytes > 0 && bytes < (await asset.arrayBuffer()).byteLength, `${path} is sent compressed`);
    if (path.endsWith('.js')) compressedJs += bytes;
    const again = await fetch(`${server.url}${path}`, {
      headers: { 'if-none-match': asset.headers.get('etag')! },
    });
    assert.equal(again.status, 304);
  }
  assert.ok(compressedJs < 300 * 1024, `first load: ${compressedJs} bytes of gzip JavaScript`);
  console.log(`# first load: ${compressedJs} bytes of gzip-compressed JavaScript`);
  assert.equal((await fetch(`${server.url}/assets/index-missing.js`)).status, 404);
  const apiAnswer = await fetch(`${server.url}/api/nothing`);
  assert.equal(apiAnswer.status, 401, 'an API path needs a token as before');
  const notFound = await api(server, server.token, 'GET', '/api/nothing');
  assert.equal(notFound.body.code, 'SKEIN_CLOUD_ROUTE_NOT_FOUND');
});

test('every view works from the keyboard and fits a phone screen (screenshots saved)', { skip }, async () => {
  // Keyboard: the skip link, then the navigation, reach a view without a mouse.
  await page.goto(`${server.url}/`);
  await page.getByRole('heading', { name: 'Overview' }).waitFor();
  const focused = () => page.evaluate<string>('document.activeElement?.textContent ?? ""');
  for (let i = 0; i < 10 && (await focused()) !== 'Jobs'; i++) await page.keyboard.press('Tab');
  assert.equal(await focused(), 'Jobs', 'Tab reaches the navigation');
  await page.keyboard.press('Enter');
  await page.getByRole('heading', { name: 'Jobs' }).waitFor();
  const views = [
    '/',
    '/jobs',
    `/jobs/${retriedJob}`,
    '/timeline',
    '/functions',
    '/agents',
    '/schedules',
    '/tokens',
  ];
  const shotName = (view: string) =>
    view === '/' ? 'overview' : view.startsWith('/jobs/') ? 'job' : view.slice(1);
  for (const view of views) {
    await page.goto(`${server.url}${view}`);
    await page.locator('h1.page-title').first().waitFor();
    if (view.startsWith('/jobs/')) await page.getByTestId('logs').filter({ hasText: 'second try' }).waitFor();
    await screenshot(page, `${shotName(view)}-desktop`);
  }
  const phone = await browser.newContext({
    viewport: { width: 390, height: 844 },
    isMobile: true,
    hasTouch: true,
  });
  phone.setDefaultTimeout(WAIT_MS);
  const small = await phone.newPage();
  const smallErrors = collectPageErrors(small);
  await login(small);
  for (const view of views) {
    await small.goto(`${server.url}${view}`);
    await small.locator('h1.page-title').first().waitFor();
    if (view.startsWith('/jobs/'))
      await small.getByTestId('logs').filter({ hasText: 'second try' }).waitFor();
    assert.ok((await overflowOf(small)) <= 0, `${view} fits 390 px without scrolling sideways`);
    await screenshot(small, `${shotName(view)}-phone`);
  }
  await phone.close();
  assert.deepEqual([...pageErrors, ...smallErrors], [], 'the console logged no errors');
});
