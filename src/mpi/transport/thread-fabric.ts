// The shared memory of a thread job: one single-producer single-consumer byte ring per ordered pair of
// ranks, one doorbell cell per rank, and the world barrier's counters. Made by the launcher, handed to
// every rank thread in workerData.
// Invariant: ring (s, d) is written only by rank s's thread and read only by rank d's thread; barrier
// counter (r, k) is added to only by the rank 2^k before r and waited on only by r.

/** Int32 cell indexes inside a ring's buffer; each side's cells sit in their own 64-byte line. */
export const RING_CELLS = Object.freeze({ head: 0, tailSeen: 1, tail: 16, headSeen: 17, writerWaiting: 32 });
/** Bytes before a ring's data region. */
export const RING_DATA_OFFSET_BYTES = 192;
/** Int32 stride between two ranks' doorbells (one cache line each). */
export const DOORBELL_STRIDE = 16;
/** Offset from a rank's doorbell to the count of its threads' waits asleep on it (Atomics.wait/waitAsync). */
export const SLEEPERS = 1;

/** Int32 stride between two barrier counters (one cache line each); a counter's SLEEPERS cell follows it. */
export const BARRIER_STRIDE = 16;

export interface ThreadFabric {
  readonly size: number;
  readonly ringBytes: number;
  /** rings[source * size + dest]; null on the diagonal. */
  readonly rings: readonly (SharedArrayBuffer | null)[];
  readonly doorbells: SharedArrayBuffer;
  /** The world barrier: counter (rank r, round k) at (r * barrierRounds(size) + k) * BARRIER_STRIDE. */
  readonly barriers: SharedArrayBuffer;
  /**
   * The world allreduce of small typed arrays: per (rank r, round k), at byte
   * (r * barrierRounds(size) + k) * REDUCE_ENTRY_BYTES, a cache line of cells (REDUCE_CELLS) and two
   * slots of REDUCE_SLOT_BYTES, one per parity of the epoch.
   */
  readonly reduceSlots: SharedArrayBuffer;
}

/** Largest contribution the shared-memory allreduce carries (bytes). */
export const REDUCE_SLOT_BYTES = 256;
/** Bytes of one (rank, round) entry of reduceSlots: its cells' line and two slots. */
export const REDUCE_ENTRY_BYTES = 64 + 2 * REDUCE_SLOT_BYTES;
/** Int32 cells at the start of an entry: the counter, its sleepers, then byte length and dtype per parity. */
export const REDUCE_CELLS = Object.freeze({ counter: 0, sleepers: 1, bytes: 2, dtype: 4 });

/** Rounds of a dissemination barrier of `size` ranks: ceil(log2(size)). */
export function barrierRounds(size: number): number {
  let rounds = 0;
  while (1 << rounds < size) rounds++;
  return rounds;
}

/** Ring bytes per pair for a job of `size` ranks: 16 MiB shared out, 64 KiB to 4 MiB each. */
export function defaultRingBytes(size: number): number {
  const pairs = Math.max(1, size * (size - 1));
  const share = Math.floor((16 * 1024 * 1024) / pairs);
  return Math.min(4 * 1024 * 1024, Math.max(64 * 1024, share & ~63));
}

export function createThreadFabric(size: number, ringBytes: number): ThreadFabric {
  const rings: (SharedArrayBuffer | null)[] = [];
  for (let source = 0; source < size; source++) {
    for (let dest = 0; dest < size; dest++) {
      rings.push(source === dest ? null : new SharedArrayBuffer(RING_DATA_OFFSET_BYTES + ringBytes));
    }
  }
  return {
    size,
    ringBytes,
    rings,
    doorbells: new SharedArrayBuffer(size * DOORBELL_STRIDE * 4),
    barriers: new SharedArrayBuffer(Math.max(1, size * barrierRounds(size)) * BARRIER_STRIDE * 4),
    reduceSlots: new SharedArrayBuffer(Math.max(1, size * barrierRounds(size)) * REDUCE_ENTRY_BYTES),
  };
}
