// The console's data shaping, without a browser: the SSE framing, chart series, timeline lanes and
// zoom, the job list's URL filters, formatting, batching; and the server side's recording of attempts
// and throughput (console-activity.ts) and function call stats.

import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { gunzipSync } from 'node:zlib';
import { attemptViews, ConsoleActivity, percentileOf } from '../../src/cloud/api/console-activity.ts';
import { type JobFilter, matchesFilter } from '../../src/cloud/api/console-api.ts';
import { FunctionCallStats } from '../../src/cloud/api/console-function-stats.ts';
import type { SpanView } from '../../src/cloud/api/console-schemas.ts';
import { encodedBody, loadConsole, pickEncoding } from '../../src/cloud/console-routes.ts';
import { LiveFeed } from '../../src/cloud/live-feed.ts';
import type { Broker, BrokerEvent, JobInfo } from '../../src/tasks/index.ts';
import { JOB_STATES } from '../../src/tasks/index.ts';
import { Batcher } from '../../web/src/lib/batch.ts';
import {
  formatBytes,
  formatCount,
  formatDuration,
  formatJson,
  formatRelative,
} from '../../web/src/lib/format.ts';
import {
  EMPTY_QUERY,
  isFiltered,
  jobQueryString,
  parseJobQuery,
  replayTarget,
  STATES,
} from '../../web/src/lib/job-query.ts';
import { linePath, mergeByTime, niceMax, runTimeSeries, throughputSeries } from '../../web/src/lib/series.ts';
import { SseParser } from '../../web/src/lib/sse.ts';
import {
  agentOfWorker,
  concurrencyProfile,
  MIN_WINDOW_MS,
  packLanes,
  panWindow,
  spanBox,
  zoomWindow,
} from '../../web/src/lib/timeline.ts';

test('the SSE parser joins frames split anywhere, keeps multi-line data, ids and comments, and ignores CRLF', () => {
  const text =
    ': ready\r\n\r\nevent: job\ndata: {"a":1}\nid: 7\n\nevent: log\ndata: line one\ndata: line two\n\n';
  for (let cut = 0; cut <= text.length; cut++) {
    const parser = new SseParser();
    const frames = [...parser.push(text.slice(0, cut)), ...parser.push(text.slice(cut))];
    assert.deepEqual(
      frames,
      [
        { event: '', data: '', id: undefined },
        { event: 'job', data: '{"a":1}', id: '7' },
        { event: 'log', data: 'line one\nline two', id: undefined },
      ],
      `cut at ${cut}`,
    );
  }
  assert.deepEqual(new SseParser().push('data: x'), [], 'an unfinished frame waits for its blank line');
});

test('throughput sums buckets per step in jobs per second, zero where nothing finished after recording began', () => {
  const bucket = (at: number, succeeded: number, failed = 0) => ({
    at,
    started: succeeded + failed,
    succeeded,
    failed,
    runP50Ms: 5,
    runP95Ms: 9,
  });
  const points = throughputSeries(
    [bucket(10_000, 4), bucket(11_000, 6, 2), bucket(16_000, 1)],
    10_000,
    18_000,
    2000,
    9000,
  );
  assert.deepEqual(
    points.map((p) => [p.t, p.succeeded, p.failed]),
    [
      [10_000, 5, 1],
      [12_000, 0, 0],
      [14_000, 0, 0],
      [16_000, 0.5, 0],
    ],
  );
  assert.deepEqual(
    throughputSeries([bucket(16_000, 2)], 10_000, 18_000, 2000, 15_000).map((p) => p.t),
    [14_000, 16_000],
    'steps before the recording started are left out, not drawn as zero',
  );
  assert.deepEqual(throughputSeries([], 5, 5, 1000, null), []);
  const runs = runTimeSeries([bucket(10_000, 1), { ...bucket(11_000, 1), runP95Ms: 50 }], 0, 20_000, 2000);
  assert.deepEqual(runs, [{ t: 10_000, p50: 5, p95: 50 }], 'the worst bucket of a step shows');
});

test('merging by time replaces a bucket read again, keeps order and drops what left the window', () => {
  const merged = mergeByTime(
    [
      { at: 1, v: 'old' },
      { at: 2, v: 'a' },
      { at: 3, v: 'b' },
    ],
    [
      { at: 3, v: 'new' },
      { at: 4, v: 'c' },
    ],
    2,
  );
  assert.deepEqual(
    merged.map((m) => `${m.at}${m.v}`),
    ['2a', '3new', '4c'],
  );
});

test('chart scaling rounds the axis to 1, 2 or 5 and a null breaks the line', () => {
  assert.deepEqual([0, 0.3, 1, 3, 7, 11, 480].map(niceMax), [1, 0.5, 1, 5, 10, 20, 500]);
  const path = linePath(
    [
      { t: 0, v: 0 },
      { t: 50, v: 10 },
      { t: 60, v: null },
      { t: 100, v: 20 },
    ],
    0,
    100,
    10,
    100,
    50,
  );
  assert.equal(path, 'M0.0,50.0L50.0,0.0M100.0,0.0', 'clamped to the top, new segment after the gap');
});

const span = (jobId: string, workerId: string, start: number, end: number | null): SpanView => ({
  jobId,
  task: 't.ts:x',
  workerId,
  attempt: 1,
  start,
  end,
  outcome: end === null ? null : 'succeeded',
});

test('lanes hold no two overlapping attempts, and a worker gets as many rows as attempts it ran at once', () => {
  const spans = [
    span('a', 'w1', 0, 10),
    span('b', 'w1', 5, 15),
    span('c', 'w1', 10, 20),
    span('d', 'w2', 0, null),
    span('e', 'w1', 6, 8),
  ];
  const lanes = packLanes(spans, 100);
  assert.deepEqual(
    lanes.map((lane) => [lane.key, lane.spans.map((s) => s.jobId).join('')]),
    [
      ['w1#0', 'ac'],
      ['w1#1', 'b'],
      ['w1#2', 'e'],
      ['w2#0', 'd'],
    ],
  );
  // Invariant over many random runs: within a lane, attempts never overlap; every span is placed once.
  for (let round = 0; round < 200; round++) {
    const random = Array.from({ length: 30 }, (_, i) => {
      const start = Math.floor(Math.random() * 100);
      return span(
        `j${i}`,
        `w${i % 3}`,
        start,
        Math.random() < 0.1 ? null : start + Math.floor(Math.random() * 30),
      );
    });
    const packed = packLanes(random, 200);
    assert.equal(
      packed.reduce((n, lane) => n + lane.spans.length, 0),
      random.length,
    );
    for (const lane of packed) {
      for (let i = 1; i < lane.spans.length; i++) {
        assert.ok((lane.spans[i - 1]!.end ?? 200) <= lane.spans[i]!.start, `lane ${lane.key} overlaps`);
      }
    }
  }
  assert.equal(agentOfWorker('agent-0123abcd.3'), 'agent-0123abcd');
  assert.equal(agentOfWorker('vm:1:abc'), 'vm:1:abc');
});

test('zoom keeps the point under the cursor, stays within its limits, and pan moves by a fraction', () => {
  const window = { from: 1000, to: 2000 };
  assert.deepEqual(zoomWindow(window, 0.5, 1250), { from: 1125, to: 1625 });
  assert.deepEqual(
    zoomWindow(window, 0.0001),
    { from: 1450, to: 1550 },
    `never narrower than ${MIN_WINDOW_MS} ms`,
  );
  assert.equal(
    zoomWindow({ from: 0, to: 3_000_000 }, 10).to - zoomWindow({ from: 0, to: 3_000_000 }, 10).from,
    3_600_000,
  );
  assert.deepEqual(panWindow(window, -0.25), { from: 750, to: 1750 });
  assert.deepEqual(spanBox({ start: 1500, end: 1600 }, window, 9999), { left: 50, width: 10 });
  assert.deepEqual(
    spanBox({ start: 500, end: null }, window, 1200),
    { left: 0, width: 20 },
    'running: until now',
  );
  assert.equal(spanBox({ start: 2500, end: 2600 }, window, 9999), undefined);
  assert.deepEqual(spanBox({ start: 1500, end: 1500 }, window, 9999)?.width, 0.2, 'an instant stays visible');
});

test('the concurrency profile averages attempts running at once per step', () => {
  const spans = [span('a', 'w', 0, 100), span('b', 'w', 50, 100), span('c', 'w', 0, null)];
  assert.deepEqual(concurrencyProfile(spans, { from: 0, to: 100 }, 4, 100), [2, 2, 3, 3]);
  assert.deepEqual(concurrencyProfile([], { from: 0, to: 100 }, 2, 100), [0, 0]);
});

test('job filters survive a round trip through the URL, bad values fall back to defaults', () => {
  const query = {
    ...EMPTY_QUERY,
    states: ['failed', 'dead'] as const,
    q: 'boom',
    from: 1000,
    limit: 100,
    offset: 200,
  };
  const text = jobQueryString({ ...query, states: [...query.states] });
  assert.equal(text, 'state=failed%2Cdead&q=boom&from=1000&limit=100&offset=200');
  assert.deepEqual(parseJobQuery(`?${text}`), { ...query, states: ['failed', 'dead'] });
  assert.deepEqual(parseJobQuery('?state=nope,running&limit=7&offset=-3&from=x'), {
    ...EMPTY_QUERY,
    states: ['running'],
  });
  assert.equal(jobQueryString(EMPTY_QUERY), '');
  assert.equal(isFiltered(EMPTY_QUERY), false);
  assert.equal(isFiltered({ ...EMPTY_QUERY, agent: 'agent-1' }), true);
  assert.deepEqual(replayTarget('src/tasks.ts:resize'), { module: 'src/tasks.ts', export: 'resize' });
  assert.equal(
    replayTarget(`bundle:${'a'.repeat(64)}#greet`),
    undefined,
    'a function job is invoked, not submitted',
  );
  assert.equal(replayTarget('file:///elsewhere/x.ts#y'), undefined);
});

test('formatting never shows NaN and always names its unit', () => {
  assert.deepEqual([null, -5, 950, 1234, 45_000, 200_000, 7_500_000, 400_000_000].map(formatDuration), [
    '—',
    '0 ms',
    '950 ms',
    '1.23 s',
    '45.0 s',
    '3 min 20 s',
    '2 h 5 min',
    '5 d',
  ]);
  assert.equal(formatRelative(5000, 10_000), '5 s ago');
  assert.equal(formatRelative(190_000, 10_000), 'in 3 min 0 s');
  assert.equal(formatRelative(Number.NaN, 0), '—');
  assert.deepEqual([0, 1536, 5 * 2 ** 30, -1].map(formatBytes), ['0 B', '1.5 KiB', '5.0 GiB', '—']);
  assert.deepEqual([3, 1500, 25_000, 3_400_000].map(formatCount), ['3', '1.5k', '25k', '3.4M']);
  assert.match(formatJson('x'.repeat(50), 10), /^"x{9}\n… \(42 more characters\)$/);
  const cyclic: { self?: unknown } = {};
  cyclic.self = cyclic;
  assert.equal(formatJson(cyclic), '[object Object]');
});

test('a batcher hands over at most one batch per interval, in order, keeping the latest when it overflows', async () => {
  const batches: number[][] = [];
  const { promise, resolve } = Promise.withResolvers<void>();
  const batcher = new Batcher<number>(
    20,
    (items) => {
      batches.push(items);
      resolve();
    },
    5,
  );
  for (let i = 0; i < 8; i++) batcher.push(i);
  await promise;
  assert.deepEqual(batches, [[3, 4, 5, 6, 7]]);
  assert.equal(batcher.dropped, 3);
  batcher.push(9);
  batcher.close();
  batcher.flushNow();
  assert.equal(batches.length, 1, 'closed: nothing more is handed over');
});

/** A broker that only lists events: ConsoleActivity follows no store in these tests. */
function activity(): { recorder: ConsoleActivity; feed: LiveFeed; close: () => void } {
  const closing = new AbortController();
  const feed = new LiveFeed({
    registry: { list: async () => [] } as never,
    agentTimeout: 1000,
    stats: async () => {
      throw new Error('not used');
    },
  });
  const recorder = new ConsoleActivity({
    broker: {} as Broker,
    feed,
    closing: closing.signal,
    warn: () => {},
  });
  return { recorder, feed, close: () => closing.abort() };
}

const event = (
  type: BrokerEvent['type'],
  jobId: string,
  at: number,
  workerId: string | null = 'w.1',
): BrokerEvent => ({
  type,
  jobId,
  queue: 'default',
  workerId,
  at,
});

test('the console records each attempt with its worker and outcome, and per-second throughput', () => {
  const { recorder, feed, close } = activity();
  const base = 1_000_000_000_000;
  recorder.record(event('enqueued', 'a', base));
  recorder.record(event('started', 'a', base + 10, 'agent-1.1'));
  recorder.record(event('retrying', 'a', base + 30));
  recorder.record(event('started', 'a', base + 1500, 'agent-2.1'));
  recorder.record(event('succeeded', 'a', base + 1600));
  recorder.record(event('started', 'b', base + 1700));
  recorder.record(event('cancelled', 'c', base + 1800));
  assert.deepEqual(
    recorder.attemptsOf('a').map((s) => [s.workerId, s.start - base, (s.end ?? 0) - base, s.outcome]),
    [
      ['agent-1.1', 10, 30, 'retrying'],
      ['agent-2.1', 1500, 1600, 'succeeded'],
    ],
  );
  assert.equal(recorder.workerOf('a'), 'agent-2.1');
  assert.deepEqual(
    attemptViews(recorder.attemptsOf('a'), 3).map((a) => a.attempt),
    [2, 3],
    'numbered back from the current attempt',
  );
  const { spans, truncated } = recorder.spans(base + 1000, base + 2000, 10);
  assert.deepEqual(
    spans.map((s) => s.jobId),
    ['a', 'b'],
  );
  assert.equal(truncated, false);
  assert.equal(recorder.spans(base, base + 2000, 1).truncated, true);
  feed.emit('metrics', {
    at: base + 1900,
    queue: 'default',
    counts: { scheduled: 0, queued: 0, running: 1, succeeded: 1, failed: 0, dead: 0, cancelled: 1 },
    finishedLastMinute: 1,
    latencyP50Ms: 5,
    latencyP99Ms: 5,
    agents: { ready: 0, busy: 0, lost: 0, stopped: 0 },
    agentJobsRunning: 0,
  });
  const view = recorder.activity(0);
  assert.deepEqual(
    view.buckets.map((b) => [b.at - base, b.started, b.succeeded, b.failed, b.runP50Ms]),
    [
      [0, 1, 0, 1, 20],
      [1000, 2, 1, 0, 100],
    ],
  );
  assert.equal(view.samples.length, 1);
  close();
  feed.emit('metrics', { ...view.samples[0]!, at: base + 5000 });
  assert.equal(recorder.activity(0).samples.length, 1, 'a closed server keeps no more samples');
  assert.deepEqual(
    [percentileOf([], 0.5), percentileOf([1, 2, 3, 4], 0.5), percentileOf([1, 2, 3, 4], 0.99)],
    [null, 2, 4],
  );
});

test('a search matches on id, task, tenant or error text, case-insensitively, within its time bounds', () => {
  const info = {
    id: '01ABC',
    createdAt: 5000,
    error: new Error('Disk Full'),
    workerId: null,
  } as unknown as JobInfo;
  const base = {
    states: [],
    task: undefined,
    agent: undefined,
    text: undefined,
    from: undefined,
    to: undefined,
  };
  const match = (filter: Partial<JobFilter>, worker?: string) =>
    matchesFilter(info, 'jobs/resize.ts:run', 'acme', worker, { ...base, ...filter });
  assert.equal(match({ text: 'disk full' }), true);
  assert.equal(match({ text: '01abc' }), true);
  assert.equal(match({ text: 'ACME' }), true);
  assert.equal(match({ text: 'nothing' }), false);
  assert.equal(match({ task: 'resize' }), true);
  assert.equal(match({ task: 'Resize' }), false, 'the task filter is exact in case');
  assert.equal(match({ from: 5000, to: 5001 }), true);
  assert.equal(match({ from: 5001 }), false);
  assert.equal(match({ to: 5000 }), false);
  assert.equal(match({ agent: 'agent-7' }, 'agent-7.2'), true);
  assert.equal(match({ agent: 'agent-7' }), false, 'no worker known: no match');
});

test('function call stats give percentiles and error rates per tenant and name over the window', () => {
  const stats = new FunctionCallStats();
  const now = 10_000_000;
  for (let i = 1; i <= 10; i++)
    stats.record('greet', { at: now - i, ms: i * 10, status: i === 10 ? 502 : 200 });
  stats.record('greet', { at: now, ms: 1, status: 429 });
  stats.record('greet', { at: now - 60 * 60_000, ms: 9999, status: 500 });
  stats.record('acme/greet', { at: now, ms: 5, status: 200 });
  const all = stats.view(undefined, now);
  assert.deepEqual(
    all.map((s) => [s.tenant, s.name, s.calls, s.errors, s.rejected, s.p50Ms, s.p95Ms]),
    [
      ['acme', 'greet', 1, 0, 0, 5, 5],
      ['default', 'greet', 11, 1, 1, 50, 100],
    ],
  );
  assert.deepEqual(
    stats.view('acme', now).map((s) => s.tenant),
    ['acme'],
  );
});

test('the console files are read once with their compressed forms, and the encoding follows Accept-Encoding', async (t) => {
  assert.deepEqual(
    [undefined, 'identity', 'gzip', 'gzip, br', 'br;q=0, gzip', 'gzip;q=0, br;q=0', '*', 'GZIP;q=0.5'].map(
      pickEncoding,
    ),
    [undefined, undefined, 'gzip', 'br', 'gzip', undefined, 'br', 'gzip'],
  );
  const dir = await mkdtemp(join(tmpdir(), 'skein-console-dist-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  assert.equal(await loadConsole(dir), undefined, 'no index.html: not built');
  await mkdir(join(dir, 'assets'));
  await writeFile(join(dir, 'index.html'), '<!doctype html><div id="app"></div>');
  await writeFile(join(dir, 'assets/app-1a2b.js'), `console.log(${JSON.stringify('x'.repeat(4000))});`);
  const bundle = await loadConsole(dir);
  const page = bundle?.files.get('/index.html');
  const script = bundle?.files.get('/assets/app-1a2b.js');
  assert.ok(page !== undefined && script !== undefined);
  assert.equal(page.cacheControl, 'no-cache');
  assert.equal(encodedBody(page, 'gzip'), page.identity, 'a tiny file is sent as it is');
  assert.equal(script.cacheControl, 'public, max-age=31536000, immutable');
  assert.equal(script.type, 'text/javascript; charset=utf-8');
  assert.equal(script.encoded.size, 0, 'nothing is compressed before it is asked for');
  const br = encodedBody(script, 'br');
  assert.ok(br.length < script.identity.length / 10);
  assert.equal(encodedBody(script, 'br'), br, 'compressed once, then kept');
  assert.equal(gunzipSync(encodedBody(script, 'gzip')).toString(), script.identity.toString());
  assert.equal(encodedBody(script, undefined), script.identity);
});

test("the console's list of job states is the task queue's (the page may import only types from src/)", () => {
  assert.deepEqual([...STATES].sort(), [...JOB_STATES].sort());
});
