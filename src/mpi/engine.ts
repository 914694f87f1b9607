// One rank's message engine: MPI matching over a transport. Arriving messages meet posted receives by
// (context, source, tag) in arrival order, the rest wait in the unexpected queue; messages above the
// eager limit go by rendezvous (RTS, then CLEAR once a receive matched, then DATA), so a large blocking
// send waits for its receiver as in MPI. Every communicator of the rank shares this engine.
// Invariant: per (source, context) messages match in the order they were sent (non-overtaking), since
// transports keep per-pair order and eager and RTS frames enter matching in one arrival sequence.

import { SkeinError } from '../errors.ts';
import { ANY_SOURCE, ANY_TAG } from './constants.ts';
import { type FrameHeader, FrameKind } from './frame.ts';
import { decodeValue, type Lease, type Received } from './payload.ts';
import { type FrameSink, NOT_TAKEN, type Transport } from './transport/transport.ts';

/** What probe reports: the envelope and the payload size, without taking the message. */
export interface Envelope {
  readonly source: number;
  readonly tag: number;
  readonly dtype: number;
  readonly size: number;
}

interface Incoming {
  readonly header: FrameHeader;
  /** The payload of an eager frame; null for an RTS (its DATA comes after CLEAR). */
  readonly payload: Uint8Array | null;
}

export interface PostedReceive {
  readonly context: number;
  readonly source: number;
  readonly tag: number;
  /** Bytes the payload should land in when it fits (the caller's buffer on the buffer path). */
  readonly into: Uint8Array | null;
  /** The element type of `into` (typed.ts): only a message of that type is written straight into it. */
  readonly intoDtype?: number;
  readonly resolve: (message: Received) => void;
  readonly reject: (error: Error) => void;
}

interface PendingProbe {
  readonly context: number;
  readonly source: number;
  readonly tag: number;
  readonly resolve: (envelope: Envelope) => void;
  readonly reject: (error: Error) => void;
}

interface OutgoingRendezvous {
  readonly dest: number;
  readonly payload: Uint8Array;
  readonly dtype: number;
  /** The scratch the payload lies in, held until DATA left; null for the caller's own bytes. */
  readonly lease: Lease | null;
  readonly resolve: () => void;
  readonly reject: (error: Error) => void;
}

export interface EngineOptions {
  /** Messages up to this many payload bytes go eagerly; larger ones by rendezvous. */
  readonly eagerLimit: number;
  /**
   * Bytes of arrived, not yet received messages this rank holds per source before it stops reading
   * from that source (the source's sends then wait, as MPI sends may when buffering runs out).
   * @defaultValue Infinity
   */
  readonly unexpectedLimit?: number;
  /** Called (debounced by the caller) whenever a frame arrives: the progress the deadlock check sees. */
  readonly onProgress?: () => void;
  /** Milliseconds a receive waits in a transport that can wait synchronously; 0 never does. */
  readonly syncWaitTimeout?: number;
  /** Milliseconds of that wait spent polling on the CPU before sleeping in the kernel; 0 never spins. */
  readonly spinTimeout?: number;
}

/**
 * The longest a receive stays in the synchronous wait while frames keep arriving (each restarting
 * syncWaitTimeout), so a flood of other traffic cannot keep the rank's event loop from its timers.
 * Longer than a 16 MiB message takes to stream through a ring (~3 ms).
 */
const SYNC_WAIT_STREAK_MS = 10;
/** globalThis.performance is a lazy getter in Node: read once. */
const clock = performance;
const EMPTY = new Uint8Array(0);
/**
 * Value payloads up to this size are read into a buffer reused per source and decoded from it as they
 * are delivered (or copied out when nothing takes them then): the decoded value is the one allocation.
 * Larger ones get a fresh buffer each, so a source's scratch stays within this.
 */
const VALUE_SCRATCH_MAX_BYTES = 2 * 1024 * 1024;
/**
 * Value payloads below this are decoded straight from the transport's shared memory (deliverView);
 * larger ones are first copied into the source's value scratch and decoded from there. V8 copies out
 * of a SharedArrayBuffer word by word only where source and destination agree modulo 8, else byte by
 * byte, and a typed array inside a value sits at whatever phase its codec framing leaves it: decoding
 * a 64 KiB array from the ring took ~30 µs here, copying it out (aligned) and decoding it ~10 µs.
 */
const VIEW_DECODE_MAX_BYTES = 256;
/**
 * Bytes a value's encoding may exceed eagerLimit by and still go eagerly: its codec framing (tags,
 * lengths, keys), so a value carrying a 64 KiB array goes as a 64 KiB typed array does.
 */
const VALUE_FRAMING_ALLOWANCE_BYTES = 1024;

function matches(wantSource: number, wantTag: number, header: FrameHeader): boolean {
  return (
    (wantSource === ANY_SOURCE || wantSource === header.source) &&
    (wantTag === ANY_TAG || wantTag === header.tag)
  );
}

export class Engine implements FrameSink {
  readonly transport: Transport;
  readonly rank: number;
  readonly size: number;
  readonly #eagerLimit: number;
  readonly #unexpectedLimit: number;
  /** Bytes held in the unexpected queue per world source (payloads plus a fixed cost per message). */
  readonly #held: number[];
  readonly #onProgress: (() => void) | undefined;
  readonly #syncWaitMs: number;
  readonly #spinMs: number;
  /** The value receiveNow decoded, until takenValue() hands it over. */
  #takenValue: unknown = undefined;
  /** The largest receive buffer receiveNow offers the transport (0: it has no takeSmall). */
  readonly #takeSmallMax: number;
  readonly #unexpected = new Map<number, Incoming[]>();
  readonly #posted = new Map<number, PostedReceive[]>();
  readonly #probes: PendingProbe[] = [];
  readonly #outgoing = new Map<number, OutgoingRendezvous>();
  /** Matched RTS frames waiting for their DATA, keyed by source * 2^32 + id. */
  readonly #awaitingData = new Map<number, PostedReceive>();
  #nextId = 1;
  /** Per world source: the reused buffer value payloads from it are read into (VALUE_SCRATCH_MAX_BYTES). */
  readonly #valueScratch: (Uint8Array | null)[];
  /** Per world source: the last view #scratchFor made of its scratch, handed out again for the same size. */
  readonly #scratchViews: (Uint8Array | null)[];
  readonly #eagerHeader: FrameHeader;
  #failure: Error | null = null;
  /** The next free context id; dup and split agree on the largest among the ranks taking part. */
  nextContext = 2;

  constructor(transport: Transport, options: EngineOptions) {
    this.transport = transport;
    this.rank = transport.rank;
    this.size = transport.size;
    this.#eagerLimit = options.eagerLimit;
    this.#unexpectedLimit = options.unexpectedLimit ?? Number.POSITIVE_INFINITY;
    this.#held = new Array<number>(transport.size).fill(0);
    this.#valueScratch = new Array<Uint8Array | null>(transport.size).fill(null);
    this.#scratchViews = new Array<Uint8Array | null>(transport.size).fill(null);
    this.#onProgress = options.onProgress;
    this.#syncWaitMs = options.syncWaitTimeout ?? 0;
    this.#spinMs = options.spinTimeout ?? 0;
    this.#takeSmallMax = transport.takeSmall === undefined ? 0 : (transport.takeSmallMaxBytes ?? 0);
    this.#eagerHeader = {
      kind: FrameKind.EAGER,
      context: 0,
      tag: 0,
      id: 0,
      size: 0,
      dtype: 0,
      source: transport.rank,
    };
    transport.start(this);
  }

  /** FrameSink.spinTimeout: the transport's reader polls as long as a receive does. */
  get spinTimeout(): number {
    return this.#spinMs;
  }

  get failure(): Error | null {
    return this.#failure;
  }

  /**
   * Sends `payload` to world rank `dest`; settles when the caller may reuse it. `scratch`: the bytes are
   * a scratch encoding, valid only during this call unless held: an eager frame is copied out (the
   * transport copies what it keeps), a rendezvous holds the scratch until its DATA left.
   */
  send(
    dest: number,
    context: number,
    tag: number,
    payload: Uint8Array,
    dtype: number,
    blocking = false,
    scratch: Lease | null = null,
  ): Promise<void> | undefined {
    if (this.#failure !== null) return Promise.reject(this.#failure);
    if (
      dest !== this.rank &&
      payload.length <= (dtype === 0 ? this.#eagerLimit + VALUE_FRAMING_ALLOWANCE_BYTES : this.#eagerLimit)
    ) {
      // The transport copies a header it keeps (Transport.send): one header serves every eager send.
      const eager = this.#eagerHeader;
      eager.context = context;
      eager.tag = tag;
      eager.size = payload.length;
      eager.dtype = dtype;
      return this.transport.send(dest, eager, payload, scratch !== null);
    }
    const header: FrameHeader = {
      kind: FrameKind.EAGER,
      context,
      tag,
      id: 0,
      size: payload.length,
      dtype,
      source: this.rank,
    };
    if (dest === this.rank) {
      this.#arrive(header, payload.slice());
      return undefined;
    }
    scratch?.hold();
    const id = this.#nextId++;
    header.kind = FrameKind.RTS;
    header.id = id;
    return new Promise<void>((resolve, reject) => {
      this.#outgoing.set(id, { dest, payload, dtype, lease: scratch, resolve, reject });
      this.transport.send(dest, header, null)?.catch((error: unknown) => this.fail(error as Error));
      // A blocking send has nothing else to do: its CLEAR often comes within the sync wait, and then
      // DATA leaves with no event-loop turn. Not for isend: its caller may post the very receive the
      // peer's CLEAR depends on (sendrecv), so waiting here would only stall both sides.
      if (blocking && this.#syncWaitMs > 0 && this.transport.waitFor !== undefined) {
        this.#syncWait(this.#unsent, id);
      }
    });
  }

  /**
   * A receive from world rank `source` that the transport answers in place (Transport.takeSmall) when
   * the next frame from `source` is a small one it matches: no receive posted, no envelope or promise
   * made. `into`: the typed array's bytes (of element type `dtype`) for a buffer receive, null for a
   * value, which is decoded then (takenValue). Asked only when no message already here and no posted
   * receive or probe could take that frame first (MPI's order). Returns the payload length, with its
   * tag in takenTag; else NOT_TAKEN, and the caller posts the receive (receive()).
   * @throws what decoding the value throws (the message is taken).
   */
  receiveNow(context: number, source: number, tag: number, into: Uint8Array | null, dtype: number): number {
    const max = this.#takeSmallMax;
    if (
      max === 0 ||
      (into !== null && into.length > max) ||
      this.#failure !== null ||
      this.#probes.length > 0
    )
      return NOT_TAKEN;
    const posted = this.#posted.get(context);
    if (posted !== undefined && posted.length > 0) return NOT_TAKEN;
    const queue = this.#unexpected.get(context);
    if (queue !== undefined && queue.length > 0 && firstUnexpected(queue, source, tag) >= 0) return NOT_TAKEN;
    const transport = this.transport;
    // Polls as a receive's sync wait would: not at all where receives never wait in the call.
    const spinMs = Math.min(this.#spinMs, this.#syncWaitMs);
    const length = transport.takeSmall!(source, context, tag, dtype, into, spinMs);
    if (length < 0) return length;
    this.#onProgress?.();
    if (into === null) this.#takenValue = decodeValue(transport.takenPayload!);
    return length;
  }

  /** The tag of the message receiveNow took last. */
  get takenTag(): number {
    return this.transport.takenTag ?? 0;
  }

  /** The value receiveNow took last, handed over once (the engine keeps no reference to it). */
  takenValue(): unknown {
    const value = this.#takenValue;
    this.#takenValue = undefined;
    return value;
  }

  /** Posts a receive; the first matching message (now or later) settles it. withdraw() cancels it. */
  receive(posted: PostedReceive): void {
    if (this.#failure !== null) {
      posted.reject(this.#failure);
      return;
    }
    const queue = this.#unexpected.get(posted.context);
    if (queue !== undefined) {
      const index = firstUnexpected(queue, posted.source, posted.tag);
      if (index >= 0) {
        const incoming = takeAt(queue, index);
        this.#release(incoming);
        this.#match(incoming.header, incoming.payload, posted);
        if (incoming.payload === null && this.#syncWaitMs > 0 && this.transport.waitFor !== undefined) {
          // An RTS that was waiting: its DATA follows the CLEAR just sent, usually at once.
          this.#syncWait(this.#awaitsData, posted);
        }
        return;
      }
    }
    let list = this.#posted.get(posted.context);
    if (list === undefined) this.#posted.set(posted.context, (list = []));
    list.push(posted);
    if (this.#syncWaitMs > 0 && this.transport.waitFor !== undefined) {
      // Through a rendezvous too: after the RTS matched, the DATA it cleared usually follows at once.
      this.#syncWait(this.#unanswered, posted);
    }
  }

  /** Takes back a posted receive that nothing matched yet: whether it was still posted. */
  withdraw(posted: PostedReceive): boolean {
    const list = this.#posted.get(posted.context);
    const at = list === undefined ? -1 : list.indexOf(posted);
    if (at < 0) return false;
    list!.splice(at, 1);
    return true;
  }

  /** The envelope of the first matching message that has arrived, or undefined. */
  peek(context: number, source: number, tag: number): Envelope | undefined {
    if (this.#failure !== null) throw this.#failure;
    const found = this.#unexpected.get(context)?.find((incoming) => matches(source, tag, incoming.header));
    return found === undefined ? undefined : envelopeOf(found.header);
  }

  /** Waits for a matching message without receiving it. */
  probe(context: number, source: number, tag: number): { promise: Promise<Envelope>; cancel: () => void } {
    const now = this.peek(context, source, tag);
    if (now !== undefined) return { promise: Promise.resolve(now), cancel: () => {} };
    let probe!: PendingProbe;
    const promise = new Promise<Envelope>((resolve, reject) => {
      probe = { context, source, tag, resolve, reject };
    });
    this.#probes.push(probe);
    return {
      promise,
      cancel: () => {
        const at = this.#probes.indexOf(probe);
        if (at >= 0) this.#probes.splice(at, 1);
      },
    };
  }

  /** #syncWait conditions, made once (a receive waits with no closure of its own). */
  readonly #awaitsData = (posted: PostedReceive): boolean => this.#isAwaitingData(posted);
  readonly #unanswered = (posted: PostedReceive): boolean =>
    this.#posted.get(posted.context)?.includes(posted) === true || this.#isAwaitingData(posted);
  readonly #unsent = (id: number): boolean => this.#outgoing.has(id);

  #isAwaitingData(posted: PostedReceive): boolean {
    if (this.#awaitingData.size === 0) return false;
    for (const waiting of this.#awaitingData.values()) if (waiting === posted) return true;
    return false;
  }

  /**
   * Waits in the transport (after spinTimeout of polling, a kernel sleep) for up to syncWaitTimeout
   * while `condition(arg)` holds (a receive unmatched): an answer within it costs a futex wake-up or none,
   * rather than an event-loop turn.
   */
  #syncWait<A>(condition: (arg: A) => boolean, arg: A): void {
    const budget = this.#syncWaitMs;
    const waitFor = this.transport.waitFor!;
    if (!condition(arg) || this.#failure !== null) return;
    // The common case costs no clock read here: the first frame comes within the budget and settles it.
    if (!waitFor.call(this.transport, budget, this.#spinMs) || !condition(arg)) return;
    const start = clock.now();
    let last = start;
    while (condition(arg) && this.#failure === null) {
      const now = clock.now();
      const left = budget - (now - last);
      if (left <= 0 || now - start > SYNC_WAIT_STREAK_MS) return;
      // The budget restarts whenever a frame or a chunk of one arrived: a large message streaming in
      // is finished here rather than handed to the event loop halfway (a wake-up per chunk from then).
      if (waitFor.call(this.transport, left, this.#spinMs)) last = clock.now();
    }
  }

  /**
   * A barrier of every rank of the job through the transport's shared memory (Transport.barrier):
   * undefined when passed within the call, a promise otherwise; null where the transport has none.
   */
  sharedBarrier(): Promise<void> | undefined | null {
    const barrier = this.transport.barrier;
    if (barrier === undefined) return null;
    if (this.#failure !== null) return Promise.reject(this.#failure);
    return barrier.call(this.transport, this.#syncWaitMs, this.#spinMs, () => this.#failure);
  }

  /**
   * An allreduce of `bytes` over every rank of the job through the transport's shared memory
   * (Transport.allreduce): undefined when done within the call, a promise otherwise; null where the
   * transport has none or cannot take it.
   */
  sharedAllreduce(
    bytes: Uint8Array,
    dtype: number,
    combine: (theirs: Uint8Array, theirDtype: number, theirsFirst: boolean) => void,
  ): Promise<void> | undefined | null {
    const allreduce = this.transport.allreduce;
    if (allreduce === undefined) return null;
    if (this.#failure !== null) return Promise.reject(this.#failure);
    return allreduce.call(
      this.transport,
      bytes,
      dtype,
      combine,
      this.#syncWaitMs,
      this.#spinMs,
      () => this.#failure,
    );
  }

  /** Fails every pending and later operation of this rank with `error` (the first failure wins). */
  fail(error: Error): void {
    if (this.#failure !== null) return;
    this.#failure = error;
    for (const list of this.#posted.values()) for (const posted of list.splice(0)) posted.reject(error);
    for (const probe of this.#probes.splice(0)) probe.reject(error);
    for (const out of this.#outgoing.values()) {
      out.lease?.release();
      out.reject(error);
    }
    this.#outgoing.clear();
    for (const posted of this.#awaitingData.values()) posted.reject(error);
    this.#awaitingData.clear();
  }

  // FrameSink -------------------------------------------------------------------------------------

  target(header: FrameHeader, whole = false): Uint8Array {
    if (header.kind === FrameKind.DATA) {
      const posted = this.#awaitingData.get(header.source * 2 ** 32 + header.id);
      if (posted?.into != null && posted.into.length >= header.size)
        return intoPrefix(posted.into, header.size);
      // A value for a value receive: decoded at delivery, straight from the scratch.
      if (posted !== undefined && posted.into === null && header.dtype === 0)
        return this.#scratchFor(header.source, header.size);
    } else if (header.kind === FrameKind.EAGER && header.dtype === 0) {
      // Arriving in parts: which receive takes it is known at delivery, which decodes or copies it.
      // Whole, for a value receive posted now: decoded from the scratch at delivery (VIEW_DECODE_MAX_BYTES).
      if (!whole || this.#valueReceiveFor(header)) return this.#scratchFor(header.source, header.size);
    } else if (whole && header.kind === FrameKind.EAGER && header.dtype !== 0) {
      // deliver() follows before any other code runs, so the receive that matches now is the one
      // #arrive will match: its buffer takes the bytes, with no allocation and no second copy.
      const list = this.#posted.get(header.context);
      const posted = list === undefined ? undefined : list[firstPosted(list, header)];
      if (posted?.into != null && posted.intoDtype === header.dtype && posted.into.length >= header.size)
        return intoPrefix(posted.into, header.size);
    }
    return new Uint8Array(header.size);
  }

  /**
   * FrameSink.wantsView: an eager value message that a posted value receive (not a buffer one) takes
   * now, so it is decoded straight from the transport's memory, with no copy of its bytes in between.
   */
  wantsView(header: FrameHeader): boolean {
    return header.size < VIEW_DECODE_MAX_BYTES && this.#valueReceiveFor(header);
  }

  /** Whether `header` is an eager value message that a posted value receive (not a buffer one) takes now. */
  #valueReceiveFor(header: FrameHeader): boolean {
    if (header.kind !== FrameKind.EAGER || header.dtype !== 0) return false;
    const list = this.#posted.get(header.context);
    if (list === undefined || list.length === 0) return false;
    const index = firstPosted(list, header);
    return index >= 0 && list[index]!.into === null;
  }

  /** FrameSink.deliverView, after wantsView said yes: decodes `view` (valid during the call only). */
  deliverView(header: FrameHeader, view: Uint8Array): void {
    this.#onProgress?.();
    this.#takeView(header, view);
  }

  /** Settles probes, then hands the view to the posted value receive that wantsView found. */
  #takeView(header: FrameHeader, view: Uint8Array): void {
    if (this.#probes.length > 0) this.#settleProbes(header);
    const list = this.#posted.get(header.context)!;
    this.#resolveDecoded(header, view, takeAt(list, firstPosted(list, header)));
  }

  /** A buffer of `size` bytes for a value payload from `source`: its reused scratch when small enough. */
  #scratchFor(source: number, size: number): Uint8Array {
    if (size > VALUE_SCRATCH_MAX_BYTES) return new Uint8Array(size);
    let scratch = this.#valueScratch[source] ?? null;
    if (scratch === null || scratch.length < size) {
      let length = 1024;
      while (length < size) length *= 2;
      this.#valueScratch[source] = scratch = new Uint8Array(Math.min(length, VALUE_SCRATCH_MAX_BYTES));
      this.#scratchViews[source] = null;
    }
    // Messages of one size follow each other: their view is made once, not per message (~50 ns here).
    const last = this.#scratchViews[source] ?? null;
    if (last !== null && last.length === size) return last;
    return (this.#scratchViews[source] = scratch.subarray(0, size));
  }

  /** Whether `payload` lies in `source`'s value scratch (so it must be decoded or copied now). */
  #inScratch(source: number, payload: Uint8Array): boolean {
    const scratch = this.#valueScratch[source];
    return scratch != null && payload.length > 0 && payload.buffer === scratch.buffer;
  }

  /** Resolves `posted` with the value `bytes` decode to, or rejects it with the decode's error. */
  #resolveDecoded(header: FrameHeader, bytes: Uint8Array, posted: PostedReceive): void {
    let value: unknown;
    try {
      value = decodeValue(bytes);
    } catch (error) {
      posted.reject(error as Error);
      return;
    }
    posted.resolve({
      source: header.source,
      tag: header.tag,
      dtype: 0,
      size: bytes.length,
      payload: EMPTY,
      decoded: true,
      value,
    });
  }

  deliver(header: FrameHeader, payload: Uint8Array): void {
    this.#onProgress?.();
    switch (header.kind) {
      case FrameKind.EAGER:
        if (this.#inScratch(header.source, payload)) {
          if (this.#valueReceiveFor(header)) this.#takeView(header, payload);
          else this.#arrive(header, payload.slice());
          return;
        }
        this.#arrive(header, payload);
        return;
      case FrameKind.RTS:
        this.#arrive(header, null);
        return;
      case FrameKind.CLEAR: {
        const out = this.#outgoing.get(header.id);
        if (out === undefined) return;
        this.#outgoing.delete(header.id);
        const data: FrameHeader = {
          ...header,
          kind: FrameKind.DATA,
          size: out.payload.length,
          dtype: out.dtype,
        };
        const sent = this.transport.send(out.dest, data, out.payload);
        if (sent === undefined) {
          out.lease?.release();
          out.resolve();
        } else if (out.lease === null) sent.then(out.resolve, out.reject);
        else {
          const lease = out.lease;
          sent.then(
            () => {
              lease.release();
              out.resolve();
            },
            (error: unknown) => {
              lease.release();
              out.reject(error as Error);
            },
          );
        }
        return;
      }
      case FrameKind.DATA: {
        const key = header.source * 2 ** 32 + header.id;
        const posted = this.#awaitingData.get(key);
        if (posted === undefined) return;
        this.#awaitingData.delete(key);
        if (this.#inScratch(header.source, payload)) {
          this.#resolveDecoded(header, payload, posted);
          return;
        }
        posted.resolve(undecoded(header, payload));
        return;
      }
      default:
        this.fail(
          new SkeinError(
            'SKEIN_INTERNAL',
            `rank ${this.rank} got a frame of unknown kind ${header.kind}; this is a bug in Skein`,
          ),
        );
    }
  }

  /** Settles the pending probes that the arriving `header` matches. */
  #settleProbes(header: FrameHeader): void {
    for (let i = 0; i < this.#probes.length; ) {
      const probe = this.#probes[i]!;
      if (probe.context === header.context && matches(probe.source, probe.tag, header)) {
        this.#probes.splice(i, 1);
        probe.resolve(envelopeOf(header));
      } else i++;
    }
  }

  #arrive(header: FrameHeader, payload: Uint8Array | null): void {
    if (this.#probes.length > 0) this.#settleProbes(header);
    const list = this.#posted.get(header.context);
    if (list !== undefined && list.length > 0) {
      const index = firstPosted(list, header);
      if (index >= 0) {
        this.#match(header, payload, takeAt(list, index));
        return;
      }
    }
    let queue = this.#unexpected.get(header.context);
    if (queue === undefined) this.#unexpected.set(header.context, (queue = []));
    // A copy: the transport's header is valid during deliver() only (FrameSink.deliver).
    queue.push({ header: { ...header }, payload });
    this.#held[header.source] = this.#held[header.source]! + heldBytes(payload);
  }

  /** Whether the transport may read the next frame from `source` (FrameSink.accepting). */
  accepting(source: number): boolean {
    return this.#held[source]! < this.#unexpectedLimit;
  }

  /** A message left the unexpected queue: the source may be read from again once under the limit. */
  #release(incoming: Incoming): void {
    const source = incoming.header.source;
    const before = this.#held[source]!;
    const after = before - heldBytes(incoming.payload);
    this.#held[source] = after;
    if (before >= this.#unexpectedLimit && after < this.#unexpectedLimit) this.transport.resume?.(source);
  }

  #match(header: FrameHeader, payload: Uint8Array | null, posted: PostedReceive): void {
    if (payload !== null) {
      posted.resolve(undecoded(header, payload));
      return;
    }
    // An RTS: tell the sender to go on, then wait for DATA with this id.
    this.#awaitingData.set(header.source * 2 ** 32 + header.id, posted);
    const clear: FrameHeader = { ...header, kind: FrameKind.CLEAR, size: 0, source: this.rank };
    this.transport.send(header.source, clear, null)?.catch((error: unknown) => this.fail(error as Error));
  }
}

/** The first `size` bytes of a receive buffer: the buffer itself when it fits exactly (no view made). */
function intoPrefix(into: Uint8Array, size: number): Uint8Array {
  return into.length === size ? into : into.subarray(0, size);
}

/** What an unexpected message counts against its source's limit: its payload and a fixed cost. */
function heldBytes(payload: Uint8Array | null): number {
  return (payload?.length ?? 0) + 64;
}

/** The index of the first posted receive that `header` matches, or -1. */
function firstPosted(list: readonly PostedReceive[], header: FrameHeader): number {
  for (let i = 0; i < list.length; i++) {
    const posted = list[i]!;
    if (matches(posted.source, posted.tag, header)) return i;
  }
  return -1;
}

/** The index of the first arrived message a receive for (`source`, `tag`) matches, or -1. */
function firstUnexpected(queue: readonly Incoming[], source: number, tag: number): number {
  for (let i = 0; i < queue.length; i++) if (matches(source, tag, queue[i]!.header)) return i;
  return -1;
}

/**
 * Removes and returns list[index] (an index in range): the only one (the usual case) by pop(), which
 * V8 inlines, the first one by shift().
 */
function takeAt<T>(list: T[], index: number): T {
  if (index === list.length - 1) return list.pop()!;
  if (index === 0) return list.shift()!;
  return list.splice(index, 1)[0]!;
}

function envelopeOf(header: FrameHeader): Envelope {
  return { source: header.source, tag: header.tag, dtype: header.dtype, size: header.size };
}

/** A received message whose payload is handed over as bytes, to be unpacked by the receive. */
function undecoded(header: FrameHeader, payload: Uint8Array): Received {
  return {
    source: header.source,
    tag: header.tag,
    dtype: header.dtype,
    size: payload.length,
    payload,
    decoded: false,
    value: undefined,
  };
}
