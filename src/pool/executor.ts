// The executor contract that ThreadPool and ProcessPool both implement, with the options they share.
// One conformance suite (test/conformance/executor.ts) runs against every implementation.

import type { TransferListItem } from 'node:worker_threads';
import type { ActorClass, Task } from '../task.ts';
import type { Span } from '../trace/index.ts';
import type { PoolStats } from './stats.ts';

/** Anything a pool can run: a task reference, or a self-contained function (see docs/pool.md). */
export type Runnable<A extends unknown[], R> = Task<A, R> | ((...args: A) => R);

/** How a running task is stopped when its call is cancelled or times out. */
export type CancelMode = 'signal' | 'terminate';

export interface RunOptions {
  /** Cancels the call: a queued task is removed, a running one is cancelled per `cancelMode`. */
  readonly signal?: AbortSignal;
  /** Milliseconds from the moment the task starts running (not from queueing). */
  readonly timeout?: number;
  /** ArrayBuffers (or MessagePorts) moved to the worker instead of copied. */
  readonly transfer?: readonly TransferListItem[];
  /** Higher runs first; equal priorities run in submission order. @defaultValue 0 */
  readonly priority?: number;
  /** Receives each value the task sends with taskContext().progress(). */
  readonly onProgress?: (value: unknown) => void;
  /**
   * Receives what the task writes to process.stdout and process.stderr (console.* included, and its
   * async continuations), in order and before the call settles; the text is still written to the
   * worker's own streams. Coalesced (at most every 50 ms or 16 Ki characters per message) and capped
   * at 1 Mi characters per call, then cut with a marker line. Calls without it capture nothing.
   */
  readonly onOutput?: (stream: 'stdout' | 'stderr', text: string) => void;
  /** Overrides the pool's cancelMode for this call. */
  readonly cancelMode?: CancelMode;
}

export interface MapOptions {
  /** Items per message to a worker; `undefined` picks one from the measured task time. */
  readonly chunkSize?: number;
  /** Chunks sent but not yet consumed, bounding memory (backpressure). @defaultValue 4 × workers */
  readonly maxInFlight?: number;
  readonly signal?: AbortSignal;
  /** Called after each finished chunk with the number of items done so far. */
  readonly onProgress?: (done: number) => void;
}

export type ReturnWhen = 'allCompleted' | 'firstCompleted' | 'firstException';

/** An actor living in one worker: each method returns a promise; dispose to free it. */
export type ActorProxy<T> = {
  readonly [K in keyof T as T[K] extends (...args: never[]) => unknown ? K : never]: T[K] extends (
    ...args: infer A
  ) => infer R
    ? (...args: A) => Promise<Awaited<R>>
    : never;
} & AsyncDisposable & {
    /** Frees the object in its worker; later method calls reject with SKEIN_POOL_ACTOR_RELEASED. */
    readonly [Symbol.asyncDispose]: () => Promise<void>;
  };

export interface ExecutorEvents {
  workerStart: [workerId: number];
  workerExit: [workerId: number, exitCode: number | null];
  drain: [];
}

/** The interface ThreadPool and ProcessPool share. */
export interface Executor extends AsyncDisposable {
  readonly kind: 'thread' | 'process';
  run<A extends unknown[], R>(task: Runnable<A, R>, ...args: A): Promise<Awaited<R>>;
  submit<A extends unknown[], R>(task: Runnable<A, R>, args: A, options?: RunOptions): Promise<Awaited<R>>;
  map<T, R>(
    task: Runnable<[T], R>,
    items: Iterable<T> | AsyncIterable<T>,
    options?: MapOptions,
  ): Promise<Awaited<R>[]>;
  imap<T, R>(
    task: Runnable<[T], R>,
    items: Iterable<T> | AsyncIterable<T>,
    options?: MapOptions,
  ): AsyncIterableIterator<Awaited<R>>;
  imapUnordered<T, R>(
    task: Runnable<[T], R>,
    items: Iterable<T> | AsyncIterable<T>,
    options?: MapOptions,
  ): AsyncIterableIterator<Awaited<R>>;
  starmap<A extends unknown[], R>(
    task: Runnable<A, R>,
    items: Iterable<A> | AsyncIterable<A>,
    options?: MapOptions,
  ): Promise<Awaited<R>[]>;
  broadcast<A extends unknown[], R>(task: Runnable<A, R>, ...args: A): Promise<Awaited<R>[]>;
  actor<T extends object, A extends unknown[]>(Class: ActorClass<T, A>, ...args: A): Promise<ActorProxy<T>>;
  stats(): PoolStats;
  spans(): readonly Span[];
  close(): Promise<void>;
  destroy(reason?: unknown): Promise<void>;
}
