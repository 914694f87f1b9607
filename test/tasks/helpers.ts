// Shared set-up of the task-queue tests: a SQLite file in a fresh temp dir per test, workers that poll
// fast, and a bounded wait on a condition read from the store (never a bare sleep).

import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import type { Executor } from '../../src/pool/index.ts';
import { type Broker, TaskQueue, Worker, type WorkerOptions } from '../../src/tasks/index.ts';
import { RedisBroker } from '../../src/tasks/redis/redis-broker.ts';
import { SqliteBroker } from '../../src/tasks/sqlite/sqlite-broker.ts';
import { deleteStore, REDIS_URL, randomPrefix, redisAvailable } from './redis-helpers.ts';

export type Engine = 'sqlite' | 'redis';

/** The engines the engine-independent suites run on: SQLite always, Redis when the machine has one. */
export const ENGINES: readonly Engine[] = (await redisAvailable()) ? ['sqlite', 'redis'] : ['sqlite'];

export interface Setup {
  readonly dir: string;
  /** The SQLite file (used by the SQLite engine only). */
  readonly db: string;
  readonly broker: Broker;
  readonly queue: TaskQueue;
  /** A started worker, closed after the test. */
  worker(options: Omit<WorkerOptions, 'broker'> & { broker?: Broker }): Promise<Worker>;
}

export const FAST = { pollInterval: 20, recoverInterval: 100, heartbeatInterval: 1000, progressInterval: 10 };

export async function setup(
  t: TestContext,
  pool?: Executor | 'inline',
  engine: Engine = 'sqlite',
): Promise<Setup> {
  const dir = await mkdtemp(join(tmpdir(), 'skein-tasks-'));
  const db = join(dir, 'tasks.db');
  const prefix = randomPrefix();
  const broker: Broker =
    engine === 'redis'
      ? new RedisBroker({ url: REDIS_URL, prefix })
      : new SqliteBroker({ path: db, pollInterval: 10 });
  const workers: Worker[] = [];
  t.after(async () => {
    await Promise.all(workers.map((worker) => worker.destroy()));
    await broker.close();
    if (engine === 'redis') await deleteStore(prefix);
    // A pool thread may still be writing into dir as its aborted task unwinds: retry on ENOTEMPTY.
    await rm(dir, { recursive: true, force: true, maxRetries: 10, retryDelay: 50 });
  });
  return {
    dir,
    db,
    broker,
    queue: new TaskQueue({ broker }),
    async worker(options) {
      const worker = new Worker({ broker, ...FAST, ...(pool === undefined ? {} : { pool }), ...options });
      workers.push(worker);
      await worker.start();
      return worker;
    },
  };
}

/** Polls `check` until it returns a value other than undefined, for at most `ms`. */
export async function until<T>(
  what: string,
  check: () => Promise<T | undefined> | T | undefined,
  ms = 10_000,
): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await delay(10);
  }
}

export async function lines(path: string): Promise<string[]> {
  const text = await readFile(path, 'utf8').catch(() => '');
  return text.split('\n').filter((line) => line !== '');
}
