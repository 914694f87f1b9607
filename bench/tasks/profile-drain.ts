// Profiles the worker side of one end-to-end drain (Redis engine, jobs run inline): enqueues the jobs
// first, then records a CPU profile (or, with SKEIN_HEAP_PROFILE set, an allocation profile) of the drain
// alone through node:inspector, and prints Redis's commands per job (INFO commandstats over the drain)
// and the worker's jobs/s and CPU per job. With SKEIN_PERF_PID set, also `perf record`s that process
// (the Redis server) for the drain alone, into <out>.perf.
// With SKEIN_PROFILE_POOL=1 the jobs run on a 2-thread ThreadPool instead (the main thread's profile).
// Usage: node bench/tasks/profile-drain.ts <concurrency> <jobs> <out.cpuprofile> [redis url]
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import { Redis } from 'ioredis';
import { ThreadPool } from '../../src/pool/index.ts';
import { enqueueNoops, openBenchQueue, succeeded, timedDrain } from './bench-queue.ts';

const [concurrencyArg = '100', jobsArg = '20000', out = 'drain.cpuprofile', url = 'redis://127.0.0.1:6379'] =
  process.argv.slice(2);
const jobs = Number(jobsArg);
const bench = openBenchQueue({
  url,
  name: 'skein-prof',
  concurrency: Number(concurrencyArg),
  pool:
    process.env.SKEIN_PROFILE_POOL === undefined
      ? undefined
      : new ThreadPool({ minWorkers: 2, maxWorkers: 2 }),
});
const stats = new Redis(url);
await enqueueNoops(bench.queue, jobs);
const session = new Session();
session.connect();
await session.post('Profiler.enable');
await session.post('Profiler.setSamplingInterval', { interval: 100 });
const finished = succeeded(bench.worker, jobs);
const perfPid = process.env.SKEIN_PERF_PID;
const perf =
  perfPid === undefined
    ? undefined
    : spawn('perf', ['record', '-F', '4000', '-p', perfPid, '-o', `${out}.perf`], { stdio: 'ignore' });
if (perf !== undefined) await new Promise((resolveWait) => setTimeout(resolveWait, 500));
await stats.config('RESETSTAT');
const heap = process.env.SKEIN_HEAP_PROFILE !== undefined;
if (heap) {
  await session.post('HeapProfiler.startSampling', {
    samplingInterval: 512,
    includeObjectsCollectedByMajorGC: true,
    includeObjectsCollectedByMinorGC: true,
  });
} else await session.post('Profiler.start');
const drain = await timedDrain(bench.worker, finished, jobs);
const profile = heap
  ? (await session.post('HeapProfiler.stopSampling')).profile
  : (await session.post('Profiler.stop')).profile;
perf?.kill('SIGINT');
for (const line of (await stats.info('commandstats')).split('\n')) {
  const match = /^cmdstat_([^:]+):calls=(\d+),usec=(\d+)/.exec(line);
  if (match === null || Number(match[2]) <= 10) continue;
  const [, name = '', calls = '', usec = ''] = match;
  console.log(
    `${name.padEnd(20)} ${calls.padStart(7)} calls ${(Number(usec) / jobs).toFixed(2).padStart(7)} µs a job`,
  );
}
writeFileSync(out, JSON.stringify(profile));
console.log(`${drain.jobsPerSec.toFixed(0)} jobs/s, ${drain.cpuUsPerJob.toFixed(1)} µs CPU a job`);
await bench.close();
stats.disconnect();
