// select(): wait on several channels at once and complete exactly one case (Go's select). Each round
// tries every case without waiting, starting at a random case so that none is starved; if none is
// ready it sleeps on all of their sequence cells at once (Atomics.waitAsync) and tries again.
// Invariant: only the case that is returned has taken or given anything; the others are untouched.

import { InvalidArgumentError } from '../errors.ts';
import type { WaitOptions } from '../sync/wait.ts';
import { waitTimedOut } from '../sync/wait.ts';
import { planChannelWait } from './options.ts';
import type { Connection } from './pipe.ts';
import type { Queue } from './queue.ts';
import { SELECT_SINK, SELECT_SOURCE, type SelectSink, type SelectSource } from './selectable.ts';
import { type WaitTarget, waitAnyAsync } from './waiting.ts';

/** Take the next item of a Queue. */
export interface GetCase<T> {
  readonly get: Queue<T>;
}
/** Receive the next value on a pipe end. */
export interface RecvCase<T> {
  readonly recv: Connection<unknown, T>;
}
/** Put `value` into a Queue (with `priority` for a priority queue). */
export interface PutCase<T> {
  readonly put: Queue<T>;
  readonly value: T;
  readonly priority?: number;
}
/** Send `value` on a pipe end. */
export interface SendCase<T> {
  readonly send: Connection<T, unknown>;
  readonly value: T;
}

/** One case of select(); the value types of the cases given are kept in the result's type. */
export type SelectCase = GetCase<unknown> | RecvCase<unknown> | PutCase<unknown> | SendCase<unknown>;

/** The cases as given, with each put/send value checked against its channel's item type. */
export type CheckedCases<C extends readonly SelectCase[]> = {
  readonly [K in keyof C]: C[K] extends { readonly put: Queue<infer T> }
    ? PutCase<T>
    : C[K] extends { readonly send: Connection<infer T, unknown> }
      ? SendCase<T>
      : C[K];
};

/** The value a case yields: the item for get and recv, nothing for put and send. */
export type CaseValue<C> = C extends GetCase<infer T> ? T : C extends RecvCase<infer T> ? T : undefined;

type ResultOf<C, I> =
  | { readonly index: I; readonly value: CaseValue<C>; readonly closed: false }
  | { readonly index: I; readonly value: undefined; readonly closed: true };

/**
 * Which case completed and its value. `closed: true` means a get/recv case's channel is closed and
 * drained (as a receive from a closed Go channel). `index: -1` only with `timeout: 0`: nothing was ready.
 */
export type SelectResult<C extends readonly SelectCase[]> =
  | { [K in keyof C]: ResultOf<C[K], K extends `${infer N extends number}` ? N : number> }[number]
  | { readonly index: -1; readonly value: undefined; readonly closed: false };

const NOTHING_READY = Object.freeze({ index: -1 as const, value: undefined, closed: false as const });

type Prepared =
  | { readonly source: SelectSource; readonly sink?: undefined }
  | {
      readonly source?: undefined;
      readonly sink: SelectSink;
      readonly payload: Uint8Array;
      readonly priority: number | undefined;
    };

/**
 * Completes the first case that can complete: takes from one Queue or pipe end, or puts/sends to one,
 * and leaves every other case untouched.
 *
 * Wake-up: select sleeps on every case's channel at once and is woken directly by the thread that puts
 * or takes (the producer sees select counted among its waiters and notifies), so latency is one event-
 * loop turn, with no polling; it also re-checks every WAIT_SLICE_MS (50 ms) as a safety net and for its
 * deadline. Fairness: each call starts trying at a random case, so a channel that is always ready does
 * not starve the others. An attempt on a Queue takes its lock, which another thread holds only for a
 * copy (microseconds): select may block the event loop that long.
 *
 * With `timeout: 0` select never waits: when nothing is ready it resolves `{ index: -1 }` (Go's default
 * case). A timeout above 0 that runs out rejects with TimeoutError.
 * @example
 * const { index, value } = await select([{ get: jobs }, { recv: control }], { timeout: 1000 });
 * if (index === 0) handle(value); else if (index === 1) stop(value);
 * @throws ChannelClosedError SKEIN_CHANNEL_CLOSED when a put/send case's channel is closed.
 * @throws TimeoutError SKEIN_TIMEOUT, AbortError SKEIN_ABORTED; InvalidArgumentError
 * SKEIN_CHANNEL_INVALID_ARGUMENT for a malformed case (the message names it).
 */
export async function select<const C extends readonly SelectCase[]>(
  cases: C & CheckedCases<C>,
  options?: WaitOptions,
): Promise<SelectResult<C>> {
  const prepared = prepare(cases);
  const plan = planChannelWait(options, 'select');
  const count = prepared.length;
  const start = Math.floor(Math.random() * count);
  const targets: WaitTarget[] = [];
  const first = attemptAll(prepared, start, targets);
  if (first !== undefined) return first as SelectResult<C>;
  if (plan.timeout === 0) return NOTHING_READY;
  for (const { source, sink } of prepared) (source ?? sink).enterWait();
  let completed = -1;
  try {
    for (;;) {
      // Counted as a sleeper before this round reads what to wait on, so no publisher skips the wake-up.
      targets.length = 0;
      const result = attemptAll(prepared, start, targets);
      if (result !== undefined) {
        completed = result.index;
        return result as SelectResult<C>;
      }
      if (!(await waitAnyAsync(targets, plan))) throw waitTimedOut('select', plan, ' (no case was ready)');
    }
  } finally {
    for (const [index, { source, sink }] of prepared.entries())
      (source ?? sink).leaveWait(index === completed);
  }
}

function attemptAll(
  prepared: readonly Prepared[],
  start: number,
  targets: WaitTarget[],
): { index: number; value: unknown; closed: boolean } | undefined {
  const count = prepared.length;
  for (let k = 0; k < count; k++) {
    const index = (start + k) % count;
    const entry = prepared[index]!;
    if (entry.source !== undefined) {
      const attempt = entry.source.tryTake();
      if (attempt.ready) return { index, value: attempt.value, closed: attempt.closed };
      targets.push(attempt.wait);
    } else {
      const wait = entry.sink.tryGive(entry.payload, entry.priority);
      if (wait === undefined) return { index, value: undefined, closed: false };
      targets.push(wait);
    }
  }
  return undefined;
}

function prepare(cases: readonly SelectCase[]): Prepared[] {
  if (!Array.isArray(cases) || cases.length === 0) {
    throw invalidCase(
      `select() takes a non-empty array of cases like { get: queue } or { send: end, value } (got ${describe(cases)})`,
    );
  }
  return cases.map((entry: unknown, index): Prepared => {
    if (typeof entry !== 'object' || entry === null) {
      throw invalidCase(`cases[${index}] must be an object like { get: queue } (got ${describe(entry)})`);
    }
    const record = entry as Record<string, unknown>;
    const keys = ['get', 'recv', 'put', 'send'].filter((key) => record[key] !== undefined);
    if (keys.length !== 1) {
      throw invalidCase(
        `cases[${index}] must have exactly one of get, recv, put, send (got ${keys.length === 0 ? 'none' : keys.join(', ')})`,
      );
    }
    const key = keys[0]!;
    const channel = record[key] as Record<PropertyKey, unknown>;
    if (key === 'get' || key === 'recv') {
      const source = (channel as { [SELECT_SOURCE]?: SelectSource })?.[SELECT_SOURCE];
      if (source === undefined) {
        throw invalidCase(
          `cases[${index}].${key} must be a ${key === 'get' ? 'Queue' : 'pipe end'} (got ${describe(channel)})`,
        );
      }
      return { source };
    }
    const sink = (channel as { [SELECT_SINK]?: SelectSink })?.[SELECT_SINK];
    if (sink === undefined) {
      throw invalidCase(
        `cases[${index}].${key} must be a ${key === 'put' ? 'Queue' : 'pipe end'} (got ${describe(channel)})`,
      );
    }
    const priority = record.priority as number | undefined;
    return { sink, payload: sink.encode(record.value, priority), priority };
  });
}

function invalidCase(message: string): InvalidArgumentError {
  return new InvalidArgumentError('SKEIN_CHANNEL_INVALID_ARGUMENT', message);
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (typeof value === 'object') return (value as object).constructor?.name ?? 'an object';
  return typeof value === 'function' ? 'a function' : `${typeof value} ${String(value)}`;
}
