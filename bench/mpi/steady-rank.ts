// The rank side of bench/mpi/steady.ts: a ping-pong of SKEIN_BENCH_STEADY_BYTES-byte typed arrays
// (buffer path) or values ({ bytes }), or one after the other, in SKEIN_BENCH_STEADY_BLOCKS blocks of
// SKEIN_BENCH_STEADY_TRIPS round trips; returns the one-way latency per block (µs, this rank's clock),
// this rank thread's CPU time per round trip over the last half of the blocks (µs), and on rank 0 the
// 10th, 50th, 90th and 99th percentiles of the one-way latency (half of each round trip) over that
// half: the median is what the path costs, the mean of a block also what the host's stalls cost.

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
  /** Round-trip times of the last half of the blocks (rank 0), ms. */
  const roundTrips: number[] = [];
  await comm.barrier();
  let cpu = process.threadCpuUsage();
  for (const mode of modes) {
    const value = mode === 'value';
    roundTrips.length = 0; // the last mode's, as cpuPerTrip
    for (let block = 0; block < blocks; block++) {
      if (block === Math.floor(blocks / 2)) cpu = process.threadCpuUsage();
      const timed = comm.rank === 0 && block >= Math.floor(blocks / 2);
      const start = performance.now();
      for (let i = 0; i < trips; i++) {
        if (value) {
          if (comm.rank === 0) {
            const sent = timed ? performance.now() : 0;
            await comm.send(message, other, 1);
            await comm.recv(other, 1);
            if (timed) roundTrips.push(performance.now() - sent);
          } else await comm.send(await comm.recv(other, 1), other, 1);
        } else if (comm.rank === 0) {
          const sent = timed ? performance.now() : 0;
          await comm.sendBuffer(buffer, other, 2);
          await comm.recvBuffer(buffer, other, 2);
          if (timed) roundTrips.push(performance.now() - sent);
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
  roundTrips.sort((a, b) => a - b);
  const oneWay = [0.1, 0.5, 0.9, 0.99].map(
    (q) => (roundTrips[Math.floor(q * (roundTrips.length - 1))] ?? 0) * 500,
  );
  return { perBlock, cpuPerTrip: (used.user + used.system) / timedTrips, oneWay };
});
