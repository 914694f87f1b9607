// Delivery under crashes and contention on a real SQLite file: a worker process killed with SIGKILL
// mid-job has the job redelivered after its lease and completed by another worker; N workers × M jobs
// run every job exactly once; chord members finishing together on worker processes that SIGKILL
// themselves right after recording their member done still start the callback, once (each engine).

import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { ThreadPool } from '../../src/pool/index.ts';
import { chord, SqliteBroker, signature, TaskQueue, Worker } from '../../src/tasks/index.ts';
import { RedisBroker } from '../../src/tasks/redis/redis-broker.ts';
import { appendLine } from '../fixtures/append-line.ts';
import { appendThenWaitIfFirst } from '../fixtures/append-then-wait-if-first.ts';
import { logThenSum } from '../fixtures/log-then-sum.ts';
import { waitForPeers } from '../fixtures/wait-for-peers.ts';
import { ENGINES, FAST, lines, setup, until } from './helpers.ts';
import { deleteStore, REDIS_URL, randomPrefix } from './redis-helpers.ts';

const NODE = process.execPath;
const WORKER_SCRIPT = new URL('../fixtures/tasks-worker-process.ts', import.meta.url).pathname;
const KILL_AFTER_SUCCESS_SCRIPT = new URL('../fixtures/kill-after-success-process.ts', import.meta.url)
  .pathname;
/** Chords run per engine, each with its members on two fresh worker processes. */
const CHORD_ROUNDS = 6;

const pool = new ThreadPool({ minWorkers: 2, maxWorkers: 2 });
after(() => pool.close());

async function startWorkerProcess(db: string, leaseTimeout: number): Promise<ChildProcess> {
  const child = spawn(NODE, [WORKER_SCRIPT, db, String(leaseTimeout)], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const [data] = (await once(child.stdout!, 'data')) as [Buffer];
  assert.match(data.toString(), /ready/);
  return child;
}

/** Starts a process whose worker SIGKILLs itself right after it records a job done. */
async function startKillAfterSuccess(args: readonly string[]): Promise<ChildProcess> {
  const child = spawn(NODE, [KILL_AFTER_SUCCESS_SCRIPT, ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
  const [data] = (await once(child.stdout!, 'data')) as [Buffer];
  assert.match(data.toString(), /ready/);
  return child;
}

describe('task delivery under crashes', () => {
  it('redelivers the job of a worker process killed with SIGKILL mid-job, after its lease', async (t) => {
    const { dir, db, queue, worker } = await setup(t, pool);
    const log = join(dir, 'runs.log');
    const child = await startWorkerProcess(db, 500);
    t.after(() => child.kill('SIGKILL'));
    const job = await queue.enqueue(appendThenWaitIfFirst, log);
    const [pid] = await until('the first run to start in the child', async () => {
      const runs = await lines(log);
      return runs.length === 1 ? runs : undefined;
    });
    assert.equal(Number(pid), child.pid);
    assert.equal(await job.state(), 'running');
    child.kill('SIGKILL');
    await once(child, 'exit');
    await worker({ tasks: [appendThenWaitIfFirst] });
    assert.equal(await job.result({ timeout: 15_000 }), 2);
    const runs = await lines(log);
    assert.equal(runs.length, 2);
    assert.equal(Number(runs[1]), process.pid, 'the second run happened in this process');
    assert.equal((await job.info()).attempt, 2);
  });

  it('runs each of M jobs exactly once across N workers with their own connections', async (t) => {
    const { dir, db, queue } = await setup(t, pool);
    const log = join(dir, 'runs.log');
    const M = 300;
    const N = 4;
    const workers: Worker[] = [];
    const brokers: SqliteBroker[] = [];
    t.after(async () => {
      await Promise.all(workers.map((w) => w.close()));
      await Promise.all(brokers.map((b) => b.close()));
    });
    for (let i = 0; i < N; i++) {
      const broker = new SqliteBroker({ path: db, pollInterval: 10 });
      brokers.push(broker);
      const w = new Worker({ broker, tasks: [appendLine], concurrency: 3, pool, ...FAST, id: `worker-${i}` });
      workers.push(w);
      await w.start();
    }
    const producer = new TaskQueue({ broker: queue.broker });
    const jobs = [];
    for (let start = 0; start < M; start += 50) {
      const batch = Array.from({ length: 50 }, (_, k) => ({
        task: appendLine,
        args: [log, String(start + k)],
      }));
      jobs.push(...(await producer.enqueueBulk(batch)));
    }
    const results = await Promise.all(jobs.map((job) => job.result({ timeout: 30_000 })));
    assert.deepEqual(
      results,
      Array.from({ length: M }, (_, i) => String(i)),
    );
    const runs = (await lines(log)).map(Number).sort((a, b) => a - b);
    assert.deepEqual(
      runs,
      Array.from({ length: M }, (_, i) => i),
      'every job ran exactly once',
    );
    const by = new Set((await Promise.all(jobs.map((job) => job.info()))).map((info) => info.attempt));
    assert.deepEqual([...by], [1], 'no job needed a second attempt');
  });

  for (const engine of ENGINES) {
    it(`starts a chord callback exactly once when its members finish together on worker processes SIGKILLed right after recording them done (${engine})`, async (t) => {
      const { dir, db, broker: sqlite } = await setup(t, pool);
      const prefix = randomPrefix();
      const broker = engine === 'redis' ? new RedisBroker({ url: REDIS_URL, prefix }) : sqlite;
      const childArgs = engine === 'redis' ? ['redis', REDIS_URL, prefix] : ['sqlite', db];
      const children = new Set<ChildProcess>();
      // The callback runs here; the members only in the processes (this worker leaves them alone).
      const worker = new Worker({ broker, tasks: [logThenSum], unknownTasks: 'leave', pool, ...FAST });
      t.after(async () => {
        for (const child of children) child.kill('SIGKILL');
        await worker.destroy();
        if (engine === 'redis') {
          await broker.close();
          await deleteStore(prefix);
        }
      });
      await worker.start();
      const queue = new TaskQueue({ broker });
      for (let round = 0; round < CHORD_ROUNDS; round++) {
        const pair = await Promise.all([startKillAfterSuccess(childArgs), startKillAfterSuccess(childArgs)]);
        for (const child of pair) children.add(child);
        const exits = pair.map((child) => once(child, 'exit'));
        const peers = join(dir, `peers-${round}`);
        const log = join(dir, `callback-${round}.log`);
        const run = await chord(
          queue,
          [signature(waitForPeers, [peers, 2, 1]), signature(waitForPeers, [peers, 2, 2])],
          signature(logThenSum, [log, 100 * round]),
        );
        const ends = await Promise.all(exits);
        for (const [code, signal] of ends) assert.deepEqual([code, signal], [null, 'SIGKILL']);
        for (const child of pair) children.delete(child);
        const members = await Promise.all(run.group.jobs().map((job) => job.info()));
        assert.deepEqual(
          members.map((member) => [member.state, member.attempt]),
          [
            ['succeeded', 1],
            ['succeeded', 1],
          ],
          `round ${round}: both members were recorded done before their processes died`,
        );
        assert.deepEqual(
          (await readdir(peers)).map((name) => Number(name.split('-')[0])).sort(),
          pair.map((child) => child.pid).sort(),
          'each member ran in a process of its own',
        );
        assert.equal(await run.result({ timeout: 10_000 }), 100 * round + 3, `round ${round}`);
        assert.deepEqual((await run.callback.info()).args, [log, 100 * round, [1, 2]]);
        assert.equal((await lines(log)).length, 1, `round ${round} ran its callback once`);
      }
    });
  }
});
