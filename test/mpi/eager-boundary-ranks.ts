// The ranks of eager-boundary.test.ts. `eagerBoundary`: which sends go eagerly and which by rendezvous,
// at the exact sizes where that changes (a buffer at eagerLimit and one byte past it; a value whose
// encoding is eagerLimit plus the codec-framing allowance, and one byte past that). Whether a send went
// eagerly shows without any timing: rank 1 probes the message (so its RTS or its whole frame is here),
// tells rank 0, and only then posts the receive; an eager isend has completed by then, a rendezvous one
// cannot have (its CLEAR needs that receive). `recordBoundary`: on thread ranks, frames around the size
// up to which a payload travels as one ring record, sent in bursts that outrun the receiver (so some
// are queued and written later in chunks) and received both posted and unexpected; each payload is
// filled with its own number, so a frame read whole before all of it was in the ring shows.

import { encode } from '../../src/codec/index.ts';
import type { Communicator } from '../../src/mpi/index.ts';
import { task } from '../../src/task.ts';

/** engine.ts's VALUE_FRAMING_ALLOWANCE_BYTES, restated: the fixture checks the documented number. */
const VALUE_ALLOWANCE = 1024;

/** A value `{ bytes }` whose encoding is exactly `encoded` bytes long. */
function valueEncodedAs(encoded: number, fill: number): { bytes: Uint8Array } {
  for (let n = Math.max(0, encoded - 32); n <= encoded; n++) {
    const value = { bytes: new Uint8Array(n).fill(fill) };
    if (encode(value).length === encoded) return value;
  }
  throw new Error(`no { bytes } value encodes to ${encoded} bytes`);
}

interface Case {
  readonly label: string;
  readonly make: (fill: number) => unknown;
  readonly eager: boolean;
}

async function eagerBoundary(comm: Communicator, eagerLimit: number): Promise<string[]> {
  const cases: Case[] = [
    { label: 'buffer at eagerLimit', make: (f) => new Uint8Array(eagerLimit).fill(f), eager: true },
    { label: 'buffer 1 B past', make: (f) => new Uint8Array(eagerLimit + 1).fill(f), eager: false },
    {
      label: 'value at eagerLimit + allowance',
      make: (f) => valueEncodedAs(eagerLimit + VALUE_ALLOWANCE, f),
      eager: true,
    },
    {
      label: 'value 1 B past',
      make: (f) => valueEncodedAs(eagerLimit + VALUE_ALLOWANCE + 1, f),
      eager: false,
    },
    {
      label: 'value of eagerLimit bytes of data',
      make: (f) => ({ bytes: new Uint8Array(eagerLimit).fill(f) }),
      eager: true,
    },
  ];
  const other = 1 - comm.rank;
  const seen: string[] = [];
  for (let i = 0; i < cases.length; i++) {
    const { label, make, eager } = cases[i]!;
    const sent = make(i + 1);
    if (comm.rank === 0) {
      const request = comm.isend(sent, other, 10 + i);
      await comm.recv(other, 1); // rank 1 has probed the message
      const done = request.test().done;
      if (done !== eager)
        throw new Error(`${label}: the isend was ${done ? '' : 'not '}done before the receive`);
      await comm.send('go', other, 2);
      await request.wait();
      seen.push(`${label}: ${eager ? 'eager' : 'rendezvous'}`);
    } else {
      await comm.probe(other, 10 + i);
      await comm.send('probed', other, 1);
      await comm.recv(other, 2);
      const got = await comm.recv(other, 10 + i);
      const bytes = got instanceof Uint8Array ? got : (got as { bytes: Uint8Array }).bytes;
      const want = sent instanceof Uint8Array ? sent : (sent as { bytes: Uint8Array }).bytes;
      if (bytes.length !== want.length || bytes.some((b) => b !== i + 1))
        throw new Error(`${label}: arrived damaged (${bytes.length} bytes)`);
      seen.push(`${label}: received`);
    }
  }
  return seen;
}

/** eagerBoundary with the default eagerLimit, and with eagerLimit 4096. */
export const eagerBoundary64k = task(import.meta, (comm: Communicator) => eagerBoundary(comm, 65_536));
export const eagerBoundary4k = task(import.meta, (comm: Communicator) => eagerBoundary(comm, 4096));

async function recordBoundary(comm: Communicator, sizes: readonly number[]): Promise<number> {
  const other = 1 - comm.rank;
  const rounds = RECORD_ROUNDS;
  let checked = 0;
  for (let round = 0; round < rounds; round++) {
    const asValues = round % 2 === 1;
    if (comm.rank === 0) {
      const sends = sizes.flatMap((size, i) => {
        const bytes = new Uint8Array(size).fill((round * 31 + i) & 255);
        return [comm.isend(asValues ? { i, bytes } : bytes, other, 3).wait()];
      });
      await Promise.all(sends);
      await comm.recv(other, 4);
      continue;
    }
    // Even rounds: half the receives posted before the burst arrives, the rest after it queued up.
    const early = round % 4 === 0 ? sizes.length >> 1 : 0;
    const into = sizes.map((size) => new Uint8Array(size));
    const posted = Array.from({ length: early }, (_, i) =>
      asValues ? comm.irecv(other, 3) : comm.irecvBuffer(into[i]!, other, 3),
    );
    const check = (got: Uint8Array, i: number): void => {
      const want = (round * 31 + i) & 255;
      if (got.length !== sizes[i]! || got.some((b) => b !== want))
        throw new Error(`round ${round}: the ${sizes[i]}-byte message ${i} arrived damaged`);
      checked++;
    };
    for (let i = 0; i < sizes.length; i++) {
      if (i < early) {
        const got = await posted[i]!.wait();
        check(asValues ? (got as { bytes: Uint8Array }).bytes : into[i]!, i);
      } else if (asValues) {
        const got = (await comm.recv(other, 3)) as { i: number; bytes: Uint8Array };
        if (got.i !== i) throw new Error(`round ${round}: message ${got.i} came in place of ${i}`);
        check(got.bytes, i);
      } else {
        await comm.recvBuffer(into[i]!, other, 3);
        check(into[i]!, i);
      }
    }
    await comm.send('next', other, 4);
  }
  return checked;
}

/** For a 64 KiB ring: 16 KiB chunks, one record up to 17 KiB (thread-transport.ts, WHOLE_SLACK_DIVISOR). */
const SMALL_CHUNK = 16_384;
const SMALL_WHOLE = SMALL_CHUNK + SMALL_CHUNK / 16;
export const SMALL_RING_SIZES = [
  SMALL_CHUNK - 1,
  SMALL_CHUNK,
  SMALL_CHUNK + 1,
  SMALL_WHOLE - 4,
  SMALL_WHOLE - 1,
  SMALL_WHOLE,
  SMALL_WHOLE + 1,
  SMALL_WHOLE + 4,
  3 * SMALL_CHUNK + 5,
  300,
];
/** For the default ring: 64 KiB chunks, one record up to 68 KiB. */
export const DEFAULT_RING_SIZES = [
  65_536,
  65_536 + 12,
  65_536 + 4096,
  65_536 + 4097,
  262_144 + 4096,
  200_000,
];
const BURST_REPEATS = 3;
export const RECORD_ROUNDS = 6;

export const recordBoundarySmallRing = task(import.meta, (comm: Communicator) =>
  recordBoundary(comm, Array.from({ length: BURST_REPEATS }, () => SMALL_RING_SIZES).flat()),
);
export const recordBoundaryDefaultRing = task(import.meta, (comm: Communicator) =>
  recordBoundary(comm, Array.from({ length: BURST_REPEATS }, () => DEFAULT_RING_SIZES).flat()),
);
