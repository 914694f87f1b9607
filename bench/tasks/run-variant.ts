// One tasks benchmark variant (engine × case) in a fresh process: set up an empty queue, time the case,
// check that every job completed with its own result, clean the store, print one JSON line.
// Usage: node bench/tasks/run-variant.ts <case> <variant> <jobs>

import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { deleteKeysWithPrefix } from './redis-keys.ts';

const [caseId = '', variant = '', jobsArg = ''] = process.argv.slice(2);
const jobs = Number(jobsArg);
// SKEIN_BENCH_REDIS_URL points every variant at another Redis (bench/tasks.ts --redis): a Redis of the
// benchmark's own gives Redis CPU per job that no other client's load inflates.
const REDIS_URL = process.env.SKEIN_BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379';
const RESULT_TIMEOUT_MS = 120_000;

/** What each engine offers the cases. */
interface Adapter {
  /** Enqueues jobs 0..n-1 in bulk. */
  enqueueBulk(n: number): Promise<void>;
  /**
   * Starts a worker at `concurrency` and resolves once `n` jobs completed; `sum` then reads back the sum
   * of their results (outside the timed part).
   */
  drain(n: number, concurrency: number): Promise<{ sum(): Promise<number> }>;
  /** Adds one job and waits for its result (a worker must be running). */
  addAndWait(i: number): Promise<number>;
  startWorker(concurrency: number): Promise<void>;
  close(): Promise<void>;
}

async function skein(engine: 'sqlite' | 'redis', inline: boolean): Promise<Adapter> {
  const tasks = await import('../../src/tasks/index.ts');
  const { ThreadPool } = await import('../../src/pool/index.ts');
  const { noop } = await import('./noop-task.ts');
  const dir = mkdtempSync(join(tmpdir(), 'skein-bench-tasks-'));
  const prefix = `skein-bench-${randomUUID()}`;
  const broker =
    engine === 'sqlite'
      ? new (await import('../../src/tasks/sqlite/sqlite-broker.ts')).SqliteBroker({
          path: join(dir, 'tasks.db'),
        })
      : new (await import('../../src/tasks/redis/redis-broker.ts')).RedisBroker({ url: REDIS_URL, prefix });
  const queue = new tasks.TaskQueue({ broker, name: 'bench' });
  // Two threads run the no-op jobs whatever the claim concurrency (this machine has two cores), unless
  // the variant runs them inline, in the worker's own thread, as BullMQ runs its processor.
  const pool = inline ? undefined : new ThreadPool({ minWorkers: 2, maxWorkers: 2 });
  let worker: InstanceType<typeof tasks.Worker> | undefined;
  const newWorker = (concurrency: number) =>
    new tasks.Worker({ broker, queue: 'bench', tasks: [noop], concurrency, pool: pool ?? 'inline' });
  return {
    async enqueueBulk(n) {
      const entries = Array.from({ length: n }, (_, i) => ({ task: noop, args: [i] }));
      for (let at = 0; at < n; at += 1000) await queue.enqueueBulk(entries.slice(at, at + 1000));
    },
    async drain(n, concurrency) {
      let done = 0;
      const { promise, resolve } = Promise.withResolvers<void>();
      worker = newWorker(concurrency);
      worker.on('jobEnded', (_id, outcome) => {
        if (outcome === 'succeeded' && ++done === n) resolve();
      });
      await worker.start();
      await promise;
      return {
        // Checked after the clock stopped: every job's own stored result, read back from the store.
        async sum() {
          let sum = 0;
          let seen = 0;
          for (;;) {
            const page = await queue.list('succeeded', { limit: 1000, offset: seen });
            for (const info of page) sum += info.result as number;
            seen += page.length;
            if (page.length < 1000) break;
          }
          return seen === n ? sum : -1;
        },
      };
    },
    async addAndWait(i) {
      const job = await queue.enqueue(noop, i);
      return (await job.result({ timeout: RESULT_TIMEOUT_MS })) as number;
    },
    async startWorker(concurrency) {
      worker = newWorker(concurrency);
      await worker.start();
    },
    async close() {
      await worker?.close();
      await queue.close();
      await pool?.close();
      if (engine === 'redis') {
        const { Redis } = await import('ioredis');
        const redis = new Redis(REDIS_URL);
        await deleteKeysWithPrefix(redis, prefix);
        redis.disconnect();
      }
      await broker.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

async function bullmq(): Promise<Adapter> {
  const { Queue, QueueEvents, Worker } = await import('bullmq');
  const url = new URL(REDIS_URL);
  const connection = { host: url.hostname, port: Number(url.port || 6379), maxRetriesPerRequest: null };
  const prefix = `bullmq-bench-${randomUUID()}`;
  const queue = new Queue('bench', { connection, prefix });
  let worker: { close(): Promise<void> } | undefined;
  let events: InstanceType<typeof QueueEvents> | undefined;
  let sum = 0;
  const processor = async (job: { data: { i: number } }): Promise<number> => job.data.i;
  return {
    async enqueueBulk(n) {
      for (let at = 0; at < n; at += 1000) {
        const batch = Array.from({ length: Math.min(1000, n - at) }, (_, k) => ({
          name: 'noop',
          data: { i: at + k },
        }));
        await queue.addBulk(batch);
      }
    },
    async drain(n, concurrency) {
      let done = 0;
      const { promise, resolve } = Promise.withResolvers<void>();
      const draining = new Worker<{ i: number }, number>('bench', processor, {
        connection,
        prefix,
        concurrency,
      });
      worker = draining;
      draining.on('completed', (_job, result) => {
        sum += result;
        if (++done === n) resolve();
      });
      await promise;
      return { sum: async () => sum };
    },
    async addAndWait(i) {
      events ??= new QueueEvents('bench', { connection, prefix });
      await events.waitUntilReady();
      const job = await queue.add('noop', { i });
      return (await job.waitUntilFinished(events, RESULT_TIMEOUT_MS)) as number;
    },
    async startWorker(concurrency) {
      const serving = new Worker<{ i: number }, number>('bench', processor, {
        connection,
        prefix,
        concurrency,
      });
      worker = serving;
      await serving.waitUntilReady();
    },
    async close() {
      await worker?.close();
      await events?.close();
      await queue.obliterate({ force: true });
      await queue.close();
    },
  };
}

/** Redis's own CPU time so far (used_cpu_user + used_cpu_sys of INFO cpu), in ms. */
async function redisCpuMs(): Promise<number> {
  const { Redis } = await import('ioredis');
  const redis = new Redis(REDIS_URL);
  try {
    const info = await redis.info('cpu');
    const field = (name: string): number => Number(new RegExp(`^${name}:([0-9.]+)`, 'm').exec(info)?.[1]);
    return (field('used_cpu_user') + field('used_cpu_sys')) * 1000;
  } finally {
    redis.disconnect();
  }
}

function percentile(sorted: readonly number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? Number.NaN;
}

const adapter =
  variant === 'bullmq'
    ? await bullmq()
    : await skein(variant.startsWith('skein-redis') ? 'redis' : 'sqlite', variant.endsWith('-inline'));
let metrics: Record<string, number>;
let checksum: { expected: number; actual: number };
try {
  const expectedSum = (jobs * (jobs - 1)) / 2;
  if (caseId === 'bulk-enqueue') {
    const start = performance.now();
    await adapter.enqueueBulk(jobs);
    const ms = performance.now() - start;
    metrics = { jobsPerSec: jobs / (ms / 1000) };
    checksum = { expected: jobs, actual: jobs };
  } else if (caseId.startsWith('e2e-c')) {
    const concurrency = Number(caseId.slice('e2e-c'.length));
    await adapter.enqueueBulk(jobs);
    const redisBefore = await redisCpuMs();
    const cpuBefore = process.cpuUsage();
    const start = performance.now();
    const drained = await adapter.drain(jobs, concurrency);
    const ms = performance.now() - start;
    const cpu = process.cpuUsage(cpuBefore);
    const redisCpu = (await redisCpuMs()) - redisBefore;
    metrics = {
      jobsPerSec: jobs / (ms / 1000),
      // CPU time per job of this process (the worker) and of Redis (INFO cpu; includes any other
      // client's load on a shared Redis), in µs.
      workerCpuUs: (cpu.user + cpu.system) / jobs,
      redisCpuUs: (redisCpu * 1000) / jobs,
    };
    checksum = { expected: expectedSum, actual: await drained.sum() };
  } else if (caseId === 'latency') {
    await adapter.startWorker(1);
    for (let i = 0; i < 20; i++) await adapter.addAndWait(i); // warm-up
    const samples: number[] = [];
    let sum = 0;
    for (let i = 0; i < jobs; i++) {
      const start = performance.now();
      sum += await adapter.addAndWait(i);
      samples.push(performance.now() - start);
    }
    samples.sort((a, b) => a - b);
    metrics = { p50Ms: percentile(samples, 50), p99Ms: percentile(samples, 99) };
    checksum = { expected: expectedSum, actual: sum };
  } else {
    throw new Error(`unknown case ${caseId}; known: bulk-enqueue, e2e-c1, e2e-c10, e2e-c100, latency`);
  }
} finally {
  await adapter.close();
}
process.stdout.write(
  `${JSON.stringify({ case: caseId, variant, jobs, ok: checksum.expected === checksum.actual, metrics, checksum })}\n`,
);
