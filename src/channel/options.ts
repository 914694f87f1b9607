// Channel options: frozen tables of defaults and resolvers that validate every field by its path, plus
// the { timeout, signal } check every waiting call shares. Invariant: whatever a resolver returns is
// frozen and complete, so the classes never look at raw user input again.

import { abortErrorFrom, InvalidArgumentError } from '../errors.ts';
import type { WaitOptions, WaitPlan } from '../sync/wait.ts';

/** The order in which a Queue hands out its items. */
export type QueueOrder = 'fifo' | 'lifo' | 'priority';

export interface QueueOptions {
  /**
   * Items the queue holds at most (Python's maxsize); `put` waits while it is full. Infinity bounds the
   * queue by `bufferBytes` alone. An integer from 1 to 2^31 - 1, or Infinity. @defaultValue Infinity
   */
  readonly capacity?: number;
  /**
   * Bytes of shared memory for the encoded items, rounded up to a multiple of 8; also bounds the largest
   * message (4 bytes less for FIFO and LIFO, 24 for priority). From 64 to 2^30. @defaultValue 1048576
   */
  readonly bufferBytes?: number;
  /**
   * 'fifo' (queue.Queue), 'lifo' (queue.LifoQueue: the newest item first) or 'priority'
   * (queue.PriorityQueue: the smallest `priority` first, FIFO among equals). @defaultValue 'fifo'
   */
  readonly order?: QueueOrder;
}

/** The defaults of QueueOptions. Plain data, frozen. */
export const QUEUE_DEFAULTS = Object.freeze({
  /** Items: no limit but the bytes. */
  capacity: Number.POSITIVE_INFINITY,
  /** Bytes: 1 MiB. */
  bufferBytes: 1024 * 1024,
  order: 'fifo' as QueueOrder,
});

export type ResolvedQueueOptions = Required<QueueOptions>;

export interface PipeOptions {
  /**
   * true: both ends send and receive (multiprocessing.Pipe(duplex=True)). false: `[receiver, sender]`,
   * the first end only receives and the second only sends. @defaultValue true
   */
  readonly duplex?: boolean;
  /** Bytes of shared memory per direction, rounded up to a multiple of 8; from 64 to 2^30. @defaultValue 262144 */
  readonly bufferBytes?: number;
}

/** The defaults of PipeOptions. Plain data, frozen. */
export const PIPE_DEFAULTS = Object.freeze({
  duplex: true,
  /** Bytes per direction: 256 KiB. */
  bufferBytes: 256 * 1024,
});

export type ResolvedPipeOptions = Required<PipeOptions>;

/** The smallest and largest ring a channel accepts, in bytes. */
export const MIN_BUFFER_BYTES = 64;
export const MAX_BUFFER_BYTES = 2 ** 30;
/** The largest finite capacity: it is kept in one Int32 cell. */
export const MAX_CAPACITY = 0x7fff_ffff;

const ORDERS: readonly QueueOrder[] = ['fifo', 'lifo', 'priority'];

function invalid(message: string): InvalidArgumentError {
  return new InvalidArgumentError('SKEIN_CHANNEL_INVALID_ARGUMENT', message);
}

function show(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'object' && value !== null) return value.constructor?.name ?? 'an object';
  return String(value);
}

function checkObject(options: unknown, what: string): Record<string, unknown> {
  if (options === undefined) return {};
  if (typeof options !== 'object' || options === null || Array.isArray(options)) {
    throw invalid(`options must be an object (got ${show(options)}); omit it to use the ${what} defaults`);
  }
  return options as Record<string, unknown>;
}

function resolveBufferBytes(value: unknown, fallback: number): number {
  if (value === undefined) return fallback;
  if (
    typeof value !== 'number' ||
    !Number.isInteger(value) ||
    value < MIN_BUFFER_BYTES ||
    value > MAX_BUFFER_BYTES
  ) {
    throw invalid(
      `bufferBytes must be an integer from ${MIN_BUFFER_BYTES} to ${MAX_BUFFER_BYTES} (got ${show(value)}); omit it for ${fallback} bytes`,
    );
  }
  return Math.ceil(value / 8) * 8;
}

/** Merges QueueOptions over QUEUE_DEFAULTS, validates each field by name and freezes the result. */
export function resolveQueueOptions(options?: QueueOptions): ResolvedQueueOptions {
  const raw = checkObject(options, 'Queue');
  const { capacity = QUEUE_DEFAULTS.capacity, order = QUEUE_DEFAULTS.order } = raw;
  if (
    typeof capacity !== 'number' ||
    !(capacity === Number.POSITIVE_INFINITY || (Number.isInteger(capacity) && capacity >= 1)) ||
    (capacity !== Number.POSITIVE_INFINITY && capacity > MAX_CAPACITY)
  ) {
    throw invalid(
      `capacity must be an integer from 1 to ${MAX_CAPACITY} or Infinity (got ${show(capacity)}); omit it to bound the queue by bufferBytes only`,
    );
  }
  if (typeof order !== 'string' || !ORDERS.includes(order as QueueOrder)) {
    throw invalid(`order must be one of 'fifo', 'lifo', 'priority' (got ${show(order)}); omit it for 'fifo'`);
  }
  return Object.freeze({
    capacity,
    bufferBytes: resolveBufferBytes(raw.bufferBytes, QUEUE_DEFAULTS.bufferBytes),
    order: order as QueueOrder,
  });
}

/** Merges PipeOptions over PIPE_DEFAULTS, validates each field by name and freezes the result. */
export function resolvePipeOptions(options?: PipeOptions): ResolvedPipeOptions {
  const raw = checkObject(options, 'Pipe');
  const { duplex = PIPE_DEFAULTS.duplex } = raw;
  if (typeof duplex !== 'boolean') {
    throw invalid(`duplex must be a boolean (got ${show(duplex)}); omit it for a two-way pipe`);
  }
  return Object.freeze({
    duplex,
    bufferBytes: resolveBufferBytes(raw.bufferBytes, PIPE_DEFAULTS.bufferBytes),
  });
}

const FOREVER: WaitPlan = Object.freeze({
  deadline: Number.POSITIVE_INFINITY,
  timeout: Number.POSITIVE_INFINITY,
  signal: undefined,
});

/**
 * Validates { timeout, signal } of the call named `what` (SKEIN_CHANNEL_INVALID_ARGUMENT) and turns the
 * timeout into a deadline. An already-aborted signal throws its AbortError here, before any side effect.
 */
export function planChannelWait(options: WaitOptions | undefined, what: string): WaitPlan {
  if (options === undefined) return FOREVER;
  if (typeof options !== 'object' || options === null) {
    throw invalid(`${what} options must be an object like { timeout, signal } (got ${show(options)})`);
  }
  const { timeout, signal } = options;
  if (timeout !== undefined && (typeof timeout !== 'number' || Number.isNaN(timeout) || timeout < 0)) {
    throw invalid(
      `${what} timeout must be a number of milliseconds >= 0 (got ${show(timeout)}); omit it to wait without limit`,
    );
  }
  if (signal !== undefined && !(signal instanceof AbortSignal)) {
    throw invalid(`${what} signal must be an AbortSignal (got ${show(signal)})`);
  }
  if (signal?.aborted === true) throw abortErrorFrom(signal);
  if (timeout === undefined && signal === undefined) return FOREVER;
  const limit = timeout ?? Number.POSITIVE_INFINITY;
  return { deadline: performance.now() + limit, timeout: limit, signal };
}
