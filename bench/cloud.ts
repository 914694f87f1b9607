// The cloud benchmark driver: a trivial deployed function called over HTTP on `skein up` beside a bare
// Fastify route answering the same JSON, the same calls sent to an agent (`skein up --no-local-agent`
// and one `skein worker`: each call a job), and async calls through POST /fn/echo?async=1. Every variant
// runs in a fresh process that starts its own server (bench/cloud/run-variant.ts); the order is
// reversed every round. Prints a header line and one Markdown table per measure, with Skein ÷ Fastify.
//
//   node bench/cloud.ts [--quick] [--rounds 5] [--duration 5000] [--connections 50] [--jobs 2000]
//                       [--warmup 1000] [--out results.jsonl]

import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import os from 'node:os';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { median } from './pool/summarize.ts';

const RUN_VARIANT = fileURLToPath(new URL('./cloud/run-variant.ts', import.meta.url));
const VARIANT_TIMEOUT_MS = 300_000;

const { values: flags } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    rounds: { type: 'string' },
    duration: { type: 'string' },
    connections: { type: 'string', default: '50' },
    jobs: { type: 'string' },
    warmup: { type: 'string' },
    out: { type: 'string' },
  },
});
const quick = flags.quick === true;
const rounds = Number(flags.rounds ?? (quick ? 1 : 5));
const durationMs = Number(flags.duration ?? (quick ? 1500 : 5000));
const connections = Number(flags.connections);
const jobs = Number(flags.jobs ?? (quick ? 500 : 2000));
const warmupMs = Number(flags.warmup ?? (quick ? 500 : 1000));
for (const [name, value] of [
  ['--rounds', rounds],
  ['--duration', durationMs],
  ['--connections', connections],
  ['--jobs', jobs],
  ['--warmup', warmupMs],
] as const) {
  if (!Number.isInteger(value) || value < 1)
    throw new Error(`${name} must be an integer >= 1 (got ${value})`);
}

interface Measure {
  readonly variant: 'fastify' | 'skein-sync' | 'skein-agent-sync' | 'skein-async';
  readonly key: string;
  readonly unit: string;
  readonly lowerIsBetter: boolean;
}
const SYNC_MEASURES: readonly Omit<Measure, 'variant'>[] = [
  { key: 'reqPerSec', unit: 'req/s', lowerIsBetter: false },
  { key: 'p50Ms', unit: 'ms p50', lowerIsBetter: true },
  { key: 'p99Ms', unit: 'ms p99', lowerIsBetter: true },
];
const ASYNC_MEASURES: readonly Omit<Measure, 'variant'>[] = [
  { key: 'submitPerSec', unit: 'jobs/s accepted', lowerIsBetter: false },
  { key: 'allDoneMs', unit: 'ms until all done', lowerIsBetter: true },
  { key: 'donePerSec', unit: 'jobs/s end to end', lowerIsBetter: false },
];
const VARIANTS = ['fastify', 'skein-sync', 'skein-agent-sync', 'skein-async'] as const;

console.log(
  `# Node ${process.version} · ${os.cpus()[0]?.model ?? 'unknown CPU'} · ${os.availableParallelism()} cores · load ${os
    .loadavg()
    .map((n) => n.toFixed(2))
    .join(
      ' ',
    )} · ${rounds} rounds · ${durationMs} ms per sync variant (warm-up ${warmupMs} ms) · ${connections} connections · ${jobs} async jobs`,
);

const records: object[] = [];
const values = new Map<string, number[]>();
for (let round = 0; round < rounds; round++) {
  const order = [...VARIANTS];
  if (round % 2 === 1) order.reverse();
  for (const variant of order) {
    process.stderr.write(`round ${round + 1}/${rounds}: ${variant}…\n`);
    const amount = variant === 'skein-async' ? jobs : durationMs;
    const child = spawnSync(
      process.execPath,
      [RUN_VARIANT, variant, `${amount}`, `${connections}`, `${warmupMs}`],
      { encoding: 'utf8', timeout: VARIANT_TIMEOUT_MS },
    );
    const line = child.stdout.trim().split('\n').at(-1) ?? '';
    let result: { ok?: boolean; metrics?: Record<string, number> };
    try {
      result = JSON.parse(line);
    } catch {
      console.error(`${variant} failed: ${child.stderr.slice(-2000)}`);
      continue;
    }
    records.push({ round, ...result });
    if (result.ok !== true) {
      console.error(`${variant}: answers did not check out, dropped: ${line}`);
      continue;
    }
    for (const [key, value] of Object.entries(result.metrics ?? {})) {
      values.set(`${variant}/${key}`, [...(values.get(`${variant}/${key}`) ?? []), value]);
    }
  }
}

const format = (n: number): string => (n >= 100 ? n.toFixed(0) : n.toFixed(n >= 10 ? 1 : 2));
const row = (label: string, rows: readonly number[], ratio: string): string =>
  rows.length === 0
    ? `| ${label} | failed | | | |`
    : `| ${label} | ${format(median(rows))} | ${format(Math.min(...rows))} – ${format(Math.max(...rows))} | ${rows.map(format).join(' ')} | ${ratio} |`;

for (const measure of SYNC_MEASURES) {
  console.log(
    `\n## Sync invoke, ${connections} keep-alive connections: ${measure.unit} (${measure.lowerIsBetter ? 'lower' : 'higher'} is better)\n`,
  );
  console.log('| variant | median | min – max | rounds | this ÷ Fastify |');
  console.log('| --- | ---: | ---: | --- | ---: |');
  const peer = values.get(`fastify/${measure.key}`) ?? [];
  const skein = values.get(`skein-sync/${measure.key}`) ?? [];
  console.log(row('bare Fastify route', peer, peer.length > 0 ? '1.00×' : ''));
  const ratio = peer.length > 0 && skein.length > 0 ? `${(median(skein) / median(peer)).toFixed(2)}×` : '';
  console.log(row('skein POST /fn/echo', skein, ratio));
  const onAgent = values.get(`skein-agent-sync/${measure.key}`) ?? [];
  const agentRatio =
    peer.length > 0 && onAgent.length > 0 ? `${(median(onAgent) / median(peer)).toFixed(2)}×` : '';
  console.log(
    row('skein POST /fn/echo run on an agent (--no-local-agent + skein worker)', onAgent, agentRatio),
  );
}
console.log(`\n## Async calls: ${jobs} × POST /fn/echo?async=1 over ${connections} connections\n`);
console.log('| measure | median | min – max | rounds | |');
console.log('| --- | ---: | ---: | --- | ---: |');
for (const measure of ASYNC_MEASURES) {
  console.log(
    row(
      `${measure.unit} (${measure.lowerIsBetter ? 'lower' : 'higher'} is better)`,
      values.get(`skein-async/${measure.key}`) ?? [],
      '',
    ),
  );
}
if (flags.out !== undefined)
  writeFileSync(flags.out, `${records.map((r) => JSON.stringify(r)).join('\n')}\n`);
