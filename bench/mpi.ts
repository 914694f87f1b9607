// Skein's MPI beside mpi4py on Open MPI, OSU micro-benchmark method, 2 ranks: ping-pong latency at
// 8 B, 1 KiB, 64 KiB, 1 MiB (value path: codec vs pickle; buffer path: typed array vs Send/Recv),
// windowed bandwidth at 1 and 16 MiB, allreduce of 8 B and 1 MiB, bcast of 1 MiB, barrier; Skein with
// thread and process ranks. Each variant runs in a fresh process, order reversed every round; medians.
// Setup: installs Debian's python3-mpi4py and openmpi-bin with apt-get when absent (needs root).
// Run it: npm run bench:mpi [-- --rounds 5] [--only latency,bandwidth] [--variants thread,mpi4py]

import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { parseArgs } from 'node:util';

const { values } = parseArgs({
  options: {
    rounds: { type: 'string' },
    variant: { type: 'string' },
    only: { type: 'string' },
    variants: { type: 'string' },
    base: { type: 'string' },
    help: { type: 'boolean' },
  },
});
if (values.help === true) {
  console.log(`usage: node bench/mpi.ts [--rounds N] [--only PREFIXES] [--variants NAMES]
  --rounds N          rounds of every variant (default 5), order reversed every round
  --only PREFIXES     comma-separated metric prefixes to measure, e.g. "latency buffer,bandwidth,allreduce"
                      (metrics: latency value|buffer <bytes>, bandwidth buffer <bytes>, allreduce <bytes>,
                      bcast 1048576, barrier); default all
  --variants NAMES    comma-separated subset of: thread, process, mpi4py (default all)
  --base DIR          also run DIR's bench/mpi.ts with thread ranks as "base thread", in the same rounds
                      (DIR: a checkout of another commit, e.g. git worktree add /tmp/base <commit>)`);
  process.exit(0);
}
// Both sides read the selection from the environment, which rank threads, processes and Open MPI's
// ranks all inherit.
if (values.only !== undefined) process.env.SKEIN_BENCH_MPI_ONLY = values.only;

if (values.variant !== undefined) {
  const { mpirun } = await import('../src/mpi/index.ts');
  const { osu } = await import('./mpi/osu-rank.ts');
  const [result] = await mpirun(2, osu, { transport: values.variant as 'thread' | 'process' });
  process.stdout.write(`${JSON.stringify(result)}\n`);
  process.exit(0);
}

// Debian's, which apt-get installs; SKEIN_BENCH_PYTHON and SKEIN_BENCH_MPIRUN name others (a machine
// whose mpi4py came another way).
const PYTHON = process.env.SKEIN_BENCH_PYTHON ?? '/usr/bin/python3';
const MPIRUN = process.env.SKEIN_BENCH_MPIRUN ?? '/usr/bin/mpirun';
function ensurePeer(): boolean {
  const ready = (): boolean =>
    existsSync(MPIRUN) && spawnSync(PYTHON, ['-c', 'import mpi4py'], { stdio: 'ignore' }).status === 0;
  if (ready()) return true;
  console.error('installing python3-mpi4py and openmpi-bin (apt-get)…');
  spawnSync('apt-get', ['install', '-y', '-q', 'python3-mpi4py', 'openmpi-bin'], {
    stdio: 'inherit',
    env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
  });
  return ready();
}

const rounds = Number(values.rounds ?? 5);
const hasPeer = ensurePeer();
type Result = Record<string, number>;
const allVariants: Record<string, () => Result> = {
  'skein thread': () =>
    JSON.parse(
      execFileSync(process.execPath, [import.meta.filename, '--variant', 'thread'], { encoding: 'utf8' }),
    ) as Result,
  'skein process': () =>
    JSON.parse(
      execFileSync(process.execPath, [import.meta.filename, '--variant', 'process'], { encoding: 'utf8' }),
    ) as Result,
};
if (hasPeer) {
  allVariants.mpi4py = () =>
    JSON.parse(
      execFileSync(
        MPIRUN,
        [
          '--allow-run-as-root',
          '--oversubscribe',
          '-n',
          '2',
          PYTHON,
          new URL('mpi/osu.py', import.meta.url).pathname,
        ],
        {
          encoding: 'utf8',
        },
      ),
    ) as Result;
} else console.error('mpi4py or Open MPI is missing and could not be installed: Skein runs alone');
if (values.base !== undefined) {
  const baseScript = new URL(`file://${values.base.replace(/\/$/, '')}/bench/mpi.ts`).pathname;
  allVariants['base thread'] = () =>
    JSON.parse(
      execFileSync(process.execPath, [baseScript, '--variant', 'thread'], { encoding: 'utf8' }),
    ) as Result;
}
const wanted = values.variants
  ?.split(',')
  .flatMap((name) =>
    name === 'mpi4py' ? [name] : name === 'thread' ? ['skein thread', 'base thread'] : [`skein ${name}`],
  );
const variants = Object.fromEntries(
  Object.entries(allVariants).filter(([name]) => wanted === undefined || wanted.includes(name)),
);
const withPeer = variants.mpi4py !== undefined;
const skeinNames = Object.keys(variants).filter((name) => name !== 'mpi4py');

console.log(
  `# node ${process.version}, ${cpus()[0]?.model ?? 'cpu'} x${cpus().length}, load ${loadavg()
    .map((l) => l.toFixed(2))
    .join(' ')}, ${rounds} rounds`,
);
const samples: Record<string, Result[]> = {};
const names = Object.keys(variants);
for (let round = 0; round < rounds; round++) {
  for (const name of round % 2 === 0 ? names : names.toReversed()) {
    const result = variants[name]!();
    (samples[name] ??= []).push(result);
    console.log(JSON.stringify({ round, variant: name, result }));
  }
}

const median = (xs: number[]): number => {
  const sorted = xs.toSorted((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
};
const metrics = Object.keys(samples[names[0]!]![0]!);
const header = [
  'metric',
  ...names.map((n) => `${n} (median, min..max)`),
  ...(withPeer ? skeinNames.map((n) => `${n.replace('skein ', '')}/mpi4py`) : []),
];
console.log(`\n| ${header.join(' | ')} |\n|${header.map(() => ' --- ').join('|')}|`);
for (const metric of metrics) {
  const unit = metric.startsWith('bandwidth') ? 'MB/s' : 'µs';
  const cells = names.map((name) => {
    const xs = samples[name]!.map((r) => r[metric]!);
    return `${median(xs).toFixed(1)} ${unit} (${Math.min(...xs).toFixed(1)}..${Math.max(...xs).toFixed(1)})`;
  });
  const ratio = (name: string): string => {
    const ours = median(samples[name]!.map((r) => r[metric]!));
    const theirs = median(samples.mpi4py!.map((r) => r[metric]!));
    // Time: below 1 is faster than mpi4py; bandwidth: above 1 is faster.
    return (ours / theirs).toFixed(2);
  };
  console.log(`| ${[metric, ...cells, ...(withPeer ? skeinNames.map(ratio) : [])].join(' | ')} |`);
}
