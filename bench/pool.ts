// The pool benchmark driver: Skein's ThreadPool and ProcessPool beside piscina, tinypool, workerpool,
// poolifier and no-library baselines. Every variant (library × workload) runs in a fresh process
// (bench/pool/run-variant.ts); the order of variants is reversed every round so drift on a throttled
// host hits every library alike. Prints a header line and one Markdown table per workload and metric.
//
//   node bench/pool.ts [--rounds 5] [--quick] [--json] [--out results.jsonl]
//                      [--workloads trivial,map,...] [--libraries skein,piscina,...] [--timeout 120]

import { spawn, spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { renderWorkload, summarize, type VariantResult } from './pool/summarize.ts';
import { sizeOf, WORKLOADS, type Workload } from './pool/workloads.ts';

const { values: flags } = parseArgs({
  options: {
    rounds: { type: 'string' },
    quick: { type: 'boolean', default: false },
    json: { type: 'boolean', default: false },
    out: { type: 'string' },
    workloads: { type: 'string' },
    libraries: { type: 'string' },
    timeout: { type: 'string', default: '120' },
    help: { type: 'boolean', default: false },
  },
});
if (flags.help) {
  console.log(`usage: node bench/pool.ts [--rounds 5] [--quick] [--json] [--out results.jsonl]
                          [--workloads ID,...] [--libraries NAME,...] [--timeout 120]
  --rounds N        rounds of every variant (default 5), order reversed every other round
  --quick           one round, every size divided by 10: a smoke run
  --json            JSON lines on stdout (the tables go to stderr)
  --out FILE        JSON lines to FILE (the tables stay on stdout)
  --workloads IDS   a subset of: ${WORKLOADS.map((w) => w.id).join(', ')}
  --libraries NAMES peers and baselines to run beside Skein (always run): piscina, tinypool, workerpool,
                    poolifier, atomics, bare, ipc
  --timeout S       seconds one variant may take (default 120)`);
  process.exit(0);
}

const DEFAULT_ROUNDS = 5;
/** --quick: one round, every size divided by this. */
const QUICK_DIVISOR = 10;
const rounds = Number(flags.rounds ?? (flags.quick ? 1 : DEFAULT_ROUNDS));
const variantTimeoutMs = Number(flags.timeout) * 1000;
if (!Number.isInteger(rounds) || rounds < 1)
  throw new Error(`--rounds must be an integer >= 1 (got ${flags.rounds})`);

const chosenWorkloads = flags.workloads?.split(',');
const chosenLibraries = flags.libraries?.split(',');
const workloads: Workload[] = WORKLOADS.filter((w) => chosenWorkloads?.includes(w.id) ?? true).map((w) => {
  const libraries = w.libraries.filter((l, i) => i === 0 || (chosenLibraries?.includes(l) ?? true));
  if (!flags.quick) return { ...w, libraries };
  const shrink = (n: number) => Math.max(10, Math.round(n / QUICK_DIVISOR));
  const sizes = w.sizes && Object.fromEntries(Object.entries(w.sizes).map(([k, n]) => [k, shrink(n)]));
  return { ...w, libraries, size: shrink(w.size), ...(sizes && { sizes }) };
});
if (chosenWorkloads !== undefined && workloads.length !== chosenWorkloads.length) {
  throw new Error(
    `--workloads: unknown id in ${flags.workloads}; known: ${WORKLOADS.map((w) => w.id).join(',')}`,
  );
}

const hasTaskset = spawnSync('taskset', ['-c', '0', 'true']).status === 0;
const runVariantPath = fileURLToPath(new URL('./pool/run-variant.ts', import.meta.url));

// Human output goes to stdout unless --json claims it for JSON lines; then it goes to stderr.
const jsonLines: string[] = [];
const emitJson = (record: object) => {
  const line = JSON.stringify(record);
  jsonLines.push(line);
  if (flags.json) process.stdout.write(`${line}\n`);
};
const print = (text: string) => (flags.json ? process.stderr : process.stdout).write(`${text}\n`);
const progress = (text: string) => process.stderr.write(`${text}\n`);

const runStart = performance.now();
const header = headerInfo();
print(header.line);
emitJson({ type: 'header', ...header });

interface Variant {
  readonly workload: Workload;
  readonly library: string;
}
const variants: Variant[] = workloads.flatMap((workload) =>
  workload.libraries.map((library) => ({ workload, library })),
);

const results: VariantResult[] = [];
for (let round = 1; round <= rounds; round++) {
  const order = round % 2 === 1 ? variants : [...variants].reverse();
  for (const { workload, library } of order) {
    const size = sizeOf(workload, library);
    const result = await runVariant(workload, library, size, round);
    results.push(result);
    emitJson({ type: 'result', ...result });
    const main = workload.metrics[0]!;
    const shown = result.ok
      ? `${result.metrics?.[main.key]?.toFixed(main.digits)} ${main.label}`
      : `FAILED: ${result.error}`;
    progress(`round ${round}/${rounds}  ${workload.id.padEnd(15)} ${library.padEnd(13)} ${shown}`);
  }
}

print('');
for (const workload of workloads) {
  const summaries = summarize(workload, results);
  for (const summary of summaries) emitJson({ type: 'summary', ...summary });
  print(renderWorkload(workload, summaries));
}
const failures = results.filter((r) => !r.ok);
if (failures.length > 0) {
  print('Failed runs:');
  const seen = new Set<string>();
  for (const f of failures) {
    const key = `${f.workload} ${f.library}: ${f.error ?? 'checksum mismatch'}`;
    if (!seen.has(key))
      print(`- ${key}${f.checksum ? ` (checksum ${f.checksum.actual} != ${f.checksum.expected})` : ''}`);
    seen.add(key);
  }
}
const footer = {
  loadavg: os.loadavg().map((l) => l.toFixed(2)),
  totalSeconds: Math.round((performance.now() - runStart) / 1000),
};
print(`# done in ${footer.totalSeconds} s | load at end ${footer.loadavg.join(' ')}`);
emitJson({ type: 'footer', ...footer });
if (flags.out !== undefined) writeFileSync(flags.out, `${jsonLines.join('\n')}\n`);

function headerInfo() {
  // Read from the installed copies: not every peer exports its package.json.
  const versions = Object.fromEntries(
    ['piscina', 'tinypool', 'workerpool', 'poolifier'].map((name) => {
      const file = new URL(`../node_modules/${name}/package.json`, import.meta.url);
      return [name, (JSON.parse(readFileSync(file, 'utf8')) as { version: string }).version];
    }),
  );
  const cpus = os.cpus();
  const load = os.loadavg().map((l) => l.toFixed(2));
  const head = spawnSync('git', ['rev-parse', '--short', 'HEAD'], { encoding: 'utf8' }).stdout.trim();
  // Uncommitted changes under src/ mean the numbers belong to no commit: say so.
  const dirty = spawnSync('git', ['status', '--porcelain', 'src'], { encoding: 'utf8' }).stdout.trim() !== '';
  const git = `${head}${dirty ? '+dirty' : ''}`;
  const info = {
    date: new Date().toISOString(),
    node: process.version,
    cpu: cpus[0]?.model ?? 'unknown',
    cores: cpus.length,
    availableParallelism: os.availableParallelism(),
    loadavg: load,
    commit: git,
    rounds,
    quick: flags.quick,
    versions,
  };
  const peers = Object.entries(versions)
    .map(([name, version]) => `${name} ${version}`)
    .join(', ');
  const line =
    `# Node ${info.node} | ${info.cpu} | ${info.cores} cores | load ${load.join(' ')} | ` +
    `${rounds} rounds${flags.quick ? ` (quick: sizes ÷ ${QUICK_DIVISOR})` : ''} | skein ${git} | ${peers} | ${info.date}`;
  return { line, ...info };
}

/** Runs one variant in a fresh process (pinned with taskset when the workload says so). */
function runVariant(
  workload: Workload,
  library: string,
  size: number,
  round: number,
): Promise<VariantResult> {
  const base = { round, workload: workload.id, library, size };
  if (workload.pinned && !hasTaskset) {
    return Promise.resolve({ ...base, ok: false, error: 'taskset (util-linux) not found; cannot pin' });
  }
  const args = [runVariantPath, workload.id, library, String(size)];
  const [command, argv] = workload.pinned
    ? ['taskset', ['-c', '0', process.execPath, ...args]]
    : [process.execPath, args];
  return new Promise((resolve) => {
    // Own process group, so a timeout kills the variant and anything it started.
    const child = spawn(command, argv, { stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    const killGroup = () => {
      try {
        process.kill(-child.pid!, 'SIGKILL');
      } catch {
        // Already gone.
      }
    };
    // The variant is in its own process group, so Ctrl-C does not reach it: forward the interrupt.
    const onInterrupt = () => {
      killGroup();
      process.exit(130);
    };
    process.once('SIGINT', onInterrupt);
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      killGroup();
    }, variantTimeoutMs);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      process.off('SIGINT', onInterrupt);
      const last = stdout.trim().split('\n').at(-1) ?? '';
      let parsed: Partial<VariantResult> | undefined;
      try {
        parsed = JSON.parse(last) as Partial<VariantResult>;
      } catch {
        parsed = undefined;
      }
      if (parsed !== undefined && !timedOut) {
        resolve({ ...base, ...parsed, round, ok: parsed.ok === true && code === 0 });
        return;
      }
      const why = timedOut ? `timed out after ${variantTimeoutMs / 1000} s` : `exited with ${signal ?? code}`;
      const tail = stderr.trim().split('\n').slice(-3).join(' / ');
      resolve({ ...base, ok: false, error: `${why}${tail ? `: ${tail}` : ''}` });
    });
  });
}
