// Queue: a bounded multi-producer, multi-consumer queue in one SharedArrayBuffer (Python's queue.Queue,
// LifoQueue and PriorityQueue). Items are codec-encoded records in a byte store: a ring for FIFO, a
// stack for LIFO, a heap for priority. A FIFO queue has two futex locks, one for putters and one for
// getters (the two-lock queue), so a producer and a consumer never wait for each other; LIFO and
// priority share one lock. Locks are held only for a copy; waiters sleep on sequence cells outside them.
// Invariant: a waiter counts itself before the attempt that reads the sequence it will sleep on, and
// the other side reads the count after publishing (both sequentially consistent), so no wake-up is lost.

import { ChannelClosedError, InvalidArgumentError, QueueEmptyError, QueueFullError } from '../errors.ts';
import {
  ACQUIRED,
  HEIR,
  leaveHeir,
  lockAttempt,
  lockBlocking,
  MUTEX_CELLS,
  STATE,
  tryLockFast,
  unlock,
} from '../sync/mutex.ts';
import { HANDLE_KIND, registerKind, type SharedHandle, sharedCells, TO_HANDLE } from '../sync/shared.ts';
import { ownToken } from '../sync/threads.ts';
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

const KIND = 'Queue';

// Int32 cells of the header, in groups 128 bytes apart so that putters, getters and taskDone callers on
// different cores do not write to one cache line (nor to adjacent lines, which some CPUs fetch in pairs).
// Settings and rarely written cells: the options (a revived queue reads them), closed, and the two wake
// points (waiting.ts), whose cells change only when someone sleeps.
const ORDER = 0;
/** Capacity in items, -1 for Infinity. */
const CAPACITY = 1;
const BUFFER_BYTES = 2;
const CLOSED = 3;
const NOT_EMPTY = 4;
const NOT_FULL = 5;
const GET_WAITERS = 6;
const PUT_WAITERS = 7;
const GET_PENDING = 8;
const PUT_PENDING = 9;
/** Where getters sleep (one woken per item) and where putters sleep (all woken when space frees). */
const GET_POINT: WakePoint = Object.freeze({
  sleepers: GET_WAITERS,
  sequence: NOT_EMPTY,
  pending: GET_PENDING,
});
const PUT_POINT: WakePoint = Object.freeze({
  sleepers: PUT_WAITERS,
  sequence: NOT_FULL,
  pending: PUT_PENDING,
});
// The putters' cells: their lock, the items ever put (wrapping Int32) and what putters last saw of the
// getters' cells; the LIFO and priority stores keep their cells here too.
const PUT_LOCK = 32;
const PUTS = PUT_LOCK + MUTEX_CELLS;
const HEAD_SEEN = PUTS + 1;
const GETS_SEEN = PUTS + 2;
const STORE = PUTS + 3;
/**
 * The ring's tail alone on its line: written once per put, read by getters. Kept apart from the lock so
 * that a getter watching it (spinning, or reloading its copy) does not pull the line the putter is
 * about to CAS away from the putter's core in the middle of a put.
 */
const TAIL = 64;
// The getters' cells: their lock (FIFO only), the items ever taken and the tail last seen.
const GET_LOCK = 96;
const GETS = GET_LOCK + MUTEX_CELLS;
const TAIL_SEEN = GETS + 1;
/** The ring's head alone on its line, for the same reason as the tail. */
const HEAD = 128;
/** Items marked with taskDone() (wrapping Int32); unfinished = PUTS - TASKS_DONE. */
const TASKS_DONE = 160;
const HEADER_CELLS = 192;
const HEADER_BYTES = HEADER_CELLS * 4;

const ORDERS: readonly QueueOrder[] = ['fifo', 'lifo', 'priority'];
const FIFO = 0;
const LIFO = 1;
const PRIORITY = 2;

// Outcomes of one attempt under a lock.
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
  /** The putters' lock; for LIFO and priority queues also the getters'. */
  readonly #putLock: Int32Array;
  readonly #getLock: Int32Array;
  readonly #order: number;
  readonly #capacity: number;
  readonly #ring: ByteRing | undefined;
  readonly #stack: ByteStack | undefined;
  readonly #heap: PriorityHeap | undefined;
  readonly #limits: MessageLimits;
  /** The smallest record the store can hold, in bytes: below this much free space the queue is full. */
  readonly #minRecordBytes: number;
  /** The payload the last successful get copied out (a view of this thread's read scratch). */
  #taken: Uint8Array = new Uint8Array(0);

  constructor(options?: QueueOptions) {
    let cells = revivedCells;
    revivedCells = undefined;
    if (cells === undefined) {
      const resolved = resolveQueueOptions(options);
      const order = ORDERS.indexOf(resolved.order);
      cells = new Int32Array(new SharedArrayBuffer(queueBytes(order, resolved.bufferBytes)));
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
    // The mutex helpers use cells 0 and 1 of the array they get: each lock is a view starting at its cells.
    this.#putLock = new Int32Array(cells.buffer, PUT_LOCK * 4, MUTEX_CELLS);
    this.#getLock =
      this.#order === FIFO ? new Int32Array(cells.buffer, GET_LOCK * 4, MUTEX_CELLS) : this.#putLock;
    let maxPayloadBytes: number;
    if (this.#order === FIFO) {
      const at = { head: HEAD, tail: TAIL, headSeen: HEAD_SEEN, tailSeen: TAIL_SEEN };
      this.#ring = new ByteRing(cells, at, HEADER_BYTES, size);
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
    // Puts are counted before they are published and gets after they are taken, so the difference is
    // never below the truth; it reads below 0 only when a get lands between the two loads.
    const size = (Atomics.load(this.#cells, PUTS) - Atomics.load(this.#cells, GETS)) | 0;
    return Math.max(0, size);
  }

  /** Whether the queue holds no item now. */
  empty(): boolean {
    return this.size === 0;
  }

  /** Whether the queue holds `capacity` items, or has no room left for even the smallest message. */
  full(): boolean {
    return this.size >= this.#capacity || this.#freeBytes() < this.#minRecordBytes;
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
   * @throws OwnerDiedError SKEIN_SYNC_OWNER_DIED when a thread was terminated inside a put or get of
   * this queue, holding its lock: the lock is free again, but that one item may be lost or counted twice.
   */
  put(value: T, options?: PutOptions): void {
    const priority = this.#priorityOf(options, 'Queue.put');
    const plan = options === undefined ? FOREVER : planChannelWait(options, 'Queue.put');
    if (this.closed) throw this.#closedForPut('Queue.put');
    const payload = encodeMessage(value, this.#limits);
    const cells = this.#cells;
    const target = { cells, point: PUT_POINT, expected: 0 };
    let status = this.#tryPut(payload, priority, target);
    if (status === DONE) return;
    // Spins on what every get changes (the sequence changes only for sleepers).
    const watched = this.#order === FIFO ? HEAD : GETS;
    if (
      status === WOULD_WAIT &&
      plan.timeout > 0 &&
      spinWhile(cells, watched, Atomics.load(cells, watched))
    ) {
      status = this.#tryPut(payload, priority, target);
      if (status === DONE) return;
    }
    if (status === IS_CLOSED) throw this.#closedForPut('Queue.put');
    enterWait(cells, PUT_POINT);
    let put = false;
    try {
      for (;;) {
        // Counted as a sleeper before this attempt, which reads the sequence to sleep on.
        status = this.#tryPut(payload, priority, target);
        if (status === DONE) {
          put = true;
          return;
        }
        if (status === IS_CLOSED) throw this.#closedForPut('Queue.put');
        if (!waitBlocking(target, plan)) throw waitTimedOut('Queue.put', plan, ' (the queue stayed full)');
      }
    } finally {
      this.#leavePutWait(put);
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
    const cells = this.#cells;
    const target = { cells, point: PUT_POINT, expected: 0 };
    if (this.#tryLockNow(this.#putLock)) {
      const status = this.#putAndUnlock(payload, priority, target);
      if (status === DONE) return;
      if (status === IS_CLOSED) throw this.#closedForPut('Queue.putAsync');
    }
    // The encoding lives in this thread's scratch, which the next encode reuses: keep a copy.
    payload = payload.slice();
    enterWait(cells, PUT_POINT);
    let put = false;
    try {
      for (;;) {
        const status = await this.#tryPutAsync(payload, priority, target);
        if (status === DONE) {
          put = true;
          return;
        }
        if (status === IS_CLOSED) throw this.#closedForPut('Queue.putAsync');
        if (!(await waitAnyAsync([target], plan))) {
          throw waitTimedOut('Queue.putAsync', plan, ' (the queue stayed full)');
        }
      }
    } finally {
      this.#leavePutWait(put);
    }
  }

  /**
   * Puts an item if there is room now; never waits.
   * @throws QueueFullError SKEIN_CHANNEL_FULL when the queue is full; ChannelClosedError when closed.
   */
  putNowait(value: T, options?: Pick<PutOptions, 'priority'>): void {
    const priority = this.#priorityOf(options, 'Queue.putNowait');
    if (this.closed) throw this.#closedForPut('Queue.putNowait');
    const target = { cells: this.#cells, point: PUT_POINT, expected: 0 };
    const status = this.#tryPut(encodeMessage(value, this.#limits), priority, target);
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
   * @throws OwnerDiedError SKEIN_SYNC_OWNER_DIED as put() does.
   */
  get(options?: WaitOptions): T {
    const plan = options === undefined ? FOREVER : planChannelWait(options, 'Queue.get');
    const cells = this.#cells;
    const target = { cells, point: GET_POINT, expected: 0 };
    let status = this.#tryGet(target);
    if (status === DONE) return decodeMessage(this.#taken) as T;
    const watched = this.#order === FIFO ? TAIL : PUTS;
    if (
      status === WOULD_WAIT &&
      plan.timeout > 0 &&
      spinWhile(cells, watched, Atomics.load(cells, watched))
    ) {
      status = this.#tryGet(target);
      if (status === DONE) return decodeMessage(this.#taken) as T;
    }
    if (status === IS_CLOSED) throw this.#closedForGet('Queue.get');
    enterWait(cells, GET_POINT);
    let took = false;
    try {
      for (;;) {
        // Counted as a sleeper before this attempt, which reads the sequence to sleep on.
        status = this.#tryGet(target);
        if (status === DONE) {
          took = true;
          return decodeMessage(this.#taken) as T;
        }
        if (status === IS_CLOSED) throw this.#closedForGet('Queue.get');
        if (!waitBlocking(target, plan)) throw waitTimedOut('Queue.get', plan, ' (the queue stayed empty)');
      }
    } finally {
      this.#leaveGetWait(took);
    }
  }

  /**
   * Takes the next item, waiting without blocking the event loop while the queue is empty.
   * @throws the same as get(), plus AbortError SKEIN_ABORTED when `signal` fires.
   */
  async getAsync(options?: WaitOptions): Promise<T> {
    const plan = options === undefined ? FOREVER : planChannelWait(options, 'Queue.getAsync');
    const cells = this.#cells;
    const target = { cells, point: GET_POINT, expected: 0 };
    if (this.#tryLockNow(this.#getLock)) {
      const status = this.#getAndUnlock(target);
      if (status === DONE) return decodeMessage(this.#taken) as T;
      if (status === IS_CLOSED) throw this.#closedForGet('Queue.getAsync');
    }
    enterWait(cells, GET_POINT);
    let took = false;
    const taken = { value: undefined as unknown };
    try {
      for (;;) {
        const status = await this.#tryGetAsync(target, taken);
        if (status === DONE) {
          took = true;
          return taken.value as T;
        }
        if (status === IS_CLOSED) throw this.#closedForGet('Queue.getAsync');
        if (!(await waitAnyAsync([target], plan))) {
          throw waitTimedOut('Queue.getAsync', plan, ' (the queue stayed empty)');
        }
      }
    } finally {
      this.#leaveGetWait(took);
    }
  }

  /**
   * Takes the next item if there is one now; never waits.
   * @throws QueueEmptyError SKEIN_CHANNEL_EMPTY when empty; ChannelClosedError once closed and drained.
   */
  getNowait(): T {
    const status = this.#tryGet({ expected: 0 });
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
      const done = Atomics.load(cells, TASKS_DONE);
      const unfinished = (Atomics.load(cells, PUTS) - done) | 0;
      if (unfinished <= 0) {
        throw new InvalidArgumentError(
          'SKEIN_CHANNEL_INVALID_ARGUMENT',
          'Queue.taskDone() called more times than items were put; call it once per item taken with get()',
        );
      }
      if (Atomics.compareExchange(cells, TASKS_DONE, done, (done + 1) | 0) !== done) continue;
      // A put made since the load only makes this a spurious wake-up for join(), which re-checks.
      if (unfinished === 1) Atomics.notify(cells, TASKS_DONE);
      return;
    }
  }

  /** Items put and not yet marked with taskDone(). */
  get unfinishedTasks(): number {
    const done = Atomics.load(this.#cells, TASKS_DONE);
    return Math.max(0, (Atomics.load(this.#cells, PUTS) - done) | 0);
  }

  /**
   * Blocks this thread until every item put has been marked with taskDone() (Python's join()).
   * @throws TimeoutError SKEIN_TIMEOUT naming the items still unfinished.
   */
  join(options?: WaitOptions): void {
    const plan = options === undefined ? FOREVER : planChannelWait(options, 'Queue.join');
    const cells = this.#cells;
    for (;;) {
      // TASKS_DONE first: a taskDone() after this load changes the value the wait compares.
      const done = Atomics.load(cells, TASKS_DONE);
      const unfinished = (Atomics.load(cells, PUTS) - done) | 0;
      if (unfinished <= 0) return;
      throwIfAborted(plan);
      if (!waitSliceBlocking(cells, TASKS_DONE, done, plan)) {
        throw waitTimedOut('Queue.join', plan, ` (${unfinished} items not marked with taskDone())`);
      }
    }
  }

  /** Like join() without blocking the event loop; also rejects with AbortError when `signal` fires. */
  async joinAsync(options?: WaitOptions): Promise<void> {
    const plan = options === undefined ? FOREVER : planChannelWait(options, 'Queue.joinAsync');
    const cells = this.#cells;
    for (;;) {
      const done = Atomics.load(cells, TASKS_DONE);
      const unfinished = (Atomics.load(cells, PUTS) - done) | 0;
      if (unfinished <= 0) return;
      if (!(await waitSliceAsync(cells, TASKS_DONE, done, plan))) {
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
    // Under the putters' lock: every put either completed before (and is drained by getters) or sees
    // the flag; none can publish after a getter has found the queue closed and empty.
    this.#lockSync(this.#putLock);
    try {
      Atomics.store(cells, CLOSED, 1);
    } finally {
      unlock(this.#putLock, KIND);
    }
    Atomics.add(cells, NOT_EMPTY, 1);
    Atomics.add(cells, NOT_FULL, 1);
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
      const wait = { cells: this.#cells, point: GET_POINT, expected: 0 };
      const status = this.#tryGet(wait);
      if (status === DONE) return { ready: true, value: decodeMessage(this.#taken), closed: false };
      if (status === IS_CLOSED) return { ready: true, value: undefined, closed: true };
      return { ready: false, wait };
    },
    enterWait: () => enterWait(this.#cells, GET_POINT),
    leaveWait: (took) => this.#leaveGetWait(took),
  };

  readonly [SELECT_SINK]: SelectSink = {
    encode: (value, priority) => {
      this.#priorityOf(priority === undefined ? undefined : { priority }, 'select put');
      return encodeMessage(value, this.#limits).slice();
    },
    tryGive: (payload, priority): WaitTarget | undefined => {
      const wait = { cells: this.#cells, point: PUT_POINT, expected: 0 };
      const status = this.#tryPut(payload, priority ?? 0, wait);
      if (status === DONE) return undefined;
      if (status === IS_CLOSED) throw this.#closedForPut('select put');
      return wait;
    },
    enterWait: () => enterWait(this.#cells, PUT_POINT),
    leaveWait: (put) => this.#leavePutWait(put),
  };

  [TO_HANDLE](): SharedHandle {
    return { [HANDLE_KIND]: KIND, module: import.meta.url, scope: 'thread', buffer: this.#cells.buffer };
  }

  get [Symbol.toStringTag](): string {
    return KIND;
  }

  // --- one attempt each, under a lock; `target.expected` gets the sequence to sleep on ------------------

  #tryPut(payload: Uint8Array, priority: number, target: { expected: number }): number {
    this.#lockSync(this.#putLock);
    return this.#putAndUnlock(payload, priority, target);
  }

  #tryPutAsync(payload: Uint8Array, priority: number, target: { expected: number }): Promise<number> {
    return this.#withLockAsync(this.#putLock, () => this.#putAndUnlock(payload, priority, target));
  }

  #tryGet(target: { expected: number }): number {
    this.#lockSync(this.#getLock);
    return this.#getAndUnlock(target);
  }

  /**
   * Decodes the item into `taken` in the same synchronous step that copies it out: the copy is a view of
   * this thread's read scratch, which another async get of this thread may overwrite before the await on
   * this promise resumes (two async consumers on one thread would then get one item twice).
   */
  #tryGetAsync(target: { expected: number }, taken: { value: unknown }): Promise<number> {
    return this.#withLockAsync(this.#getLock, () => {
      const status = this.#getAndUnlock(target);
      if (status === DONE) taken.value = decodeMessage(this.#taken);
      return status;
    });
  }

  /** With the putters' lock held: puts, or reads the sequence to wait on; unlocks, then wakes a getter. */
  #putAndUnlock(payload: Uint8Array, priority: number, target: { expected: number }): number {
    const cells = this.#cells;
    let status: number;
    try {
      // Read before the state is looked at: a change made after this read bumps the value we wait on.
      const seen = Atomics.load(cells, NOT_FULL);
      if (Atomics.load(cells, CLOSED) !== 0) status = IS_CLOSED;
      else if (this.#push(payload, priority)) status = DONE;
      else {
        target.expected = seen;
        status = WOULD_WAIT;
      }
    } finally {
      unlock(this.#putLock, KIND);
    }
    // Any one getter can take any item, so one sleeper is woken per item. Getters count themselves
    // only once they stop spinning, so a busy consumer costs the producer no system call.
    if (status === DONE) wakeSleepers(cells, GET_POINT, 1);
    return status;
  }

  /** With the getters' lock held: copies the next item into #taken, or reads the sequence to wait on. */
  #getAndUnlock(target: { expected: number }): number {
    const cells = this.#cells;
    let status: number;
    try {
      const seen = Atomics.load(cells, NOT_EMPTY);
      let taken = this.#pop();
      // Puts published before close() are visible once the flag is: look once more before giving up.
      const closed = taken === undefined && Atomics.load(cells, CLOSED) !== 0;
      if (closed) taken = this.#pop();
      if (taken !== undefined) {
        this.#taken = taken;
        // Sequentially consistent: ordered before the load of the putters' sleeper count below.
        Atomics.store(cells, GETS, (cells[GETS]! + 1) | 0);
        status = DONE;
      } else {
        target.expected = seen;
        status = closed ? IS_CLOSED : WOULD_WAIT;
      }
    } finally {
      unlock(this.#getLock, KIND);
    }
    // Every sleeping putter is woken: the bytes freed may fit one large message or several small ones,
    // and only the putters can tell.
    if (status === DONE) wakeSleepers(cells, PUT_POINT, Number.POSITIVE_INFINITY);
    return status;
  }

  #leaveGetWait(took: boolean): void {
    leaveWait(this.#cells, GET_POINT, took, () => this.size > 0, 1);
  }

  #leavePutWait(put: boolean): void {
    leaveWait(this.#cells, PUT_POINT, put, () => !this.full(), Number.POSITIVE_INFINITY);
  }

  /** Stores one item if the capacity and the bytes allow; the putters' lock is held. */
  #push(payload: Uint8Array, priority: number): boolean {
    const cells = this.#cells;
    const puts = cells[PUTS]!;
    if (this.#capacity !== Number.POSITIVE_INFINITY && ((puts - cells[GETS_SEEN]!) | 0) >= this.#capacity) {
      const gets = Atomics.load(cells, GETS);
      cells[GETS_SEEN] = gets;
      if (((puts - gets) | 0) >= this.#capacity) return false;
    }
    if (this.#order === FIFO) {
      const ring = this.#ring!;
      if (!ring.hasRoomForAligned(payload)) return false;
      // Counted before it is published: whoever sees the item (size, taskDone) sees the count. A plain
      // store is enough: the tail's Atomics.store in writeAligned() publishes it.
      cells[PUTS] = (puts + 1) | 0;
      ring.writeAligned(payload);
      return true;
    }
    // LIFO and priority: getters take the same lock, so the order of the two stores does not matter.
    const stored =
      this.#order === LIFO
        ? this.#stack!.tryPush(payload)
        : this.#heap!.tryPush(payload, priority, (puts - cells[GETS]!) | 0);
    if (stored) cells[PUTS] = (puts + 1) | 0;
    return stored;
  }

  /** Copies the next item's payload out of the store, or undefined; the getters' lock is held. */
  #pop(): Uint8Array | undefined {
    if (this.#order === FIFO) return this.#ring!.readCopy(readScratch);
    if (this.#order === LIFO) return this.#stack!.popCopy(readScratch);
    const count = (this.#cells[PUTS]! - this.#cells[GETS]!) | 0;
    return count > 0 ? this.#heap!.popCopy(count, readScratch) : undefined;
  }

  #freeBytes(): number {
    if (this.#order === FIFO) return this.#ring!.freeBytes();
    if (this.#order === LIFO) return this.#stack!.freeBytes();
    return this.#heap!.freeBytes();
  }

  // --- the locks: held only for a copy, never across an await -------------------------------------------

  #lockSync(lock: Int32Array): void {
    if (!tryLockFast(lock)) lockBlocking(lock, FOREVER, KIND, waitSliceBlocking, throwIfAborted);
  }

  /** Takes the lock now, or after a brief spin while its holder finishes its copy. */
  #tryLockNow(lock: Int32Array): boolean {
    return tryLockFast(lock) || (spinWhile(lock, 0, Atomics.load(lock, 0)) && tryLockFast(lock));
  }

  /**
   * Takes the lock without blocking the event loop and runs `andUnlock` (which releases it) in the same
   * synchronous step, so the lock is never held across an await, where other code of this thread runs.
   */
  async #withLockAsync(lock: Int32Array, andUnlock: () => number): Promise<number> {
    if (this.#tryLockNow(lock)) return andUnlock();
    const since = performance.now();
    try {
      for (;;) {
        const expected = lockAttempt(lock, since, KIND, true);
        if (expected === ACQUIRED) return andUnlock();
        await waitSliceAsync(lock, STATE, expected, FOREVER);
      }
    } finally {
      if (Atomics.load(lock, HEIR) === ownToken) leaveHeir(lock);
    }
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

/** The bytes of a queue's buffer: header, store, and the heap's index for a priority queue. */
function queueBytes(order: number, bufferBytes: number): number {
  const heapBytes = order === PRIORITY ? maxPriorityRecords(bufferBytes) * 4 : 0;
  return HEADER_BYTES + bufferBytes + heapBytes;
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
  if (
    ORDERS[order] === undefined ||
    capacity === 0 ||
    capacity < -1 ||
    size < MIN_BUFFER_BYTES ||
    size % 8 !== 0 ||
    cells.byteLength !== queueBytes(order, size)
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
