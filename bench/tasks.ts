// The task-queue benchmark driver: Skein's TaskQueue + Worker on its SQLite and Redis engines beside
// BullMQ on the same Redis. Every variant (engine × case) runs in a fresh process with an empty queue
// (bench/tasks/run-variant.ts); the order is reversed every round. Prints a header line and one
// Markdown table per case, with Skein ÷ BullMQ.
//
//   node bench/tasks.ts [--rounds 5] [--jobs 50000] [--latency-jobs 500] [--cases bulk-enqueue,...]
//                       [--variants skein-sqlite,skein-sqlite-inline,skein-redis,skein-redis-inline,bullmq]
//                       [--redis redis://127.0.0.1:6379] [--out results.jsonl]
// --redis runs every variant against that Redis (a quiet one of its own gives clean Redis CPU figures).

import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import os from 'node:os';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { median } from './pool/summarize.ts';

const RUN_VARIANT = fileURLToPath(new URL('./tasks/run-variant.ts', import.meta.url));
const VARIANT_TIMEOUT_MS = 600_000;

interface Case {
  readonly id: string;
  readonly title: string;
  readonly metrics: readonly {
    readonly key: string;
    readonly unit: string;
    readonly lowerIsBetter: boolean;
  }[];
  readonly latency: boolean;
}

const THROUGHPUT = [{ key: 'jobsPerSec', unit: 'jobs/s', lowerIsBetter: false }] as const;
/** End to end, also the CPU time per job of the worker's process and of Redis (INFO cpu). */
const E2E = [
  ...THROUGHPUT,
  { key: 'workerCpuUs', unit: 'µs worker CPU per job', lowerIsBetter: true },
  { key: 'redisCpuUs', unit: 'µs Redis CPU per job', lowerIsBetter: true },
] as const;
const CASES: readonly Case[] = [
  { id: 'bulk-enqueue', title: 'Bulk enqueue (batches of 1,000)', metrics: THROUGHPUT, latency: false },
  { id: 'e2e-c1', title: 'End-to-end no-op jobs, worker concurrency 1', metrics: E2E, latency: false },
  {
    id: 'e2e-c10',
    title: 'End-to-end no-op jobs, worker concurrency 10',
    metrics: E2E,
    latency: false,
  },
  {
    id: 'e2e-c100',
    title: 'End-to-end no-op jobs, worker concurrency 100',
    metrics: E2E,
    latency: false,
  },
  {
    id: 'latency',
    title: 'Add → complete latency, one job at a time',
    metrics: [
      { key: 'p50Ms', unit: 'ms p50', lowerIsBetter: true },
      { key: 'p99Ms', unit: 'ms p99', lowerIsBetter: true },
    ],
    latency: true,
  },
];
/** Skein's engines with jobs on a 2-thread pool, and inline (in the worker's thread, like BullMQ). */
const VARIANTS = [
  'skein-sqlite',
  'skein-sqlite-inline',
  'skein-redis',
  'skein-redis-inline',
  'bullmq',
] as const;

const { values: flags } = parseArgs({
  options: {
    rounds: { type: 'string', default: '5' },
    jobs: { type: 'string', default: '50000' },
    'latency-jobs': { type: 'string', default: '500' },
    cases: { type: 'string' },
    variants: { type: 'string' },
    out: { type: 'string' },
    redis: { type: 'string' },
    help: { type: 'boolean', default: false },
  },
});
if (flags.help) {
  console.log(`usage: node bench/tasks.ts [--rounds 5] [--jobs 50000] [--latency-jobs 500] [--cases IDS]
                           [--variants NAMES] [--redis URL] [--out results.jsonl]
  --rounds N          rounds of every variant (default 5), order reversed every round
  --jobs N            jobs per throughput case (default 50000)
  --latency-jobs N    jobs, one at a time, in the latency case (default 500)
  --cases IDS         a subset of: ${CASES.map((c) => c.id).join(', ')}
  --variants NAMES    a subset of: ${VARIANTS.join(', ')}
  --redis URL         run every variant against this Redis (default redis://127.0.0.1:6379, own key prefix)
  --out FILE          JSON lines to FILE as well`);
  process.exit(0);
}
const rounds = Number(flags.rounds);
const jobs = Number(flags.jobs);
const latencyJobs = Number(flags['latency-jobs']);
for (const [name, value] of [
  ['--rounds', rounds],
  ['--jobs', jobs],
  ['--latency-jobs', latencyJobs],
] as const) {
  if (!Number.isInteger(value) || value < 1)
    throw new Error(`${name} must be an integer >= 1 (got ${value})`);
}
const cases = CASES.filter((c) => flags.cases?.split(',').includes(c.id) ?? true);
const variants = VARIANTS.filter((v) => flags.variants?.split(',').includes(v) ?? true);
if (cases.length === 0 || variants.length === 0) {
  throw new Error(
    `--cases/--variants matched nothing; cases: ${CASES.map((c) => c.id).join(',')}; variants: ${VARIANTS.join(',')}`,
  );
}

console.log(
  `# Node ${process.version} · ${os.cpus()[0]?.model ?? 'unknown CPU'} · ${os.availableParallelism()} cores · load ${os
    .loadavg()
    .map((n) => n.toFixed(2))
    .join(
      ' ',
    )} · ${rounds} rounds · ${jobs} jobs (latency: ${latencyJobs})${flags.redis === undefined ? '' : ` · Redis ${flags.redis}`}`,
);

const records: object[] = [];
const values = new Map<string, number[]>();
for (let round = 0; round < rounds; round++) {
  const order = cases.flatMap((c) => variants.map((variant) => ({ c, variant })));
  if (round % 2 === 1) order.reverse();
  for (const { c, variant } of order) {
    const n = c.latency ? latencyJobs : jobs;
    process.stderr.write(`round ${round + 1}/${rounds}: ${c.id} ${variant}…\n`);
    const child = spawnSync(process.execPath, [RUN_VARIANT, c.id, variant, `${n}`], {
      encoding: 'utf8',
      timeout: VARIANT_TIMEOUT_MS,
      env: flags.redis === undefined ? process.env : { ...process.env, SKEIN_BENCH_REDIS_URL: flags.redis },
    });
    const line = child.stdout.trim().split('\n').at(-1) ?? '';
    let result: { ok?: boolean; metrics?: Record<string, number> };
    try {
      result = JSON.parse(line);
    } catch {
      console.error(`${c.id}/${variant} failed: ${child.stderr.slice(-2000)}`);
      continue;
    }
    records.push({ round, ...result });
    if (result.ok !== true) {
      console.error(`${c.id}/${variant}: results did not check out, dropped: ${line}`);
      continue;
    }
    for (const metric of c.metrics) {
      const value = result.metrics?.[metric.key];
      if (typeof value !== 'number') continue;
      const key = `${c.id}/${metric.key}/${variant}`;
      values.set(key, [...(values.get(key) ?? []), value]);
    }
  }
}

const format = (n: number): string => (n >= 100 ? n.toFixed(0) : n.toFixed(n >= 10 ? 1 : 2));
for (const c of cases) {
  for (const metric of c.metrics) {
    console.log(`\n## ${c.title}: ${metric.unit} (${metric.lowerIsBetter ? 'lower' : 'higher'} is better)\n`);
    console.log('| variant | median | min – max | rounds | this ÷ BullMQ |');
    console.log('| --- | ---: | ---: | --- | ---: |');
    const peer = median(values.get(`${c.id}/${metric.key}/bullmq`) ?? []);
    for (const variant of variants) {
      const rows = values.get(`${c.id}/${metric.key}/${variant}`) ?? [];
      if (rows.length === 0) {
        console.log(`| ${variant} | failed | | | |`);
        continue;
      }
      const mid = median(rows);
      const ratio = Number.isFinite(peer) ? `${(mid / peer).toFixed(2)}×` : '';
      console.log(
        `| ${variant} | ${format(mid)} | ${format(Math.min(...rows))} – ${format(Math.max(...rows))} | ${rows.map(format).join(' ')} | ${ratio} |`,
      );
    }
  }
}
if (flags.out !== undefined)
  writeFileSync(flags.out, `${records.map((r) => JSON.stringify(r)).join('\n')}\n`);
