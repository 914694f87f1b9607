// The rank side of bench/mpi/ring-size.ts: OSU's windowed bandwidth at SKEIN_BENCH_RING_BYTES_MESSAGE
// bytes; returns MB/s (rank 0's clock) and this rank thread's CPU microseconds per MiB moved.

import type { Communicator } from '../../src/mpi/index.ts';
import { task } from '../../src/task.ts';

export const bandwidth = task(import.meta, async (comm: Communicator) => {
  const size = Number(process.env.SKEIN_BENCH_RING_BYTES_MESSAGE);
  const other = 1 - comm.rank;
  const buffer = new Uint8Array(size).fill(3);
  const window = size > 1_048_576 ? 4 : 16;
  // SKEIN_BENCH_PREPOST=1: the receiver posts the whole window at once (irecvBuffer into a buffer each),
  // so every CLEAR leaves at once instead of one per completed receive.
  const prepost = process.env.SKEIN_BENCH_PREPOST === '1';
  const buffers = prepost ? Array.from({ length: window }, () => new Uint8Array(size)) : [];
  const loop = async (): Promise<void> => {
    if (comm.rank === 0) {
      await Promise.all(Array.from({ length: window }, () => comm.isendBuffer(buffer, other, 3).wait()));
      await comm.recv(other, 4);
    } else {
      if (prepost) await Promise.all(buffers.map((b) => comm.irecvBuffer(b, other, 3).wait()));
      else for (let i = 0; i < window; i++) await comm.recvBuffer(buffer, other, 3);
      await comm.send(0, other, 4);
    }
  };
  for (let i = 0; i < 5; i++) await loop();
  await comm.barrier();
  const loops = Math.max(6, Math.round((64 * 1_048_576) / (size * window)));
  const cpu = process.threadCpuUsage();
  const start = performance.now();
  for (let i = 0; i < loops; i++) await loop();
  const us = (performance.now() - start) * 1000;
  const used = process.threadCpuUsage(cpu);
  return {
    mbps: (size * window * loops) / us,
    cpuPerMiB: ((used.user + used.system) / (size * window * loops)) * 1_048_576,
  };
});
