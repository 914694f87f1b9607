// The latency case's add → complete loop (producer and worker in one process, worker concurrency 1, as
// bench/tasks.ts runs it), with what each job costs: this process's CPU time (process.cpuUsage), its
// main thread's share (/proc), Redis's (INFO cpu) and, with TIMELINE=1, a timeline of one job: every
// socket write and read of the process in the loop, stamped, per connection (c0, c1, … in order of
// first use), as the median time since the add of the most common sequence. For Skein it reads, e.g.:
// wr:c0 (the enqueue script sent), rd:c0 (its reply), rd:c1 (the job handed to the worker), wr:c0 (the
// settle sent), rd:c0 (its reply), rd:c2 (the finished job published to the waiter).
// Usage: [TIMELINE=1] node bench/tasks/latency-cpu.ts [skein-redis-inline|skein-redis|bullmq] [jobs] [redis url]
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import net from 'node:net';
import { Redis } from 'ioredis';

const [variant = 'skein-redis-inline', jobsArg = '500', url = 'redis://127.0.0.1:6379'] =
  process.argv.slice(2);
const jobs = Number(jobsArg);
const WARM_UP = 50;

interface SocketEvent {
  readonly at: number;
  readonly socket: net.Socket;
  readonly kind: 'wr' | 'rd';
}
const events: SocketEvent[] = [];
let recording = false;
if (process.env.TIMELINE === '1') {
  // Wrapped before any connection exists: every socket of ioredis and BullMQ goes through these.
  const { emit, write } = net.Socket.prototype;
  net.Socket.prototype.emit = function (this: net.Socket, event: string | symbol, ...args: unknown[]) {
    if (recording && event === 'data') events.push({ at: performance.now(), socket: this, kind: 'rd' });
    return (emit as (...given: unknown[]) => boolean).apply(this, [event, ...args]);
  } as typeof emit;
  net.Socket.prototype.write = function (this: net.Socket, ...args: unknown[]) {
    if (recording) events.push({ at: performance.now(), socket: this, kind: 'wr' });
    return (write as (...given: unknown[]) => boolean).apply(this, args);
  } as typeof write;
}

async function redisCpuMs(redis: Redis): Promise<number> {
  const info = await redis.info('cpu');
  const field = (name: string): number => Number(new RegExp(`^${name}:([0-9.]+)`, 'm').exec(info)?.[1]);
  return (field('used_cpu_user') + field('used_cpu_sys')) * 1000;
}

/** CPU time of this process's main thread so far, in µs (/proc, clock ticks of 10 ms). */
function mainThreadUs(): number {
  const stat = readFileSync(`/proc/self/task/${process.pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) * 10_000;
}

let addAndWait: (i: number) => Promise<number>;
let close: () => Promise<void>;
if (variant === 'bullmq') {
  const { Queue, QueueEvents, Worker } = await import('bullmq');
  const parsed = new URL(url);
  const connection = { host: parsed.hostname, port: Number(parsed.port || 6379), maxRetriesPerRequest: null };
  const prefix = `bullmq-latency-${randomUUID()}`;
  const queue = new Queue('bench', { connection, prefix });
  const queueEvents = new QueueEvents('bench', { connection, prefix });
  await queueEvents.waitUntilReady();
  const worker = new Worker('bench', async (job: { data: { i: number } }) => job.data.i, {
    connection,
    prefix,
    concurrency: 1,
  });
  await worker.waitUntilReady();
  addAndWait = async (i) =>
    (await (await queue.add('noop', { i })).waitUntilFinished(queueEvents, 60_000)) as number;
  close = async () => {
    await worker.close();
    await queueEvents.close();
    await queue.obliterate({ force: true });
    await queue.close();
  };
} else {
  const { ThreadPool } = await import('../../src/pool/index.ts');
  const { openBenchQueue } = await import('./bench-queue.ts');
  const { noop } = await import('./noop-task.ts');
  const pool = variant.endsWith('-inline') ? undefined : new ThreadPool({ minWorkers: 2, maxWorkers: 2 });
  const bench = openBenchQueue({ url, name: 'skein-latency', concurrency: 1, pool });
  await bench.worker.start();
  addAndWait = async (i) =>
    (await (await bench.queue.enqueue(noop, i)).result({ timeout: 60_000 })) as number;
  close = () => bench.close();
}

const stats = new Redis(url);
for (let i = 0; i < WARM_UP; i++) await addAndWait(i);
const samples: number[] = [];
const starts: number[] = [];
const redisBefore = await redisCpuMs(stats);
const cpu = process.cpuUsage();
const mainBefore = mainThreadUs();
recording = true;
for (let i = 0; i < jobs; i++) {
  const start = performance.now();
  starts.push(start);
  await addAndWait(i);
  samples.push(performance.now() - start);
}
recording = false;
const used = process.cpuUsage(cpu);
const mainUs = (mainThreadUs() - mainBefore) / jobs;
const redisUs = (((await redisCpuMs(stats)) - redisBefore) * 1000) / jobs;
samples.sort((a, b) => a - b);
const median = (values: number[]): number =>
  [...values].sort((a, b) => a - b)[values.length >> 1] ?? Number.NaN;
console.log(
  `${variant}: p50 ${(median(samples) * 1000).toFixed(0)} µs; CPU per job: process ${((used.user + used.system) / jobs).toFixed(0)} µs (user ${(used.user / jobs).toFixed(0)}, system ${(used.system / jobs).toFixed(0)}; main thread ${mainUs.toFixed(0)}), Redis ${redisUs.toFixed(0)} µs`,
);
if (events.length > 0) {
  const names = new Map<net.Socket, string>();
  const sequences = new Map<string, number[][]>();
  let at = 0;
  for (let j = 0; j < starts.length; j++) {
    const end = starts[j + 1] ?? Number.POSITIVE_INFINITY;
    const mine: SocketEvent[] = [];
    for (; at < events.length && events[at]!.at < end; at++) mine.push(events[at]!);
    for (const event of mine) if (!names.has(event.socket)) names.set(event.socket, `c${names.size}`);
    const key = mine.map((event) => `${event.kind}:${names.get(event.socket)}`).join(' ');
    const offsets = mine.map((event) => event.at - starts[j]!);
    const list = sequences.get(key) ?? [];
    list.push(offsets);
    sequences.set(key, list);
  }
  for (const [key, list] of [...sequences].sort((a, b) => b[1].length - a[1].length).slice(0, 2)) {
    const steps = key.split(' ');
    const line = steps.map((step, s) => `${step}@${(median(list.map((o) => o[s]!)) * 1000).toFixed(0)}`);
    console.log(`  ${list.length} jobs: ${line.join('  ')} (µs after the add)`);
  }
}
stats.disconnect();
await close();
