// One benchmark variant (library × workload) in a fresh process: warm up, time, verify the checksum of
// every result, print one JSON line on stdout. bench/pool.ts runs this file once per variant per round.
// Usage: node bench/pool/run-variant.ts <workload> <library> <size>

import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { startAtomicsFloor } from './atomics-floor.ts';
import { ARRAY_LENGTH, noop as localNoop, makeArray } from './work.ts';

const WORKERS = 2;
/** The CPU time of one task in the 1 ms workloads. */
const SPIN_MS = 1;
/** Buffers in flight per run in the 1 MiB workloads: bounds memory, keeps both workers fed. */
const BUFFER_WINDOW = 4 * WORKERS;
const CLOSE_TIMEOUT_MS = 10_000;
/** Calls before timing in the throughput workloads: starts workers, compiles the hot paths. */
const WARMUP_CALLS = 2000;
/** Calls before timing a full queue: starts the workers and a first compile of the submit and result paths. */
const QUEUE_WARMUP_CALLS = 10_000;
/**
 * Calls before timing round trips: until V8 has compiled a library's call path its compiler threads
 * compete with the pool for the CPU (pinned: the one CPU), which the latency tables are not about.
 */
const LATENCY_WARMUP_CALLS = 30_000;
/** trivial-steady: full bursts run before the timed ones, and timed bursts (their median counts). */
const STEADY_WARMUP_BURSTS = 2;
const STEADY_TIMED_BURSTS = 3;

/** What every library offers the workloads, each call running one task in the pool. */
interface Adapter {
  noop(x: number): Promise<number>;
  spin(ms: number): Promise<number>;
  /** Sends a 1 MiB array, copied or moved with the library's own transfer API. */
  sumArray(array: Float64Array<ArrayBuffer>, transfer: boolean): Promise<number>;
  /** The library's map over many items; a task per item where it has no map of its own. */
  map(items: number[]): Promise<number[]>;
  close(): Promise<void>;
}

interface Result {
  metrics: Record<string, number>;
  checksum: { expected: number; actual: number };
  note?: string;
}

const here = (file: string) => fileURLToPath(new URL(file, import.meta.url));

function eachAsTask(adapter: Pick<Adapter, 'noop'>, items: number[]): Promise<number[]> {
  return Promise.all(items.map((x) => adapter.noop(x)));
}

async function skeinThreads(): Promise<Adapter> {
  const { ThreadPool } = await import('../../src/pool/index.ts');
  const tasks = await import('./skein-tasks.ts');
  const pool = new ThreadPool({ minWorkers: WORKERS, maxWorkers: WORKERS });
  return {
    noop: (x) => pool.run(tasks.noop, x),
    spin: (ms) => pool.run(tasks.spin, ms),
    sumArray: (array, transfer) =>
      transfer
        ? pool.submit(tasks.sumArray, [array], { transfer: [array.buffer] })
        : pool.run(tasks.sumArray, array),
    map: (items) => pool.map(tasks.noop, items),
    close: () => pool.close(),
  };
}

async function skeinProcesses(): Promise<Adapter> {
  const { ProcessPool } = await import('../../src/pool/index.ts');
  const tasks = await import('./skein-tasks.ts');
  const pool = new ProcessPool({ minWorkers: WORKERS, maxWorkers: WORKERS });
  return {
    noop: (x) => pool.run(tasks.noop, x),
    spin: (ms) => pool.run(tasks.spin, ms),
    sumArray: (array) => pool.run(tasks.sumArray, array),
    map: (items) => pool.map(tasks.noop, items),
    close: () => pool.close(),
  };
}

async function piscina(): Promise<Adapter> {
  const { Piscina } = await import('piscina');
  const pool = new Piscina({
    filename: here('./piscina-worker.ts'),
    minThreads: WORKERS,
    maxThreads: WORKERS,
  });
  const adapter: Adapter = {
    noop: (x) => pool.run(x, { name: 'noop' }),
    spin: (ms) => pool.run(ms, { name: 'spin' }),
    sumArray: (array, transfer) => pool.run(transfer ? Piscina.move(array) : array, { name: 'sumArray' }),
    map: (items) => eachAsTask(adapter, items),
    close: () => pool.close(),
  };
  return adapter;
}

async function tinypool(): Promise<Adapter> {
  const { Tinypool } = await import('tinypool');
  const pool = new Tinypool({
    filename: here('./tinypool-worker.ts'),
    minThreads: WORKERS,
    maxThreads: WORKERS,
  });
  const adapter: Adapter = {
    noop: (x) => pool.run(x, { name: 'noop' }),
    spin: (ms) => pool.run(ms, { name: 'spin' }),
    sumArray: (array, transfer) =>
      pool.run(array, transfer ? { name: 'sumArray', transferList: [array.buffer] } : { name: 'sumArray' }),
    map: (items) => eachAsTask(adapter, items),
    close: () => pool.destroy(),
  };
  return adapter;
}

async function workerpool(): Promise<Adapter> {
  const { default: wp } = await import('workerpool');
  const pool = wp.pool(here('./workerpool-worker.ts'), {
    minWorkers: WORKERS,
    maxWorkers: WORKERS,
    workerType: 'thread',
  });
  const adapter: Adapter = {
    noop: (x) => pool.exec('noop', [x]) as Promise<number>,
    spin: (ms) => pool.exec('spin', [ms]) as Promise<number>,
    sumArray: (array, transfer) =>
      (transfer
        ? pool.exec('sumArray', [array], { transfer: [array.buffer] })
        : pool.exec('sumArray', [array])) as Promise<number>,
    map: (items) => eachAsTask(adapter, items),
    close: async () => {
      await pool.terminate();
    },
  };
  return adapter;
}

async function poolifier(): Promise<Adapter> {
  const { FixedThreadPool } = await import('poolifier');
  const pool = new FixedThreadPool<unknown, number>(WORKERS, here('./poolifier-worker.ts'));
  await new Promise<void>((resolve) => {
    if (pool.info.ready) resolve();
    else pool.emitter?.once('ready', () => resolve());
  });
  return {
    noop: (x) => pool.execute(x, 'noop'),
    spin: (ms) => pool.execute(ms, 'spin'),
    sumArray: (array, transfer) =>
      transfer ? pool.execute(array, 'sumArray', undefined, [array.buffer]) : pool.execute(array, 'sumArray'),
    // poolifier's own map: one task per item, no chunking.
    map: (items) => pool.mapExecute(items, 'noop'),
    close: () => pool.destroy(),
  };
}

/** Plain child_process IPC: one forked child per worker slot, tasks dealt round-robin, no library. */
async function ipc(): Promise<Adapter> {
  const children = Array.from({ length: WORKERS }, () => fork(here('./ipc-child.ts'), { stdio: 'inherit' }));
  const pending = new Map<number, (value: number) => void>();
  for (const child of children) {
    child.on('message', (message: [number, number]) => {
      const resolve = pending.get(message[0])!;
      pending.delete(message[0]);
      resolve(message[1]);
    });
  }
  let nextId = 0;
  const call = (name: string, arg: number) =>
    new Promise<number>((resolve) => {
      const id = nextId++;
      pending.set(id, resolve);
      children[id % WORKERS]!.send([id, name, arg]);
    });
  const adapter: Adapter = {
    noop: (x) => call('noop', x),
    spin: (ms) => call('spin', ms),
    sumArray: () => Promise.reject(new Error('not measured for plain IPC')),
    map: (items) => eachAsTask(adapter, items),
    close: async () => {
      await Promise.all(
        children.map((child) => {
          const exited = new Promise((resolve) => child.once('exit', resolve));
          child.disconnect();
          return exited;
        }),
      );
    },
  };
  return adapter;
}

const ADAPTERS: Record<string, () => Promise<Adapter>> = {
  skein: skeinThreads,
  'skein-process': skeinProcesses,
  piscina,
  tinypool,
  workerpool,
  poolifier,
  ipc,
};

const sumOfNoops = (n: number) => (n * (n + 1)) / 2; // Σ noop(i) for i < n

/** Submits `n` calls at once and waits for all: the pool's throughput with a full queue. */
async function trivial(pool: Adapter, n: number): Promise<Result> {
  await Promise.all(Array.from({ length: Math.min(n, QUEUE_WARMUP_CALLS) }, (_, i) => pool.noop(i)));
  const start = performance.now();
  const results = await Promise.all(Array.from({ length: n }, (_, i) => pool.noop(i)));
  const wallMs = performance.now() - start;
  return {
    metrics: { tasksPerSec: n / (wallMs / 1000), wallMs },
    checksum: { expected: sumOfNoops(n), actual: sum(results) },
  };
}

/** Warm-up bursts, then the median of timed bursts of `n` calls each: the steady state of (a). */
async function trivialSteady(pool: Adapter, n: number): Promise<Result> {
  await Promise.all(Array.from({ length: Math.min(n, QUEUE_WARMUP_CALLS) }, (_, i) => pool.noop(i)));
  const rates: number[] = [];
  let expected = 0;
  let actual = 0;
  for (let burst = 0; burst < STEADY_WARMUP_BURSTS + STEADY_TIMED_BURSTS; burst++) {
    const start = performance.now();
    const results = await Promise.all(Array.from({ length: n }, (_, i) => pool.noop(i)));
    const wallMs = performance.now() - start;
    expected += sumOfNoops(n);
    actual += sum(results);
    if (burst >= STEADY_WARMUP_BURSTS) rates.push(n / (wallMs / 1000));
  }
  rates.sort((a, b) => a - b);
  return {
    metrics: { tasksPerSec: rates[rates.length >> 1]! },
    checksum: { expected, actual },
  };
}

async function map(pool: Adapter, n: number): Promise<Result> {
  const items = Array.from({ length: n }, (_, i) => i);
  await pool.map(items.slice(0, Math.min(n, WARMUP_CALLS)));
  const start = performance.now();
  const results = await pool.map(items);
  const wallMs = performance.now() - start;
  const inOrder = results.every((value, i) => value === localNoop(i));
  return {
    metrics: { itemsPerSec: n / (wallMs / 1000), wallMs },
    checksum: { expected: sumOfNoops(n), actual: inOrder ? sum(results) : Number.NaN },
  };
}

/**
 * The share of the workers' time that went into task work: n × SPIN_MS / (workers × wall). Unlike the
 * utilization (Σ time each task measured), it counts no time a worker was preempted while spinning, so a
 * pool whose main thread takes CPU from its workers cannot look busier for it.
 */
function workRate(n: number, wallMs: number): number {
  return (n * SPIN_MS) / (WORKERS * wallMs);
}

/** `n` tasks of SPIN_MS CPU each, submitted at once; utilization = Σ time in task / (workers × wall). */
async function spinTasks(pool: Adapter, n: number): Promise<Result> {
  await Promise.all(Array.from({ length: 4 * WORKERS }, () => pool.spin(SPIN_MS)));
  const start = performance.now();
  const results = await Promise.all(Array.from({ length: n }, () => pool.spin(SPIN_MS)));
  const wallMs = performance.now() - start;
  const spent = sum(results);
  return {
    metrics: {
      utilization: spent / (WORKERS * wallMs),
      workRate: workRate(n, wallMs),
      tasksPerSec: n / (wallMs / 1000),
      wallMs,
    },
    checksum: { expected: n, actual: results.filter((ms) => ms >= SPIN_MS).length },
  };
}

/** Sequential round trips of a trivial task: the library's own per-call cost. */
async function latency(pool: Adapter, n: number): Promise<Result> {
  for (let i = 0; i < Math.min(3 * n, LATENCY_WARMUP_CALLS); i++) await pool.noop(i);
  const times = new Float64Array(n);
  let total = 0;
  for (let i = 0; i < n; i++) {
    const start = performance.now();
    total += await pool.noop(i);
    times[i] = (performance.now() - start) * 1000;
  }
  return { metrics: percentiles(times), checksum: { expected: sumOfNoops(n), actual: total } };
}

/** `n` fresh 1 MiB arrays, at most BUFFER_WINDOW in flight, copied or transferred. */
async function buffers(pool: Adapter, n: number, transfer: boolean): Promise<Result> {
  let detached = 0;
  const runOne = async (i: number) => {
    const array = makeArray(i);
    const result = await pool.sumArray(array, transfer);
    // A moved buffer is detached here (length 0); a copied one keeps its length.
    if (array.length === 0) detached++;
    return result;
  };
  await windowed(Math.min(n, 50), runOne);
  detached = 0;
  const start = performance.now();
  const total = await windowed(n, runOne);
  const wallMs = performance.now() - start;
  const perSec = n / (wallMs / 1000);
  const mibPerTask = (ARRAY_LENGTH * Float64Array.BYTES_PER_ELEMENT) / 2 ** 20;
  return {
    metrics: { tasksPerSec: perSec, mibPerSec: perSec * mibPerTask, movedShare: detached / n, wallMs },
    checksum: { expected: n * ARRAY_LENGTH + 3 * sumOfNoops(n - 1), actual: total },
  };
}

async function windowed(n: number, runOne: (i: number) => Promise<number>): Promise<number> {
  let next = 0;
  let total = 0;
  const lane = async () => {
    while (next < n) {
      // Not `total += await …`: that reads `total` before the await and loses the other lanes' sums.
      const result = await runOne(next++);
      total += result;
    }
  };
  await Promise.all(Array.from({ length: BUFFER_WINDOW }, lane));
  return total;
}

/** Two bare threads pulling task indices from a shared counter: the ideal for the 1 ms workload. */
async function bareThreads(n: number): Promise<Result> {
  const shared = new SharedArrayBuffer(8);
  const state = new Int32Array(shared);
  const workers = Array.from(
    { length: WORKERS },
    () => new Worker(here('./bare-worker.ts'), { workerData: { shared, tasks: n, ms: SPIN_MS } }),
  );
  const done = workers.map(
    (worker) =>
      new Promise<{ spent: number; count: number }>((resolve, reject) => {
        worker.on('message', (message: 'ready' | { spent: number; count: number }) => {
          if (message !== 'ready') resolve(message);
        });
        worker.once('error', reject);
      }),
  );
  await Promise.all(workers.map((worker) => new Promise((resolve) => worker.once('message', resolve))));
  const start = performance.now();
  Atomics.store(state, 0, 1);
  Atomics.notify(state, 0);
  const results = await Promise.all(done);
  const wallMs = performance.now() - start;
  await Promise.all(workers.map((worker) => worker.terminate()));
  const spent = sum(results.map((r) => r.spent));
  return {
    metrics: {
      utilization: spent / (WORKERS * wallMs),
      workRate: workRate(n, wallMs),
      tasksPerSec: n / (wallMs / 1000),
      wallMs,
    },
    checksum: { expected: n, actual: sum(results.map((r) => r.count)) },
    note: 'includes no per-task message: both threads pull indices from one shared counter',
  };
}

/** Atomics.wait/notify ping-pong between this thread and one worker: the floor for a round trip. */
async function atomicsPingPong(n: number): Promise<Result> {
  const floor = await startAtomicsFloor();
  const { roundTrip } = floor;
  for (let i = 0; i < Math.min(3 * n, LATENCY_WARMUP_CALLS); i++) roundTrip();
  const times = new Float64Array(n);
  const first = floor.trips();
  for (let i = 0; i < n; i++) {
    const start = performance.now();
    roundTrip();
    times[i] = (performance.now() - start) * 1000;
  }
  const trips = floor.trips() - first;
  await floor.stop();
  return { metrics: percentiles(times), checksum: { expected: n, actual: trips } };
}

function percentiles(micros: Float64Array): Record<string, number> {
  const sorted = micros.slice().sort();
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
  return { p50Us: at(0.5), p99Us: at(0.99), meanUs: sum(sorted) / sorted.length };
}

function sum(values: ArrayLike<number>): number {
  let total = 0;
  for (let i = 0; i < values.length; i++) total += values[i]!;
  return total;
}

async function runVariant(workload: string, library: string, size: number): Promise<Result> {
  if (library === 'bare') return bareThreads(size);
  if (library === 'atomics') return atomicsPingPong(size);
  const create = ADAPTERS[library];
  if (create === undefined) throw new Error(`unknown library ${library}`);
  const pool = await create();
  try {
    return await measure(pool, workload, size);
  } finally {
    // Bounded, so a pool that never finishes closing shows up as an error instead of a hung run.
    let timer: NodeJS.Timeout | undefined;
    const closed = await Promise.race([
      pool.close().then(() => true),
      new Promise<false>((resolve) => (timer = setTimeout(resolve, CLOSE_TIMEOUT_MS, false))),
    ]);
    clearTimeout(timer);
    if (!closed) process.stderr.write(`${library}: close() did not settle within ${CLOSE_TIMEOUT_MS} ms\n`);
  }
}

function measure(pool: Adapter, workload: string, size: number): Promise<Result> {
  switch (workload) {
    case 'trivial':
    case 'process-trivial':
      return trivial(pool, size);
    case 'trivial-steady':
      return trivialSteady(pool, size);
    case 'map':
      return map(pool, size);
    case 'spin':
    case 'process-spin':
      return spinTasks(pool, size);
    case 'latency':
    case 'latency-pinned':
      return latency(pool, size);
    case 'copy':
      return buffers(pool, size, false);
    case 'transfer':
      return buffers(pool, size, true);
    default:
      throw new Error(`unknown workload ${workload}`);
  }
}

const [workload = '', library = '', sizeText = ''] = process.argv.slice(2);
const size = Number(sizeText);
try {
  const result = await runVariant(workload, library, size);
  const ok = result.checksum.expected === result.checksum.actual;
  process.stdout.write(`${JSON.stringify({ workload, library, size, ok, ...result })}\n`);
  process.exit(ok ? 0 : 1);
} catch (error) {
  const message = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
  process.stdout.write(`${JSON.stringify({ workload, library, size, ok: false, error: message })}\n`);
  process.exit(1);
}
