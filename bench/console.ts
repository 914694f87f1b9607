// The web console under load: a `skein up` whose store holds --jobs jobs (100,000 by default, enqueued
// straight into .skein/tasks.db and run by the server's agent), then --rate jobs/s (500) flowing through
// the store for --duration ms three times: with no browser, with chromium on a blank page, and with
// chromium showing the overview. Measures: the console's list endpoints over the full store (medians of
// --rounds, each paying its own read); whether the overview stays live (its exact succeeded count
// changes at every metrics tick) and smooth (frames per second, long tasks on the page's main thread,
// heap); what the open console costs the server (jobs completed per second in the three flows); the
// first load's compressed JavaScript. There is no peer to run beside: Flower, bull-board and the Ray
// dashboard serve other stacks. On a shared machine the numbers are noisy: compare flows of one run.
//
//   node bench/console.ts [--jobs 100000] [--rate 500] [--duration 20000] [--rounds 7] [--out results.jsonl]

import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync } from 'node:fs';
import { appendFile, copyFile, mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import type { Task } from '../src/task.ts';
import { SqliteBroker, TaskQueue } from '../src/tasks/index.ts';
import { ensureConsoleBuilt } from '../test/console/browser.ts';
import { median } from './pool/summarize.ts';

const ROOT = fileURLToPath(new URL('../', import.meta.url));
const CHROMIUM = process.env.SKEIN_CHROMIUM ?? '/usr/bin/chromium';
const { values: flags } = parseArgs({
  options: {
    jobs: { type: 'string', default: '100000' },
    rate: { type: 'string', default: '500' },
    duration: { type: 'string', default: '20000' },
    rounds: { type: 'string', default: '7' },
    out: { type: 'string' },
  },
});
const JOBS = Number(flags.jobs);
const RATE = Number(flags.rate);
const DURATION_MS = Number(flags.duration);
const ROUNDS = Number(flags.rounds);
for (const [name, value] of [
  ['--jobs', JOBS],
  ['--rate', RATE],
  ['--duration', DURATION_MS],
  ['--rounds', ROUNDS],
] as const) {
  if (!Number.isSafeInteger(value) || value < 1) {
    console.error(`bench/console: ${name} must be an integer >= 1 (got ${value})`);
    process.exit(2);
  }
}
const ENQUEUE_CHUNK = 2000;
const TICK_MS = 100;
const DRAIN_TIMEOUT_MS = 600_000;

const results: Record<string, unknown>[] = [];
function report(record: Record<string, unknown>): void {
  results.push(record);
  console.log(JSON.stringify(record));
}

async function main(): Promise<void> {
  if (!existsSync(CHROMIUM)) throw new Error(`chromium not found at ${CHROMIUM}: apt-get install chromium`);
  await ensureConsoleBuilt();
  const cpu = os.cpus()[0]?.model ?? 'unknown CPU';
  console.log(
    `# node ${process.version}, ${cpu}, ${os.availableParallelism()} cores, load ${os
      .loadavg()
      .map((l) => l.toFixed(2))
      .join(' ')}; ${JOBS} jobs in the store, ${RATE} jobs/s for ${DURATION_MS} ms`,
  );
  const dir = await mkdtemp(join(os.tmpdir(), 'skein-bench-console-'));
  let server: ChildProcess | undefined;
  try {
    await writeFile(join(dir, 'package.json'), '{ "type": "module", "private": true }\n');
    await mkdir(join(dir, 'node_modules'));
    await symlink(ROOT, join(dir, 'node_modules/skein'), 'dir');
    await copyFile(join(ROOT, 'test/fixtures/cloud-tasks.ts'), join(dir, 'tasks.ts'));
    await mkdir(join(dir, '.skein'), { recursive: true, mode: 0o700 });

    // The store, filled before the server starts: --jobs jobs of tasks.ts:add, run by its agent.
    const started = performance.now();
    const { add } = (await import(pathToFileURL(join(dir, 'tasks.ts')).href)) as {
      add: Task<never, unknown>;
    };
    const broker = new SqliteBroker({ path: join(dir, '.skein/tasks.db') });
    const queue = new TaskQueue({ broker });
    for (let at = 0; at < JOBS; at += ENQUEUE_CHUNK) {
      const n = Math.min(ENQUEUE_CHUNK, JOBS - at);
      await queue.enqueueBulk(Array.from({ length: n }, (_, i) => ({ task: add, args: [at + i, 1] })));
    }
    await queue.close();
    await broker.close();
    report({ measure: 'enqueue', jobs: JOBS, ms: Math.round(performance.now() - started) });

    server = spawn(process.execPath, [join(ROOT, 'bin/skein.ts'), 'up', '--json', '--port', '0'], {
      cwd: dir,
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const [line] = (await once(server.stdout!.setEncoding('utf8'), 'data')) as [string];
    const { url, token } = JSON.parse(line.split('\n')[0]!) as { url: string; token: string };
    const call = async <T>(method: string, path: string, body?: unknown): Promise<T> => {
      const response = await fetch(`${url}${path}`, {
        method,
        headers: {
          authorization: `Bearer ${token}`,
          ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      });
      if (!response.ok) throw new Error(`${method} ${path}: ${response.status} ${await response.text()}`);
      return (await response.json()) as T;
    };
    const counts = async () =>
      (await call<{ total: number }>('GET', '/api/console/jobs?state=queued,running&limit=1')).total;
    const succeeded = async () =>
      (await call<{ total: number }>('GET', '/api/console/jobs?state=succeeded&limit=1')).total;

    // The first job through the API registers the task: the agent then runs the backlog.
    const drainStart = performance.now();
    await call('POST', '/api/jobs', { module: 'tasks.ts', export: 'add', args: [0, 0] });
    const drainDeadline = Date.now() + DRAIN_TIMEOUT_MS;
    while ((await counts()) > 0) {
      if (Date.now() > drainDeadline)
        throw new Error(`the agent did not run ${JOBS} jobs within ${DRAIN_TIMEOUT_MS} ms`);
      await sleep(500);
    }
    const drainMs = performance.now() - drainStart;
    report({
      measure: 'drain',
      jobs: JOBS + 1,
      ms: Math.round(drainMs),
      jobsPerSecond: Math.round(((JOBS + 1) / drainMs) * 1000),
    });

    // List endpoints over the full store, medians of --rounds.
    const sampleId = (
      await call<{ jobs: { id: string }[] }>(
        'GET',
        `/api/console/jobs?state=succeeded&limit=1&offset=${Math.floor(JOBS / 2)}`,
      )
    ).jobs[0]!.id;
    const endpoints: [string, string][] = [
      ['jobs newest page, all states', '/api/console/jobs?limit=50'],
      ['jobs succeeded, offset 50000', '/api/console/jobs?state=succeeded&limit=50&offset=50000'],
      ['jobs search by text (scans up to its budget)', `/api/console/jobs?q=${sampleId.slice(-12)}&limit=50`],
      ['jobs search by a whole id', `/api/console/jobs?q=${sampleId}&limit=50`],
      ['jobs failed,dead (overview)', '/api/console/jobs?state=failed,dead&limit=8'],
      ['GET /api/jobs oldest page (base API)', '/api/jobs?limit=50'],
    ];
    for (const [name, path] of endpoints) {
      const times: number[] = [];
      let found = 0;
      for (let round = 0; round < ROUNDS; round++) {
        // Past the server's 250 ms reuse of counts by state: every round pays for its own read.
        await sleep(300);
        const t0 = performance.now();
        const page = await call<{ jobs: unknown[] }>('GET', path);
        times.push(performance.now() - t0);
        found = page.jobs.length;
      }
      report({
        measure: 'endpoint',
        name,
        path,
        jobs: found,
        medianMs: Number(median(times).toFixed(1)),
        minMs: Number(Math.min(...times).toFixed(1)),
        maxMs: Number(Math.max(...times).toFixed(1)),
        rounds: times.map((t) => Number(t.toFixed(1))),
      });
    }

    // The flow: RATE jobs/s written straight into the store (as many clients would submit them; an HTTP
    // client in this process would compete for the same two cores), run by the server's agent.
    const flowBroker = new SqliteBroker({ path: join(dir, '.skein/tasks.db') });
    const flowQueue = new TaskQueue({ broker: flowBroker });
    /** RATE jobs/s for DURATION_MS, then the time the agent takes to finish the backlog; `sample` every 2 s. */
    async function runFlow(sample?: () => Promise<string>) {
      const succeededBefore = await succeeded();
      const flowStart = performance.now();
      let enqueued = 0;
      const seen: string[] = [];
      let nextSample = flowStart;
      for (let tick = 0; performance.now() - flowStart < DURATION_MS; tick++) {
        const due =
          Math.floor(((tick + 1) * TICK_MS * RATE) / 1000) - Math.floor((tick * TICK_MS * RATE) / 1000);
        await flowQueue.enqueueBulk(Array.from({ length: due }, (_, i) => ({ task: add, args: [tick, i] })));
        enqueued += due;
        if (performance.now() >= nextSample) {
          if (sample !== undefined) seen.push(await sample());
          nextSample += 2000;
        }
        await sleep(Math.max(0, flowStart + (tick + 1) * TICK_MS - performance.now()));
      }
      const ms = performance.now() - flowStart;
      const succeededAtEnd = await succeeded();
      const backlog = await counts();
      const catchUpStart = performance.now();
      while ((await counts()) > 0 && performance.now() - catchUpStart < DRAIN_TIMEOUT_MS) await sleep(200);
      return {
        ms,
        seen,
        summary: {
          targetPerSecond: RATE,
          enqueuedPerSecond: Math.round((enqueued / ms) * 1000),
          completedPerSecond: Math.round(((succeededAtEnd - succeededBefore) / ms) * 1000),
          backlogAtEnd: backlog,
          catchUpMs: Math.round(performance.now() - catchUpStart),
        },
      };
    }

    const bare = await runFlow();
    report({ measure: 'flow, no browser', ...bare.summary });

    const { chromium } = await import('playwright-core');
    const browser = await chromium.launch({
      executablePath: CHROMIUM,
      headless: true,
      args: ['--no-sandbox'],
    });
    try {
      const page = await browser.newPage({ viewport: { width: 1280, height: 860 } });
      await page.addInitScript(`
        window.__bench = { frames: 0, longTasks: 0, longTaskMs: 0, longestTaskMs: 0 };
        const frame = () => { window.__bench.frames++; requestAnimationFrame(frame); };
        requestAnimationFrame(frame);
        new PerformanceObserver((list) => {
          for (const entry of list.getEntries()) {
            window.__bench.longTasks++;
            window.__bench.longTaskMs += entry.duration;
            window.__bench.longestTaskMs = Math.max(window.__bench.longestTaskMs, entry.duration);
          }
        }).observe({ entryTypes: ['longtask'] });
      `);
      type PageBench = {
        frames: number;
        longTasks: number;
        longTaskMs: number;
        longestTaskMs: number;
        heap: number;
      };
      const readBench = () =>
        page.evaluate<PageBench>(
          '({ ...window.__bench, heap: performance.memory ? performance.memory.usedJSHeapSize : 0 })',
        );
      const pageFigures = (before: PageBench, after: PageBench, ms: number) => ({
        framesPerSecond: Number((((after.frames - before.frames) / ms) * 1000).toFixed(1)),
        longTasks: after.longTasks - before.longTasks,
        longTaskMsPerSecond: Number((((after.longTaskMs - before.longTaskMs) / ms) * 1000).toFixed(1)),
        longestTaskMs: Math.round(after.longestTaskMs),
        heapMiB: Number((after.heap / 2 ** 20).toFixed(1)),
      });

      // The same flow with chromium showing a blank page: what the browser itself costs this machine.
      await page.goto('data:text/html,<p>blank</p>');
      const blankBefore = await readBench();
      const blank = await runFlow();
      report({
        measure: 'flow, blank page open',
        ...blank.summary,
        ...pageFigures(blankBefore, await readBench(), blank.ms),
      });

      const loadStart = performance.now();
      await page.goto(`${url}/`);
      await page.getByLabel('Token').fill(token);
      await page.getByRole('button', { name: 'Log in' }).click();
      await page.getByTestId('count-succeeded').waitFor({ timeout: 30_000 });
      report({ measure: 'overview first paint with counts', ms: Math.round(performance.now() - loadStart) });
      const readCount = async () =>
        (await page.getByTestId('count-succeeded').getAttribute('data-value')) ?? '';
      const before = await readBench();
      const flow = await runFlow(readCount);
      const distinct = flow.seen.filter((value, i) => i === 0 || value !== flow.seen[i - 1]).length;
      report({
        measure: 'flow, overview open',
        ...flow.summary,
        liveAtEnd: await page.getByRole('status', { name: 'live: connected' }).count(),
        overviewSamples: flow.seen.length,
        overviewDistinctCounts: distinct,
        ...pageFigures(before, await readBench(), flow.ms),
      });
      await flowQueue.close();
      await flowBroker.close();

      // The timeline's read of the last minute of attempts (3,000 at most): the first read looks up
      // each job's task, later ones reuse it.
      for (const round of ['first', 'again']) {
        const t0 = performance.now();
        const spans = await call<{ spans: unknown[]; truncated: boolean }>(
          'GET',
          `/api/console/spans?from=${Date.now() - 60_000}&limit=3000`,
        );
        report({
          measure: 'timeline spans, last minute',
          round,
          spans: spans.spans.length,
          truncated: spans.truncated,
          ms: Number((performance.now() - t0).toFixed(1)),
        });
      }

      // What a first visit downloads: the page's scripts, compressed as the server sends them.
      const html = await (await fetch(`${url}/`)).text();
      let gzipJs = 0;
      let brJs = 0;
      for (const [, path] of html.matchAll(/src="(\/assets\/[^"]+\.js)"/g)) {
        for (const encoding of ['gzip', 'br'] as const) {
          const response = await fetch(`${url}${path}`, { headers: { 'accept-encoding': encoding } });
          const bytes = Number(response.headers.get('content-length'));
          if (encoding === 'gzip') gzipJs += bytes;
          else brJs += bytes;
          await response.arrayBuffer();
        }
      }
      report({
        measure: 'first-load JavaScript',
        gzipBytes: gzipJs,
        brotliBytes: brJs,
        budgetBytes: 300 * 1024,
      });
    } finally {
      await browser.close();
    }
  } finally {
    if (server !== undefined && server.exitCode === null) {
      server.kill('SIGTERM');
      await Promise.race([once(server, 'exit'), sleep(20_000)]);
      if (server.exitCode === null) server.kill('SIGKILL');
    }
    await rm(dir, { recursive: true, force: true, maxRetries: 5 });
  }
  if (flags.out !== undefined) {
    await appendFile(flags.out, `${results.map((r) => JSON.stringify(r)).join('\n')}\n`);
  }
  console.log('\n| measure | value |\n| --- | --- |');
  for (const r of results) {
    const { measure, ...rest } = r;
    console.log(`| ${measure}${r.name === undefined ? '' : `: ${r.name}`} | ${JSON.stringify(rest)} |`);
  }
}

await main();
