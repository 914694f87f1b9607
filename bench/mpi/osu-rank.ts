// The Skein side of bench/mpi.ts, OSU micro-benchmark style on 2 ranks: ping-pong latency (value path
// through the codec, buffer path into the caller's buffer), windowed bandwidth, allreduce, bcast and
// barrier. Returns microseconds (latency, collectives) and MB/s (bandwidth) from rank 0.

import { type Communicator, SUM } from '../../src/mpi/index.ts';
import { task } from '../../src/task.ts';

export const LATENCY_SIZES = [8, 1024, 65_536, 1_048_576];
// OSU's default loop counts (osu_latency): 10,000 round trips up to 8 KiB, 1,000 beyond. Warm-up: a tenth
// of that, but at least SMALL_WARM_UP for the loops of small messages, since V8 optimises the per-message
// functions only after 10,000-22,000 round trips (--trace-opt) and shorter warm-ups measured the JIT
// warming up more than the transport. bench/mpi/osu.py warms mpi4py up the same way.
const iterationsFor = (bytes: number): number => (bytes <= 8192 ? 10_000 : 1000);
const SMALL_WARM_UP = 30_000;
const warmUpFor = (bytes: number): number => (bytes <= 8192 ? SMALL_WARM_UP : iterationsFor(bytes) / 10);
const WINDOW = 16;
/** bench/mpi.ts --only: metric prefixes to measure (every rank reads the same environment). */
const ONLY = process.env.SKEIN_BENCH_MPI_ONLY?.split(',').map((prefix) => prefix.trim());
const wanted = (metric: string): boolean => ONLY === undefined || ONLY.some((p) => metric.startsWith(p));

async function timed(
  comm: Communicator,
  iterations: number,
  body: () => Promise<void>,
  warmUp = Math.max(5, iterations / 10),
): Promise<number> {
  for (let i = 0; i < warmUp; i++) await body();
  await comm.barrier();
  const start = performance.now();
  for (let i = 0; i < iterations; i++) await body();
  return ((performance.now() - start) * 1000) / iterations;
}

export const osu = task(import.meta, async (comm: Communicator) => {
  const other = 1 - comm.rank;
  const out: Record<string, number> = {};
  for (const bytes of LATENCY_SIZES) {
    const value = { bytes: new Uint8Array(bytes).fill(1) };
    if (wanted(`latency value ${bytes}`))
      out[`latency value ${bytes}`] =
        (await timed(
          comm,
          iterationsFor(bytes),
          async () => {
            if (comm.rank === 0) {
              await comm.send(value, other, 1);
              await comm.recv(other, 1);
            } else {
              await comm.send(await comm.recv(other, 1), other, 1);
            }
          },
          warmUpFor(bytes),
        )) / 2;
    const buffer = new Uint8Array(bytes).fill(2);
    if (wanted(`latency buffer ${bytes}`))
      out[`latency buffer ${bytes}`] =
        (await timed(
          comm,
          iterationsFor(bytes),
          async () => {
            if (comm.rank === 0) {
              await comm.sendBuffer(buffer, other, 2);
              await comm.recvBuffer(buffer, other, 2);
            } else {
              await comm.recvBuffer(buffer, other, 2);
              await comm.sendBuffer(buffer, other, 2);
            }
          },
          warmUpFor(bytes),
        )) / 2;
  }
  for (const bytes of [1_048_576, 16_777_216]) {
    if (!wanted(`bandwidth buffer ${bytes}`)) continue;
    const buffer = new Uint8Array(bytes).fill(3);
    const window = bytes > 1_048_576 ? 4 : WINDOW;
    const perLoopUs = await timed(comm, bytes > 1_048_576 ? 3 : 6, async () => {
      if (comm.rank === 0) {
        await Promise.all(Array.from({ length: window }, () => comm.isendBuffer(buffer, other, 3).wait()));
        await comm.recv(other, 4);
      } else {
        for (let i = 0; i < window; i++) await comm.recvBuffer(buffer, other, 3);
        await comm.send(0, other, 4);
      }
    });
    out[`bandwidth buffer ${bytes}`] = (bytes * window) / perLoopUs; // bytes per microsecond = MB/s
  }
  if (wanted('allreduce 8'))
    out['allreduce 8'] = await timed(
      comm,
      2000,
      async () => void (await comm.allreduce(new Float64Array(1), SUM)),
      SMALL_WARM_UP,
    );
  const big = new Float64Array(131_072);
  if (wanted('allreduce 1048576'))
    out['allreduce 1048576'] = await timed(comm, 40, async () => void (await comm.allreduce(big, SUM)));
  const bcastBuffer = new Uint8Array(1_048_576);
  if (wanted('bcast 1048576'))
    out['bcast 1048576'] = await timed(comm, 60, () => comm.bcastBuffer(bcastBuffer, 0));
  if (wanted('barrier')) out.barrier = await timed(comm, 2000, () => comm.barrier(), SMALL_WARM_UP);
  return comm.rank === 0 ? out : undefined;
});
