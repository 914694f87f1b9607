// The sync and channel benchmark driver: Skein's primitives beside the bare mechanism underneath
// (Atomics) and the message passing Node offers (MessagePort), each variant in a fresh process, the
// order reversed every round. Prints a header line and one Markdown table per case.
//
//   node bench/sync.ts [--rounds 5] [--cases lock-uncontended,...] [--out results.jsonl]

import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import os from 'node:os';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { median } from './pool/summarize.ts';

interface Case {
  readonly id: string;
  readonly title: string;
  readonly metric: string;
  readonly unit: string;
  readonly lowerIsBetter: boolean;
  /** Variants; the first is Skein's, the last the baseline the goal is stated against. */
  readonly variants: readonly string[];
  /** The command-line arguments (script first) that run one variant and print its JSON line. */
  readonly command: (variant: string) => string[];
}

const SYNC_SCRIPT = fileURLToPath(new URL('./sync/run-case.ts', import.meta.url));
const CHANNEL_SCRIPT = fileURLToPath(new URL('./channel-ring.ts', import.meta.url));
const syncCase = (id: string) => (variant: string) => [SYNC_SCRIPT, id, variant];
const queueCase = (bytes: number, messages: number) => (variant: string) => [
  CHANNEL_SCRIPT,
  '--variant',
  variant,
  '--bytes',
  `${bytes}`,
  '--messages',
  `${messages}`,
];

const CASES: readonly Case[] = [
  {
    id: 'lock-uncontended',
    command: syncCase('lock-uncontended'),
    title: 'Uncontended acquire + release, one thread',
    metric: 'nsPerOp',
    unit: 'ns/op',
    lowerIsBetter: true,
    variants: ['skein-lock', 'skein-rlock', 'bare-cas'],
  },
  {
    id: 'lock-contended',
    command: syncCase('lock-contended'),
    title: 'Counter incremented by 2 threads, 1M each',
    metric: 'opsPerSec',
    unit: 'ops/s',
    lowerIsBetter: false,
    variants: ['skein-lock', 'bare-atomics-add'],
  },
  {
    id: 'wake-main-worker',
    command: syncCase('wake-main-worker'),
    title: 'Wake-up round trip, main thread (async) ↔ worker (blocking)',
    metric: 'usPerRoundTrip',
    unit: 'µs/round trip',
    lowerIsBetter: true,
    variants: ['skein-semaphore', 'bare-atomics', 'message-port'],
  },
  {
    id: 'wake-worker-worker',
    command: syncCase('wake-worker-worker'),
    title: 'Wake-up round trip, worker ↔ worker (both blocking)',
    metric: 'usPerRoundTrip',
    unit: 'µs/round trip',
    lowerIsBetter: true,
    variants: ['skein-semaphore', 'bare-atomics', 'message-port'],
  },
  {
    id: 'queue-8b',
    command: queueCase(8, 400_000),
    title: 'Queue throughput, 8-byte messages, worker → worker',
    metric: 'messagesPerSec',
    unit: 'msg/s',
    lowerIsBetter: false,
    variants: ['skein-queue', 'message-port'],
  },
  {
    id: 'queue-1kib',
    command: queueCase(1024, 100_000),
    title: 'Queue throughput, 1 KiB messages, worker → worker',
    metric: 'messagesPerSec',
    unit: 'msg/s',
    lowerIsBetter: false,
    variants: ['skein-queue', 'message-port'],
  },
];

const { values: flags } = parseArgs({
  options: {
    rounds: { type: 'string', default: '5' },
    cases: { type: 'string' },
    out: { type: 'string' },
  },
});
const rounds = Number(flags.rounds);
if (!Number.isInteger(rounds) || rounds < 1)
  throw new Error(`--rounds must be an integer >= 1 (got ${flags.rounds})`);
const chosen = flags.cases?.split(',');
const cases = CASES.filter((c) => chosen?.includes(c.id) ?? true);
if (chosen !== undefined && cases.length !== chosen.length) {
  throw new Error(`--cases: unknown id in ${flags.cases}; known: ${CASES.map((c) => c.id).join(',')}`);
}

const cpu = os.cpus()[0]?.model ?? 'unknown CPU';
console.log(
  `# Node ${process.version} · ${cpu} · ${os.availableParallelism()} cores · load ${os
    .loadavg()
    .map((n) => n.toFixed(2))
    .join(' ')} · ${rounds} rounds`,
);

const records: object[] = [];
const values = new Map<string, number[]>();
for (let round = 0; round < rounds; round++) {
  const order = cases.flatMap((c) => c.variants.map((variant) => ({ c, variant })));
  if (round % 2 === 1) order.reverse();
  for (const { c, variant } of order) {
    const child = spawnSync(process.execPath, c.command(variant), {
      encoding: 'utf8',
      timeout: 120_000,
    });
    const line = child.stdout.trim().split('\n').at(-1) ?? '';
    let result: { ok?: boolean; metrics?: Record<string, number>; [metric: string]: unknown } = {};
    try {
      result = JSON.parse(line);
    } catch {
      console.error(`${c.id}/${variant} failed: ${child.stderr.slice(-2000)}`);
      continue;
    }
    records.push({ round, ...result });
    if (result.ok !== true) {
      console.error(`${c.id}/${variant}: checksum mismatch, result dropped: ${line}`);
      continue;
    }
    const value = result.metrics?.[c.metric] ?? result[c.metric];
    if (typeof value !== 'number') continue;
    const key = `${c.id}/${variant}`;
    values.set(key, [...(values.get(key) ?? []), value]);
  }
}

const format = (n: number): string =>
  n >= 1e5 ? `${(n / 1e6).toFixed(2)}M` : n >= 100 ? n.toFixed(0) : n.toFixed(n >= 10 ? 1 : 2);

for (const c of cases) {
  console.log(`\n## ${c.title} (${c.unit}, ${c.lowerIsBetter ? 'lower' : 'higher'} is better)\n`);
  console.log('| variant | median | min – max | rounds | Skein ÷ this |');
  console.log('| --- | ---: | ---: | --- | ---: |');
  const skein = median(values.get(`${c.id}/${c.variants[0]}`) ?? []);
  for (const variant of c.variants) {
    const rows = values.get(`${c.id}/${variant}`) ?? [];
    if (rows.length === 0) {
      console.log(`| ${variant} | failed | | | |`);
      continue;
    }
    const mid = median(rows);
    console.log(
      `| ${variant} | ${format(mid)} | ${format(Math.min(...rows))} – ${format(Math.max(...rows))} | ${rows.map(format).join(' ')} | ${(skein / mid).toFixed(2)}× |`,
    );
  }
}
if (flags.out !== undefined)
  writeFileSync(flags.out, `${records.map((r) => JSON.stringify(r)).join('\n')}\n`);
