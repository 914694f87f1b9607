// Ranks as worker threads of one process: frames go through the job's shared-memory rings (one per
// ordered pair); a receiver polls the rings' tails, or sleeps on its doorbell (Atomics.wait, or
// Atomics.waitAsync on the event loop), which a sender rings only for a sleeper. A frame is a 32-byte header record followed by its payload in records of at most
// STREAM_CHUNK_BYTES (and a quarter of the ring), so a message of any size streams through a ring of
// fixed size, and the reader copies one chunk out while the writer copies the next one in.
// Invariant: only this rank's thread writes its outgoing rings and reads its incoming ones; a sender
// waiting for room keeps the bytes it needs in the ring's writerWaiting cell until it has them, and the
// reader notifies after every consume that leaves that much room.

import { ByteRing, RECORD_HEADER_BYTES, ringRecordBytes } from '../../channel/ring.ts';
import { SkeinError } from '../../errors.ts';
import { ANY_TAG } from '../constants.ts';
import {
  type FrameHeader,
  FrameKind,
  HEADER_BYTES,
  readHeader,
  readHeaderInto,
  writeHeader,
} from '../frame.ts';
import {
  BARRIER_STRIDE,
  barrierRounds,
  DOORBELL_STRIDE,
  REDUCE_CELLS,
  REDUCE_ENTRY_BYTES,
  REDUCE_SLOT_BYTES,
  RING_CELLS,
  RING_DATA_OFFSET_BYTES,
  SLEEPERS,
  type ThreadFabric,
} from './thread-fabric.ts';
import { type FrameSink, NOT_TAKEN, type Transport } from './transport.ts';

const EMPTY = new Uint8Array(0);
/** globalThis.performance is a lazy getter in Node: read once, not on every turn of a spin loop. */
const clock = performance;
/** Frames read from one ring before the reader looks at the next one, so no sender starves another. */
const FRAMES_PER_RING_VISIT = 64;
/** Reader loop turns between two macrotask yields, so timers and messages still run under a flood. */
const TURNS_PER_MACROTASK_YIELD = 64;
/**
 * Payload bytes per record of a large frame. Each record is published (a sleeping reader woken) as soon
 * as it is copied in, so the reader's copy out overlaps the writer's copy of the next one: with a core
 * each, a 1 MiB message takes about one copy plus one chunk instead of two copies. A record costs
 * ~1 µs (doorbell, header), under 2% of a 64 KiB copy (~6 µs at 11 GB/s).
 */
const STREAM_CHUNK_BYTES = 64 * 1024;
/**
 * A frame whose payload exceeds the chunk size by at most chunk / WHOLE_SLACK_DIVISOR still travels as
 * one record: a 64 KiB array with a value's few bytes of codec framing around it is one record (read
 * whole, decoded at once), not a 64 KiB one and a 12-byte one taking the partial-frame path.
 */
const WHOLE_SLACK_DIVISOR = 16;
/** Chunks of a large frame per wake-up of a reader that sleeps instead of polling. */
const CHUNKS_PER_WAKE = 4;
/**
 * A header's record payload: the header's first 7 fields (its eighth is always 0), so the record (32
 * bytes with its length) keeps the ring's 8-byte phase and the payload record after it lands where it
 * was aimed. Written a word at a time (ByteRing.writeWords), read by the ring's short-copy loop.
 */
const HEADER_RECORD_BYTES = HEADER_BYTES - 4;
/**
 * An eager frame with a payload of 1 to SMALL_FRAME_MAX_BYTES bytes travels as one record: a 12-byte
 * short header (SMALL_FRAME_KIND | dtype << 8, context, tag; the source is the ring's, the size the
 * record's) and the payload, rather than a header record and a payload record: one record to write,
 * publish and consume instead of two, and under 32 bytes in all (the ring's loop copy) up to 19
 * bytes of payload. Its first int tells it from a header record, whose first int is a FrameKind.
 */
const SMALL_FRAME_MAX_BYTES = 255;
const SMALL_FRAME_KIND = 0x40;
const SMALL_HEADER_BYTES = 12;
/** Bytes of a pad record: an empty record (its length alone), which moves the tail by 4. */
const PAD_BYTES = ringRecordBytes(0);
/**
 * Payloads from this size are placed in the ring at the same 8-byte phase as their source bytes (a pad
 * record first when the tail is 4 bytes off). V8 copies to and from shared memory in 8-byte words only
 * when source and destination agree modulo 8, else byte by byte: ~4x slower (1 MiB: ~400 against
 * ~105 µs here), on both the writer's copy in and the reader's copy out.
 */
const ALIGN_MIN_BYTES = 256;
/** Doorbell polls before a wait first reads the clock (~0.1 µs a read): about a microsecond. */
const SPIN_BEFORE_CLOCK = 256;
/** Polls of a ring's record word (takeSmall) between two looks at the other rings and the doorbell. */
const READY_POLLS_PER_LOOK = 16;
/** Doorbell polls between two clock reads while spinning. */
const SPINS_PER_CLOCK_READ = 32;
/** Longest sleep of a barrier waiting on the event loop before it looks whether the job failed (ms). */
const BARRIER_FAILURE_CHECK_MS = 10;

/**
 * The sleeper count beside a cell (at cell + SLEEPERS) says whether a notify is needed: a waiter adds 1
 * before it waits and takes it back itself unless a notify woke it; a notifier takes back as many as it
 * woke. The count's load comes after the cell's change (both sequentially consistent), so either the
 * waiter's wait sees the new value and does not sleep, or the load sees the waiter. A notify costs a
 * lock in V8 even with nobody waiting, and a rank's reader parked in waitAsync is woken once and then
 * not again until it runs and parks anew: senders stop notifying it meanwhile.
 */
function wakeSleepers(cells: Int32Array, cell: number): void {
  if (Atomics.load(cells, cell + SLEEPERS) === 0) return;
  const woken = Atomics.notify(cells, cell);
  if (woken > 0) Atomics.sub(cells, cell + SLEEPERS, woken);
}

/** Sleeps in the kernel while cells[cell] is `value`, up to `timeoutMs`, counted as a sleeper. */
function sleep(cells: Int32Array, cell: number, value: number, timeoutMs: number): void {
  Atomics.add(cells, cell + SLEEPERS, 1);
  if (Atomics.wait(cells, cell, value, timeoutMs) !== 'ok') Atomics.sub(cells, cell + SLEEPERS, 1);
}

/** Waits on the event loop while cells[cell] is `value` (up to `timeoutMs`), counted as a sleeper. */
async function sleepAsync(cells: Int32Array, cell: number, value: number, timeoutMs?: number): Promise<void> {
  Atomics.add(cells, cell + SLEEPERS, 1);
  const waited = Atomics.waitAsync(cells, cell, value, timeoutMs);
  const result = waited.async ? await waited.value : waited.value;
  if (result !== 'ok') Atomics.sub(cells, cell + SLEEPERS, 1);
}

interface OutFrame {
  readonly header: FrameHeader;
  readonly payload: Uint8Array;
  headerWritten: boolean;
  offset: number;
  readonly resolve: () => void;
  readonly reject: (error: Error) => void;
}

interface Partial {
  readonly header: FrameHeader;
  readonly target: Uint8Array;
  filled: number;
}

export class ThreadTransport implements Transport {
  readonly kind = 'thread' as const;
  readonly rank: number;
  readonly size: number;
  readonly #out: (ByteRing | null)[] = [];
  readonly #outCells: (Int32Array | null)[] = [];
  readonly #in: (ByteRing | null)[] = [];
  readonly #inCells: (Int32Array | null)[] = [];
  /** Byte views of the incoming rings' memory, by source (takeSmall reads a payload in place). */
  readonly #inRingBytes: (Uint8Array | null)[] = [];
  readonly #bells: Int32Array;
  readonly #maxChunk: number;
  /** The largest payload sent as one record (#maxChunk and a slack, WHOLE_SLACK_DIVISOR). */
  readonly #maxWhole: number;
  /** Free bytes a writer waiting for room waits for before it copies on, so it wakes once per many chunks. */
  readonly #resumeBytes: number;
  readonly #queues: OutFrame[][] = [];
  readonly #pumping: boolean[] = [];
  readonly #partial: (Partial | null)[] = [];
  readonly #headerInts = new Int32Array(HEADER_BYTES / 4);
  /** A received header is copied here out of the ring, then read. */
  readonly #inInts = new Int32Array((SMALL_HEADER_BYTES + SMALL_FRAME_MAX_BYTES + 3) >> 2);
  readonly #inBytes = new Uint8Array(this.#inInts.buffer);
  /** A small frame's record is put together here before it is written (SMALL_FRAME_MAX_BYTES). */
  readonly #smallInts = new Int32Array((SMALL_HEADER_BYTES + SMALL_FRAME_MAX_BYTES + 3) >> 2);
  readonly #smallBytes = new Uint8Array(this.#smallInts.buffer);
  /** Views of #inBytes past the short header (a received payload), by length; made once each. */
  readonly #smallPayloads: (Uint8Array | undefined)[] = [];
  /**
   * The header of a frame delivered within the read that found it, reused for every such frame (the
   * sink copies what it keeps: FrameSink.deliver); a frame read in parts gets its own.
   */
  readonly #inHeader: FrameHeader = { kind: 0, context: 0, tag: 0, id: 0, size: 0, dtype: 0, source: 0 };
  /** The tag of the frame takeSmall took last. */
  takenTag = 0;
  /** The payload of the value frame takeSmall took last, valid until the next read. */
  takenPayload: Uint8Array = EMPTY;
  readonly takeSmallMaxBytes = SMALL_FRAME_MAX_BYTES;
  /** The length of the record the last readCopy took: 0 for a pad record. */
  #readLength = 0;
  readonly #intoHeader = (length: number): Uint8Array => {
    this.#readLength = length;
    return length === 0 ? EMPTY : this.#inBytes;
  };
  /** Where ring.readCopy puts a whole small payload: the target the sink gave for it. */
  #wholeTarget: Uint8Array = EMPTY;
  readonly #intoWhole = (length: number): Uint8Array => {
    this.#readLength = length;
    return length === 0 ? EMPTY : this.#wholeTarget;
  };
  /** Where ring.peek copies a record that wraps around the ring's end (rare): a fresh array. */
  readonly #viewScratch = (length: number): Uint8Array => new Uint8Array(length);
  #sink: FrameSink | null = null;
  #closed = false;
  #flushWaiters: (() => void)[] = [];
  /** Incoming rings' tails as the read loop and a receive's sync wait last noted them (#watch). */
  readonly #loopTails: number[] = [];
  readonly #waitTails: number[] = [];
  /** The adaptive poll before a sleep (ms); see #learnWait. */
  #spinBudgetMs = Number.POSITIVE_INFINITY;
  readonly #barrierCells: Int32Array;
  readonly #barrierRounds: number;
  /** Barriers this rank entered (int32, wrapping); counter (rank, k) reaches it once round k is done. */
  #barrierEpoch = 0;
  readonly #reduceCells: Int32Array;
  readonly #reduceBytes: Uint8Array;
  /** Shared-memory allreduces this rank entered (int32, wrapping), as #barrierEpoch. */
  #reduceEpoch = 0;

  constructor(fabric: ThreadFabric, rank: number) {
    this.rank = rank;
    this.size = fabric.size;
    this.#bells = new Int32Array(fabric.doorbells);
    this.#barrierCells = new Int32Array(fabric.barriers);
    this.#barrierRounds = barrierRounds(fabric.size);
    this.#reduceCells = new Int32Array(fabric.reduceSlots);
    this.#reduceBytes = new Uint8Array(fabric.reduceSlots);
    this.#maxChunk = Math.min(STREAM_CHUNK_BYTES, Math.max(1024, (fabric.ringBytes >> 2) & ~3));
    this.#maxWhole = (this.#maxChunk + this.#maxChunk / WHOLE_SLACK_DIVISOR) & ~3;
    this.#resumeBytes = Math.max(this.#maxChunk, (fabric.ringBytes >> 1) & ~3);
    for (let peer = 0; peer < fabric.size; peer++) {
      const out = fabric.rings[rank * fabric.size + peer] ?? null;
      const inn = fabric.rings[peer * fabric.size + rank] ?? null;
      const outCells = out === null ? null : new Int32Array(out);
      const inCells = inn === null ? null : new Int32Array(inn);
      this.#out.push(outCells === null ? null : ring(outCells, fabric.ringBytes));
      this.#outCells.push(outCells);
      this.#in.push(inCells === null ? null : ring(inCells, fabric.ringBytes));
      this.#inCells.push(inCells);
      this.#inRingBytes.push(inCells === null ? null : new Uint8Array(inCells.buffer));
      this.#queues.push([]);
      this.#pumping.push(false);
      this.#partial.push(null);
    }
  }

  start(sink: FrameSink): void {
    this.#sink = sink;
    this.#readLoop().catch((error: unknown) => sink.fail(error as Error));
  }

  send(
    dest: number,
    header: FrameHeader,
    payload: Uint8Array | null,
    transient = false,
  ): Promise<void> | undefined {
    if (this.#closed) return Promise.reject(closedError(this.rank));
    const body = payload ?? EMPTY;
    const queue = this.#queues[dest]!;
    let headerWritten = false;
    let offset = 0;
    if (queue.length === 0) {
      const ring = this.#out[dest]!;
      const length = body.length;
      if (length > 0 && length <= SMALL_FRAME_MAX_BYTES && header.kind === FrameKind.EAGER) {
        if (ring.hasRoomForRecords(ringRecordBytes(SMALL_HEADER_BYTES + length))) {
          this.#writeSmall(ring, header, body);
          this.#ring(dest);
          return undefined;
        }
      }
      const pad = this.#padFor(dest, body, 0);
      if (length <= this.#maxWhole) {
        const need =
          pad + ringRecordBytes(HEADER_RECORD_BYTES) + (body.length > 0 ? ringRecordBytes(body.length) : 0);
        // hasRoomForRecords, not freeBytes(): the ring's cached head must see every write (ring.ts).
        if (ring.hasRoomForRecords(need)) {
          // Published at once: a reader polling the tail that found the header alone would take the
          // payload as a partial frame, a turn and a copy path more (64 KiB one way: 14 -> 33 µs).
          if (pad !== 0) ring.write(EMPTY, false);
          this.#writeHeader(ring, header, body.length === 0);
          if (body.length > 0) ring.write(body);
          this.#ring(dest);
          return undefined;
        }
      } else if (ring.hasRoomForRecords(pad + ringRecordBytes(HEADER_RECORD_BYTES))) {
        // A large frame: as many chunks as fit now, each published at once; the pump writes the rest.
        if (pad !== 0) ring.write(EMPTY);
        this.#writeHeader(ring, header);
        this.#ring(dest);
        headerWritten = true;
        offset = this.#stream(dest, ring, body, 0);
        if (offset === body.length) return undefined;
      }
    }
    // Queued: the pump writes it later, so a transient payload is copied now (offset stays valid).
    return this.#enqueue(dest, header, transient ? body.slice() : body, headerWritten, offset);
  }

  /**
   * Queues a frame for the pump. Apart from send() since its closure's variables would otherwise live
   * in a context that V8 allocates on every send, the ones written at once too (~120 bytes a message).
   */
  #enqueue(
    dest: number,
    header: FrameHeader,
    payload: Uint8Array,
    headerWritten: boolean,
    offset: number,
  ): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.#queues[dest]!.push({ header: { ...header }, payload, headerWritten, offset, resolve, reject });
      if (!this.#pumping[dest]) {
        this.#pumping[dest] = true;
        this.#pump(dest).catch((error: unknown) => this.#sink?.fail(error as Error));
      }
    });
  }

  flush(): Promise<void> {
    if (this.#queues.every((queue) => queue.length === 0)) return Promise.resolve();
    return new Promise((resolve) => this.#flushWaiters.push(resolve));
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    const error = closedError(this.rank);
    for (const queue of this.#queues) for (const frame of queue.splice(0)) frame.reject(error);
    this.#bump(this.rank * DOORBELL_STRIDE);
  }

  resume(_source: number): void {
    // Our own doorbell, moved whoever watches it: the read loop (or a receive's sync wait) polls every
    // ring again, where records it left for flow control wait (their tails do not move any more).
    this.#bump(this.rank * DOORBELL_STRIDE);
  }

  /** Writes an eager frame with a small payload as one record (SMALL_FRAME_MAX_BYTES). */
  #writeSmall(ring: ByteRing, header: FrameHeader, body: Uint8Array): void {
    const ints = this.#smallInts;
    const bytes = this.#smallBytes;
    const length = body.length;
    ints[0] = SMALL_FRAME_KIND | (header.dtype << 8);
    ints[1] = header.context;
    ints[2] = header.tag;
    for (let i = 0; i < length; i++) bytes[SMALL_HEADER_BYTES + i] = body[i]!;
    ring.writeWords(ints, SMALL_HEADER_BYTES + length);
  }

  /** The payload of the small frame just read into #inBytes, `length` bytes (valid until the next read). */
  #smallPayload(length: number): Uint8Array {
    let payload = this.#smallPayloads[length];
    if (payload === undefined)
      this.#smallPayloads[length] = payload = this.#inBytes.subarray(
        SMALL_HEADER_BYTES,
        SMALL_HEADER_BYTES + length,
      );
    return payload;
  }

  #writeHeader(ring: ByteRing, header: FrameHeader, publish = true): void {
    const ints = this.#headerInts;
    writeHeader(ints, 0, header);
    ints[6] = this.rank;
    ring.writeWords(ints, HEADER_RECORD_BYTES, publish);
  }

  /**
   * After a record was published to `dest`'s ring: a reader that polls watches the ring's tail, which
   * the write just stored (sequentially consistent), so only one counted asleep on its doorbell (or
   * about to be: it looks at the tails again after counting itself, see #sleep) needs the doorbell
   * moved and a notify. Unlike a bump for every record, this leaves the doorbell's cache line alone
   * while the reader polls: one line less moves between the two cores per message.
   */
  #ring(dest: number): void {
    const bell = dest * DOORBELL_STRIDE;
    if (Atomics.load(this.#bells, bell + SLEEPERS) === 0) return;
    this.#bump(bell);
  }

  /** Moves doorbell `bell` and wakes its sleepers: whatever watches it looks at every ring again. */
  #bump(bell: number): void {
    Atomics.add(this.#bells, bell, 1);
    wakeSleepers(this.#bells, bell);
  }

  async #pump(dest: number): Promise<void> {
    const queue = this.#queues[dest]!;
    const ring = this.#out[dest]!;
    const cells = this.#outCells[dest]!;
    while (queue.length > 0 && !this.#closed) {
      const frame = queue[0]!;
      if (!frame.headerWritten) {
        // Room for the header's record and a pad record before it.
        await this.#room(ring, cells, HEADER_RECORD_BYTES + PAD_BYTES);
        if (this.#closed) return;
        if (this.#padFor(dest, frame.payload, 0) !== 0) ring.write(EMPTY);
        this.#writeHeader(ring, frame.header);
        frame.headerWritten = true;
        this.#ring(dest);
      }
      while (frame.offset < frame.payload.length) {
        // Wait for room for many chunks, not one: each wake-up of this loop is an event-loop turn.
        await this.#room(
          ring,
          cells,
          Math.min(this.#resumeBytes, frame.payload.length - frame.offset) + PAD_BYTES,
        );
        if (this.#closed) return;
        frame.offset = this.#stream(dest, ring, frame.payload, frame.offset);
      }
      queue.shift();
      frame.resolve();
    }
    this.#pumping[dest] = false;
    if (this.#flushWaiters.length > 0 && this.#queues.every((q) => q.length === 0)) {
      for (const resolve of this.#flushWaiters.splice(0)) resolve();
    }
  }

  /**
   * Writes `payload` from `offset` as records of #maxChunk bytes (a last one up to #maxWhole) while they
   * fit, each published at once so the reader starts on it; returns the offset reached.
   */
  #stream(dest: number, ring: ByteRing, payload: Uint8Array, offset: number): number {
    const end = payload.length;
    let chunks = 0;
    while (offset < end) {
      // A rest up to #maxWhole goes as one record: the reader takes a frame of that size whole
      // when its one record is in the ring (#poll), so it must never be split.
      const length = end - offset <= this.#maxWhole ? end - offset : this.#maxChunk;
      const pad = this.#padFor(dest, payload, offset);
      if (!ring.hasRoomForRecords(pad + ringRecordBytes(length))) break;
      if (pad !== 0) ring.write(EMPTY);
      ring.write(payload.subarray(offset, offset + length));
      offset += length;
      // A polling reader sees every chunk's tail at once; a sleeping one is woken for the first, every
      // CHUNKS_PER_WAKE-th and the last one written now, not for each: a wake-up costs both threads
      // more than a chunk's copy.
      if (chunks++ % CHUNKS_PER_WAKE === 0) this.#ring(dest);
    }
    // The last chunk written (before the end or a full ring) always wakes: a reader left asleep with
    // chunks in a full ring would never make the room this writer then waits for.
    if (chunks > 0 && (chunks - 1) % CHUNKS_PER_WAKE !== 0) this.#ring(dest);
    return offset;
  }

  /**
   * PAD_BYTES when a pad record must come first for the next record's payload (`payload` from
   * `offset`) to sit at its source's 8-byte phase in the ring, else 0. Small payloads are copied by a
   * loop, where alignment does not matter: never padded. Ring positions and the data region's start are
   * multiples of 8 apart from the 4-byte steps, so bit 2 of the tail is the phase.
   */
  #padFor(dest: number, payload: Uint8Array, offset: number): number {
    if (payload.length - offset < ALIGN_MIN_BYTES) return 0;
    // Our own ring's tail: only this thread writes it (a plain load, see ring.ts).
    const payloadAt = this.#outCells[dest]![RING_CELLS.tail]! + RECORD_HEADER_BYTES;
    return ((payloadAt ^ (payload.byteOffset + offset)) & 4) === 0 ? 0 : PAD_BYTES;
  }

  /**
   * Waits until `length` bytes fit the ring. writerWaiting holds the record bytes we wait for while we
   * wait, and only we clear it: the reader notifies after every consume that leaves that much room. (A
   * reader that cleared the flag itself could do so between our head load and our wait, and the next
   * consume, seeing no flag, would then not wake us: the wait ran into its timeout.)
   */
  async #room(ring: ByteRing, cells: Int32Array, length: number): Promise<void> {
    if (ring.hasRoomFor(length)) return;
    const need = ringRecordBytes(length);
    while (!this.#closed) {
      // Sequentially consistent: either the reader's head store is visible to the room check below,
      // or our flag store is visible to the reader's load after it consumed, and it notifies.
      Atomics.store(cells, RING_CELLS.writerWaiting, need);
      const head = Atomics.load(cells, RING_CELLS.head);
      if (ring.hasRoomFor(length)) break;
      const waited = Atomics.waitAsync(cells, RING_CELLS.head, head, 1000);
      if (waited.async) await waited.value;
    }
    Atomics.store(cells, RING_CELLS.writerWaiting, 0);
  }

  async #readLoop(): Promise<void> {
    const bell = this.rank * DOORBELL_STRIDE;
    let turns = 0;
    /** When this quiet spell's poll began; -1 while frames keep coming. */
    let spinStart = -1;
    while (!this.#closed) {
      const seen = this.#watch(bell, this.#loopTails);
      if (this.#pollAll()) {
        if (spinStart >= 0) this.#learnWait(clock.now() - spinStart, this.#sink?.spinTimeout ?? 0, true);
        spinStart = -1;
        if (++turns % TURNS_PER_MACROTASK_YIELD === 0) await new Promise((resolve) => setImmediate(resolve));
        else await null;
        continue;
      }
      const spinMs = this.#sink?.spinTimeout ?? 0;
      if (spinMs > 0 && spinStart < 0) {
        // Once the program's continuations of what just arrived ran (they often send what answers
        // us), poll the rings before sleeping: an answer within it (a CLEAR for an isend, the
        // partner's half of an exchange) costs no wake-up through the event loop. Blocks this rank's
        // event loop for spinTimeout at most, once per quiet spell.
        await new Promise((resolve) => setImmediate(resolve));
        spinStart = clock.now();
        this.#spinUntilMoved(bell, seen, this.#loopTails, spinStart + this.#spinBudget(spinMs));
        continue;
      }
      await this.#sleepAsync(bell, seen, this.#loopTails);
    }
  }

  waitFor(timeoutMs: number, spinMs = 0): boolean {
    if (this.#closed || this.#sink === null) return false;
    const bell = this.rank * DOORBELL_STRIDE;
    const tails = this.#waitTails;
    const seen = this.#watch(bell, tails);
    if (this.#pollAll()) return true;
    if (spinMs <= 0) {
      this.#sleep(bell, seen, tails, timeoutMs);
      return this.#pollAll();
    }
    // A short spin first, with no clock read: the answer to a small message often comes within it.
    for (let i = 0; i < SPIN_BEFORE_CLOCK; i++) {
      if (this.#moved(bell, seen, tails)) {
        this.#learnAnswered(spinMs);
        return this.#pollAll();
      }
    }
    const start = clock.now();
    if (this.#spinUntilMoved(bell, seen, tails, start + Math.min(this.#spinBudget(spinMs), timeoutMs))) {
      this.#learnAnswered(spinMs);
      return this.#pollAll();
    }
    this.#sleep(bell, seen, tails, timeoutMs);
    this.#learnWait(clock.now() - start, spinMs, this.#moved(bell, seen, tails));
    return this.#pollAll();
  }

  /**
   * Transport.takeSmall, for a small frame (SMALL_FRAME_MAX_BYTES, one record): a value's payload is
   * copied into #inBytes, which takenPayload views. With nothing from `source` yet it polls the ring's
   * next header word (#pollReady) within the adaptive budget, as waitFor polls the tails.
   */
  takeSmall(
    source: number,
    context: number,
    tag: number,
    dtype: number,
    into: Uint8Array | null,
    spinMs: number,
  ): number {
    if (this.#closed || source === this.rank || this.#partial[source] !== null) return NOT_TAKEN;
    const ring = this.#in[source];
    if (ring == null) return NOT_TAKEN;
    // The ring's own record words, not its tail: one cache line less between the cores per message.
    let at = ring.peekReady();
    if (at === -1) {
      if (spinMs <= 0) return NOT_TAKEN;
      at = this.#pollReady(ring, spinMs);
      if (at === -1) return NOT_TAKEN;
    }
    const cells = this.#inCells[source]!;
    const word = at >> 2;
    // A small frame's record holds its short header and at least one byte.
    if (at < 0 || ring.wholeLength <= SMALL_HEADER_BYTES || (cells[word]! & 0xff) !== SMALL_FRAME_KIND) {
      // Another kind of frame, for the read loop's way: seen by its first record's word, maybe while its
      // writer still copies the payload in, so wait for its tail (the whole frame) before handing over.
      this.#untilPublished(ring, spinMs);
      return NOT_TAKEN;
    }
    const first = cells[word]!;
    const length = ring.wholeLength - SMALL_HEADER_BYTES;
    if (
      first >>> 8 !== dtype ||
      cells[word + 1] !== context ||
      (tag !== ANY_TAG && cells[word + 2] !== tag) ||
      (into !== null && length > into.length)
    ) {
      return NOT_TAKEN;
    }
    this.takenTag = cells[word + 2]!;
    const bytes = this.#inRingBytes[source]!;
    const from = at + SMALL_HEADER_BYTES;
    if (into === null) {
      const scratch = this.#inBytes;
      for (let i = 0; i < length; i++) scratch[SMALL_HEADER_BYTES + i] = bytes[from + i]!;
      this.takenPayload = this.#smallPayload(length);
    } else for (let i = 0; i < length; i++) into[i] = bytes[from + i]!;
    ring.consume();
    this.#woke(ring, cells);
    return length;
  }

  /**
   * Polls the tail of `ring` until it covers the oldest record (its frame published whole), up to the
   * adaptive budget within `spinMs`.
   */
  #untilPublished(ring: ByteRing, spinMs: number): void {
    if (ring.peekWhole() !== -1 || spinMs <= 0) return;
    const until = clock.now() + this.#spinBudget(spinMs);
    for (let polls = 1; ring.peekWhole() === -1; polls++) {
      if (polls % SPINS_PER_CLOCK_READ === 0 && clock.now() >= until) return;
    }
  }

  /**
   * Polls `ring` (peekReady) for up to the adaptive budget within `spinMs`, watching every other ring and
   * the doorbell now and then: returns what peekReady gave once it is not -1, or -1 when the budget
   * ran out or something else arrived (for the receive's own wait, or the read loop, to deliver).
   */
  #pollReady(ring: ByteRing, spinMs: number): number {
    const bell = this.rank * DOORBELL_STRIDE;
    const tails = this.#waitTails;
    const seen = this.#watch(bell, tails);
    let until = -1;
    for (let polls = 1; ; polls++) {
      const at = ring.peekReady();
      if (at !== -1) {
        this.#learnAnswered(spinMs);
        return at;
      }
      if (polls % READY_POLLS_PER_LOOK !== 0) continue;
      // Our own tail moves only after the record's word, so a move seen here is another ring's.
      if (this.#moved(bell, seen, tails)) return ring.peekReady();
      if (polls < SPIN_BEFORE_CLOCK) continue;
      const now = clock.now();
      if (until < 0) until = now + this.#spinBudget(spinMs);
      // Not learnt from here: the receive's wait polls on and then sleeps, and learns from the whole
      // wait (#learnWait), as every wait does.
      else if (now >= until) return -1;
    }
  }

  /**
   * The doorbell's value now, with every incoming ring's tail noted in `tails`: #moved then says whether
   * a record was published to this rank or its doorbell moved since. The read loop and a receive's
   * sync wait keep their own `tails`, since a receive can run while the read loop waits.
   */
  #watch(bell: number, tails: number[]): number {
    const inCells = this.#inCells;
    for (let peer = 0; peer < inCells.length; peer++) {
      const cells = inCells[peer];
      if (cells != null) tails[peer] = Atomics.load(cells, RING_CELLS.tail);
    }
    return Atomics.load(this.#bells, bell);
  }

  /**
   * Whether a writer published a record to this rank (a tail moved) or its doorbell moved since
   * #watch gave `seen` and `tails`. Writers move the doorbell only for sleepers (#ring), so a polling
   * reader watches the tails: the lines the records' publication writes anyway.
   */
  #moved(bell: number, seen: number, tails: number[]): boolean {
    if (Atomics.load(this.#bells, bell) !== seen) return true;
    const inCells = this.#inCells;
    for (let peer = 0; peer < inCells.length; peer++) {
      const cells = inCells[peer];
      if (cells != null && Atomics.load(cells, RING_CELLS.tail) !== tails[peer]) return true;
    }
    return false;
  }

  /**
   * Polls (#moved) until something moved (true) or the clock passes `until` (false), reading the clock
   * once per SPINS_PER_CLOCK_READ polls.
   */
  #spinUntilMoved(bell: number, seen: number, tails: number[], until: number): boolean {
    for (;;) {
      for (let i = 0; i < SPINS_PER_CLOCK_READ; i++) if (this.#moved(bell, seen, tails)) return true;
      if (clock.now() >= until) return this.#moved(bell, seen, tails);
    }
  }

  /**
   * Sleeps in the kernel until the doorbell moves from `seen` (or `timeoutMs` passed), counted in
   * SLEEPERS. Counted first, then one more look at the tails: a writer that publishes after that look
   * sees the count (its tail store and count load are sequentially consistent, as our count add and
   * tail loads) and moves the doorbell, so the wait cannot miss its record.
   */
  #sleep(bell: number, seen: number, tails: number[], timeoutMs: number): void {
    const bells = this.#bells;
    Atomics.add(bells, bell + SLEEPERS, 1);
    if (this.#moved(bell, seen, tails) || Atomics.wait(bells, bell, seen, timeoutMs) !== 'ok')
      Atomics.sub(bells, bell + SLEEPERS, 1);
  }

  /** #sleep on the event loop (Atomics.waitAsync), with no timeout. */
  async #sleepAsync(bell: number, seen: number, tails: number[]): Promise<void> {
    const bells = this.#bells;
    Atomics.add(bells, bell + SLEEPERS, 1);
    if (this.#moved(bell, seen, tails)) {
      Atomics.sub(bells, bell + SLEEPERS, 1);
      return;
    }
    const waited = Atomics.waitAsync(bells, bell, seen);
    const result = waited.async ? await waited.value : waited.value;
    if (result !== 'ok') Atomics.sub(bells, bell + SLEEPERS, 1);
  }

  /** #learnWait for a wait answered while polling, so within spinTimeout. */
  #learnAnswered(spinMs: number): void {
    if (this.#spinBudgetMs < spinMs) this.#spinBudgetMs = Math.min(spinMs, this.#spinBudgetMs * 2);
  }

  barrier(syncWaitMs: number, spinMs: number, failure: () => Error | null): Promise<void> | undefined {
    this.#barrierEpoch = (this.#barrierEpoch + 1) | 0;
    return this.#barrierFrom(0, this.#barrierEpoch, syncWaitMs, spinMs, failure);
  }

  /**
   * A dissemination barrier on counters: in round k this rank adds 1 to the counter (rank + 2^k, k) and
   * waits until its own counter (rank, k) reaches the epoch. Counters only grow, so a peer already in
   * the next barrier adds to them early without letting anyone through a round too soon.
   */
  #barrierFrom(
    round: number,
    epoch: number,
    syncWaitMs: number,
    spinMs: number,
    failure: () => Error | null,
  ): Promise<void> | undefined {
    const cells = this.#barrierCells;
    for (; round < this.#barrierRounds; round++) {
      const theirs = this.#barrierCell((this.rank + (1 << round)) % this.size, round);
      Atomics.add(cells, theirs, 1);
      wakeSleepers(cells, theirs);
      const mine = this.#barrierCell(this.rank, round);
      if (!this.#reachedSync(cells, mine, epoch, syncWaitMs, spinMs)) {
        return this.#barrierAsync(round, epoch, syncWaitMs, spinMs, failure);
      }
    }
    return undefined;
  }

  async #barrierAsync(
    round: number,
    epoch: number,
    syncWaitMs: number,
    spinMs: number,
    failure: () => Error | null,
  ): Promise<void> {
    await this.#reached(this.#barrierCells, this.#barrierCell(this.rank, round), epoch, failure);
    const rest = this.#barrierFrom(round + 1, epoch, syncWaitMs, spinMs, failure);
    if (rest !== undefined) await rest;
  }

  /** Waits on the event loop until counter `cell` reaches `epoch`; rejects once `failure()` is set. */
  async #reached(cells: Int32Array, cell: number, epoch: number, failure: () => Error | null): Promise<void> {
    for (;;) {
      const now = Atomics.load(cells, cell);
      if (((now - epoch) | 0) >= 0) return;
      const error = failure();
      if (error !== null) throw error;
      if (this.#closed) throw closedError(this.rank);
      await sleepAsync(cells, cell, now, BARRIER_FAILURE_CHECK_MS);
    }
  }

  allreduce(
    bytes: Uint8Array,
    dtype: number,
    combine: (theirs: Uint8Array, theirDtype: number, theirsFirst: boolean) => void,
    syncWaitMs: number,
    spinMs: number,
    failure: () => Error | null,
  ): Promise<void> | undefined | null {
    if ((this.size & (this.size - 1)) !== 0 || bytes.length > REDUCE_SLOT_BYTES) return null;
    this.#reduceEpoch = (this.#reduceEpoch + 1) | 0;
    const step: ReduceStep = { bytes, dtype, combine, epoch: this.#reduceEpoch, syncWaitMs, spinMs, failure };
    return this.#reduceFrom(0, step);
  }

  /**
   * Recursive doubling on slots: in round k this rank writes its bytes into the slot of its partner
   * (rank ^ 2^k) for the epoch's parity, then adds 1 to the partner's counter (the Atomics.add publishes
   * the bytes), waits until its own counter reaches the epoch and folds in what its partner wrote. A
   * partner writes the same parity's slot again only two allreduces later, which needs this rank's part
   * of the next one, so a slot is never overwritten before it was read.
   */
  #reduceFrom(round: number, step: ReduceStep): Promise<void> | undefined {
    const cells = this.#reduceCells;
    const parity = step.epoch & 1;
    for (; round < this.#barrierRounds; round++) {
      const partner = this.rank ^ (1 << round);
      const theirs = this.#reduceEntry(partner, round);
      this.#reduceBytes.set(step.bytes, theirs + 64 + parity * REDUCE_SLOT_BYTES);
      const at = theirs >> 2;
      cells[at + REDUCE_CELLS.bytes + parity] = step.bytes.length;
      cells[at + REDUCE_CELLS.dtype + parity] = step.dtype;
      Atomics.add(cells, at + REDUCE_CELLS.counter, 1);
      wakeSleepers(cells, at + REDUCE_CELLS.counter);
      const mine = this.#reduceEntry(this.rank, round) >> 2;
      if (!this.#reachedSync(cells, mine, step.epoch, step.syncWaitMs, step.spinMs)) {
        return this.#reduceAsync(round, step);
      }
      this.#fold(round, partner, step);
    }
    return undefined;
  }

  async #reduceAsync(round: number, step: ReduceStep): Promise<void> {
    await this.#reached(
      this.#reduceCells,
      this.#reduceEntry(this.rank, round) >> 2,
      step.epoch,
      step.failure,
    );
    this.#fold(round, this.rank ^ (1 << round), step);
    const rest = this.#reduceFrom(round + 1, step);
    if (rest !== undefined) await rest;
  }

  /** Hands round `round`'s partner contribution, now in this rank's slot, to the combine function. */
  #fold(round: number, partner: number, step: ReduceStep): void {
    const mine = this.#reduceEntry(this.rank, round);
    const parity = step.epoch & 1;
    const length = this.#reduceCells[(mine >> 2) + REDUCE_CELLS.bytes + parity]!;
    const dtype = this.#reduceCells[(mine >> 2) + REDUCE_CELLS.dtype + parity]!;
    const start = mine + 64 + parity * REDUCE_SLOT_BYTES;
    step.combine(this.#reduceBytes.subarray(start, start + length), dtype, partner < this.rank);
  }

  /** Byte offset of the (rank, round) entry in reduceSlots. */
  #reduceEntry(rank: number, round: number): number {
    return (rank * this.#barrierRounds + round) * REDUCE_ENTRY_BYTES;
  }

  #barrierCell(rank: number, round: number): number {
    return (rank * this.#barrierRounds + round) * BARRIER_STRIDE;
  }

  /**
   * Whether counter `cell` reached `epoch` within `syncWaitMs`, polling the first `spinMs` (as the
   * adaptive poll of receives allows) and sleeping in the kernel after.
   */
  #reachedSync(cells: Int32Array, cell: number, epoch: number, syncWaitMs: number, spinMs: number): boolean {
    if (((Atomics.load(cells, cell) - epoch) | 0) >= 0) return true;
    if (syncWaitMs <= 0) return false;
    let start = -1;
    if (spinMs > 0) {
      for (let i = 0; i < SPIN_BEFORE_CLOCK; i++) {
        if (((Atomics.load(cells, cell) - epoch) | 0) >= 0) {
          this.#learnAnswered(spinMs);
          return true;
        }
      }
      start = clock.now();
      const until = start + Math.min(this.#spinBudget(spinMs), syncWaitMs);
      for (;;) {
        for (let i = 0; i < SPINS_PER_CLOCK_READ; i++) {
          if (((Atomics.load(cells, cell) - epoch) | 0) >= 0) {
            this.#learnAnswered(spinMs);
            return true;
          }
        }
        if (clock.now() >= until) break;
      }
    } else start = clock.now();
    const deadline = start + syncWaitMs;
    for (;;) {
      const now = Atomics.load(cells, cell);
      if (((now - epoch) | 0) >= 0) break;
      const left = deadline - clock.now();
      if (left <= 0) {
        this.#learnWait(syncWaitMs, spinMs, false);
        return false;
      }
      sleep(cells, cell, now, left);
    }
    this.#learnWait(clock.now() - start, spinMs, true);
    return true;
  }

  /** How long the next poll before a sleep lasts (ms), within spinTimeout: see #learnWait. */
  #spinBudget(spinMs: number): number {
    return Math.min(spinMs, this.#spinBudgetMs);
  }

  /**
   * Adapts the poll to how long waits turn out: a wait answered within spinTimeout doubles the next
   * poll (up to spinTimeout), any other halves it (down to a sixteenth). On a quiet machine replies come
   * within microseconds and a rank polls in full; with the cores shared with other work the peer is
   * often not running, replies come late, and polling would only hold the core the peer needs.
   */
  #learnWait(waitedMs: number, spinMs: number, answered: boolean): void {
    if (spinMs <= 0) return;
    const budget = this.#spinBudget(spinMs);
    this.#spinBudgetMs =
      answered && waitedMs <= spinMs ? Math.min(spinMs, budget * 2) : Math.max(spinMs / 16, budget / 2);
  }

  #pollAll(): boolean {
    let any = false;
    for (let peer = 0; peer < this.size; peer++) {
      if (peer !== this.rank && this.#poll(peer)) any = true;
    }
    return any;
  }

  #poll(peer: number): boolean {
    const ring = this.#in[peer]!;
    const cells = this.#inCells[peer]!;
    const sink = this.#sink!;
    let frames = 0;
    let any = false;
    while (frames < FRAMES_PER_RING_VISIT) {
      const partial = this.#partial[peer] ?? null;
      if (partial === null) {
        // Between frames only: the frames left in the ring make the peer's sends wait (flow control).
        if (sink.accepting !== undefined && !sink.accepting(peer)) break;
        if (ring.readCopy(this.#intoHeader) === undefined) break;
        this.#woke(ring, cells);
        any = true;
        if (this.#readLength === 0) continue; // a pad record
        const first = this.#inInts[0]!;
        if ((first & 0xff) === SMALL_FRAME_KIND) {
          frames++;
          this.#deliverSmall(sink, peer, first, this.#readLength - SMALL_HEADER_BYTES);
          continue;
        }
        const header = readHeaderInto(this.#inInts, 0, this.#inHeader);
        if (header.size === 0 || header.kind === FrameKind.RTS) {
          frames++;
          sink.deliver(header, EMPTY);
        } else if (header.size <= this.#maxWhole && ring.usedBytes() >= ringRecordBytes(header.size)) {
          // One record carries a payload up to #maxWhole, and all of it is in the ring: it is read
          // straight into its target and delivered now, with no other code run in between.
          if (sink.wantsView?.(header) === true) {
            // The sink reads it where it lies (a value decoded from the ring), then it is consumed.
            let view = ring.peek(this.#viewScratch)!;
            while (view.length === 0) {
              ring.consume(); // a pad record
              view = ring.peek(this.#viewScratch)!;
            }
            try {
              sink.deliverView!(header, view);
            } finally {
              ring.consume();
              this.#woke(ring, cells);
            }
            frames++;
            continue;
          }
          const target = sink.target(header, true);
          this.#wholeTarget = target;
          // A pad record may come first (a writer aligns each payload record); then the payload, in
          // the ring already: it was published before used bytes counted it.
          do ring.readCopy(this.#intoWhole);
          while (this.#readLength === 0);
          this.#wholeTarget = EMPTY;
          this.#woke(ring, cells);
          frames++;
          sink.deliver(header, target);
        } else {
          const own = readHeader(this.#inInts, 0);
          this.#partial[peer] = { header: own, target: sink.target(own, false), filled: 0 };
        }
        continue;
      }
      let scratch: Uint8Array | null = null;
      const record = ring.peek((length) => {
        scratch = partial.target.subarray(partial.filled, partial.filled + length);
        return scratch;
      });
      if (record === undefined) break;
      if (record !== scratch) partial.target.set(record, partial.filled);
      partial.filled += record.length;
      ring.consume();
      this.#woke(ring, cells);
      any = true;
      if (partial.filled >= partial.header.size) {
        this.#partial[peer] = null;
        frames++;
        sink.deliver(partial.header, partial.target);
      }
    }
    return any;
  }

  /** Delivers the small frame (SMALL_FRAME_MAX_BYTES) just read into #inBytes: `length` payload bytes. */
  #deliverSmall(sink: FrameSink, peer: number, first: number, length: number): void {
    const header = this.#inHeader;
    header.kind = FrameKind.EAGER;
    header.context = this.#inInts[1]!;
    header.tag = this.#inInts[2]!;
    header.id = 0;
    header.size = length;
    header.dtype = first >>> 8;
    header.source = peer;
    if (sink.wantsView?.(header) === true) {
      sink.deliverView!(header, this.#smallPayload(length));
      return;
    }
    const target = sink.target(header, true);
    const bytes = this.#inBytes;
    for (let i = 0; i < length; i++) target[i] = bytes[SMALL_HEADER_BYTES + i]!;
    sink.deliver(header, target);
  }

  /** After a consume: wakes the writer when it waits for room that is there now. */
  #woke(ring: ByteRing, cells: Int32Array): void {
    const need = Atomics.load(cells, RING_CELLS.writerWaiting);
    // The writer is not writing while it waits, so the free bytes seen here are the ones it would see.
    if (need !== 0 && ring.freeBytes() >= need) Atomics.notify(cells, RING_CELLS.head);
  }
}

/** One shared-memory allreduce in flight: what each round sends and how it folds the partner's in. */
interface ReduceStep {
  readonly bytes: Uint8Array;
  readonly dtype: number;
  readonly combine: (theirs: Uint8Array, theirDtype: number, theirsFirst: boolean) => void;
  readonly epoch: number;
  readonly syncWaitMs: number;
  readonly spinMs: number;
  readonly failure: () => Error | null;
}

function ring(cells: Int32Array, ringBytes: number): ByteRing {
  return new ByteRing(
    cells,
    {
      head: RING_CELLS.head,
      tail: RING_CELLS.tail,
      headSeen: RING_CELLS.headSeen,
      tailSeen: RING_CELLS.tailSeen,
    },
    RING_DATA_OFFSET_BYTES,
    ringBytes,
    true,
  );
}

function closedError(rank: number): SkeinError {
  return new SkeinError('SKEIN_MPI_TRANSPORT', `rank ${rank}'s transport is closed; the job has ended`);
}
