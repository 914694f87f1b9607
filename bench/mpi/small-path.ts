// The software cost of the small-message path on thread ranks, without cross-core effects: both ranks'
// transports, engines and communicators in one thread over one fabric, so every receive finds its
// message already in the ring. Prints CPU time (this thread) per message, min and median of 5 blocks.
// Run: node bench/mpi/small-path.ts [bytes=8] [buffer|value|value,buffer…] [--root DIR] (DIR: another checkout, for A/B
// in alternating runs).

import { parseArgs } from 'node:util';

const { values, positionals } = parseArgs({ options: { root: { type: 'string' } }, allowPositionals: true });
const root = values.root ?? new URL('../..', import.meta.url).pathname;
const { Activity } = await import(`${root}/src/mpi/activity.ts`);
const { Communicator } = await import(`${root}/src/mpi/communicator.ts`);
const { Engine } = await import(`${root}/src/mpi/engine.ts`);
const { createThreadFabric } = await import(`${root}/src/mpi/transport/thread-fabric.ts`);
const { ThreadTransport } = await import(`${root}/src/mpi/transport/thread-transport.ts`);

const fabric = createThreadFabric(2, 1 << 20);
const [a, b] = [0, 1].map((rank) => {
  const activity = new Activity(() => {});
  const engine = new Engine(new ThreadTransport(fabric, rank), {
    eagerLimit: 65_536,
    syncWaitTimeout: 0.2,
    spinTimeout: 0.05,
    onProgress: () => activity.progress(),
  });
  return new Communicator({ engine, activity, abort: () => {} }, 0, [0, 1]);
});
const bytes = Number(positionals[0] ?? 8);
// A comma-separated sequence, e.g. "value,buffer": each mode's blocks in turn, as bench/mpi.ts's loops
// follow each other (the buffer loop after the value loop).
const modes = (positionals[1] ?? 'buffer').split(',');
const buffer = new Uint8Array(bytes);
const value = { bytes: buffer };
const MESSAGES = 100_000;
for (const mode of modes) {
  const perMessage: number[] = [];
  for (let block = 0; block < 5; block++) {
    const start = process.threadCpuUsage();
    for (let i = 0; i < MESSAGES / 2; i++) {
      if (mode === 'value') {
        await a.send(value, 1, 2);
        await b.recv(0, 2);
        await b.send(value, 0, 2);
        await a.recv(1, 2);
      } else {
        await a.sendBuffer(buffer, 1, 2);
        await b.recvBuffer(buffer, 0, 2);
        await b.sendBuffer(buffer, 0, 2);
        await a.recvBuffer(buffer, 1, 2);
      }
    }
    const used = process.threadCpuUsage(start);
    perMessage.push((used.user + used.system) / MESSAGES);
  }
  const blocks = perMessage.map((us) => us.toFixed(2)).join(' ');
  perMessage.sort((x, y) => x - y);
  console.log(
    `${root} ${mode} ${bytes} B: ${perMessage[0]!.toFixed(2)} µs CPU per message (median ${perMessage[2]!.toFixed(2)}; blocks ${blocks})`,
  );
}
process.exit(0);
