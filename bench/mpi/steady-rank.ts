// The rank side of bench/mpi/steady.ts: a ping-pong of SKEIN_BENCH_STEADY_BYTES-byte typed arrays
// (buffer path) or values ({ bytes }), or one after the other, in SKEIN_BENCH_STEADY_BLOCKS blocks of
// SKEIN_BENCH_STEADY_TRIPS round trips; returns the one-way latency per block (µs, this rank's clock)
// and this rank thread's CPU time per round trip over the last half of the blocks (µs).

import type { Communicator } from '../../src/mpi/index.ts';
import { task } from '../../src/task.ts';

export const steady = task(import.meta, async (comm: Communicator) => {
  const bytes = Number(process.env.SKEIN_BENCH_STEADY_BYTES ?? 8);
  const blocks = Number(process.env.SKEIN_BENCH_STEADY_BLOCKS ?? 6);
  const trips = Number(process.env.SKEIN_BENCH_STEADY_TRIPS ?? 10_000);
  // A comma-separated sequence of modes ("value,buffer"): each mode's blocks in turn, as bench/mpi.ts's
  // loops follow each other; perBlock lists them all, cpuPerTrip is the last mode's.
  const modes = (process.env.SKEIN_BENCH_STEADY_MODE ?? 'buffer').split(',');
  const other = 1 - comm.rank;
  const buffer = new Uint8Array(bytes).fill(2);
  const message = { bytes: buffer };
  const perBlock: number[] = [];
  await comm.barrier();
  let cpu = process.threadCpuUsage();
  for (const mode of modes) {
    const value = mode === 'value';
    for (let block = 0; block < blocks; block++) {
      if (block === Math.floor(blocks / 2)) cpu = process.threadCpuUsage();
      const start = performance.now();
      for (let i = 0; i < trips; i++) {
        if (value) {
          if (comm.rank === 0) {
            await comm.send(message, other, 1);
            await comm.recv(other, 1);
          } else await comm.send(await comm.recv(other, 1), other, 1);
        } else if (comm.rank === 0) {
          await comm.sendBuffer(buffer, other, 2);
          await comm.recvBuffer(buffer, other, 2);
        } else {
          await comm.recvBuffer(buffer, other, 2);
          await comm.sendBuffer(buffer, other, 2);
        }
      }
      perBlock.push(((performance.now() - start) * 1000) / trips / 2);
    }
  }
  const used = process.threadCpuUsage(cpu);
  const timedTrips = (blocks - Math.floor(blocks / 2)) * trips;
  return { perBlock, cpuPerTrip: (used.user + used.system) / timedTrips };
});
