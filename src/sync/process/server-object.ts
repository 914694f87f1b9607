// The contract between the hub and the state machines it serves: one ServerObject per process-shared
// object, written as plain single-threaded JavaScript (lock-state.ts, …; the channel layer registers its
// own kinds). Invariant: the hub calls a state machine only from its own thread, one call at a time, so
// every state change is atomic by construction; waiting means keeping the Call and settling it later.

import type { SkeinError } from '../../errors.ts';

/** One client thread as the hub sees it: every connection of that thread names the same session. */
export interface Session {
  readonly id: string;
  readonly pid: number;
  readonly threadId: number;
  /** "process 123 thread 0", for messages. */
  readonly label: string;
  /** True for the thread that runs the hub, which calls its objects directly. */
  readonly local: boolean;
}

/**
 * Why a waiting call stops: its deadline passed, its caller aborted, its connection closed ('gone', no
 * answer can reach it), or a blocking call on the hub's own thread found it would have to wait
 * ('retract': undo it as if it had never been made).
 */
export type StopReason = 'timeout' | 'abort' | 'gone' | 'retract';

/** One operation on one object. Settle it exactly once, now or later. */
export interface Call {
  readonly op: string;
  readonly args: readonly unknown[];
  readonly session: Session;
  /** Milliseconds the caller is prepared to wait (Infinity: no limit, 0: answer now). */
  readonly timeout: number;
  readonly settled: boolean;
  /**
   * Answers the call. Pass a `delivery` when the value was taken from the state (a queue item): the hub
   * tells it whether the value reached its caller (the client acknowledged it) or not (its connection
   * closed first, or it had given up), so nothing is lost in flight.
   */
  resolve(value: unknown, delivery?: Delivery): void;
  reject(error: SkeinError): void;
}

/** The fate of a value handed out by Call.resolve; exactly one of the two is called, once. */
export interface Delivery {
  /** The value reached its caller: it is the caller's now. */
  delivered(): void;
  /** The value never reached its caller: take it back (to the front, as if it had not been taken). */
  givenBack(): void;
}

/** A kind's state machine, as the hub drives it. */
export interface ServerObject {
  /** Starts a call: settle it (or throw a SkeinError to reject it), or keep it to settle later. */
  start(call: Call): void;
  /**
   * Forgets a kept call. Return false to let the hub reject it with the usual error (TimeoutError,
   * AbortError), true when the state settled it itself or keeps it a while longer.
   */
  stop(call: Call, why: StopReason): boolean;
  /** A session's last connection closed: give back what it held, and tell whoever needs to know. */
  sessionEnded?(session: Session): void;
  /** Added to a timeout's message: " (held by process 123 thread 0)". */
  describeWait?(call: Call): string;
}

/**
 * Builds a kind's state from the parameters its constructor sent (plain data). `objectOf` finds another
 * object of the same hub by id (a condition's lock), or undefined.
 */
export type ServerKindFactory = (
  params: readonly unknown[],
  objectOf: (id: number) => ServerObject | undefined,
) => ServerObject;

const kinds = new Map<string, ServerKindFactory>();

/** Registers the state machine of a kind; each *-state.ts module calls this once when it loads. */
export function registerServerKind(kind: string, factory: ServerKindFactory): void {
  kinds.set(kind, factory);
}

export function serverKindOf(kind: string): ServerKindFactory | undefined {
  return kinds.get(kind);
}
