// Handoff on the Redis engine: a worker whose claim left the queue dry is registered idle, and an
// enqueue claims new jobs for it on the spot (as its own claim would: priority order, its tasks, caps,
// rate limits, lease) and pushes them through handoffs(). Tests that the delivery guarantees hold on
// that path: exactly one holder, the lease (a receiving worker killed with SIGKILL has the job
// redelivered), busy workers and filters leave jobs queued, cancel reaches a handed-off job, a lapsed or
// withdrawn registration gets nothing.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { Redis } from 'ioredis';
import type { ClaimRequest, JobRecord } from '../../src/tasks/broker.ts';
import { TaskQueue, Worker } from '../../src/tasks/index.ts';
import { eventsKey, queueBase } from '../../src/tasks/redis/keys.ts';
import { RedisBroker } from '../../src/tasks/redis/redis-broker.ts';
import { appendLine } from '../fixtures/append-line.ts';
import { markThenAwaitAbort } from '../fixtures/mark-then-await-abort.ts';
import { FAST, lines } from './helpers.ts';
import {
  deleteStore,
  newJob,
  REDIS_MISSING,
  REDIS_URL,
  randomPrefix,
  redisAvailable,
  until,
} from './redis-helpers.ts';

const skip = (await redisAvailable()) ? false : REDIS_MISSING;
const TASK = 'file:///tasks.ts#noop';
const OTHER = 'file:///tasks.ts#other';
const RATED = 'file:///tasks.ts#rated';
const SOON_MS = 10_000;
const WORKER_PROCESS = new URL('./fixtures/redis-worker-process.ts', import.meta.url).pathname;

interface Fixture {
  readonly prefix: string;
  readonly broker: RedisBroker;
  readonly redis: Redis;
  /** The worker ids registered idle in queue 'default'. */
  idle(): Promise<string[]>;
}

function fixture(t: { after(fn: () => Promise<void>): void }): Fixture {
  const prefix = randomPrefix();
  const broker = new RedisBroker({ url: REDIS_URL, prefix });
  const redis = new Redis(REDIS_URL);
  t.after(async () => {
    await broker.close();
    redis.disconnect();
    await deleteStore(prefix);
  });
  return { prefix, broker, redis, idle: () => redis.hkeys(`${queueBase(prefix, 'default')}idle`) };
}

/** A claim of worker `workerId` that registers it for handoff with `slots`. */
function claimFor(workerId: string, slots: number, extra: Partial<ClaimRequest> = {}): ClaimRequest {
  return {
    queue: 'default',
    workerId,
    max: Math.max(1, slots),
    leaseMs: 30_000,
    tasks: [TASK],
    handoff: { slots, ttlMs: 60_000 },
    ...extra,
  };
}

/** Listens on worker `workerId`'s handoffs; `next()` resolves with the next batch (bounded). */
async function listen(
  t: { after(fn: () => Promise<void>): void },
  broker: RedisBroker,
  workerId: string,
): Promise<{ next(): Promise<readonly JobRecord[]>; stop(): Promise<JobRecord[]> }> {
  const controller = new AbortController();
  const iterator = broker.handoffs('default', workerId, controller.signal)[Symbol.asyncIterator]();
  let done = false;
  t.after(async () => {
    if (!done) controller.abort();
    if (!done) while (!(await iterator.next()).done);
  });
  const next = async (): Promise<readonly JobRecord[]> => {
    const result = await Promise.race([
      iterator.next(),
      new Promise<never>((_, reject) =>
        setTimeout(() => reject(new Error('no handoff within 10 s')), SOON_MS).unref(),
      ),
    ]);
    if (result.done) throw new Error('the handoffs iteration ended');
    return result.value;
  };
  assert.deepEqual(await next(), [], 'an empty batch once it listens');
  return {
    next,
    async stop() {
      controller.abort();
      const rest: JobRecord[] = [];
      for (;;) {
        const result = await iterator.next();
        if (result.done) break;
        rest.push(...result.value);
      }
      done = true;
      return rest;
    },
  };
}

/** True when the stream entry that holds job `id`'s enqueued event holds its start too (handed off). */
async function startedByEnqueue(redis: Redis, prefix: string, id: string): Promise<boolean> {
  const entries = await redis.xrange(eventsKey(prefix), '-', '+');
  const entry = entries.find(([, fields]) => fields[fields.indexOf('enqueued') + 1]?.endsWith(id));
  const started = entry?.[1].indexOf('started') ?? -1;
  return started > 0 && entry![1][started + 1]!.endsWith(id);
}

describe('RedisBroker handoff', { skip }, () => {
  test('an enqueue hands jobs to a worker registered idle, up to its slots, running under its lease', async (t) => {
    const { broker, idle } = fixture(t);
    const handoffs = await listen(t, broker, 'w1');
    assert.deepEqual(await broker.claim(claimFor('w1', 2)), []);
    assert.deepEqual(await idle(), ['w1']);
    const jobs = [newJob(), newJob(), newJob()];
    await broker.enqueue(jobs);
    const handed = [...(await handoffs.next())];
    while (handed.length < 2) handed.push(...(await handoffs.next()));
    assert.deepEqual(
      handed.map((job) => job.id),
      [jobs[0]!.id, jobs[1]!.id],
    );
    for (const job of handed) {
      assert.equal(job.state, 'running');
      assert.equal(job.workerId, 'w1');
      assert.equal(job.attempt, 1);
      assert.ok((job.leaseUntil ?? 0) > Date.now() + 20_000);
      assert.equal((await broker.get(job.id))?.state, 'running');
    }
    assert.deepEqual(await idle(), [], 'its two slots are spent');
    assert.equal((await broker.get(jobs[2]!.id))?.state, 'queued');
    // Handed-off jobs settle like claimed ones, and the lease is the worker's alone.
    assert.equal(await broker.complete('w2', jobs[0]!.id, new Uint8Array([1])), false);
    assert.equal(await broker.complete('w1', jobs[0]!.id, new Uint8Array([1])), true);
    assert.deepEqual(
      (await broker.claim({ queue: 'default', workerId: 'w2', max: 5, leaseMs: 30_000, tasks: [TASK] })).map(
        (job) => job.id,
      ),
      [jobs[2]!.id],
      'the job left over is claimed by the next claim, and only it',
    );
  });

  test('hands over the best jobs in priority order, and none to a worker whose claim was not dry', async (t) => {
    const { broker, idle } = fixture(t);
    const handoffs = await listen(t, broker, 'w1');
    const early = [newJob({ priority: 0 }), newJob({ priority: 0 })];
    await broker.enqueue(early);
    // A busy worker: its claim took every job it asked for, so it is not registered.
    assert.equal((await broker.claim(claimFor('w1', 1))).length, 1);
    assert.deepEqual(await idle(), []);
    // It claims the rest (a dry claim with one slot left), then a batch arrives: the highest first.
    assert.equal((await broker.claim({ ...claimFor('w1', 3), max: 3 })).length, 1);
    assert.deepEqual(await idle(), ['w1']);
    // The broker's priorities run lowest first (TaskQueue maps its options onto them).
    const low = newJob({ priority: 1 });
    const high = newJob({ priority: -5 });
    const normal = newJob({ priority: 0 });
    await broker.enqueue([low, high, normal]);
    const handed = [...(await handoffs.next())];
    while (handed.length < 2) handed.push(...(await handoffs.next()));
    assert.deepEqual(
      handed.map((job) => job.id),
      [high.id, normal.id],
    );
    assert.equal((await broker.get(low.id))?.state, 'queued');
  });

  test('leaves queued what the idle worker could not claim: other tasks, a capped task, a rate-limited one', async (t) => {
    const { broker, idle } = fixture(t);
    const handoffs = await listen(t, broker, 'w1');
    // w2 runs one job of TASK, the cap of w1's claim for it.
    const running = newJob();
    await broker.enqueue([running]);
    assert.equal(
      (await broker.claim({ queue: 'default', workerId: 'w2', max: 1, leaseMs: 30_000, tasks: [TASK] }))
        .length,
      1,
    );
    assert.deepEqual(
      await broker.claim(claimFor('w1', 4, { tasks: [TASK], concurrency: { [TASK]: 1 } })),
      [],
    );
    const other = newJob({ task: OTHER });
    const capped = newJob();
    await broker.enqueue([other, capped]);
    assert.equal((await broker.get(other.id))?.state, 'queued', 'a task the worker does not run');
    assert.equal((await broker.get(capped.id))?.state, 'queued', 'a task at its cap');
    assert.deepEqual(await idle(), ['w1'], 'still idle, slots unspent');
    // A rate limit of one start a minute: the first job handed over spends it.
    assert.deepEqual(
      await broker.claim(
        claimFor('w3', 4, { tasks: [RATED], rateLimits: { [RATED]: { limit: 1, intervalMs: 60_000 } } }),
      ),
      [],
    );
    const w3 = await listen(t, broker, 'w3');
    const first = newJob({ task: RATED });
    const second = newJob({ task: RATED });
    await broker.enqueue([first, second]);
    assert.deepEqual(
      (await w3.next()).map((job) => job.id),
      [first.id],
    );
    assert.equal((await broker.get(second.id))?.state, 'queued');
    assert.deepEqual(await w3.stop(), []);
    assert.deepEqual(await handoffs.stop(), [], 'w1 was handed nothing');
  });

  test('a lapsed registration is dropped, and a withdrawn one gets nothing', async (t) => {
    const { broker, idle } = fixture(t);
    const handoffs = await listen(t, broker, 'w1');
    await broker.claim({ ...claimFor('w1', 1), handoff: { slots: 1, ttlMs: 1 } });
    assert.deepEqual(await idle(), ['w1']);
    await new Promise((resolve) => setTimeout(resolve, 20));
    const late = newJob();
    await broker.enqueue([late]);
    assert.equal((await broker.get(late.id))?.state, 'queued');
    assert.deepEqual(await idle(), []);
    // Registered again, then the listener stops: the withdrawal leaves nothing registered.
    await broker.claim({ ...claimFor('w1', 1), tasks: [OTHER] });
    assert.deepEqual(await idle(), ['w1']);
    assert.deepEqual(await handoffs.stop(), []);
    assert.deepEqual(await idle(), []);
    const after = newJob({ task: OTHER });
    await broker.enqueue([after]);
    assert.equal((await broker.get(after.id))?.state, 'queued');
  });

  test('a registration that cannot be read is dropped by the next enqueue, which stores its jobs', async (t) => {
    const { prefix, broker, redis, idle } = fixture(t);
    await redis.hset(
      `${queueBase(prefix, 'default')}idle`,
      'edited',
      'not a registration',
      'short',
      '\x93\xa11',
    );
    const job = newJob();
    assert.deepEqual(await broker.enqueue([job]), [{ id: job.id, created: true }]);
    assert.equal((await broker.get(job.id))?.state, 'queued');
    assert.deepEqual(await idle(), []);
  });

  test('a claim with slots 0 withdraws the registration, and one without handoff leaves it', async (t) => {
    const { broker, idle } = fixture(t);
    await broker.claim(claimFor('w1', 2));
    assert.deepEqual(await idle(), ['w1']);
    await broker.claim({ queue: 'default', workerId: 'w1', max: 5, leaseMs: 30_000, tasks: [OTHER] });
    assert.deepEqual(await idle(), ['w1']);
    await broker.settleAndClaim('w1', [], { ...claimFor('w1', 0), max: 1 });
    assert.deepEqual(await idle(), []);
  });
});

describe('Worker handoff on Redis', { skip }, () => {
  test('an idle worker runs a job enqueued to it without claiming it: started in the enqueue step', async (t) => {
    const { prefix, broker, redis, idle } = fixture(t);
    const dir = await mkdtemp(join(tmpdir(), 'skein-handoff-'));
    t.after(() => rm(dir, { recursive: true, force: true }));
    const worker = new Worker({ broker, tasks: [appendLine], concurrency: 2, pool: 'inline', ...FAST });
    t.after(() => worker.close());
    await worker.start();
    await until(async () => (await idle()).includes(worker.id), SOON_MS, 'the worker registered idle');
    const queue = new TaskQueue({ broker });
    const log = join(dir, 'log');
    const job = await queue.enqueue(appendLine, log, 'one');
    assert.equal(await job.result({ timeout: SOON_MS }), 'one');
    assert.ok(await startedByEnqueue(redis, prefix, job.id), 'started in the enqueue step');
    assert.deepEqual(await lines(log), ['one']);
  });

  test('cancel stops a handed-off running job through its AbortSignal', async (t) => {
    const { prefix, broker, redis, idle } = fixture(t);
    const dir = await mkdtemp(join(tmpdir(), 'skein-handoff-'));
    t.after(() => rm(dir, { recursive: true, force: true }));
    const worker = new Worker({
      broker,
      tasks: [markThenAwaitAbort],
      concurrency: 1,
      pool: 'inline',
      ...FAST,
    });
    t.after(() => worker.close());
    await worker.start();
    await until(async () => (await idle()).includes(worker.id), SOON_MS, 'the worker registered idle');
    const queue = new TaskQueue({ broker });
    const log = join(dir, 'log');
    const job = await queue.enqueue(markThenAwaitAbort, log);
    await until(async () => (await lines(log)).includes('started'), SOON_MS, 'the job started');
    assert.ok(await startedByEnqueue(redis, prefix, job.id), 'handed off');
    assert.equal(await queue.cancel(job.id), 'requested');
    await until(async () => (await job.state()) === 'cancelled', SOON_MS, 'the job cancelled');
    assert.deepEqual(await lines(log), ['started', 'aborted']);
  });

  test('a closed worker is withdrawn: a later job stays queued for the next worker', async (t) => {
    const { broker, idle } = fixture(t);
    const dir = await mkdtemp(join(tmpdir(), 'skein-handoff-'));
    t.after(() => rm(dir, { recursive: true, force: true }));
    const first = new Worker({ broker, tasks: [appendLine], concurrency: 1, pool: 'inline', ...FAST });
    await first.start();
    await until(async () => (await idle()).includes(first.id), SOON_MS, 'the worker registered idle');
    await first.close();
    assert.deepEqual(await idle(), [], 'close withdrew it');
    const queue = new TaskQueue({ broker });
    const log = join(dir, 'log');
    const job = await queue.enqueue(appendLine, log, 'later');
    assert.equal(await job.state(), 'queued');
    const second = new Worker({ broker, tasks: [appendLine], concurrency: 1, pool: 'inline', ...FAST });
    t.after(() => second.close());
    await second.start();
    assert.equal(await job.result({ timeout: SOON_MS }), 'later');
    assert.equal((await job.info()).attempt, 1);
  });

  test('a job handed to a worker process killed with SIGKILL is redelivered after its lease', async (t) => {
    const { prefix, broker, idle } = fixture(t);
    const dir = await mkdtemp(join(tmpdir(), 'skein-handoff-'));
    t.after(() => rm(dir, { recursive: true, force: true }));
    const child = spawn(process.execPath, [WORKER_PROCESS, REDIS_URL, prefix, 'doomed', '2000'], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    t.after(() => child.kill('SIGKILL'));
    const [data] = (await once(child.stdout!, 'data')) as [Buffer];
    assert.match(data.toString(), /ready/);
    await until(async () => (await idle()).includes('doomed'), SOON_MS, 'the child registered idle');
    child.kill('SIGKILL');
    await once(child, 'exit');
    const queue = new TaskQueue({ broker });
    const log = join(dir, 'log');
    const job = await queue.enqueue(appendLine, log, 'again');
    // Its registration (8 s) had not lapsed: the dead worker was handed the job, under its 2 s lease.
    const info = await job.info();
    assert.equal(info.workerId, 'doomed');
    assert.equal(info.attempt, 1);
    const worker = new Worker({ broker, tasks: [appendLine], concurrency: 1, pool: 'inline', ...FAST });
    t.after(() => worker.close());
    await worker.start();
    assert.equal(await job.result({ timeout: SOON_MS }), 'again');
    assert.equal((await job.info()).attempt, 2);
    assert.deepEqual(await lines(log), ['again']);
  });
});
