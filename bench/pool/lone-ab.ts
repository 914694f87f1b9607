// Lone-call round trips of two source trees side by side in one process, beside the bare Atomics
// ping-pong: blocks of awaited `pool.run(noop, i)` calls alternate between the trees' ThreadPools (2
// workers each, named aaa and bbb) and the floor, so load that comes and goes on a shared machine
// falls on all of them alike, and the floor once more behind a promise (the least any pool whose run()
// returns a promise can cost: a microtask does the round trip and settles the promise the caller
// awaits). Per block: the p50 and the CPU per call of the calling thread and of
// that pool's workers (/proc/self/task/*/schedstat, first field: ns on CPU). Prints the medians of the
// blocks and the paired medians of the differences.
// Usage: taskset -c 0 node bench/pool/lone-ab.ts <treeA> <treeB> [rounds=30] [callsPerBlock=10000] [warmup=30000] [fixed|defaults]
// fixed (the default): minWorkers = maxWorkers = 2, as in bench/pool.ts; defaults: only maxWorkers = 2
// (minWorkers 0 and the idle timeout, as a pool made with the defaults).
// A tree is a checkout of this repository (a git worktree of another commit, node_modules linked).
// Linux only (schedstat).

import { readdirSync, readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { startAtomicsFloor } from './atomics-floor.ts';

const [treeA = '', treeB = '', roundsText = '30', callsText = '10000', warmText = '30000', sizing = 'fixed'] =
  process.argv.slice(2);
if (treeA === '' || treeB === '') {
  process.stderr.write(
    'usage: node bench/pool/lone-ab.ts <treeA> <treeB> [rounds] [callsPerBlock] [warmup] [fixed|defaults]\n',
  );
  process.exit(2);
}
const rounds = Number(roundsText);
const calls = Number(callsText);
const warmup = Number(warmText);

interface Side {
  readonly name: string;
  readonly tree: string;
  readonly pool: { run(task: unknown, ...args: unknown[]): Promise<unknown>; close(): Promise<void> };
  readonly noop: unknown;
}

async function side(tree: string, name: string): Promise<Side> {
  const { ThreadPool } = await import(`${tree}/src/pool/index.ts`);
  const tasks = await import(`${tree}/bench/pool/skein-tasks.ts`);
  const options = sizing === 'defaults' ? { maxWorkers: 2, name } : { minWorkers: 2, maxWorkers: 2, name };
  return { name, tree, pool: new ThreadPool(options), noop: tasks.noop };
}

/** CPU ns so far per thread group: the calling thread, each pool's workers (by name), the rest. */
function cpu(): Map<string, number> {
  const out = new Map<string, number>();
  for (const tid of readdirSync('/proc/self/task')) {
    try {
      const comm =
        tid === String(process.pid) ? 'main' : readFileSync(`/proc/self/task/${tid}/comm`, 'utf8').trim();
      const group = comm.startsWith('aaa') ? 'aaa' : comm.startsWith('bbb') ? 'bbb' : comm;
      const ns = Number(readFileSync(`/proc/self/task/${tid}/schedstat`, 'utf8').split(' ')[0]);
      out.set(group, (out.get(group) ?? 0) + ns);
    } catch {
      // A thread that ended between the listing and the read.
    }
  }
  return out;
}

const sides = [await side(treeA, 'aaa'), await side(treeB, 'bbb')];

// The floor: this thread and one worker answering through Atomics.wait/notify (atomics-floor.ts).
const floorThread = await startAtomicsFloor('flr');
const { roundTrip } = floorThread;
// The floor behind a promise: as an awaited pool call, one microtask hop to send, one to resume.
const SETTLED = Promise.resolve();
const viaPromise = (x: number): Promise<number> =>
  new Promise((resolve) => {
    void SETTLED.then(() => {
      roundTrip();
      resolve(x + 1);
    });
  });

interface Blocks {
  p50: number[];
  main: number[];
  workers: number[];
}
const blocks: Record<string, Blocks> = {
  floor: { p50: [], main: [], workers: [] },
  promise: { p50: [], main: [], workers: [] },
  aaa: { p50: [], main: [], workers: [] },
  bbb: { p50: [], main: [], workers: [] },
};
const times = new Float64Array(calls);

async function block(name: string, call: (i: number) => unknown, workers: string): Promise<void> {
  const before = cpu();
  for (let i = 0; i < calls; i++) {
    const start = performance.now();
    await call(i);
    times[i] = (performance.now() - start) * 1000;
  }
  const after = cpu();
  const sorted = times.slice().sort();
  const b = blocks[name]!;
  b.p50.push(sorted[calls >> 1]!);
  b.main.push((after.get('main')! - before.get('main')!) / calls / 1000);
  b.workers.push(((after.get(workers) ?? 0) - (before.get(workers) ?? 0)) / calls / 1000);
}

for (const s of sides) for (let i = 0; i < warmup; i++) await s.pool.run(s.noop, i);
for (let i = 0; i < warmup; i++) await viaPromise(i);
for (let r = 0; r < rounds; r++) {
  await block('floor', roundTrip, 'flr');
  await block('promise', viaPromise, 'flr');
  for (const s of r % 2 === 0 ? sides : [...sides].reverse())
    await block(s.name, (i) => s.pool.run(s.noop, i), s.name);
}

const median = (values: number[]): number => {
  const sorted = [...values].sort((x, y) => x - y);
  return sorted[sorted.length >> 1]!;
};
const f = (x: number): string => x.toFixed(2);
const floor = blocks.floor!;
const promiseFloor = blocks.promise!;
console.log(`${calls} calls per block, ${rounds} rounds, ${sizing} sizing; µs, medians of the blocks`);
console.log(
  `floor: p50 ${f(median(floor.p50))}, CPU/call calling thread ${f(median(floor.main))}, worker ${f(median(floor.workers))}`,
);
console.log(
  `floor behind an awaited promise: p50 ${f(median(promiseFloor.p50))}, CPU/call calling thread ${f(median(promiseFloor.main))}; over the floor (paired): p50 ${f(median(promiseFloor.p50.map((x, i) => x - floor.p50[i]!)))}`,
);
for (const s of sides) {
  const b = blocks[s.name]!;
  const over = (k: keyof Blocks): string => f(median(b[k].map((x, i) => x - floor[k][i]!)));
  console.log(
    `${s.name === 'aaa' ? 'A' : 'B'} ${s.tree}: p50 ${f(median(b.p50))}, CPU/call calling thread ${f(median(b.main))}, workers ${f(median(b.workers))}; over the floor (paired): p50 ${over('p50')}, calling thread ${over('main')}, workers ${over('workers')}`,
  );
}
const a = blocks.aaa!;
const b = blocks.bbb!;
const diff = (k: keyof Blocks): string => f(median(a[k].map((x, i) => b[k][i]! - x)));
const better = a.p50.filter((x, i) => b.p50[i]! < x).length;
console.log(
  `B - A (paired): p50 ${diff('p50')}, calling thread ${diff('main')}, workers ${diff('workers')}; B lower in ${better}/${rounds} rounds`,
);
for (const s of sides) await s.pool.close();
await floorThread.stop();
