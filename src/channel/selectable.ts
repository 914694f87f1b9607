// The internal protocol between select() and the channels it waits on: a non-blocking attempt that
// either completes or says which wake point to sleep on, and entering/leaving the point's sleepers.
// Invariant: the target's `expected` sequence was read before the attempt saw "not ready", and select
// enters every point before that attempt, so a change after it makes the wait return (waiting.ts).

import type { WaitTarget } from './waiting.ts';

/** The key under which a channel offers its receiving side to select(). */
export const SELECT_SOURCE: unique symbol = Symbol('skein.channel.selectSource');
/** The key under which a channel offers its sending side to select(). */
export const SELECT_SINK: unique symbol = Symbol('skein.channel.selectSink');

export type TakeAttempt =
  | { readonly ready: true; readonly value: unknown; readonly closed: false }
  | { readonly ready: true; readonly value: undefined; readonly closed: true }
  | { readonly ready: false; readonly wait: WaitTarget };

export interface SelectSource {
  /** Takes one item if one is there now, reports a closed and drained channel, or says what to wait on. */
  tryTake(): TakeAttempt;
  /** Counts this select among the channel's sleeping receivers, before the attempt it sleeps after. */
  enterWait(): void;
  /** Stops counting it; `took` when this case completed, so a wake-up it may have absorbed is passed on. */
  leaveWait(took: boolean): void;
}

export interface SelectSink {
  /** Encodes a value once for every later attempt (a copy, checked against the channel's size limit). */
  encode(value: unknown, priority: number | undefined): Uint8Array;
  /**
   * Puts the encoded value if there is room now and returns undefined, or says what to wait on.
   * @throws ChannelClosedError when the channel (or the receiving end) is closed.
   */
  tryGive(payload: Uint8Array, priority: number | undefined): WaitTarget | undefined;
  enterWait(): void;
  leaveWait(gave: boolean): void;
}

export interface Receivable {
  readonly [SELECT_SOURCE]: SelectSource;
}

export interface Sendable {
  readonly [SELECT_SINK]: SelectSink;
}
