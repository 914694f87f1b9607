// One end-to-end drain on a 2-thread pool (or inline with INLINE=1; SQLite with ENGINE=sqlite), counting
// the worker's hand-overs: messages sent to pool threads by kind and size, broker calls and their
// settles, and the pool's submit → settle time. With PERF_OUT set, `perf record`s this process over the
// drain alone (run node with --perf-basic-prof, from a scratch directory: it writes logs there).
// Usage: node bench/tasks/handover-count.ts <concurrency> <jobs> [redis url]
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ThreadPool } from '../../src/pool/index.ts';
import { ThreadWorkerHandle } from '../../src/pool/thread-worker-handle.ts';
import type { Broker } from '../../src/tasks/index.ts';
import { TaskQueue, Worker } from '../../src/tasks/index.ts';
import { SqliteBroker } from '../../src/tasks/sqlite/sqlite-broker.ts';
import { enqueueNoops, openBenchQueue, succeeded, timedDrain } from './bench-queue.ts';
import { noop } from './noop-task.ts';

const [concurrencyArg = '10', jobsArg = '20000', url = 'redis://127.0.0.1:6379'] = process.argv.slice(2);
const jobs = Number(jobsArg);
const concurrency = Number(concurrencyArg);
const byKind = new Map<string, number>();
let tasksSent = 0;
let lones = 0;
const proto = ThreadWorkerHandle.prototype as unknown as Record<string, (...a: unknown[]) => unknown>;
const send = proto.send!;
proto.send = function (this: unknown, message: unknown, transfer: unknown) {
  const kind = (message as { t: string }).t;
  byKind.set(kind, (byKind.get(kind) ?? 0) + 1);
  const tasks = (message as { tasks?: unknown[] }).tasks;
  if (tasks !== undefined) tasksSent += tasks.length / 6;
  return send.call(this, message, transfer);
};
const sendLone = proto.sendLone!;
proto.sendLone = function (this: unknown, ...args: unknown[]) {
  lones++;
  return sendLone.apply(this, args);
};

const pool = process.env.INLINE === undefined ? new ThreadPool({ minWorkers: 2, maxWorkers: 2 }) : undefined;
let submitMs = 0;
let submits = 0;
if (pool !== undefined) {
  const submit = pool.submit.bind(pool);
  (pool as unknown as { submit: typeof submit }).submit = ((task: never, args: never, options: never) => {
    const start = performance.now();
    submits++;
    return submit(task, args, options).finally(() => {
      submitMs += performance.now() - start;
    });
  }) as typeof submit;
}

let broker: Broker;
let queue: TaskQueue;
let worker: Worker;
let close: () => Promise<void>;
if (process.env.ENGINE === 'sqlite') {
  const dir = mkdtempSync(join(tmpdir(), 'skein-handover-'));
  broker = new SqliteBroker({ path: join(dir, 'tasks.db') });
  queue = new TaskQueue({ broker, name: 'bench' });
  worker = new Worker({ broker, queue: 'bench', tasks: [noop], concurrency, pool: pool ?? 'inline' });
  close = async () => {
    await worker.close();
    await queue.close();
    await pool?.close();
    await broker.close();
    rmSync(dir, { recursive: true, force: true });
  };
} else {
  const bench = openBenchQueue({ url, name: 'skein-handover', concurrency, pool });
  ({ broker, queue, worker } = bench);
  close = () => bench.close();
}
await enqueueNoops(queue, jobs);
if (pool !== undefined) await Promise.all([pool.run(noop, 0), pool.run(noop, 1)]);
byKind.clear();
tasksSent = lones = submits = 0;
submitMs = 0;

let brokerCalls = 0;
let settlesSent = 0;
const calls = broker as unknown as Record<string, (...a: unknown[]) => Promise<unknown>>;
const settleAndClaim = calls.settleAndClaim!.bind(broker);
calls.settleAndClaim = (workerId: unknown, outcomes: unknown, claim: unknown) => {
  brokerCalls++;
  settlesSent += (outcomes as unknown[]).length;
  return settleAndClaim(workerId, outcomes, claim);
};
const claim = calls.claim!.bind(broker);
calls.claim = (request: unknown) => {
  brokerCalls++;
  return claim(request);
};

const perf =
  process.env.PERF_OUT === undefined
    ? undefined
    : spawn(
        'perf',
        [
          'record',
          '-F',
          '2000',
          '-e',
          'cpu-clock',
          '-g',
          '-p',
          String(process.pid),
          '-o',
          process.env.PERF_OUT,
        ],
        { stdio: 'ignore' },
      );
if (perf !== undefined) await new Promise((resolveWait) => setTimeout(resolveWait, 500));
const finished = succeeded(worker, jobs);
const drain = await timedDrain(worker, finished, jobs);
perf?.kill('SIGINT');
const runs = byKind.get('run') ?? 0;
console.log(
  `${process.env.ENGINE ?? 'redis'} ${pool === undefined ? 'inline' : 'pool'} c${concurrency}: ${Math.round(drain.jobsPerSec)} jobs/s, ` +
    `CPU ${drain.cpuUsPerJob.toFixed(1)} µs/job; ${runs} run messages (${(tasksSent / Math.max(1, runs)).toFixed(1)} tasks each), ` +
    `${byKind.get('steal') ?? 0} steals, ${lones} lone sends; ${brokerCalls} broker calls (${(settlesSent / brokerCalls).toFixed(1)} settles each)` +
    (submits > 0 ? `; pool call ${((submitMs * 1000) / submits).toFixed(0)} µs submit → settle` : ''),
);
await close();
