// Collective operations built on point-to-point messages in a communicator's hidden collective context
// (so they never match user messages): dissemination barrier, binomial-tree bcast and reduce, recursive
// doubling allreduce and scan, ring allgather (and ring allreduce for large typed arrays), pairwise
// alltoall, linear scatter and gather at the root.
// Invariant: every rank calls the same collectives in the same order (MPI's rule); per-pair message
// order then matches each step's send with its receive without sequence numbers.

import { InvalidArgumentError } from '../errors.ts';
import { Op } from './ops.ts';
import { dtypeOf, isTypedArray, type TypedArray, typedFromBytes } from './typed.ts';

/** Point-to-point in the collective context, by communicator rank. */
export interface CollectiveChannel {
  readonly rank: number;
  readonly size: number;
  send(value: unknown, dest: number, tag: number): Promise<void>;
  /** send, returning undefined when the value was copied out at once (nothing to wait for). */
  post(value: unknown, dest: number, tag: number): Promise<void> | undefined;
  recv(source: number, tag: number): Promise<unknown>;
  /** Receives a buffer message into `into` (same element type, at most its length). */
  recvInto(into: TypedArray, source: number, tag: number): Promise<void>;
}

export const CollectiveTag = Object.freeze({
  BARRIER: 1,
  BCAST: 2,
  SCATTER: 3,
  GATHER: 4,
  ALLGATHER: 5,
  ALLTOALL: 6,
  REDUCE: 7,
  ALLREDUCE: 8,
  SCAN: 9,
  COMM: 10,
  NEIGHBOR: 11,
});

/** Typed arrays of at least this many bytes allreduce by ring (reduce-scatter, then allgather). */
export const RING_ALLREDUCE_MIN_BYTES = 64 * 1024;

function invalid(message: string): InvalidArgumentError {
  return new InvalidArgumentError('SKEIN_MPI_INVALID_ARGUMENT', message);
}

export function checkRoot(root: unknown, size: number, what: string): number {
  if (!Number.isInteger(root) || (root as number) < 0 || (root as number) >= size) {
    throw invalid(
      `${what}: root must be a rank of the communicator, an integer in 0..${size - 1} (got ${String(root)})`,
    );
  }
  return root as number;
}

export function checkOp(op: unknown, what: string): Op {
  if (!(op instanceof Op))
    throw invalid(`${what}: op must be an Op such as SUM or Op.create(fn) (got ${String(op)})`);
  return op;
}

/**
 * Sends `value` to `dest` and receives from `source` at once; resolves with what was received. When
 * the send was copied out at once (eager), the receive's own promise, with no Promise.all around it.
 */
function exchange(
  ch: CollectiveChannel,
  value: unknown,
  dest: number,
  source: number,
  tag: number,
): Promise<unknown> {
  const sent = ch.post(value, dest, tag);
  const received = ch.recv(source, tag);
  return sent === undefined ? received : Promise.all([sent, received]).then((both) => both[1]);
}

/** What a barrier message carries: an empty buffer message, which needs no codec either way. */
const SIGNAL = new Uint8Array(0);

export async function barrier(ch: CollectiveChannel): Promise<void> {
  const { rank, size } = ch;
  for (let distance = 1; distance < size; distance *= 2) {
    await exchange(
      ch,
      SIGNAL,
      (rank + distance) % size,
      (rank - distance + size) % size,
      CollectiveTag.BARRIER,
    );
  }
}

export async function bcast<T>(ch: CollectiveChannel, value: T, root: number): Promise<T> {
  const { rank, size } = ch;
  const { parent, children } = binomialTree(rank, root, size);
  if (parent !== undefined) value = (await ch.recv(parent, CollectiveTag.BCAST)) as T;
  await Promise.all(children.map((child) => ch.send(value, child, CollectiveTag.BCAST)));
  return value;
}

/** bcast into every rank's own buffer: the root's bytes land in place, with no allocation. */
export async function bcastInto(ch: CollectiveChannel, buffer: TypedArray, root: number): Promise<void> {
  const { parent, children } = binomialTree(ch.rank, root, ch.size);
  if (parent !== undefined) await ch.recvInto(buffer, parent, CollectiveTag.BCAST);
  await Promise.all(children.map((child) => ch.send(buffer, child, CollectiveTag.BCAST)));
}

/**
 * A rank's place in the binomial tree rooted at `root` that bcast sends down: the rank it receives
 * from (none at the root) and the ranks it then sends to, farthest subtree first.
 */
function binomialTree(rank: number, root: number, size: number): { parent?: number; children: number[] } {
  const relative = (rank - root + size) % size;
  let parent: number | undefined;
  let mask = 1;
  while (mask < size) {
    if (relative & mask) {
      parent = (relative - mask + root) % size;
      break;
    }
    mask <<= 1;
  }
  const children: number[] = [];
  for (mask >>= 1; mask > 0; mask >>= 1) {
    if (relative + mask < size) children.push((relative + mask + root) % size);
  }
  return parent === undefined ? { children } : { parent, children };
}

export async function reduce(ch: CollectiveChannel, value: unknown, op: Op, root: number): Promise<unknown> {
  const { rank, size } = ch;
  // A non-commutative op reduces toward rank 0, where relative order is rank order, then moves.
  const base = op.commutative ? root : 0;
  const relative = (rank - base + size) % size;
  let acc = value;
  let sent = false;
  for (let mask = 1; mask < size; mask <<= 1) {
    if (relative & mask) {
      await ch.send(acc, (relative - mask + base) % size, CollectiveTag.REDUCE);
      sent = true;
      break;
    }
    if (relative + mask < size) {
      acc = op.apply(acc, await ch.recv((relative + mask + base) % size, CollectiveTag.REDUCE));
    }
  }
  if (base !== root) {
    if (rank === base) await ch.send(acc, root, CollectiveTag.REDUCE);
    if (rank === root) return ch.recv(base, CollectiveTag.REDUCE);
    return undefined;
  }
  return sent || rank !== root ? undefined : acc;
}

export async function allreduce(ch: CollectiveChannel, value: unknown, op: Op): Promise<unknown> {
  const { size } = ch;
  if (size === 1) return value;
  if (
    isTypedArray(value) &&
    op.commutative &&
    value.byteLength >= RING_ALLREDUCE_MIN_BYTES &&
    value.length >= size
  ) {
    return ringAllreduce(ch, value, op);
  }
  return recursiveDoublingAllreduce(ch, value, op);
}

/** MPICH's recursive doubling with a fold for the ranks beyond the largest power of two. */
async function recursiveDoublingAllreduce(ch: CollectiveChannel, value: unknown, op: Op): Promise<unknown> {
  const { rank, size } = ch;
  let pof2 = 1;
  while (pof2 * 2 <= size) pof2 *= 2;
  const rem = size - pof2;
  let acc = value;
  let newRank: number;
  if (rank < 2 * rem) {
    if (rank % 2 === 0) {
      await ch.send(acc, rank + 1, CollectiveTag.ALLREDUCE);
      newRank = -1;
    } else {
      acc = op.apply(await ch.recv(rank - 1, CollectiveTag.ALLREDUCE), acc);
      newRank = rank >> 1;
    }
  } else newRank = rank - rem;
  if (newRank >= 0) {
    for (let mask = 1; mask < pof2; mask <<= 1) {
      const partnerNew = newRank ^ mask;
      const partner = partnerNew < rem ? partnerNew * 2 + 1 : partnerNew + rem;
      const theirs = await exchange(ch, acc, partner, partner, CollectiveTag.ALLREDUCE);
      acc = partner < rank ? op.apply(theirs, acc) : op.apply(acc, theirs);
    }
  }
  if (rank < 2 * rem) {
    if (rank % 2 === 1) await ch.send(acc, rank - 1, CollectiveTag.ALLREDUCE);
    else acc = await ch.recv(rank + 1, CollectiveTag.ALLREDUCE);
  }
  return acc;
}

/**
 * Bandwidth-optimal for large arrays: each rank moves 2(n-1)/n of the array in n-1 + n-1 steps. Blocks
 * arrive in place (into one scratch block, then into the result) and combine into the result with no
 * allocation per step.
 */
async function ringAllreduce(ch: CollectiveChannel, value: TypedArray, op: Op): Promise<TypedArray> {
  const { rank, size } = ch;
  const out = value.slice();
  const bounds = (block: number): [number, number] => {
    const base = Math.floor(out.length / size);
    const extra = out.length % size;
    const start = block * base + Math.min(block, extra);
    return [start, start + base + (block < extra ? 1 : 0)];
  };
  const right = (rank + 1) % size;
  const left = (rank - 1 + size) % size;
  // Block 0 is the largest.
  const [firstStart, firstEnd] = bounds(0);
  const scratchBuffer = takeScratch(ch, (firstEnd - firstStart) * out.BYTES_PER_ELEMENT);
  const scratch = typedFromBytes(
    dtypeOf(out),
    new Uint8Array(scratchBuffer, 0, (firstEnd - firstStart) * out.BYTES_PER_ELEMENT),
  );
  for (let step = 0; step < size - 1; step++) {
    const [sendStart, sendEnd] = bounds((rank - step + size) % size);
    const [recvStart, recvEnd] = bounds((rank - step - 1 + size) % size);
    const incoming = scratch.subarray(0, recvEnd - recvStart);
    await Promise.all([
      ch.send(out.subarray(sendStart, sendEnd), right, CollectiveTag.ALLREDUCE),
      ch.recvInto(incoming, left, CollectiveTag.ALLREDUCE),
    ]);
    const mine = out.subarray(recvStart, recvEnd);
    op.applyInto(mine, incoming, mine);
  }
  for (let step = 0; step < size - 1; step++) {
    const [sendStart, sendEnd] = bounds((rank + 1 - step + size) % size);
    const [recvStart, recvEnd] = bounds((rank - step + size) % size);
    await Promise.all([
      ch.send(out.subarray(sendStart, sendEnd), right, CollectiveTag.ALLREDUCE),
      ch.recvInto(out.subarray(recvStart, recvEnd), left, CollectiveTag.ALLREDUCE),
    ]);
  }
  giveScratch(ch, scratchBuffer);
  return out;
}

/**
 * One scratch buffer per channel for ringAllreduce, kept between calls: a fresh 512 KiB ArrayBuffer
 * (zeroed, new pages) cost ~0.1-0.25 ms here, as much as the exchange it serves. Taken out while in
 * use, so two collectives in flight at once (possible from async code) never share one. It holds the
 * largest block this channel reduced.
 */
const scratchBuffers = new WeakMap<CollectiveChannel, ArrayBuffer>();

function takeScratch(ch: CollectiveChannel, bytes: number): ArrayBuffer {
  const held = scratchBuffers.get(ch);
  if (held === undefined || held.byteLength < bytes) return new ArrayBuffer(bytes);
  scratchBuffers.delete(ch);
  return held;
}

function giveScratch(ch: CollectiveChannel, buffer: ArrayBuffer): void {
  const held = scratchBuffers.get(ch);
  if (held === undefined || held.byteLength < buffer.byteLength) scratchBuffers.set(ch, buffer);
}

/** Inclusive (or exclusive) prefix reduction by recursive doubling; exscan gives rank 0 undefined. */
export async function scan(
  ch: CollectiveChannel,
  value: unknown,
  op: Op,
  exclusive: boolean,
): Promise<unknown> {
  const { rank, size } = ch;
  let partial = value;
  let result: unknown = exclusive ? undefined : value;
  let have = !exclusive;
  for (let mask = 1; mask < size; mask <<= 1) {
    const partner = rank ^ mask;
    if (partner >= size) continue;
    const theirs = await exchange(ch, partial, partner, partner, CollectiveTag.SCAN);
    if (partner < rank) {
      partial = op.apply(theirs, partial);
      result = have ? op.apply(theirs, result) : theirs;
      have = true;
    } else {
      partial = op.apply(partial, theirs);
    }
  }
  return result;
}

export async function scatter<T>(
  ch: CollectiveChannel,
  values: readonly T[] | undefined,
  root: number,
): Promise<T> {
  const { rank, size } = ch;
  if (rank !== root) return (await ch.recv(root, CollectiveTag.SCATTER)) as T;
  if (!Array.isArray(values) || values.length !== size) {
    throw invalid(
      `scatter: the root must pass an array of exactly ${size} values, one per rank (got ${Array.isArray(values) ? `${values.length} values` : String(values)})`,
    );
  }
  await Promise.all(
    values.map((item, dest) => (dest === root ? undefined : ch.send(item, dest, CollectiveTag.SCATTER))),
  );
  return values[root] as T;
}

export async function gather<T>(ch: CollectiveChannel, value: T, root: number): Promise<T[] | undefined> {
  const { rank, size } = ch;
  if (rank !== root) {
    await ch.send(value, root, CollectiveTag.GATHER);
    return undefined;
  }
  return Promise.all(
    Array.from({ length: size }, (_, source) =>
      source === root ? value : (ch.recv(source, CollectiveTag.GATHER) as Promise<T>),
    ),
  );
}

export async function allgather<T>(ch: CollectiveChannel, value: T): Promise<T[]> {
  const { rank, size } = ch;
  const out = new Array<T>(size);
  out[rank] = value;
  const right = (rank + 1) % size;
  const left = (rank - 1 + size) % size;
  for (let step = 0; step < size - 1; step++) {
    const sendBlock = (rank - step + size) % size;
    const recvBlock = (rank - step - 1 + size) % size;
    const [, incoming] = await Promise.all([
      ch.send(out[sendBlock], right, CollectiveTag.ALLGATHER),
      ch.recv(left, CollectiveTag.ALLGATHER),
    ]);
    out[recvBlock] = incoming as T;
  }
  return out;
}

export async function alltoall<T>(ch: CollectiveChannel, values: readonly T[]): Promise<T[]> {
  const { rank, size } = ch;
  if (!Array.isArray(values) || values.length !== size) {
    throw invalid(
      `alltoall: every rank must pass an array of exactly ${size} values, one per destination (got ${Array.isArray(values) ? `${values.length} values` : String(values)})`,
    );
  }
  const out = new Array<T>(size);
  out[rank] = values[rank] as T;
  for (let step = 1; step < size; step++) {
    const dest = (rank + step) % size;
    const source = (rank - step + size) % size;
    const [, incoming] = await Promise.all([
      ch.send(values[dest], dest, CollectiveTag.ALLTOALL),
      ch.recv(source, CollectiveTag.ALLTOALL),
    ]);
    out[source] = incoming as T;
  }
  return out;
}

/** Checks counts (and displacements) that cut a typed array into per-rank pieces. */
export function pieces(
  what: string,
  buffer: TypedArray,
  counts: readonly number[],
  size: number,
  displs?: readonly number[],
): TypedArray[] {
  if (
    !Array.isArray(counts) ||
    counts.length !== size ||
    counts.some((count) => !Number.isInteger(count) || count < 0)
  ) {
    throw invalid(
      `${what}: counts must be ${size} integers >= 0, one per rank (got ${JSON.stringify(counts)})`,
    );
  }
  if (
    displs !== undefined &&
    (!Array.isArray(displs) || displs.length !== size || displs.some((d) => !Number.isInteger(d) || d < 0))
  ) {
    throw invalid(
      `${what}: displs must be ${size} integers >= 0, one per rank (got ${JSON.stringify(displs)})`,
    );
  }
  let at = 0;
  return counts.map((count, i) => {
    const start = displs === undefined ? at : displs[i]!;
    at = start + count;
    if (start + count > buffer.length) {
      throw invalid(
        `${what}: piece ${i} (${start}..${start + count}) runs past the buffer's ${buffer.length} elements`,
      );
    }
    return buffer.subarray(start, start + count);
  });
}

export function checkTyped(value: unknown, what: string): TypedArray {
  if (!isTypedArray(value)) {
    throw invalid(
      `${what} needs a typed array (got ${value === null ? 'null' : typeof value}); use the value form for other data`,
    );
  }
  return value;
}

/** Concatenates typed arrays of one kind into one, with the count of each. */
export function concat(
  parts: readonly TypedArray[],
  like: TypedArray,
): { data: TypedArray; counts: number[] } {
  const counts = parts.map((part) => part.length);
  const data = new (like.constructor as new (length: number) => TypedArray)(
    counts.reduce((a, b) => a + b, 0),
  );
  let at = 0;
  for (const part of parts) {
    data.set(part as never, at);
    at += part.length;
  }
  return { data, counts };
}
