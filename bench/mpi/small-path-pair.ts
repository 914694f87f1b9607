// What small-path.ts and small-path-ab.ts share: two ranks' thread transports, engines and communicators
// of one checkout in this one thread over one fabric, and a timed block of ping-pongs between them.

export interface CommLike {
  send(value: unknown, dest: number, tag: number): Promise<void>;
  recv(source: number, tag: number): Promise<unknown>;
  sendBuffer(buffer: Uint8Array, dest: number, tag: number): Promise<void>;
  recvBuffer(buffer: Uint8Array, source: number, tag: number): Promise<unknown>;
}

export interface Pair {
  readonly a: CommLike;
  readonly b: CommLike;
}

/** Ranks 0 and 1 of the checkout at `root`, both in this thread. */
export async function pairFrom(root: string): Promise<Pair> {
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
    return new Communicator({ engine, activity, abort: () => {} }, 0, [0, 1]) as CommLike;
  });
  return { a: a!, b: b! };
}

/**
 * `messages` messages between the pair, as `{ bytes: buffer }` values or as `buffer` itself; returns
 * this thread's CPU time per message, µs (every receive finds its message already in the ring). Mode
 * "echo": values, rank 1 sending back the value it received, as osu-rank.ts's rank 1 does (a decoded
 * array is sent again, where "value" sends one array each way over and over).
 */
export async function cpuPerMessage(
  { a, b }: Pair,
  mode: string,
  buffer: Uint8Array,
  messages: number,
): Promise<number> {
  const value = { bytes: buffer };
  const start = process.threadCpuUsage();
  for (let i = 0; i < messages / 2; i++) {
    if (mode === 'value') {
      await a.send(value, 1, 2);
      await b.recv(0, 2);
      await b.send(value, 0, 2);
      await a.recv(1, 2);
    } else if (mode === 'echo') {
      await a.send(value, 1, 2);
      await b.send(await b.recv(0, 2), 0, 2);
      await a.recv(1, 2);
    } else {
      await a.sendBuffer(buffer, 1, 2);
      await b.recvBuffer(buffer, 0, 2);
      await b.sendBuffer(buffer, 0, 2);
      await a.recvBuffer(buffer, 1, 2);
    }
  }
  const used = process.threadCpuUsage(start);
  return (used.user + used.system) / messages;
}
