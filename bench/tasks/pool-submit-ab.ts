// How much the options a Worker passes with each job (an AbortSignal, onProgress) cost a ThreadPool
// call, against a plain submit: no-op tasks, `inFlight` calls kept in flight on a 2-thread pool, the
// variants alternating for several rounds. Prints per variant the median wall µs and process CPU µs
// per call (pool threads included).
// Usage: node bench/tasks/pool-submit-ab.ts [calls 20000] [inFlight 100] [rounds 5]
import { ThreadPool } from '../../src/pool/index.ts';
import { noop } from './noop-task.ts';

const [callsArg = '20000', inFlightArg = '100', roundsArg = '5'] = process.argv.slice(2);
const calls = Number(callsArg);
const inFlight = Number(inFlightArg);
const rounds = Number(roundsArg);
const pool = new ThreadPool({ minWorkers: 2, maxWorkers: 2 });

type Options = () => object | undefined;
const variants: Record<string, Options> = {
  plain: () => undefined,
  signal: () => ({ signal: new AbortController().signal }),
  'signal+progress': () => ({ signal: new AbortController().signal, onProgress: () => {} }),
};

async function once(options: Options): Promise<{ wallUs: number; cpuUs: number }> {
  let next = 0;
  const cpu = process.cpuUsage();
  const start = performance.now();
  const lane = async (): Promise<void> => {
    while (next < calls) {
      const i = next++;
      const given = options();
      await (given === undefined ? pool.submit(noop, [i]) : pool.submit(noop, [i], given));
    }
  };
  await Promise.all(Array.from({ length: inFlight }, lane));
  const used = process.cpuUsage(cpu);
  return { wallUs: ((performance.now() - start) * 1000) / calls, cpuUs: (used.user + used.system) / calls };
}

const samples: Record<string, { wallUs: number[]; cpuUs: number[] }> = {};
for (const name of Object.keys(variants)) samples[name] = { wallUs: [], cpuUs: [] };
await once(variants.plain!);
for (let r = 0; r < rounds; r++) {
  for (const [name, options] of Object.entries(variants)) {
    const { wallUs, cpuUs } = await once(options);
    samples[name]!.wallUs.push(wallUs);
    samples[name]!.cpuUs.push(cpuUs);
  }
}
const median = (values: number[]): number =>
  [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
for (const [name, { wallUs, cpuUs }] of Object.entries(samples)) {
  console.log(
    `${name.padEnd(16)} wall ${median(wallUs).toFixed(2)} µs/call  CPU ${median(cpuUs).toFixed(2)} µs/call`,
  );
}
await pool.close();
