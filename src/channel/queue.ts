// Queue: a bounded multi-producer, multi-consumer queue in one SharedArrayBuffer (Python's queue.Queue,
// LifoQueue and PriorityQueue). Items are codec-encoded records in a byte store (ring, stack or heap)
// guarded by a futex lock held only for the copy; waiters sleep on sequence cells outside the lock.
// Invariant: every state change happens under the lock, and a sequence cell is bumped inside the same
// critical section, so a waiter that read the sequence before seeing "empty"/"full" cannot miss it.

import { ChannelClosedError, InvalidArgumentError, QueueEmptyError, QueueFullError } from '../errors.ts';
import { lockAsync, lockBlocking, MUTEX_CELLS, tryLockFast, unlock } from '../sync/mutex.ts';
import { HANDLE_KIND, registerKind, type SharedHandle, sharedCells, TO_HANDLE } from '../sync/shared.ts';
import {
  throwIfAborted,
  type WaitOptions,
  type WaitPlan,
  waitSliceAsync,
  waitSliceBlocking,
  waitTimedOut,
} from '../sync/wait.ts';
import { ByteStack, stackRecordBytes } from './byte-stack.ts';
import { decodeMessage, encodeMessage, type MessageLimits, readScratch } from './encoding.ts';
import {
  MIN_BUFFER_BYTES,
  planChannelWait,
  type QueueOptions,
  type QueueOrder,
  type ResolvedQueueOptions,
  resolveQueueOptions,
} from './options.ts';
import { maxPriorityRecords, PriorityHeap, priorityRecordBytes } from './priority-heap.ts';
import { ByteRing, ringRecordBytes } from './ring.ts';
import {
  type Receivable,
  SELECT_SINK,
  SELECT_SOURCE,
  type SelectSink,
  type SelectSource,
  type Sendable,
  type TakeAttempt,
} from './selectable.ts';
import { spinWhile, type WaitTarget, waitAnyAsync, waitBlocking } from './waiting.ts';

const KIND = 'Queue';

// Int32 cells of the header; the mutex word and its heir cell come first (mutex.ts).
/** Items held; changed under the lock, read anywhere. */
const COUNT = MUTEX_CELLS;
/** Bumped by every put and by close(): getters sleep on it. */
const NOT_EMPTY = COUNT + 1;
/** Bumped by every get and by close(): putters sleep on it. */
const NOT_FULL = COUNT + 2;
/** Threads (and async callers) asleep or about to sleep on NOT_EMPTY / NOT_FULL: producers notify only then. */
const GET_WAITERS = COUNT + 3;
const PUT_WAITERS = COUNT + 4;
/** Items put and not yet marked done with taskDone(); join() sleeps on it. */
const UNFINISHED = COUNT + 5;
const CLOSED = COUNT + 6;
/** The options, so that a revived queue knows them: order code, capacity (-1 = Infinity), ring bytes. */
const ORDER = COUNT + 7;
const CAPACITY = COUNT + 8;
const BUFFER_BYTES = COUNT + 9;
/** The store's own cells: ring head and tail, stack top, or heap bump, live bytes and sequence. */
const STORE = COUNT + 10;
const HEADER_CELLS = 16;
const HEADER_BYTES = HEADER_CELLS * 4;

const ORDERS: readonly QueueOrder[] = ['fifo', 'lifo', 'priority'];
const FIFO = 0;
const LIFO = 1;
const PRIORITY = 2;

// Outcomes of one attempt under the lock.
const DONE = 0;
const WOULD_WAIT = 1;
const IS_CLOSED = 2;

const FOREVER: WaitPlan = Object.freeze({
  deadline: Number.POSITIVE_INFINITY,
  timeout: Number.POSITIVE_INFINITY,
  signal: undefined,
});

/** Options of put() and its forms: a wait's { timeout, signal }, and the item's priority. */
export interface PutOptions extends WaitOptions {
  /**
   * Priority queues only: smaller numbers come out first, equal ones in the order they were put.
   * Any number but NaN. @defaultValue 0
   */
  readonly priority?: number;
}

let revivedCells: Int32Array | undefined;

/**
 * A bounded queue shared between threads, for many producers and many consumers (Python's
 * `queue.Queue`; `order` gives `LifoQueue` and `PriorityQueue` behaviour). Values travel through the
 * Skein codec (typed arrays as raw bytes), so what comes out is a copy.
 *
 * Blocking forms (`put`, `get`, `join`) park the calling thread with Atomics.wait: use them in workers.
 * `putAsync`, `getAsync`, `joinAsync` and `for await` never block the event loop.
 * @example
 * const queue = new Queue<number>({ capacity: 100 });
 * await pool.run(produce, queue);                  // the worker gets the same queue: queue.put(n)
 * for await (const n of queue) console.log(n);     // ends once the queue is closed and drained
 */
export class Queue<T = unknown> implements Receivable, Sendable, AsyncIterable<T> {
  /** The resolved options (for a queue revived from a handle, those of the queue it was made from). */
  readonly options: ResolvedQueueOptions;
  readonly #cells: Int32Array;
  readonly #order: number;
  readonly #capacity: number;
  readonly #ring: ByteRing | undefined;
  readonly #stack: ByteStack | undefined;
  readonly #heap: PriorityHeap | undefined;
  readonly #limits: MessageLimits;
  /** The smallest record the store can hold, in bytes: below this much free space the queue is full. */
  readonly #minRecordBytes: number;
  /** The sequence value read by the last attempt that found the queue empty or full. */
  #seen = 0;
  /** The payload the last successful get copied out (a view of this thread's read scratch). */
  #taken: Uint8Array = new Uint8Array(0);

  constructor(options?: QueueOptions) {
    let cells = revivedCells;
    revivedCells = undefined;
    if (cells === undefined) {
      const resolved = resolveQueueOptions(options);
      const order = ORDERS.indexOf(resolved.order);
      const heapBytes = order === PRIORITY ? maxPriorityRecords(resolved.bufferBytes) * 4 : 0;
      cells = new Int32Array(new SharedArrayBuffer(HEADER_BYTES + resolved.bufferBytes + heapBytes));
      cells[ORDER] = order;
      cells[CAPACITY] = resolved.capacity === Number.POSITIVE_INFINITY ? -1 : resolved.capacity;
      cells[BUFFER_BYTES] = resolved.bufferBytes;
      this.options = resolved;
    } else {
      const capacity = cells[CAPACITY]!;
      this.options = Object.freeze({
        capacity: capacity < 0 ? Number.POSITIVE_INFINITY : capacity,
        bufferBytes: cells[BUFFER_BYTES]!,
        order: ORDERS[cells[ORDER]!] ?? 'fifo',
      });
    }
    this.#cells = cells;
    const size = this.options.bufferBytes;
    this.#order = ORDERS.indexOf(this.options.order);
    this.#capacity = this.options.capacity;
    let maxPayloadBytes: number;
    if (this.#order === FIFO) {
      this.#ring = new ByteRing(cells, STORE, STORE + 1, HEADER_BYTES, size);
      maxPayloadBytes = this.#ring.maxPayloadBytes;
      this.#minRecordBytes = ringRecordBytes(1);
    } else if (this.#order === LIFO) {
      this.#stack = new ByteStack(cells, STORE, HEADER_BYTES, size);
      maxPayloadBytes = this.#stack.maxPayloadBytes;
      this.#minRecordBytes = stackRecordBytes(1);
    } else {
      this.#heap = new PriorityHeap(cells, STORE, HEADER_BYTES, size, HEADER_BYTES + size);
      maxPayloadBytes = this.#heap.maxPayloadBytes;
      this.#minRecordBytes = priorityRecordBytes(1);
    }
    this.#limits = Object.freeze({ channel: KIND, bufferBytes: size, maxPayloadBytes });
  }

  /** Items in the queue now (Python's qsize(); a snapshot while other threads use it). */
  get size(): number {
    return Atomics.load(this.#cells, COUNT);
  }

  /** Whether the queue holds no item now. */
  empty(): boolean {
    return Atomics.load(this.#cells, COUNT) === 0;
  }

  /** Whether the queue holds `capacity` items, or has no room left for even the smallest message. */
  full(): boolean {
    return Atomics.load(this.#cells, COUNT) >= this.#capacity || this.#freeBytes() < this.#minRecordBytes;
  }

  /** Whether close() was called (by any thread). */
  get closed(): boolean {
    return Atomics.load(this.#cells, CLOSED) !== 0;
  }

  /**
   * Puts an item, blocking this thread while the queue is full (use in workers; on the main thread
   * prefer putAsync).
   * @throws ChannelClosedError SKEIN_CHANNEL_CLOSED when the queue is closed, also while waiting.
   * @throws TimeoutError SKEIN_TIMEOUT when the queue stayed full for `timeout` ms.
   * @throws InvalidArgumentError SKEIN_CHANNEL_MESSAGE_TOO_LARGE when the encoded item can never fit;
   * SKEIN_CODEC_UNSUPPORTED (naming the path) for a value the codec cannot carry.
   */
  put(value: T, options?: PutOptions): void {
    const priority = this.#priorityOf(options, 'Queue.put');
    const plan = options === undefined ? FOREVER : planChannelWait(options, 'Queue.put');
    if (this.closed) throw this.#closedForPut('Queue.put');
    const payload = encodeMessage(value, this.#limits);
    let status = this.#tryPut(payload, priority);
    if (status === DONE) return;
    const target = { cells: this.#cells, index: NOT_FULL, expected: this.#seen };
    if (status === WOULD_WAIT && spinWhile(this.#cells, NOT_FULL, target.expected)) {
      status = this.#tryPut(payload, priority);
      if (status === DONE) return;
      target.expected = this.#seen;
    }
    Atomics.add(this.#cells, PUT_WAITERS, 1);
    try {
      for (;;) {
        if (status === IS_CLOSED) throw this.#closedForPut('Queue.put');
        if (!waitBlocking(target, plan)) throw waitTimedOut('Queue.put', plan, ' (the queue stayed full)');
        status = this.#tryPut(payload, priority);
        if (status === DONE) return;
        target.expected = this.#seen;
      }
    } finally {
      Atomics.sub(this.#cells, PUT_WAITERS, 1);
    }
  }

  /**
   * Puts an item, waiting without blocking the event loop while the queue is full.
   * @throws the same as put(), plus AbortError SKEIN_ABORTED when `signal` fires.
   */
  async putAsync(value: T, options?: PutOptions): Promise<void> {
    const priority = this.#priorityOf(options, 'Queue.putAsync');
    const plan = options === undefined ? FOREVER : planChannelWait(options, 'Queue.putAsync');
    if (this.closed) throw this.#closedForPut('Queue.putAsync');
    let payload = encodeMessage(value, this.#limits);
    let status: number;
    if (this.#tryLockNow()) {
      status = this.#putAndUnlock(payload, priority);
      if (status === DONE) return;
      // The encoding lives in this thread's scratch, which the next encode reuses: keep a copy.
      payload = payload.slice();
    } else {
      payload = payload.slice();
      status = await this.#tryPutAsync(payload, priority);
      if (status === DONE) return;
    }
    const target = { cells: this.#cells, index: NOT_FULL, expected: this.#seen };
    Atomics.add(this.#cells, PUT_WAITERS, 1);
    try {
      for (;;) {
        if (status === IS_CLOSED) throw this.#closedForPut('Queue.putAsync');
        if (!(await waitAnyAsync([target], plan))) {
          throw waitTimedOut('Queue.putAsync', plan, ' (the queue stayed full)');
        }
        status = await this.#tryPutAsync(payload, priority);
        if (status === DONE) return;
        target.expected = this.#seen;
      }
    } finally {
      Atomics.sub(this.#cells, PUT_WAITERS, 1);
    }
  }

  /**
   * Puts an item if there is room now; never waits.
   * @throws QueueFullError SKEIN_CHANNEL_FULL when the queue is full; ChannelClosedError when closed.
   */
  putNowait(value: T, options?: Pick<PutOptions, 'priority'>): void {
    const priority = this.#priorityOf(options, 'Queue.putNowait');
    if (this.closed) throw this.#closedForPut('Queue.putNowait');
    const status = this.#tryPut(encodeMessage(value, this.#limits), priority);
    if (status === IS_CLOSED) throw this.#closedForPut('Queue.putNowait');
    if (status === WOULD_WAIT) {
      throw new QueueFullError(
        `Queue.putNowait found the queue full (${this.size} items, ${this.#freeBytes()} bytes free); wait with put() or putAsync(), or raise capacity or bufferBytes`,
      );
    }
  }

  /**
   * Takes the next item, blocking this thread while the queue is empty (use in workers; on the main
   * thread prefer getAsync).
   * @throws ChannelClosedError SKEIN_CHANNEL_CLOSED once the queue is closed and drained.
   * @throws TimeoutError SKEIN_TIMEOUT when no item came within `timeout` ms.
   */
  get(options?: WaitOptions): T {
    const plan = options === undefined ? FOREVER : planChannelWait(options, 'Queue.get');
    let status = this.#tryGet();
    if (status === DONE) return decodeMessage(this.#taken) as T;
    const target = { cells: this.#cells, index: NOT_EMPTY, expected: this.#seen };
    if (status === WOULD_WAIT && spinWhile(this.#cells, NOT_EMPTY, target.expected)) {
      status = this.#tryGet();
      if (status === DONE) return decodeMessage(this.#taken) as T;
      target.expected = this.#seen;
    }
    Atomics.add(this.#cells, GET_WAITERS, 1);
    try {
      for (;;) {
        if (status === IS_CLOSED) throw this.#closedForGet('Queue.get');
        if (!waitBlocking(target, plan)) throw waitTimedOut('Queue.get', plan, ' (the queue stayed empty)');
        status = this.#tryGet();
        if (status === DONE) return decodeMessage(this.#taken) as T;
        target.expected = this.#seen;
      }
    } finally {
      Atomics.sub(this.#cells, GET_WAITERS, 1);
    }
  }

  /**
   * Takes the next item, waiting without blocking the event loop while the queue is empty.
   * @throws the same as get(), plus AbortError SKEIN_ABORTED when `signal` fires.
   */
  async getAsync(options?: WaitOptions): Promise<T> {
    const plan = options === undefined ? FOREVER : planChannelWait(options, 'Queue.getAsync');
    let status = this.#tryLockNow() ? this.#getAndUnlock() : await this.#tryGetAsync();
    if (status === DONE) return decodeMessage(this.#taken) as T;
    const target = { cells: this.#cells, index: NOT_EMPTY, expected: this.#seen };
    Atomics.add(this.#cells, GET_WAITERS, 1);
    try {
      for (;;) {
        if (status === IS_CLOSED) throw this.#closedForGet('Queue.getAsync');
        if (!(await waitAnyAsync([target], plan))) {
          throw waitTimedOut('Queue.getAsync', plan, ' (the queue stayed empty)');
        }
        status = await this.#tryGetAsync();
        if (status === DONE) return decodeMessage(this.#taken) as T;
        target.expected = this.#seen;
      }
    } finally {
      Atomics.sub(this.#cells, GET_WAITERS, 1);
    }
  }

  /**
   * Takes the next item if there is one now; never waits.
   * @throws QueueEmptyError SKEIN_CHANNEL_EMPTY when empty; ChannelClosedError once closed and drained.
   */
  getNowait(): T {
    const status = this.#tryGet();
    if (status === DONE) return decodeMessage(this.#taken) as T;
    if (status === IS_CLOSED) throw this.#closedForGet('Queue.getNowait');
    throw new QueueEmptyError(
      'Queue.getNowait found the queue empty; wait for an item with get() or getAsync()',
    );
  }

  /**
   * Marks one item taken with get() as processed (Python's task_done()); join() returns once every
   * item put has been marked.
   * @throws InvalidArgumentError SKEIN_CHANNEL_INVALID_ARGUMENT when called more times than items were put.
   */
  taskDone(): void {
    const cells = this.#cells;
    for (;;) {
      const unfinished = Atomics.load(cells, UNFINISHED);
      if (unfinished <= 0) {
        throw new InvalidArgumentError(
          'SKEIN_CHANNEL_INVALID_ARGUMENT',
          'Queue.taskDone() called more times than items were put; call it once per item taken with get()',
        );
      }
      if (Atomics.compareExchange(cells, UNFINISHED, unfinished, unfinished - 1) !== unfinished) continue;
      if (unfinished === 1) Atomics.notify(cells, UNFINISHED);
      return;
    }
  }

  /** Items put and not yet marked with taskDone(). */
  get unfinishedTasks(): number {
    return Atomics.load(this.#cells, UNFINISHED);
  }

  /**
   * Blocks this thread until every item put has been marked with taskDone() (Python's join()).
   * @throws TimeoutError SKEIN_TIMEOUT naming the items still unfinished.
   */
  join(options?: WaitOptions): void {
    const plan = options === undefined ? FOREVER : planChannelWait(options, 'Queue.join');
    const cells = this.#cells;
    for (;;) {
      const unfinished = Atomics.load(cells, UNFINISHED);
      if (unfinished === 0) return;
      throwIfAborted(plan);
      if (!waitSliceBlocking(cells, UNFINISHED, unfinished, plan)) {
        throw waitTimedOut('Queue.join', plan, ` (${unfinished} items not marked with taskDone())`);
      }
    }
  }

  /** Like join() without blocking the event loop; also rejects with AbortError when `signal` fires. */
  async joinAsync(options?: WaitOptions): Promise<void> {
    const plan = options === undefined ? FOREVER : planChannelWait(options, 'Queue.joinAsync');
    const cells = this.#cells;
    for (;;) {
      const unfinished = Atomics.load(cells, UNFINISHED);
      if (unfinished === 0) return;
      if (!(await waitSliceAsync(cells, UNFINISHED, unfinished, plan))) {
        throw waitTimedOut('Queue.joinAsync', plan, ` (${unfinished} items not marked with taskDone())`);
      }
    }
  }

  /**
   * Closes the queue for every thread: puts throw ChannelClosedError from now on, gets take what is
   * left and then throw it, and every waiter wakes up to see it. Idempotent.
   */
  close(): void {
    const cells = this.#cells;
    if (Atomics.load(cells, CLOSED) !== 0) return;
    this.#lockSync();
    try {
      Atomics.store(cells, CLOSED, 1);
      Atomics.add(cells, NOT_EMPTY, 1);
      Atomics.add(cells, NOT_FULL, 1);
    } finally {
      unlock(cells, KIND);
    }
    Atomics.notify(cells, NOT_EMPTY);
    Atomics.notify(cells, NOT_FULL);
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

  readonly [SELECT_SOURCE]: SelectSource = {
    tryTake: (): TakeAttempt => {
      const status = this.#tryGet();
      if (status === DONE) return { ready: true, value: decodeMessage(this.#taken), closed: false };
      if (status === IS_CLOSED) return { ready: true, value: undefined, closed: true };
      return { ready: false, wait: { cells: this.#cells, index: NOT_EMPTY, expected: this.#seen } };
    },
    addWaiter: (delta) => {
      Atomics.add(this.#cells, GET_WAITERS, delta);
    },
  };

  readonly [SELECT_SINK]: SelectSink = {
    encode: (value, priority) => {
      this.#priorityOf(priority === undefined ? undefined : { priority }, 'select put');
      return encodeMessage(value, this.#limits).slice();
    },
    tryGive: (payload, priority): WaitTarget | undefined => {
      const status = this.#tryPut(payload, priority ?? 0);
      if (status === DONE) return undefined;
      if (status === IS_CLOSED) throw this.#closedForPut('select put');
      return { cells: this.#cells, index: NOT_FULL, expected: this.#seen };
    },
    addWaiter: (delta) => {
      Atomics.add(this.#cells, PUT_WAITERS, delta);
    },
  };

  [TO_HANDLE](): SharedHandle {
    return { [HANDLE_KIND]: KIND, module: import.meta.url, scope: 'thread', buffer: this.#cells.buffer };
  }

  get [Symbol.toStringTag](): string {
    return KIND;
  }

  // --- one attempt each, under the lock ---------------------------------------------------------------

  #tryPut(payload: Uint8Array, priority: number): number {
    this.#lockSync();
    return this.#putAndUnlock(payload, priority);
  }

  async #tryPutAsync(payload: Uint8Array, priority: number): Promise<number> {
    await this.#lockAsync();
    return this.#putAndUnlock(payload, priority);
  }

  #tryGet(): number {
    this.#lockSync();
    return this.#getAndUnlock();
  }

  async #tryGetAsync(): Promise<number> {
    await this.#lockAsync();
    return this.#getAndUnlock();
  }

  /** With the lock held: puts or reads the sequence to wait on; releases the lock, then wakes a getter. */
  #putAndUnlock(payload: Uint8Array, priority: number): number {
    const cells = this.#cells;
    let status: number;
    try {
      // Read before the state is looked at: a change made after this read bumps the value we wait on.
      const seen = Atomics.load(cells, NOT_FULL);
      const count = cells[COUNT]!;
      if (cells[CLOSED] !== 0) status = IS_CLOSED;
      else if (count < this.#capacity && this.#push(payload, priority, count)) {
        Atomics.store(cells, COUNT, count + 1);
        Atomics.add(cells, UNFINISHED, 1);
        Atomics.add(cells, NOT_EMPTY, 1);
        status = DONE;
      } else {
        this.#seen = seen;
        status = WOULD_WAIT;
      }
    } finally {
      unlock(cells, KIND);
    }
    // Any one getter can take any item, so one is woken per item.
    if (status === DONE && Atomics.load(cells, GET_WAITERS) !== 0) Atomics.notify(cells, NOT_EMPTY, 1);
    return status;
  }

  /** With the lock held: copies the next item out into #taken, or reads the sequence to wait on. */
  #getAndUnlock(): number {
    const cells = this.#cells;
    let status: number;
    try {
      const seen = Atomics.load(cells, NOT_EMPTY);
      const count = cells[COUNT]!;
      if (count === 0) {
        this.#seen = seen;
        status = cells[CLOSED] !== 0 ? IS_CLOSED : WOULD_WAIT;
      } else {
        this.#taken = this.#pop(count);
        Atomics.store(cells, COUNT, count - 1);
        Atomics.add(cells, NOT_FULL, 1);
        status = DONE;
      }
    } finally {
      unlock(cells, KIND);
    }
    // Every waiting putter is woken: the bytes freed may fit one large message or several small ones,
    // and only the putters can tell.
    if (status === DONE && Atomics.load(cells, PUT_WAITERS) !== 0) Atomics.notify(cells, NOT_FULL);
    return status;
  }

  #push(payload: Uint8Array, priority: number, count: number): boolean {
    if (this.#order === FIFO) return this.#ring!.tryWrite(payload);
    if (this.#order === LIFO) return this.#stack!.tryPush(payload);
    return this.#heap!.tryPush(payload, priority, count);
  }

  #pop(count: number): Uint8Array {
    if (this.#order === FIFO) return this.#ring!.readCopy(readScratch)!;
    if (this.#order === LIFO) return this.#stack!.popCopy(readScratch)!;
    return this.#heap!.popCopy(count, readScratch);
  }

  #freeBytes(): number {
    if (this.#order === FIFO) return this.#ring!.freeBytes();
    if (this.#order === LIFO) return this.#stack!.freeBytes();
    return this.#heap!.freeBytes();
  }

  // --- the lock: held only for a copy, never across an await -------------------------------------------

  #lockSync(): void {
    if (!tryLockFast(this.#cells))
      lockBlocking(this.#cells, FOREVER, KIND, waitSliceBlocking, throwIfAborted);
  }

  #tryLockNow(): boolean {
    return (
      tryLockFast(this.#cells) ||
      (spinWhile(this.#cells, 0, Atomics.load(this.#cells, 0)) && tryLockFast(this.#cells))
    );
  }

  async #lockAsync(): Promise<void> {
    if (this.#tryLockNow()) return;
    await lockAsync(this.#cells, FOREVER, KIND, waitSliceAsync);
  }

  #priorityOf(options: PutOptions | undefined, what: string): number {
    const priority = options?.priority;
    if (priority === undefined) return 0;
    if (this.#order !== PRIORITY) {
      throw new InvalidArgumentError(
        'SKEIN_CHANNEL_INVALID_ARGUMENT',
        `${what} got a priority, but this queue's order is '${this.options.order}'; create it with order: 'priority' (or as a PriorityQueue) to order items by priority`,
      );
    }
    if (typeof priority !== 'number' || Number.isNaN(priority)) {
      throw new InvalidArgumentError(
        'SKEIN_CHANNEL_INVALID_ARGUMENT',
        `${what} priority must be a number, smaller first (got ${String(priority)}); omit it for 0`,
      );
    }
    return priority;
  }

  #closedForPut(what: string): ChannelClosedError {
    return new ChannelClosedError(`${what} on a closed queue; no item is accepted after close()`);
  }

  #closedForGet(what: string): ChannelClosedError {
    return new ChannelClosedError(`${what} on a closed queue that has no items left`);
  }
}

/** A Queue that hands out the newest item first (Python's queue.LifoQueue). */
export class LifoQueue<T = unknown> extends Queue<T> {
  constructor(options?: Omit<QueueOptions, 'order'>) {
    super(withOrder(options, 'lifo'));
  }
}

/**
 * A Queue that hands out the item of smallest `priority` first, FIFO among equal priorities (Python's
 * queue.PriorityQueue, with the priority given apart from the item).
 * @example
 * const jobs = new PriorityQueue<string>();
 * await jobs.putAsync('later', { priority: 5 });
 * await jobs.putAsync('now', { priority: 1 });
 * await jobs.getAsync(); // 'now'
 */
export class PriorityQueue<T = unknown> extends Queue<T> {
  constructor(options?: Omit<QueueOptions, 'order'>) {
    super(withOrder(options, 'priority'));
  }
}

function withOrder(options: Omit<QueueOptions, 'order'> | undefined, order: QueueOrder): QueueOptions {
  if (options === undefined) return { order };
  // Anything but an object goes to the resolver as it is, which names it.
  if (typeof options !== 'object' || options === null) return options;
  return { ...options, order };
}

registerKind(KIND, (handle) => {
  const cells = sharedCells(handle, HEADER_CELLS);
  const order = cells[ORDER]!;
  const capacity = cells[CAPACITY]!;
  const size = cells[BUFFER_BYTES]!;
  const heapBytes = order === PRIORITY ? maxPriorityRecords(size) * 4 : 0;
  if (
    ORDERS[order] === undefined ||
    capacity === 0 ||
    capacity < -1 ||
    size < MIN_BUFFER_BYTES ||
    size % 8 !== 0 ||
    cells.byteLength !== HEADER_BYTES + size + heapBytes
  ) {
    throw new InvalidArgumentError(
      'SKEIN_CHANNEL_INVALID_ARGUMENT',
      'This Queue handle does not describe a queue; pass what toHandle() returned, unchanged',
    );
  }
  revivedCells = cells;
  if (order === LIFO) return new LifoQueue();
  if (order === PRIORITY) return new PriorityQueue();
  return new Queue();
});
