// The ranks of small-frames.test.ts: messages of 0 to 300 bytes (across the thread transport's
// one-record small frames, up to 255 bytes) from two senders to rank 0, values and typed arrays of
// several element types interleaved, received in every way matching allows: ANY_SOURCE and ANY_TAG,
// one tag out of turn, probe first, receives posted before the messages came, recvBuffer into exact
// and larger buffers, the typed errors, and receives withdrawn (cancel, timeout) before the frames
// came. Each message carries (source, sequence), so loss, damage and reordering between one sender
// and rank 0 show. `echoMix`: many round trips of every kind and size in turn, each checked.

import { ANY_SOURCE, ANY_TAG, type Communicator, Status, type TypedArray } from '../../src/mpi/index.ts';
import { task } from '../../src/task.ts';

/** Payload sizes in bytes, each sent as a Uint8Array, an Int16Array, a Float64Array and a value. */
const SIZES = [0, 1, 7, 8, 16, 19, 20, 31, 32, 100, 248, 254, 255, 256, 257, 300];
const KINDS = ['u8', 'i16', 'f64', 'value'] as const;
type Kind = (typeof KINDS)[number];

interface Planned {
  readonly seq: number;
  readonly kind: Kind;
  readonly bytes: number;
  readonly tag: number;
}

/** What a sender sends, in order: every kind at every size, tags 1..3 in turn. */
function plan(): Planned[] {
  const out: Planned[] = [];
  for (const bytes of SIZES)
    for (const kind of KINDS) out.push({ seq: out.length, kind, bytes, tag: 1 + (out.length % 3) });
  return out;
}

/** Byte i of message `seq` from `source`. */
const byteAt = (source: number, seq: number, i: number): number => (source * 97 + seq * 13 + i * 7) & 255;

function payload(source: number, { seq, kind, bytes }: Planned): unknown {
  const raw = new Uint8Array(bytes);
  for (let i = 0; i < bytes; i++) raw[i] = byteAt(source, seq, i);
  // The bytes are (source, seq)-specific; the first two identify the message where they fit.
  if (kind === 'u8') return raw;
  if (kind === 'value') return { source, seq, raw };
  const width = kind === 'i16' ? 2 : 8;
  const view = new Uint8Array(Math.floor(bytes / width) * width);
  view.set(raw.subarray(0, view.length));
  return kind === 'i16' ? new Int16Array(view.buffer) : new Float64Array(view.buffer);
}

function bytesOfTyped(view: TypedArray): Uint8Array {
  return new Uint8Array(view.buffer, view.byteOffset, view.byteLength);
}

/** Throws unless `got` is message `planned` from `source`. */
function check(source: number, planned: Planned, got: unknown): void {
  const want = payload(source, planned);
  const label = `message ${planned.seq} (${planned.kind}, ${planned.bytes} B) from ${source}`;
  if (planned.kind === 'value') {
    const value = got as { source: number; seq: number; raw: Uint8Array };
    const raw = (want as { raw: Uint8Array }).raw;
    if (value.source !== source || value.seq !== planned.seq || !(value.raw instanceof Uint8Array))
      throw new Error(`${label}: got ${JSON.stringify({ source: value.source, seq: value.seq })}`);
    if (value.raw.length !== raw.length || value.raw.some((b, i) => b !== raw[i]))
      throw new Error(`${label}: damaged`);
    return;
  }
  const wantView = want as TypedArray;
  const gotView = got as TypedArray;
  if (gotView.constructor !== wantView.constructor)
    throw new Error(`${label}: a ${gotView.constructor.name}`);
  const a = bytesOfTyped(gotView);
  const b = bytesOfTyped(wantView);
  if (a.length !== b.length || a.some((x, i) => x !== b[i])) throw new Error(`${label}: damaged`);
}

export const smallFrames = task(import.meta, async (comm: Communicator) => {
  const messages = plan();
  if (comm.rank !== 0) {
    for (const m of messages) await comm.send(payload(comm.rank, m), 0, m.tag);
    // Typed errors on small frames: a value met by recvBuffer, a buffer too small.
    await comm.send({ small: true }, 0, 7);
    await comm.send(new Uint8Array(40), 0, 8);
    await comm.send(new Uint8Array(40), 0, 8);
    if (comm.rank === 1) {
      // Sent only once rank 0 withdrew a receive for them, then once its receive with a timeout failed.
      await comm.recv(0, 10);
      await comm.send({ c: 1 }, 0, 9);
      await comm.send(new Uint8Array([1, 2, 3, 4, 5]), 0, 9);
      await comm.send({ c: 2 }, 0, 9);
      await comm.recv(0, 12);
      await comm.send('late', 0, 11);
    }
    return comm.rank;
  }
  const senders = comm.size - 1;
  const next = new Array<number>(comm.size).fill(0);
  let received = 0;
  const take = (status: Status, got: unknown): void => {
    const expected = messages[next[status.source]!]!;
    if (status.tag !== expected.tag)
      throw new Error(`from ${status.source}: tag ${status.tag}, expected ${expected.tag}`);
    const size =
      expected.kind === 'value'
        ? status.size
        : expected.bytes - (expected.bytes % (expected.kind === 'i16' ? 2 : expected.kind === 'f64' ? 8 : 1));
    if (status.size !== size)
      throw new Error(`from ${status.source}: status.size ${status.size}, expected ${size}`);
    check(status.source, expected, got);
    next[status.source]!++;
    received++;
  };
  // Two receives posted before anything arrives, one per sender.
  const early = [1, 2]
    .filter((s) => s <= senders)
    .map((s) => ({ source: s, request: comm.irecv(s, ANY_TAG) }));
  for (const { source, request } of early) {
    const got = await request.wait();
    take(request.status!, got);
    if (request.status!.source !== source) throw new Error('an irecv for one source matched another');
  }
  const total = messages.length * senders;
  while (received < total) {
    const mode = received % 4;
    const status = new Status();
    if (mode === 0) {
      const got = await comm.recv(ANY_SOURCE, ANY_TAG, { status });
      take(status, got);
    } else if (mode === 1) {
      const probed = await comm.probe(ANY_SOURCE, ANY_TAG);
      const got = await comm.recv(probed.source, probed.tag, { status });
      if (status.source !== probed.source || status.size !== probed.size)
        throw new Error('probe and recv disagree');
      take(status, got);
    } else {
      // A specific source: the one with more left, so both drain.
      const source =
        senders === 1 || next[1]! <= next[2]!
          ? next[1]! < messages.length
            ? 1
            : 2
          : next[2]! < messages.length
            ? 2
            : 1;
      const expected = messages[next[source]!]!;
      if (expected.kind === 'value' || mode === 2) {
        const got = await comm.recv(source, expected.tag, { status });
        take(status, got);
      } else {
        // Into a buffer of the sent type, exact or larger.
        const width = expected.kind === 'i16' ? 2 : expected.kind === 'f64' ? 8 : 1;
        const extra = received % 8 === 3 ? 5 : 0;
        const elements = Math.floor(expected.bytes / width) + extra;
        const into =
          expected.kind === 'u8'
            ? new Uint8Array(elements)
            : expected.kind === 'i16'
              ? new Int16Array(elements)
              : new Float64Array(elements);
        const got = await comm.recvBuffer(into, source, expected.tag);
        const view = into.subarray(0, Math.floor(expected.bytes / width)) as TypedArray;
        take(got, view);
      }
    }
  }
  for (let s = 1; s <= senders; s++) {
    const mismatch = await comm.recvBuffer(new Uint8Array(64), s, 7).then(
      () => 'received',
      (error: { code?: string }) => error.code,
    );
    if (mismatch !== 'SKEIN_MPI_TYPE_MISMATCH')
      throw new Error(`recvBuffer of a small value gave ${mismatch}`);
    const truncated = await comm.recvBuffer(new Uint8Array(39), s, 8).then(
      () => 'received',
      (error: { code?: string }) => error.code,
    );
    if (truncated !== 'SKEIN_MPI_TRUNCATED')
      throw new Error(`recvBuffer into a short buffer gave ${truncated}`);
    await comm.recvBuffer(new Uint8Array(40), s, 8);
  }
  // A withdrawn receive takes nothing: the small frames sent after it go to the receives after it.
  const withdrawn = comm.irecv(1, 9);
  if (!withdrawn.cancel()) throw new Error('a posted irecv could not be cancelled');
  await comm.send('go', 1, 10);
  const first = (await comm.recv(1, 9)) as { c: number };
  const five = new Uint8Array(5);
  const status = await comm.recvBuffer(five, 1, 9);
  const second = (await comm.irecv(1, 9).wait()) as { c: number };
  if (first.c !== 1 || status.size !== 5 || five.join() !== '1,2,3,4,5' || second.c !== 2)
    throw new Error(`after a cancel: ${JSON.stringify([first, status.size, [...five], second])}`);
  if (withdrawn.test().done) throw new Error('the cancelled irecv completed');
  // A receive that timed out is withdrawn as well: the message sent after it goes to the next one.
  const timedOut = await comm.recv(1, 11, { timeout: 50 }).then(
    () => 'received',
    (error: { code?: string }) => error.code,
  );
  if (timedOut !== 'SKEIN_TIMEOUT') throw new Error(`a receive with nothing to take gave ${timedOut}`);
  await comm.send('now', 1, 12);
  const late = await comm.recv(1, 11);
  if (late !== 'late') throw new Error(`the message after a timed-out receive: ${String(late)}`);
  return received;
});

export const SMALL_FRAME_MESSAGES = SIZES.length * KINDS.length;

/** Round trips of echoMix. */
export const ECHO_ROUND_TRIPS = 6000;

/**
 * Rank 0 sends message i (its kind and size cycle through every kind and SIZES) and waits for it back;
 * rank 1 receives with ANY_SOURCE and ANY_TAG and sends back what it got. Every echo is checked.
 */
export const echoMix = task(import.meta, async (comm: Communicator) => {
  const kinds = SIZES.flatMap((bytes) => KINDS.map((kind) => ({ bytes, kind })));
  for (let i = 0; i < ECHO_ROUND_TRIPS; i++) {
    const { bytes, kind } = kinds[i % kinds.length]!;
    const planned: Planned = { seq: i, kind, bytes, tag: i % 5 };
    if (comm.rank === 0) {
      await comm.send(payload(0, planned), 1, planned.tag);
      const status = new Status();
      const back = await comm.recv(1, planned.tag, { status });
      check(0, planned, back);
    } else {
      const status = new Status();
      const got = await comm.recv(ANY_SOURCE, ANY_TAG, { status });
      if (status.source !== 0 || status.tag !== planned.tag)
        throw new Error(`echo ${i}: from ${status.source} tag ${status.tag}`);
      await comm.send(got, 0, status.tag);
    }
  }
  return ECHO_ROUND_TRIPS;
});
