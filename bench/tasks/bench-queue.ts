// What the task-queue measurement scripts (drain-threads.ts, profile-drain.ts, latency-cpu.ts) share: a
// Redis-engine queue under a prefix of its own, a Worker of the no-op task on a pool or inline, the
// jobs enqueued ahead in bulk, and a tear-down that leaves no key of the prefix behind.
import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import type { ThreadPool } from '../../src/pool/index.ts';
import { TaskQueue, Worker } from '../../src/tasks/index.ts';
import { RedisBroker } from '../../src/tasks/redis/redis-broker.ts';
import { noop } from './noop-task.ts';
import { deleteKeysWithPrefix } from './redis-keys.ts';

export interface BenchQueue {
  readonly prefix: string;
  readonly broker: RedisBroker;
  readonly queue: TaskQueue;
  /** Not started: the caller starts it when its clock does. */
  readonly worker: Worker;
  /** Closes the worker, the queue, `pool` and the broker, and deletes the prefix's keys. */
  close(): Promise<void>;
}

export function openBenchQueue(options: {
  url: string;
  /** The prefix starts with this, then a random id. */
  name: string;
  concurrency: number;
  /** Runs the jobs on it; inline when undefined. */
  pool: ThreadPool | undefined;
}): BenchQueue {
  const { url, pool } = options;
  const prefix = `${options.name}-${randomUUID()}`;
  const broker = new RedisBroker({ url, prefix });
  const queue = new TaskQueue({ broker, name: 'bench' });
  const worker = new Worker({
    broker,
    queue: 'bench',
    tasks: [noop],
    concurrency: options.concurrency,
    pool: pool ?? 'inline',
  });
  return {
    prefix,
    broker,
    queue,
    worker,
    async close() {
      await worker.close();
      await queue.close();
      await pool?.close();
      const redis = new Redis(url);
      await deleteKeysWithPrefix(redis, prefix);
      redis.disconnect();
      await broker.close();
    },
  };
}

/** Enqueues `jobs` no-op jobs (arguments 0, 1, …) in bulks of 1,000. */
export async function enqueueNoops(queue: TaskQueue, jobs: number): Promise<void> {
  const entries = Array.from({ length: jobs }, (_, i) => ({ task: noop, args: [i] }));
  for (let at = 0; at < jobs; at += 1000) await queue.enqueueBulk(entries.slice(at, at + 1000));
}

/** Settles once `worker` has ended `jobs` jobs successfully. */
export function succeeded(worker: Worker, jobs: number): Promise<void> {
  let done = 0;
  const { promise, resolve } = Promise.withResolvers<void>();
  worker.on('jobEnded', (_id, outcome) => {
    if (outcome === 'succeeded' && ++done === jobs) resolve();
  });
  return promise;
}

/** One drain: what starting `worker` until `finished` took in wall time and in this process's CPU. */
export interface Drain {
  readonly ms: number;
  readonly jobsPerSec: number;
  /** User and system CPU of the whole process per job, µs. */
  readonly cpuUsPerJob: number;
}

/** Starts `worker` and waits for `finished` (succeeded()), timing the drain of `jobs` jobs. */
export async function timedDrain(worker: Worker, finished: Promise<void>, jobs: number): Promise<Drain> {
  const cpu = process.cpuUsage();
  const start = performance.now();
  await worker.start();
  await finished;
  const ms = performance.now() - start;
  const used = process.cpuUsage(cpu);
  return { ms, jobsPerSec: jobs / (ms / 1000), cpuUsPerJob: (used.user + used.system) / jobs };
}
