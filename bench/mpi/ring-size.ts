// Thread ranks' windowed bandwidth (OSU's osu_bw: a window of isends, then an ack) at one message size
// for several ring sizes, the ring sizes alternated in fresh jobs within each round; medians of the
// rounds. Issue 7's question: why 1 MiB messages reach a smaller share of mpi4py than 16 MiB ones.
// Run: node bench/mpi/ring-size.ts [--bytes 1048576] [--rings 262144,1048576,4194304] [--rounds 5]
// (SKEIN_BENCH_PREPOST=1: the receiver posts its whole window of receives at once)

import { parseArgs } from 'node:util';
import { mpirun } from '../../src/mpi/index.ts';
import { bandwidth } from './ring-size-rank.ts';

const { values } = parseArgs({
  options: { bytes: { type: 'string' }, rings: { type: 'string' }, rounds: { type: 'string' } },
});
const bytes = Number(values.bytes ?? 1_048_576);
const rings = (values.rings ?? '262144,1048576,4194304').split(',').map(Number);
const rounds = Number(values.rounds ?? 5);
process.env.SKEIN_BENCH_RING_BYTES_MESSAGE = String(bytes);

{
  const samples = new Map<number, { mbps: number; cpu0: number; cpu1: number }[]>();
  for (let round = 0; round < rounds; round++) {
    for (const ringBytes of round % 2 === 0 ? rings : rings.toReversed()) {
      const [r0, r1] = (await mpirun(2, bandwidth, { ringBytes })) as { mbps: number; cpuPerMiB: number }[];
      const row = { mbps: r0!.mbps, cpu0: r0!.cpuPerMiB, cpu1: r1!.cpuPerMiB };
      (samples.get(ringBytes) ?? samples.set(ringBytes, []).get(ringBytes)!).push(row);
      console.log(JSON.stringify({ round, ringBytes, ...row }));
    }
  }
  const median = (xs: number[]): number => xs.toSorted((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  console.log(
    `\n${bytes} B messages, ${rounds} rounds: ring bytes -> MB/s median (min..max), CPU µs per MiB sender/receiver`,
  );
  for (const [ringBytes, rows] of samples) {
    const mbps = rows.map((r) => r.mbps);
    console.log(
      `${ringBytes}: ${median(mbps).toFixed(0)} MB/s (${Math.min(...mbps).toFixed(0)}..${Math.max(...mbps).toFixed(0)}), CPU ${median(rows.map((r) => r.cpu0)).toFixed(0)} / ${median(rows.map((r) => r.cpu1)).toFixed(0)} µs/MiB`,
    );
  }
  process.exit(0);
}
