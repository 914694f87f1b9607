// The ranks of value-path.test.ts: value messages through every way the value path takes them — large
// ones by rendezvous while more of them are in flight than there are scratch encoders, eager ones
// decoded as they arrive (posted receives) or copied out and decoded later (unexpected ones), in whole
// records or in parts (a small ring), and a value met by recvBuffer. Each value carries its own number,
// so a damaged, swapped or reused buffer shows.

import type { Communicator } from '../../src/mpi/index.ts';
import { task } from '../../src/task.ts';

interface Sample {
  readonly n: number;
  readonly label: string;
  readonly data: Float64Array;
  readonly bytes: Uint8Array;
}

function sample(n: number, elements: number): Sample {
  return {
    n,
    label: `value ${n} ${'x'.repeat(n % 7)}`,
    data: new Float64Array(elements).fill(n + 0.5),
    bytes: new Uint8Array(elements).fill(n & 255),
  };
}

function check(value: unknown, n: number, elements: number): void {
  const got = value as Sample;
  const want = sample(n, elements);
  if (
    got.n !== n ||
    got.label !== want.label ||
    !(got.data instanceof Float64Array) ||
    got.data.length !== elements ||
    got.data.some((x) => x !== n + 0.5) ||
    !(got.bytes instanceof Uint8Array) ||
    got.bytes.length !== elements ||
    got.bytes.some((x) => x !== (n & 255))
  ) {
    throw new Error(`value ${n} (${elements} elements) arrived damaged: n=${String(got.n)}`);
  }
}

/** Large values: 12 rendezvous sends in flight at once (more than the 8 scratch encoders). */
const LARGE = { count: 12, elements: 20_000 };
/** Eager values of ~30 KB: one record in the default ring, several in a 64 KiB one. */
const EAGER = { count: 40, elements: 3_300 };

export const valuePath = task(import.meta, async (comm: Communicator) => {
  const other = 1 - comm.rank;
  let checked = 0;
  if (comm.rank === 0) {
    const large = Array.from({ length: LARGE.count }, (_, i) =>
      comm.isend(sample(i, LARGE.elements), other, 1).wait(),
    );
    await comm.send('all large sends posted', other, 2);
    await Promise.all(large);
    const eager = Array.from({ length: EAGER.count }, (_, i) =>
      comm.isend(sample(100 + i, EAGER.elements), other, 3).wait(),
    );
    await Promise.all(eager);
    await comm.send(sample(7, 10), other, 4);
    await comm.send(sample(8, 10), other, 5);
    return checked;
  }
  // Every large RTS is here (sent before the marker), each holding its sender's scratch or a copy.
  await comm.recv(other, 2);
  for (let i = 0; i < LARGE.count; i++) {
    check(await comm.recv(other, 1), i, LARGE.elements);
    checked++;
  }
  // Half the eager values find their receive posted, the rest arrive first and wait.
  const posted = Array.from({ length: EAGER.count / 2 }, () => comm.irecv(other, 3));
  for (let i = 0; i < posted.length; i++) {
    check(await posted[i]!.wait(), 100 + i, EAGER.elements);
    checked++;
  }
  await new Promise((resolve) => setTimeout(resolve, 50));
  for (let i = EAGER.count / 2; i < EAGER.count; i++) {
    check(await comm.recv(other, 3), 100 + i, EAGER.elements);
    checked++;
  }
  // A value met by recvBuffer is refused; probe sees its size; recv then takes it whole.
  const status = await comm.probe(other, 4);
  const refused = await comm.recvBuffer(new Uint8Array(status.size), other, 4).then(
    () => 'received',
    (error: { code?: string }) => error.code,
  );
  if (refused !== 'SKEIN_MPI_TYPE_MISMATCH') throw new Error(`recvBuffer of a value gave ${refused}`);
  const after = (await comm.recv(other, 5)) as Sample;
  check(after, 8, 10);
  checked++;
  return checked;
});
