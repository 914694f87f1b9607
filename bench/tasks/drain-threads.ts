// One end-to-end drain of the Redis engine (jobs enqueued first, then drained at a concurrency) with the
// worker's CPU split by thread: per thread of this process, CPU µs and context switches per job over the
// drain alone (/proc/self/task/*: the main thread, the pool's threads, libuv and V8 helpers).
// Usage: node bench/tasks/drain-threads.ts <concurrency> <jobs> <inline|pool> [redis url]
import { readdirSync, readFileSync } from 'node:fs';
import { ThreadPool } from '../../src/pool/index.ts';
import { enqueueNoops, openBenchQueue, succeeded, timedDrain } from './bench-queue.ts';
import { noop } from './noop-task.ts';

const [concurrencyArg = '10', jobsArg = '20000', mode = 'pool', url = 'redis://127.0.0.1:6379'] =
  process.argv.slice(2);
const jobs = Number(jobsArg);
const pool = mode === 'inline' ? undefined : new ThreadPool({ minWorkers: 2, maxWorkers: 2 });
const bench = openBenchQueue({ url, name: 'skein-threads', concurrency: Number(concurrencyArg), pool });
await enqueueNoops(bench.queue, jobs);
// Threads started before the clock: the pool's run one task first.
if (pool !== undefined) await Promise.all([pool.run(noop, 0), pool.run(noop, 1)]);

interface ThreadTimes {
  name: string;
  cpuTicks: number;
  switches: number;
}
const TICK_US = 1e6 / 100; // USER_HZ
function threads(): Map<string, ThreadTimes> {
  const out = new Map<string, ThreadTimes>();
  for (const tid of readdirSync('/proc/self/task')) {
    try {
      const stat = readFileSync(`/proc/self/task/${tid}/stat`, 'utf8');
      const name = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      const status = readFileSync(`/proc/self/task/${tid}/status`, 'utf8');
      const switches = /voluntary_ctxt_switches:\s+(\d+)/.exec(status)?.[1];
      const forced = /nonvoluntary_ctxt_switches:\s+(\d+)/.exec(status)?.[1];
      out.set(tid, {
        name,
        cpuTicks: Number(fields[11]) + Number(fields[12]),
        switches: Number(switches) + Number(forced),
      });
    } catch {}
  }
  return out;
}

const finished = succeeded(bench.worker, jobs);
const before = threads();
const drain = await timedDrain(bench.worker, finished, jobs);
const after = threads();
console.log(
  `${mode} c${concurrencyArg}: ${Math.round(drain.jobsPerSec)} jobs/s, process CPU ${drain.cpuUsPerJob.toFixed(1)} µs/job`,
);
const byName = new Map<string, { cpuUs: number; switches: number; count: number }>();
for (const [tid, end] of after) {
  const begin = before.get(tid) ?? { name: end.name, cpuTicks: 0, switches: 0 };
  const name = end.name.startsWith('skein') || end.name.includes('pool') ? 'pool thread' : end.name;
  const row = byName.get(name) ?? { cpuUs: 0, switches: 0, count: 0 };
  row.cpuUs += (end.cpuTicks - begin.cpuTicks) * TICK_US;
  row.switches += end.switches - begin.switches;
  row.count++;
  byName.set(name, row);
}
for (const [name, row] of byName) {
  if (row.cpuUs === 0 && row.switches === 0) continue;
  console.log(
    `  ${name.padEnd(16)} x${row.count}  CPU ${(row.cpuUs / jobs).toFixed(1)} µs/job  switches ${(row.switches / jobs).toFixed(2)}/job`,
  );
}
await bench.close();
