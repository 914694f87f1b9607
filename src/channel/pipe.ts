// Pipe: two connected ends in one SharedArrayBuffer (Python's multiprocessing.Pipe), each direction a
// lock-free single-producer/single-consumer byte ring: the sender moves only tail, the receiver only
// head. Invariant: a side that sleeps counts itself in the wake point, then reads the sequence and
// looks at the ring again before sleeping, and the other side wakes sleepers after publishing (see
// waiting.ts), so neither data, space nor a close is ever missed. close() bumps the sequences itself.

import { ChannelClosedError, InvalidArgumentError } from '../errors.ts';
import { HANDLE_KIND, registerKind, type SharedHandle, sharedCells, TO_HANDLE } from '../sync/shared.ts';
import { type WaitOptions, type WaitPlan, waitTimedOut } from '../sync/wait.ts';
import { decodeMessage, encodeMessage, type MessageLimits, readScratch } from './encoding.ts';
import { MIN_BUFFER_BYTES, type PipeOptions, planChannelWait, resolvePipeOptions } from './options.ts';
import { ByteRing } from './ring.ts';
import {
  type Receivable,
  SELECT_SINK,
  SELECT_SOURCE,
  type SelectSink,
  type SelectSource,
  type Sendable,
  type TakeAttempt,
} from './selectable.ts';
import {
  enterWait,
  leaveWait,
  spinWhile,
  type WaitTarget,
  type WakePoint,
  waitAnyAsync,
  waitBlocking,
  wakeSleepers,
} from './waiting.ts';

const KIND = 'Connection';

// Pipe header cells: ring bytes per direction, and 1 when the pipe is two-way.
const BUFFER_BYTES = 0;
const DUPLEX = 1;
const PIPE_HEADER_BYTES = 16;

// Each ring's header: the sender's cells and the receiver's cells sit 128 bytes apart, so the two
// threads do not write to one cache line (nor to adjacent lines, which some CPUs fetch in pairs).
const RING_HEADER_BYTES = 256;
const SENDER_CELLS = 0;
const RECEIVER_CELLS = 32;
/** Sender's: write position, closed flag, data sequence, sender waiting, head last seen, data pending. */
const TAIL = SENDER_CELLS;
const SENDER_CLOSED = SENDER_CELLS + 1;
const DATA_SEQ = SENDER_CELLS + 2;
const SENDER_WAITING = SENDER_CELLS + 3;
const HEAD_SEEN = SENDER_CELLS + 4;
const DATA_PENDING = SENDER_CELLS + 5;
/** Receiver's: read position, closed flag, space sequence, receiver waiting, tail last seen, space pending. */
const HEAD = RECEIVER_CELLS;
const RECEIVER_CLOSED = RECEIVER_CELLS + 1;
const SPACE_SEQ = RECEIVER_CELLS + 2;
const RECEIVER_WAITING = RECEIVER_CELLS + 3;
const TAIL_SEEN = RECEIVER_CELLS + 4;
const SPACE_PENDING = RECEIVER_CELLS + 5;

const FOREVER: WaitPlan = Object.freeze({
  deadline: Number.POSITIVE_INFINITY,
  timeout: Number.POSITIVE_INFINITY,
  signal: undefined,
});

/** One direction as one end sees it: the ring, the Int32 index of its header and its wake points. */
interface Direction {
  readonly ring: ByteRing;
  readonly base: number;
  /** Where the receiver sleeps until data (or the sender's close) arrives. */
  readonly data: WakePoint;
  /** Where the sender sleeps until space (or the receiver's close) comes. */
  readonly space: WakePoint;
}

function directionAt(cells: Int32Array, index: number, size: number): Direction {
  const offset = PIPE_HEADER_BYTES + index * (RING_HEADER_BYTES + size);
  const base = offset >> 2;
  const at = { head: base + HEAD, tail: base + TAIL, headSeen: base + HEAD_SEEN, tailSeen: base + TAIL_SEEN };
  return {
    ring: new ByteRing(cells, at, offset + RING_HEADER_BYTES, size),
    base,
    data: { sleepers: base + RECEIVER_WAITING, sequence: base + DATA_SEQ, pending: base + DATA_PENDING },
    space: { sleepers: base + SENDER_WAITING, sequence: base + SPACE_SEQ, pending: base + SPACE_PENDING },
  };
}

/** What #read returns for an empty ring, and for one whose sender closed it: values no decode produces. */
const NOTHING: unique symbol = Symbol('nothing');
const DRAINED: unique symbol = Symbol('drained');

let revived: { cells: Int32Array; side: number } | undefined;

/**
 * One end of a Pipe (Python's multiprocessing Connection): `send` values of type S, `recv` values of
 * type R. Ends come from Pipe(); each may be handed to another thread on its own. An end is meant for
 * one thread at a time: two threads sending (or receiving) on the same end at once corrupt it, as with
 * Python's connections.
 */
export class Connection<S = unknown, R = unknown> implements Receivable, Sendable, AsyncIterable<R> {
  readonly #cells: Int32Array;
  /** 0 or 1: which end of the pipe this is. */
  readonly #side: number;
  readonly #out: Direction | undefined;
  readonly #in: Direction | undefined;
  readonly #limits: MessageLimits;

  /** @internal Ends are made by Pipe() or revived from a handle. */
  constructor() {
    const state = revived;
    revived = undefined;
    if (state === undefined) {
      throw new InvalidArgumentError(
        'SKEIN_CHANNEL_INVALID_ARGUMENT',
        'A Connection is made by Pipe(), which returns both ends; call Pipe() instead of new Connection()',
      );
    }
    const { cells, side } = state;
    const size = cells[BUFFER_BYTES]!;
    const duplex = cells[DUPLEX] === 1;
    this.#cells = cells;
    this.#side = side;
    // Two-way: end 0 sends on ring 0 and receives on ring 1, end 1 the other way round. One-way: one
    // ring, end 1 (the receiver, first in Pipe's result) receives and end 0 sends.
    this.#out = duplex || side === 0 ? directionAt(cells, duplex ? side : 0, size) : undefined;
    this.#in = duplex || side === 1 ? directionAt(cells, duplex ? 1 - side : 0, size) : undefined;
    this.#limits = Object.freeze({
      channel: 'Pipe',
      bufferBytes: size,
      maxPayloadBytes: (this.#out ?? this.#in)!.ring.maxPayloadBytes,
    });
  }

  /** Whether close() was called on this end (in any thread). */
  get closed(): boolean {
    const out = this.#out;
    if (out !== undefined) return Atomics.load(this.#cells, out.base + SENDER_CLOSED) !== 0;
    return Atomics.load(this.#cells, this.#in!.base + RECEIVER_CLOSED) !== 0;
  }

  /**
   * Sends a value to the other end, blocking this thread while the pipe is full (use in workers; on the
   * main thread prefer sendAsync).
   * @throws ChannelClosedError SKEIN_CHANNEL_CLOSED when either end is closed.
   * @throws TimeoutError SKEIN_TIMEOUT when the pipe stayed full for `timeout` ms.
   * @throws InvalidArgumentError SKEIN_CHANNEL_MESSAGE_TOO_LARGE when the encoding can never fit;
   * SKEIN_CHANNEL_INVALID_ARGUMENT on the receiving end of a one-way pipe.
   */
  send(value: S, options?: WaitOptions): void {
    const out = this.#sender('Connection.send');
    const plan = options === undefined ? FOREVER : planChannelWait(options, 'Connection.send');
    this.#checkSendable(out, 'Connection.send');
    const payload = encodeMessage(value, this.#limits);
    if (this.#write(out, payload)) return;
    const cells = this.#cells;
    const head = out.ring.headCell;
    if (plan.timeout > 0 && spinWhile(cells, head, Atomics.load(cells, head)) && this.#write(out, payload))
      return;
    const target = { cells, point: out.space, expected: 0 };
    enterWait(cells, out.space);
    let sent = false;
    try {
      for (;;) {
        // Counted as a sleeper before the sequence is read and the ring looked at again.
        target.expected = Atomics.load(cells, out.space.sequence);
        this.#checkSendable(out, 'Connection.send');
        if (this.#write(out, payload)) {
          sent = true;
          return;
        }
        if (!waitBlocking(target, plan))
          throw waitTimedOut('Connection.send', plan, ' (the pipe stayed full)');
      }
    } finally {
      this.#leaveSendWait(out, sent);
    }
  }

  /**
   * Sends a value, waiting without blocking the event loop while the pipe is full.
   * @throws the same as send(), plus AbortError SKEIN_ABORTED when `signal` fires.
   */
  async sendAsync(value: S, options?: WaitOptions): Promise<void> {
    const out = this.#sender('Connection.sendAsync');
    const plan = options === undefined ? FOREVER : planChannelWait(options, 'Connection.sendAsync');
    this.#checkSendable(out, 'Connection.sendAsync');
    const scratch = encodeMessage(value, this.#limits);
    if (this.#write(out, scratch)) return;
    // The encoding lives in this thread's scratch, which the next encode reuses: keep a copy.
    const payload = scratch.slice();
    const cells = this.#cells;
    const target = { cells, point: out.space, expected: 0 };
    enterWait(cells, out.space);
    let sent = false;
    try {
      for (;;) {
        target.expected = Atomics.load(cells, out.space.sequence);
        this.#checkSendable(out, 'Connection.sendAsync');
        if (this.#write(out, payload)) {
          sent = true;
          return;
        }
        if (!(await waitAnyAsync([target], plan))) {
          throw waitTimedOut('Connection.sendAsync', plan, ' (the pipe stayed full)');
        }
      }
    } finally {
      this.#leaveSendWait(out, sent);
    }
  }

  /**
   * Receives the next value, blocking this thread until one arrives (use in workers; on the main thread
   * prefer recvAsync).
   * @throws ChannelClosedError SKEIN_CHANNEL_CLOSED when this end is closed, or the other end is closed
   * and everything it sent has been received.
   * @throws TimeoutError SKEIN_TIMEOUT when nothing came within `timeout` ms.
   */
  recv(options?: WaitOptions): R {
    const input = this.#receiver('Connection.recv');
    const plan = options === undefined ? FOREVER : planChannelWait(options, 'Connection.recv');
    const attempt = this.#read(input, 'Connection.recv');
    if (attempt !== NOTHING) return this.#received(attempt, 'Connection.recv');
    const cells = this.#cells;
    const tail = input.ring.tailCell;
    if (plan.timeout > 0 && spinWhile(cells, tail, Atomics.load(cells, tail))) {
      const again = this.#read(input, 'Connection.recv');
      if (again !== NOTHING) return this.#received(again, 'Connection.recv');
    }
    const target = { cells, point: input.data, expected: 0 };
    enterWait(cells, input.data);
    let took = false;
    try {
      for (;;) {
        target.expected = Atomics.load(cells, input.data.sequence);
        const value = this.#read(input, 'Connection.recv');
        if (value !== NOTHING) {
          took = value !== DRAINED;
          return this.#received(value, 'Connection.recv');
        }
        if (!waitBlocking(target, plan)) throw waitTimedOut('Connection.recv', plan, ' (nothing arrived)');
      }
    } finally {
      this.#leaveRecvWait(input, took);
    }
  }

  /**
   * Receives the next value without blocking the event loop.
   * @throws the same as recv(), plus AbortError SKEIN_ABORTED when `signal` fires.
   */
  async recvAsync(options?: WaitOptions): Promise<R> {
    const input = this.#receiver('Connection.recvAsync');
    const plan = options === undefined ? FOREVER : planChannelWait(options, 'Connection.recvAsync');
    const attempt = this.#read(input, 'Connection.recvAsync');
    if (attempt !== NOTHING) return this.#received(attempt, 'Connection.recvAsync');
    const cells = this.#cells;
    const target = { cells, point: input.data, expected: 0 };
    enterWait(cells, input.data);
    let took = false;
    try {
      for (;;) {
        target.expected = Atomics.load(cells, input.data.sequence);
        const value = this.#read(input, 'Connection.recvAsync');
        if (value !== NOTHING) {
          took = value !== DRAINED;
          return this.#received(value, 'Connection.recvAsync');
        }
        if (!(await waitAnyAsync([target], plan))) {
          throw waitTimedOut('Connection.recvAsync', plan, ' (nothing arrived)');
        }
      }
    } finally {
      this.#leaveRecvWait(input, took);
    }
  }

  /**
   * Whether recv() would return without waiting: a value is there, or the other end is closed (recv
   * then throws ChannelClosedError). Blocks this thread up to `timeout` ms (0: just look) for one.
   * @throws ChannelClosedError SKEIN_CHANNEL_CLOSED when this end is closed.
   */
  poll(timeout = 0): boolean {
    const input = this.#receiver('Connection.poll');
    const plan = timeout === 0 ? undefined : planChannelWait({ timeout }, 'Connection.poll');
    if (this.#readable(input)) return true;
    if (plan === undefined) return false;
    const cells = this.#cells;
    const target = { cells, point: input.data, expected: 0 };
    enterWait(cells, input.data);
    try {
      for (;;) {
        target.expected = Atomics.load(cells, input.data.sequence);
        if (this.#readable(input)) return true;
        if (!waitBlocking(target, plan)) return false;
      }
    } finally {
      this.#leaveRecvWait(input, false);
    }
  }

  /** Like poll() without blocking the event loop: resolves true once recv() would not wait. */
  async pollAsync(timeout = 0): Promise<boolean> {
    const input = this.#receiver('Connection.pollAsync');
    const plan = planChannelWait({ timeout }, 'Connection.pollAsync');
    if (this.#readable(input)) return true;
    const cells = this.#cells;
    const target = { cells, point: input.data, expected: 0 };
    enterWait(cells, input.data);
    try {
      for (;;) {
        target.expected = Atomics.load(cells, input.data.sequence);
        if (this.#readable(input)) return true;
        if (!(await waitAnyAsync([target], plan))) return false;
      }
    } finally {
      this.#leaveRecvWait(input, false);
    }
  }

  /**
   * Closes this end: its own send and recv throw from now on, the other end receives what was sent
   * before and then gets ChannelClosedError, and its send throws at once. Idempotent.
   */
  close(): void {
    const cells = this.#cells;
    const out = this.#out;
    const input = this.#in;
    // Each flag is published before its sequence is bumped, so a waiter woken by the bump sees it.
    if (out !== undefined && Atomics.compareExchange(cells, out.base + SENDER_CLOSED, 0, 1) === 0) {
      Atomics.add(cells, out.base + DATA_SEQ, 1);
      Atomics.notify(cells, out.base + DATA_SEQ);
    }
    if (input !== undefined && Atomics.compareExchange(cells, input.base + RECEIVER_CLOSED, 0, 1) === 0) {
      Atomics.add(cells, input.base + SPACE_SEQ, 1);
      Atomics.notify(cells, input.base + SPACE_SEQ);
    }
  }

  /** Receives until the other end is closed and everything it sent is received. */
  async *[Symbol.asyncIterator](): AsyncGenerator<R, void, undefined> {
    for (;;) {
      let value: R;
      try {
        value = await this.recvAsync();
      } catch (error) {
        if (error instanceof ChannelClosedError) return;
        throw error;
      }
      yield value;
    }
  }

  readonly [SELECT_SOURCE]: SelectSource = {
    tryTake: (): TakeAttempt => {
      const input = this.#receiver('select recv');
      const cells = this.#cells;
      const wait = { cells, point: input.data, expected: Atomics.load(cells, input.data.sequence) };
      const value = this.#read(input, 'select recv');
      if (value === NOTHING) return { ready: false, wait };
      if (value === DRAINED) return { ready: true, value: undefined, closed: true };
      return { ready: true, value, closed: false };
    },
    enterWait: () => enterWait(this.#cells, this.#receiver('select recv').data),
    leaveWait: (took) => this.#leaveRecvWait(this.#receiver('select recv'), took),
  };

  readonly [SELECT_SINK]: SelectSink = {
    encode: (value) => encodeMessage(value, this.#limits).slice(),
    tryGive: (payload): WaitTarget | undefined => {
      const out = this.#sender('select send');
      const cells = this.#cells;
      const wait = { cells, point: out.space, expected: Atomics.load(cells, out.space.sequence) };
      this.#checkSendable(out, 'select send');
      return this.#write(out, payload) ? undefined : wait;
    },
    enterWait: () => enterWait(this.#cells, this.#sender('select send').space),
    leaveWait: (sent) => this.#leaveSendWait(this.#sender('select send'), sent),
  };

  [TO_HANDLE](): SharedHandle {
    return {
      [HANDLE_KIND]: KIND,
      module: import.meta.url,
      scope: 'thread',
      buffer: this.#cells.buffer,
      side: this.#side,
    };
  }

  get [Symbol.toStringTag](): string {
    return KIND;
  }

  /** Writes one record if it fits, then tells a waiting receiver. */
  #write(out: Direction, payload: Uint8Array): boolean {
    if (!out.ring.tryWriteAligned(payload)) return false;
    // The tail store inside tryWriteAligned comes before the sleeper count is read (waiting.ts).
    wakeSleepers(this.#cells, out.data, Number.POSITIVE_INFINITY);
    return true;
  }

  /** Receives one value, NOTHING when the ring is empty, DRAINED when it also is closed by the sender. */
  #read(input: Direction, what: string): unknown {
    const cells = this.#cells;
    if (this.#ownClosed(input, RECEIVER_CLOSED)) throw this.#closedHere(what);
    let view = input.ring.peek(readScratch);
    if (view === undefined) {
      if (Atomics.load(cells, input.base + SENDER_CLOSED) === 0) return NOTHING;
      // The sender wrote everything before it set the flag: one more look drains the last record.
      view = input.ring.peek(readScratch);
      if (view === undefined) return DRAINED;
    }
    let value: unknown;
    try {
      value = decodeMessage(view);
    } finally {
      input.ring.consume();
      wakeSleepers(cells, input.space, Number.POSITIVE_INFINITY);
    }
    return value;
  }

  #leaveRecvWait(input: Direction, took: boolean): void {
    leaveWait(this.#cells, input.data, took, () => !input.ring.isEmpty(), Number.POSITIVE_INFINITY);
  }

  #leaveSendWait(out: Direction, sent: boolean): void {
    leaveWait(this.#cells, out.space, sent, () => out.ring.freeBytes() > 0, Number.POSITIVE_INFINITY);
  }

  #received(value: unknown, what: string): R {
    if (value !== DRAINED) return value as R;
    throw new ChannelClosedError(
      `${what} on a pipe whose other end is closed and has nothing left to receive`,
    );
  }

  #readable(input: Direction): boolean {
    if (this.#ownClosed(input, RECEIVER_CLOSED)) throw this.#closedHere('Connection.poll');
    return !input.ring.isEmpty() || Atomics.load(this.#cells, input.base + SENDER_CLOSED) !== 0;
  }

  #checkSendable(out: Direction, what: string): void {
    if (this.#ownClosed(out, SENDER_CLOSED)) throw this.#closedHere(what);
    if (Atomics.load(this.#cells, out.base + RECEIVER_CLOSED) !== 0) {
      throw new ChannelClosedError(`${what} on a pipe whose other end is closed; nothing would receive it`);
    }
  }

  #ownClosed(direction: Direction, flag: number): boolean {
    return Atomics.load(this.#cells, direction.base + flag) !== 0;
  }

  #closedHere(what: string): ChannelClosedError {
    return new ChannelClosedError(`${what} on a closed end of a pipe; it was closed with close()`);
  }

  #sender(what: string): Direction {
    if (this.#out !== undefined) return this.#out;
    throw new InvalidArgumentError(
      'SKEIN_CHANNEL_INVALID_ARGUMENT',
      `${what} on the receiving end of a one-way pipe; send on the other end (the second of Pipe({ duplex: false }))`,
    );
  }

  #receiver(what: string): Direction {
    if (this.#in !== undefined) return this.#in;
    throw new InvalidArgumentError(
      'SKEIN_CHANNEL_INVALID_ARGUMENT',
      `${what} on the sending end of a one-way pipe; receive on the other end (the first of Pipe({ duplex: false }))`,
    );
  }
}

/**
 * Makes a pipe and returns its two ends (Python's multiprocessing.Pipe). Two-way by default: what
 * `a.send` sends `b.recv` receives, and the other way round. `Pipe({ duplex: false })` returns
 * `[receiver, sender]`. Values travel through the Skein codec.
 * @example
 * const [parent, child] = Pipe<string, number>();
 * await pool.run(serve, child);            // in the worker: child.send(child.recv().length)
 * await parent.sendAsync('hello');
 * await parent.recvAsync();                // 5
 * @throws InvalidArgumentError SKEIN_CHANNEL_INVALID_ARGUMENT for bad options.
 */
export function Pipe<A = unknown, B = A>(
  options?: PipeOptions & { readonly duplex?: true },
): [Connection<A, B>, Connection<B, A>];
export function Pipe<T = unknown>(
  options: PipeOptions & { readonly duplex: false },
): [receiver: Connection<never, T>, sender: Connection<T, never>];
export function Pipe(options?: PipeOptions): [Connection, Connection];
export function Pipe(options?: PipeOptions): [Connection, Connection] {
  const { duplex, bufferBytes } = resolvePipeOptions(options);
  const rings = duplex ? 2 : 1;
  const cells = new Int32Array(
    new SharedArrayBuffer(PIPE_HEADER_BYTES + rings * (RING_HEADER_BYTES + bufferBytes)),
  );
  cells[BUFFER_BYTES] = bufferBytes;
  cells[DUPLEX] = duplex ? 1 : 0;
  revived = { cells, side: 0 };
  const first = new Connection();
  revived = { cells, side: 1 };
  const second = new Connection();
  return duplex ? [first, second] : [second, first];
}

registerKind(KIND, (handle) => {
  const cells = sharedCells(handle, PIPE_HEADER_BYTES / 4);
  const size = cells[BUFFER_BYTES]!;
  const rings = cells[DUPLEX] === 1 ? 2 : 1;
  const side = handle.side;
  if (
    (side !== 0 && side !== 1) ||
    size < MIN_BUFFER_BYTES ||
    size % 8 !== 0 ||
    cells.byteLength !== PIPE_HEADER_BYTES + rings * (RING_HEADER_BYTES + size)
  ) {
    throw new InvalidArgumentError(
      'SKEIN_CHANNEL_INVALID_ARGUMENT',
      'This Connection handle does not describe an end of a pipe; pass what toHandle() returned, unchanged',
    );
  }
  revived = { cells, side };
  return new Connection();
});
