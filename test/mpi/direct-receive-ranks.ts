// The ranks of direct-receive.test.ts. A receive from a named rank may be answered in place by the
// thread transport (a small frame read straight into the receive buffer, or a small value decoded where
// it lies, no receive posted); it must still follow MPI's matching order. Phase 0: receives and probes
// posted before their messages were sent (postedFirst). Phase 1: ranks 1 and 2 each send MESSAGES
// values and Float64Arrays, small and larger, with tags in a scrambled order, and rank 0 receives them
// every way: a named tag or ANY_TAG, with an irecv posted earlier for the same message stream, with a
// probe pending, after a probe of ANY_SOURCE, through irecv. Rank 0 keeps the list of messages not yet
// received per sender, so it knows which one each receive must get (the first unreceived one it
// matches, in send order) and checks it, status included. Phase 2: a ping-pong of buffers and values
// with rank 1 received with ANY_TAG while rank 2 keeps sending on its own tag, which rank 0 collects
// afterwards, in order.

import { ANY_SOURCE, ANY_TAG, type Communicator, Status } from '../../src/mpi/index.ts';
import { task } from '../../src/task.ts';
import { seededRandom } from '../codec/random-values.ts';

/** Messages each sender sends in phase 1. */
export const MESSAGES = 1500;
/** Round trips of phase 2, and messages rank 2 sends meanwhile. */
export const ROUND_TRIPS = 2000;
export const SIDE_MESSAGES = 300;
const SIDE_TAG = 9;

interface Message {
  readonly seq: number;
  readonly tag: number;
  /** Float64 elements: 1 (a small frame) or 40 (320 bytes, a header and a payload record). */
  readonly elements: number;
  /** Sent as a value ({ source, seq, pad }: a small frame, or a larger one with 300 bytes of pad). */
  readonly value: boolean;
}

function messageOf(source: number, seq: number): Message {
  return {
    seq,
    tag: (seq * 7 + source * 3 + (seq >> 3)) % 3,
    elements: seq % 7 === 3 ? 40 : 1,
    value: seq % 5 === 1 || seq % 5 === 4,
  };
}

interface Got {
  readonly status: Status;
  readonly got: Float64Array | Sent;
}

interface Sent {
  readonly source: number;
  readonly seq: number;
  readonly pad: string;
}

function sentValueOf(source: number, m: Message): Sent {
  return { source, seq: m.seq, pad: m.elements > 1 ? 'x'.repeat(300) : '' };
}

function contentOf(source: number, seq: number, elements: number): Float64Array {
  const out = new Float64Array(elements);
  for (let i = 0; i < elements; i++) out[i] = source * 1_000_000 + seq + i / 64;
  return out;
}

/** Rounds of phase 0: a receive or probe posted before rank 1 sends the two messages it matches. */
export const POSTED_FIRST_ROUNDS = 300;
const GO_TAG = 11;
const PAIR_TAG = 5;

/**
 * Phase 0, between ranks 0 and 1: rank 0 posts an irecv (or a probe) while nothing is on its way, lets
 * rank 1 send two messages, and receives with recvBuffer: the irecv must get the first (and the
 * blocking receive the second), the probe must see the one the receive takes.
 */
async function postedFirst(comm: Communicator): Promise<void> {
  const first = new Float64Array(1);
  const second = new Float64Array(1);
  for (let round = 0; round < POSTED_FIRST_ROUNDS; round++) {
    // Every fourth and fifth round of four and five: values ({ n }) received with irecv and recv.
    const values = round % 4 >= 2;
    if (comm.rank === 1) {
      await comm.recv(0, GO_TAG);
      for (const n of [2 * round, 2 * round + 1]) {
        if (values) await comm.send({ n }, 0, PAIR_TAG);
        else await comm.sendBuffer(Float64Array.of(n), 0, PAIR_TAG);
      }
      continue;
    }
    const tag = round % 3 === 0 ? ANY_TAG : PAIR_TAG;
    if (values) {
      const probed = round % 8 >= 6 ? comm.probe(1, tag) : null;
      const request = comm.irecv<{ n: number }>(1, tag);
      await comm.send(null, 1, GO_TAG);
      const status = new Status();
      const later = await comm.recv<{ n: number }>(1, tag, { status });
      const early = await request.wait();
      const envelope = await probed;
      if (early.n !== 2 * round || later.n !== 2 * round + 1 || status.tag !== PAIR_TAG)
        throw new Error(`round ${round}: the irecv got ${early.n}, the receive after it ${later.n}`);
      if (envelope !== null && envelope.tag !== PAIR_TAG)
        throw new Error(`round ${round}: probe ${envelope.tag}`);
    } else if (round % 2 === 0) {
      const request = comm.irecvBuffer(first, 1, tag);
      await comm.send(null, 1, GO_TAG);
      const status = await comm.recvBuffer(second, 1, tag);
      await request.wait();
      if (first[0] !== 2 * round || second[0] !== 2 * round + 1 || status.tag !== PAIR_TAG)
        throw new Error(`round ${round}: the irecv got ${first[0]}, the receive after it ${second[0]}`);
    } else {
      const probed = comm.probe(1, tag);
      await comm.send(null, 1, GO_TAG);
      await comm.recvBuffer(first, 1, tag);
      await comm.recvBuffer(second, 1, tag);
      const envelope = await probed;
      if (first[0] !== 2 * round || second[0] !== 2 * round + 1 || envelope.tag !== PAIR_TAG)
        throw new Error(`round ${round}: probe ${JSON.stringify(envelope)}, then ${first[0]}, ${second[0]}`);
    }
  }
}

export const directReceive = task(import.meta, async (comm: Communicator) => {
  if (comm.rank < 2) await postedFirst(comm);
  await comm.barrier();
  if (comm.rank !== 0) {
    for (let seq = 0; seq < MESSAGES; seq++) {
      const m = messageOf(comm.rank, seq);
      if (m.value) await comm.send(sentValueOf(comm.rank, m), 0, m.tag);
      else await comm.sendBuffer(contentOf(comm.rank, seq, m.elements), 0, m.tag);
    }
    await comm.barrier();
    if (comm.rank === 1) {
      const into = new Float64Array(1);
      for (let i = 0; i < ROUND_TRIPS; i++) {
        if (i % 2 === 1) {
          const status = new Status();
          const got = await comm.recv<{ i: number }>(0, ANY_TAG, { status });
          if (status.tag !== i % 4 || got.i !== i) throw new Error(`ping ${i}: tag ${status.tag}, ${got.i}`);
          await comm.send(got, 0, (i + 1) % 4);
          continue;
        }
        const status = await comm.recvBuffer(into, 0, ANY_TAG);
        if (status.tag !== i % 4 || into[0] !== i)
          throw new Error(`ping ${i}: tag ${status.tag}, ${into[0]}`);
        await comm.sendBuffer(into, 0, (i + 1) % 4);
      }
    } else if (comm.rank === 2) {
      for (let i = 0; i < SIDE_MESSAGES; i++) {
        await comm.sendBuffer(Float64Array.of(-i), 0, SIDE_TAG);
        // Paced, so its frames land while rank 0 waits on rank 1's ring.
        if (i % 4 === 0) await new Promise((resolve) => setTimeout(resolve, 1));
      }
    }
    return comm.rank;
  }

  const senders = Array.from({ length: comm.size - 1 }, (_, i) => i + 1);
  const unreceived = new Map(senders.map((s) => [s, Array.from({ length: MESSAGES }, (_, seq) => seq)]));
  let received = 0;
  /** The messages from `source` a receive with `tag` takes next, in order (removed as received). */
  const matching = (source: number, tag: number, count: number): Message[] => {
    const out: Message[] = [];
    for (const seq of unreceived.get(source)!) {
      const m = messageOf(source, seq);
      if (tag === ANY_TAG || m.tag === tag) out.push(m);
      if (out.length === count) break;
    }
    return out;
  };
  /** Starts the receive of `m` (a value or a buffer, as it was sent) from `source` with `tag`. */
  const receive = (m: Message, source: number, tag: number, nonBlocking: boolean): Promise<Got> => {
    if (m.value) {
      if (nonBlocking) {
        const request = comm.irecv<Sent>(source, tag);
        return request.wait().then((got) => ({ status: request.status!, got }));
      }
      const status = new Status();
      return comm.recv<Sent>(source, tag, { status }).then((got) => ({ status, got }));
    }
    const into = new Float64Array(m.elements);
    const received = nonBlocking
      ? comm.irecvBuffer(into, source, tag).wait()
      : comm.recvBuffer(into, source, tag);
    return received.then((status) => ({ status, got: into }));
  };
  /** Checks that a receive got `want` from `source`, and counts it received. */
  const taken = (source: number, want: Message, { status, got }: Got, how: string): void => {
    const label = `${how}: message ${want.seq} from ${source}`;
    if (status.source !== source || status.tag !== want.tag) {
      throw new Error(`${label}: status ${JSON.stringify(status)}`);
    }
    if (want.value) {
      const sent = got as Sent;
      const pad = sentValueOf(source, want).pad;
      if (sent.source !== source || sent.seq !== want.seq || sent.pad !== pad)
        throw new Error(`${label}: got ${JSON.stringify({ source: sent.source, seq: sent.seq })}`);
    } else {
      const into = got as Float64Array;
      const expected = contentOf(source, want.seq, want.elements);
      if (status.size !== want.elements * 8) throw new Error(`${label}: size ${status.size}`);
      for (let i = 0; i < want.elements; i++) {
        if (into[i] !== expected[i]) throw new Error(`${label}: got ${into[0]}`);
      }
    }
    const list = unreceived.get(source)!;
    list.splice(list.indexOf(want.seq), 1);
    received++;
  };

  const next = seededRandom(0x5eed);
  const total = MESSAGES * senders.length;
  while (received < total) {
    const open = senders.filter((s) => unreceived.get(s)!.length > 0);
    const source = open[Math.floor(next() * open.length)]!;
    const first = messageOf(source, unreceived.get(source)![0]!);
    // Mostly a tag whose first message is not the sender's next one, so earlier ones wait as unexpected.
    const pick = next();
    const tag = pick < 0.3 ? ANY_TAG : pick < 0.55 ? first.tag : Math.floor(next() * 3);
    const [want, after] = matching(source, tag, 2);
    if (want === undefined) continue;
    const op = Math.floor(next() * 6);
    if (op <= 1) {
      taken(source, want, await receive(want, source, tag, false), 'a receive');
    } else if (op === 2 && after !== undefined) {
      // An irecv posted first takes the first message; the blocking receive after it, the second.
      const early = receive(want, source, tag, true);
      const later = await receive(after, source, tag, false);
      taken(source, want, await early, 'an irecv posted before');
      taken(source, after, later, 'a receive after an irecv');
    } else if (op === 3) {
      // A probe pending while the receive runs sees the message the receive takes.
      const probed = comm.probe(source, tag);
      taken(source, want, await receive(want, source, tag, false), 'a receive with a probe');
      const envelope = await probed;
      if (envelope.tag !== want.tag || (!want.value && envelope.size !== want.elements * 8))
        throw new Error(`probe saw ${JSON.stringify(envelope)}, the receive got message ${want.seq}`);
    } else if (op === 4) {
      const envelope = await comm.probe(ANY_SOURCE, ANY_TAG);
      const [probedWant] = matching(envelope.source, envelope.tag, 1);
      const got = await receive(probedWant!, envelope.source, envelope.tag, false);
      taken(envelope.source, probedWant!, got, 'a receive after probe(ANY_SOURCE)');
    } else {
      taken(source, want, await receive(want, source, tag, true), 'an irecv');
    }
  }
  await comm.barrier();

  const into = new Float64Array(1);
  for (let i = 0; i < ROUND_TRIPS; i++) {
    if (i % 2 === 1) {
      await comm.send({ i }, 1, i % 4);
      const status = new Status();
      const back = await comm.recv<{ i: number }>(1, ANY_TAG, { status });
      if (status.tag !== (i + 1) % 4 || back.i !== i)
        throw new Error(`pong ${i}: tag ${status.tag}, ${back.i}`);
      continue;
    }
    into[0] = i;
    await comm.sendBuffer(into, 1, i % 4);
    const status = await comm.recvBuffer(into, 1, ANY_TAG);
    if (status.tag !== (i + 1) % 4 || into[0] !== i)
      throw new Error(`pong ${i}: tag ${status.tag}, ${into[0]}`);
  }
  if (comm.size > 2) {
    for (let i = 0; i < SIDE_MESSAGES; i++) {
      const status = await comm.recvBuffer(into, 2, ANY_TAG);
      if (status.tag !== SIDE_TAG || into[0] !== -i) throw new Error(`side message ${i}: ${into[0]}`);
    }
  }
  return received;
});
