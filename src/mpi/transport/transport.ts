// The contract every MPI transport keeps (threads over shared memory, processes over Unix sockets, hosts
// over TCP): move frames between the ranks of one job, reliably and in order per ordered pair of ranks.
// Matching, rendezvous and collectives live above it (engine.ts, communicator.ts), written once.
// Invariant: frames from one source arrive in the order that source sent them; a transport never drops,
// reorders or looks into a payload, and fails loudly (sink.fail) when a peer is gone.

import type { FrameHeader } from '../frame.ts';

/** Where a transport hands what arrives. */
export interface FrameSink {
  /**
   * The memory a frame's payload is written into: `header.size` bytes. The engine may return the
   * caller's receive buffer, so a large message lands where it is wanted with no second copy. `whole`:
   * the payload has arrived entirely and deliver() follows before any other code runs, so an eager
   * message may also land in the buffer of the receive it is about to match.
   */
  target(header: FrameHeader, whole?: boolean): Uint8Array;
  /**
   * A whole frame arrived; `payload` is what target() returned (or an empty array for size 0).
   * `header` is valid during the call only (a transport may reuse it for its next frame): the sink
   * copies what it keeps.
   */
  deliver(header: FrameHeader, payload: Uint8Array): void;
  /**
   * Whether the sink takes this frame's payload through deliverView, as a view of the transport's own
   * memory: asked for a whole frame in that memory, with deliverView following before any other code
   * runs. Absent: never.
   */
  wantsView?(header: FrameHeader): boolean;
  /**
   * A whole frame whose payload `view` is valid only during the call (the transport reuses the memory
   * after it): the sink reads what it needs before returning. Called only when wantsView said so.
   */
  deliverView?(header: FrameHeader, view: Uint8Array): void;
  /** The transport cannot go on (a peer's connection broke); every pending operation fails with it. */
  fail(error: Error): void;
  /**
   * Whether the next frame from `source` may be read now. While not, the transport leaves that source's
   * frames where they are (in the ring, in the socket), so the source's sends wait; it reads on once
   * resume(source) is called. Absent: always.
   */
  accepting?(source: number): boolean;
  /**
   * Milliseconds a transport that can poll shared memory polls for the next frame before its reader
   * sleeps (MpirunOptions.spinTimeout). Absent: 0.
   */
  readonly spinTimeout?: number;
}

/** Transport.takeSmall took nothing. */
export const NOT_TAKEN = -1;

export type TransportKind = 'thread' | 'process' | 'tcp';

export interface Transport {
  readonly kind: TransportKind;
  /** This rank in the world communicator. */
  readonly rank: number;
  readonly size: number;
  /** Starts delivering arriving frames to `sink`; called once. */
  start(sink: FrameSink): void;
  /**
   * Sends a frame to `dest` (never this rank). Returns undefined when the payload was copied out at
   * once, else a promise that settles when the caller may reuse `payload`. Frames to one destination
   * leave in call order. `transient`: `payload` is valid only during the call (a scratch encoding), so
   * a transport that keeps it past the call (a queued frame) copies it first. `header` is the caller's
   * to reuse once the call returns: a transport that keeps it copies it too.
   */
  send(
    dest: number,
    header: FrameHeader,
    payload: Uint8Array | null,
    transient?: boolean,
  ): Promise<void> | undefined;
  /**
   * Delivers what arrived, sleeping in the kernel up to `timeoutMs` for the next frame if nothing has;
   * returns whether anything was delivered. Present where arrival can be awaited without the event loop
   * (shared memory between worker threads): a blocking receive uses it briefly, which costs a futex
   * wake-up per message instead of an event-loop turn, and yields the core to the sender meanwhile.
   * With `spinMs`, it first polls on the CPU for up to that long (within `timeoutMs`): an answer
   * within it costs no sleep and no wake-up at all.
   */
  waitFor?(timeoutMs: number, spinMs?: number): boolean;
  /**
   * A barrier of every rank of the job through shared memory, where the transport has one (thread
   * ranks): undefined when this rank passed it within the call, else a promise that settles once it
   * passes, or rejects with `failure()` once that is set (checked at least every few milliseconds).
   * Waits in the call as a receive does (`syncWaitMs`, the first `spinMs` polling); 0 never waits in
   * the call. Every rank calls it the same number of times (MPI's rule for collectives).
   */
  barrier?(syncWaitMs: number, spinMs: number, failure: () => Error | null): Promise<void> | undefined;
  /**
   * An allreduce of a small contribution over every rank of the job through shared memory, where the
   * transport has one (thread ranks, a power-of-two job, `bytes` small enough): recursive doubling, in
   * which each round hands this rank's current `bytes` to the partner and calls
   * `combine(theirs, theirDtype, theirsFirst)` with the partner's (a view valid during the call;
   * theirsFirst when the partner's rank is lower), which folds them into `bytes`. Undefined when done
   * within the call, a promise otherwise (rejecting with `failure()` once set), null when it cannot.
   * Waits as barrier does. Every rank calls it for the same allreduces.
   */
  allreduce?(
    bytes: Uint8Array,
    dtype: number,
    combine: (theirs: Uint8Array, theirDtype: number, theirsFirst: boolean) => void,
    syncWaitMs: number,
    spinMs: number,
    failure: () => Error | null,
  ): Promise<void> | undefined | null;
  /**
   * Takes the next frame from `source`, bypassing the sink, when it is a small eager frame of
   * `context`, `tag` (any tag for ANY_TAG) and `dtype` whose payload fits `into`: copies the payload
   * into `into`, or with `into` null (a value, dtype 0) leaves it in takenPayload until the next read,
   * and returns its length, with its tag in takenTag. Else NOT_TAKEN, the frame, if any, left for the
   * sink; it polls for up to `spinMs` first while nothing is there. The caller asks only when that
   * frame could match no other receive. Present where frames lie in shared memory (thread ranks).
   */
  takeSmall?(
    source: number,
    context: number,
    tag: number,
    dtype: number,
    into: Uint8Array | null,
    spinMs: number,
  ): number;
  /** The tag of the frame takeSmall took last. */
  readonly takenTag?: number;
  /** The payload of the value frame takeSmall took last (into null), valid until the next read. */
  readonly takenPayload?: Uint8Array;
  /** The largest payload takeSmall takes: a larger receive buffer is most likely there for a larger message. */
  readonly takeSmallMaxBytes?: number;
  /** The sink accepts frames from `source` again (FrameSink.accepting): read on. */
  resume?(source: number): void;
  /** Resolves once every frame sent so far left this rank. */
  flush(): Promise<void>;
  /** Stops receiving and releases connections and memory; idempotent. */
  close(): Promise<void>;
}
