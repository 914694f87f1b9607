// ProcessQueue: a queue shared between processes (multiprocessing.Queue / JoinableQueue), kept by the hub
// of the thread that created it. Values travel through the Skein codec; the hub holds them encoded and
// hands each to exactly one get. An item in flight to a consumer that dies goes back to the front.

import { decode } from '../codec/decoder.ts';
import { encode } from '../codec/encoder.ts';
import { ChannelClosedError, QueueEmptyError, QueueFullError, type SkeinError } from '../errors.ts';
import { createShared, type Endpoint, endpointOf, handleOf, NO_WAIT } from '../sync/process/endpoint.ts';
import { registerKind, type Shareable, type SharedHandle, TO_HANDLE } from '../sync/shared.ts';
import type { WaitOptions } from '../sync/wait.ts';
import { invalid, planChannelCall, show } from './process/arguments.ts';
import type { QueueInfo, QueueOrderName } from './process/queue-state.ts';
import './process/queue-state.ts';

const KIND = 'ProcessQueue';
/** The largest finite capacity, as for the thread Queue. */
const MAX_CAPACITY = 0x7fff_ffff;

export interface ProcessQueueOptions {
  /** Items the queue holds at most; `put` waits while it is full. An integer >= 1, or Infinity. @defaultValue Infinity */
  readonly capacity?: number;
  /**
   * 'fifo' (queue.Queue), 'lifo' (the newest item first) or 'priority' (the smallest `priority`
   * first, FIFO among equals). @defaultValue 'fifo'
   */
  readonly order?: QueueOrderName;
}

/** The defaults of ProcessQueueOptions. Plain data, frozen. */
export const PROCESS_QUEUE_DEFAULTS = Object.freeze({
  /** Items: no limit. */
  capacity: Number.POSITIVE_INFINITY,
  order: 'fifo' as QueueOrderName,
});

export type ResolvedProcessQueueOptions = Required<ProcessQueueOptions>;

/** Options of put() and its forms: a wait's { timeout, signal }, and the item's priority. */
export interface ProcessPutOptions extends WaitOptions {
  /** Priority queues only: smaller numbers come out first, equal ones in the order they were put. @defaultValue 0 */
  readonly priority?: number;
}

/** Merges ProcessQueueOptions over PROCESS_QUEUE_DEFAULTS, validates each field by name and freezes the result. */
export function resolveProcessQueueOptions(options?: ProcessQueueOptions): ResolvedProcessQueueOptions {
  if (options !== undefined && (typeof options !== 'object' || options === null || Array.isArray(options))) {
    throw invalid(
      `options must be an object (got ${show(options)}); omit it to use the ProcessQueue defaults`,
    );
  }
  const { capacity = PROCESS_QUEUE_DEFAULTS.capacity, order = PROCESS_QUEUE_DEFAULTS.order } = options ?? {};
  if (
    typeof capacity !== 'number' ||
    !(
      capacity === Number.POSITIVE_INFINITY ||
      (Number.isInteger(capacity) && capacity >= 1 && capacity <= MAX_CAPACITY)
    )
  ) {
    throw invalid(
      `capacity must be an integer from 1 to ${MAX_CAPACITY} or Infinity (got ${show(capacity)}); omit it for no limit`,
    );
  }
  if (order !== 'fifo' && order !== 'lifo' && order !== 'priority') {
    throw invalid(`order must be one of 'fifo', 'lifo', 'priority' (got ${show(order)}); omit it for 'fifo'`);
  }
  return Object.freeze({ capacity, order });
}

let revived: { endpoint: Endpoint; options: ResolvedProcessQueueOptions } | undefined;

/**
 * A queue shared between processes, for many producers and many consumers (multiprocessing.Queue with
 * JoinableQueue's taskDone/join; `order` gives LIFO and priority behaviour). Values travel through the
 * Skein codec (typed arrays as raw bytes), so what comes out is a copy. Items are delivered in the
 * queue's order, each to exactly one get; the items of one producer keep their order (FIFO).
 *
 * `putAsync`, `getAsync`, `joinAsync` and `for await` work everywhere; the blocking forms (`put`, `get`,
 * `join`) block the calling thread, and on the thread that created the queue work only when they need
 * not wait.
 * @example
 * const tasks = new ProcessQueue<number>({ capacity: 100 });
 * for (const child of children) child.send(toHandle(tasks)); // each: for await (const n of tasks) …
 * for (let n = 0; n < 1000; n++) await tasks.putAsync(n);
 * tasks.close();
 */
export class ProcessQueue<T = unknown> implements Shareable, AsyncIterable<T> {
  /** The resolved options (for a revived queue, those of the queue it was made from). */
  readonly options: ResolvedProcessQueueOptions;
  readonly #endpoint: Endpoint;

  constructor(options?: ProcessQueueOptions) {
    const state = revived;
    revived = undefined;
    if (state !== undefined) {
      this.options = state.options;
      this.#endpoint = state.endpoint;
      return;
    }
    this.options = resolveProcessQueueOptions(options);
    this.#endpoint = createShared(KIND, [this.options.order, this.options.capacity]);
  }

  /** Items in the queue now (a snapshot while others use it). */
  get size(): number {
    return this.#info().size;
  }

  /** Whether the queue holds no item now. */
  empty(): boolean {
    return this.size === 0;
  }

  /** Whether the queue holds `capacity` items now. */
  full(): boolean {
    return this.size >= this.options.capacity;
  }

  /** Whether close() was called (by anyone). */
  get closed(): boolean {
    return this.#info().closed;
  }

  /** Items put and not yet marked with taskDone(). */
  get unfinishedTasks(): number {
    return this.#info().unfinished;
  }

  /**
   * Puts an item, blocking this thread while the queue is full.
   * @throws ChannelClosedError SKEIN_CHANNEL_CLOSED when the queue is closed, also while waiting.
   * @throws TimeoutError SKEIN_TIMEOUT when the queue stayed full for `timeout` ms.
   * @throws InvalidArgumentError SKEIN_CODEC_UNSUPPORTED for a value the codec cannot carry.
   */
  put(value: T, options?: ProcessPutOptions): void {
    const priority = this.#priorityOf(options, 'ProcessQueue.put');
    const plan = planChannelCall(options, 'ProcessQueue.put');
    this.#endpoint.callSync('put', [encode(value), priority], plan, 'ProcessQueue.put', {
      settleOnHub: true,
    });
  }

  /**
   * Puts an item without blocking the event loop. An abort that races the put settles with the hub's
   * verdict: AbortError when the item was not put, success when it already was.
   * @throws ChannelClosedError SKEIN_CHANNEL_CLOSED; TimeoutError SKEIN_TIMEOUT; AbortError SKEIN_ABORTED.
   */
  async putAsync(value: T, options?: ProcessPutOptions): Promise<void> {
    const priority = this.#priorityOf(options, 'ProcessQueue.putAsync');
    const plan = planChannelCall(options, 'ProcessQueue.putAsync');
    await this.#endpoint.call('put', [encode(value), priority], plan, 'ProcessQueue.putAsync', {
      settleOnHub: true,
    });
  }

  /**
   * Puts an item if there is room now; never waits.
   * @throws QueueFullError SKEIN_CHANNEL_FULL when full; ChannelClosedError SKEIN_CHANNEL_CLOSED.
   */
  putNowait(value: T, options?: Pick<ProcessPutOptions, 'priority'>): void {
    const priority = this.#priorityOf(options, 'ProcessQueue.putNowait');
    try {
      this.#endpoint.callSync('put', [encode(value), priority], NO_WAIT, 'ProcessQueue.putNowait');
    } catch (error) {
      if ((error as SkeinError).code !== 'SKEIN_TIMEOUT') throw error;
      throw new QueueFullError(
        `ProcessQueue.putNowait found the queue full (capacity ${this.options.capacity}); wait for room with put() or putAsync()`,
      );
    }
  }

  /**
   * Takes the next item, blocking this thread while the queue is empty.
   * @throws ChannelClosedError SKEIN_CHANNEL_CLOSED once the queue is closed and drained.
   * @throws TimeoutError SKEIN_TIMEOUT when nothing came within `timeout` ms.
   */
  get(options?: WaitOptions): T {
    const plan = planChannelCall(options, 'ProcessQueue.get');
    return decode(this.#endpoint.callSync('get', [], plan, 'ProcessQueue.get') as Uint8Array) as T;
  }

  /**
   * Takes the next item without blocking the event loop. An item the hub handed out just as the call
   * was aborted goes back to the front of the queue.
   * @throws ChannelClosedError SKEIN_CHANNEL_CLOSED; TimeoutError SKEIN_TIMEOUT; AbortError SKEIN_ABORTED.
   */
  async getAsync(options?: WaitOptions): Promise<T> {
    const plan = planChannelCall(options, 'ProcessQueue.getAsync');
    return decode((await this.#endpoint.call('get', [], plan, 'ProcessQueue.getAsync')) as Uint8Array) as T;
  }

  /**
   * Takes the next item if there is one now; never waits.
   * @throws QueueEmptyError SKEIN_CHANNEL_EMPTY when empty; ChannelClosedError once closed and drained.
   */
  getNowait(): T {
    let bytes: Uint8Array;
    try {
      bytes = this.#endpoint.callSync('get', [], NO_WAIT, 'ProcessQueue.getNowait') as Uint8Array;
    } catch (error) {
      if ((error as SkeinError).code !== 'SKEIN_TIMEOUT') throw error;
      throw new QueueEmptyError(
        'ProcessQueue.getNowait found the queue empty; wait for an item with get() or getAsync()',
      );
    }
    return decode(bytes) as T;
  }

  /**
   * Marks one item taken with get() as processed; join() returns once every item put has been marked.
   * @throws InvalidArgumentError SKEIN_CHANNEL_INVALID_ARGUMENT when called more times than items were put.
   */
  taskDone(): void {
    this.#endpoint.callSync('taskDone', [], NO_WAIT, 'ProcessQueue.taskDone');
  }

  /**
   * Blocks this thread until every item put has been marked with taskDone().
   * @throws TimeoutError SKEIN_TIMEOUT naming the items still unfinished.
   */
  join(options?: WaitOptions): void {
    this.#endpoint.callSync('join', [], planChannelCall(options, 'ProcessQueue.join'), 'ProcessQueue.join');
  }

  /** Like join() without blocking the event loop; also rejects with AbortError when `signal` fires. */
  async joinAsync(options?: WaitOptions): Promise<void> {
    const plan = planChannelCall(options, 'ProcessQueue.joinAsync');
    await this.#endpoint.call('join', [], plan, 'ProcessQueue.joinAsync');
  }

  /**
   * Closes the queue for everyone: puts throw ChannelClosedError from now on (waiting ones too), gets
   * take what is left and then throw it. Idempotent.
   */
  close(): void {
    this.#endpoint.callSync('close', [], NO_WAIT, 'ProcessQueue.close');
  }

  /** Takes items until the queue is closed and drained: `for await (const item of queue)`. */
  async *[Symbol.asyncIterator](): AsyncGenerator<T, void, undefined> {
    for (;;) {
      let item: T;
      try {
        item = await this.getAsync();
      } catch (error) {
        if (error instanceof ChannelClosedError) return;
        throw error;
      }
      yield item;
    }
  }

  #info(): QueueInfo {
    return this.#endpoint.callSync('info', [], NO_WAIT, 'ProcessQueue.info') as QueueInfo;
  }

  #priorityOf(options: Pick<ProcessPutOptions, 'priority'> | undefined, what: string): number {
    const priority = options?.priority;
    if (priority === undefined) return 0;
    if (this.options.order !== 'priority') {
      throw invalid(
        `${what} got a priority, but this queue's order is '${this.options.order}'; create it with order: 'priority' to order items by priority`,
      );
    }
    if (typeof priority !== 'number' || Number.isNaN(priority)) {
      throw invalid(
        `${what} priority must be a number, smaller first (got ${show(priority)}); omit it for 0`,
      );
    }
    return priority;
  }

  [TO_HANDLE](): SharedHandle {
    return handleOf(KIND, import.meta.url, this.#endpoint, {
      capacity: this.options.capacity === Number.POSITIVE_INFINITY ? -1 : this.options.capacity,
      order: this.options.order,
    });
  }

  get [Symbol.toStringTag](): string {
    return KIND;
  }
}

registerKind(KIND, (handle) => {
  const capacity = handle.capacity as number;
  revived = {
    endpoint: endpointOf(handle),
    options: resolveProcessQueueOptions({
      capacity: capacity < 0 ? Number.POSITIVE_INFINITY : capacity,
      order: handle.order as QueueOrderName,
    }),
  };
  return new ProcessQueue();
});
