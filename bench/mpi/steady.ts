// Steady-state ping-pong latency of 2 thread ranks, block by block, to see how long the path takes to
// reach its steady figure (the OSU loops of bench/mpi.ts are 10,000 round trips after 30,000 of
// warm-up). Prints each job's one-way latency per block (µs), each rank's CPU per round trip over the
// last half of the blocks and rank 0's one-way percentiles over that half, jobs in fresh processes.
// Run: node bench/mpi/steady.ts [--bytes 8] [--mode buffer|value|value,buffer] [--blocks 6] [--trips 10000] [--jobs 3]
//      [--root DIR] (DIR: another checkout, alternated with this one for A/B); SKEIN_BENCH_STEADY_SPIN
//      in the environment sets mpirun's spinTimeout (ms), SKEIN_BENCH_STEADY_EAGER its eagerLimit (bytes).

import { execFileSync } from 'node:child_process';
import { parseArgs } from 'node:util';

const { values } = parseArgs({
  options: {
    bytes: { type: 'string' },
    mode: { type: 'string' },
    blocks: { type: 'string' },
    trips: { type: 'string' },
    jobs: { type: 'string' },
    root: { type: 'string' },
    child: { type: 'string' },
  },
});
if (values.child !== undefined) {
  const { mpirun } = await import(`${values.child}/src/mpi/index.ts`);
  const { steady } = await import(`${values.child}/bench/mpi/steady-rank.ts`);
  const spin = process.env.SKEIN_BENCH_STEADY_SPIN;
  const eager = process.env.SKEIN_BENCH_STEADY_EAGER;
  const options = {
    ...(spin === undefined ? {} : { spinTimeout: Number(spin) }),
    ...(eager === undefined ? {} : { eagerLimit: Number(eager) }),
  };
  const ranks = (await mpirun(2, steady, options)) as {
    perBlock: number[];
    cpuPerTrip: number;
    oneWay?: number[];
  }[];
  process.stdout.write(
    `${JSON.stringify({ perBlock: ranks[0]!.perBlock, cpuPerTrip: ranks.map((r) => r.cpuPerTrip), oneWay: ranks[0]!.oneWay })}\n`,
  );
  process.exit(0);
}
process.env.SKEIN_BENCH_STEADY_BYTES = values.bytes ?? '8';
process.env.SKEIN_BENCH_STEADY_MODE = values.mode ?? 'buffer';
process.env.SKEIN_BENCH_STEADY_BLOCKS = values.blocks ?? '6';
process.env.SKEIN_BENCH_STEADY_TRIPS = values.trips ?? '10000';
const here = new URL('../..', import.meta.url).pathname.replace(/\/$/, '');
const roots = values.root === undefined ? [here] : [here, values.root.replace(/\/$/, '')];
for (let job = 0; job < Number(values.jobs ?? 3); job++) {
  for (const root of job % 2 === 0 ? roots : roots.toReversed()) {
    const out = execFileSync(process.execPath, [...process.execArgv, import.meta.filename, '--child', root], {
      encoding: 'utf8',
    });
    const { perBlock, cpuPerTrip, oneWay } = JSON.parse(out) as {
      perBlock: number[];
      cpuPerTrip: number[];
      /** Absent from a tree whose steady-rank.ts predates it. */
      oneWay?: number[];
    };
    const percentiles =
      oneWay === undefined
        ? ''
        : `; one-way p10/p50/p90/p99, last half: ${oneWay.map((us) => us.toFixed(2)).join('/')} µs`;
    console.log(
      `${root} ${process.env.SKEIN_BENCH_STEADY_MODE} ${process.env.SKEIN_BENCH_STEADY_BYTES} B: one-way ${perBlock.map((us) => us.toFixed(2)).join(' ')} µs; CPU per round trip, last half, rank 0/1: ${cpuPerTrip.map((us) => us.toFixed(1)).join('/')} µs${percentiles}`,
    );
  }
}
