// The pool itself, for any kind of worker: queue, dispatch, results, cancellation, crashes, actors,
// lifecycle and stats. ThreadPool and ProcessPool only choose the WorkerFactory.
// Invariants: every call settles exactly once; a task is in the queue or in exactly one worker's hand;
// a worker's hand lists its tasks in the order sent, which is the order the worker runs them.

import { channel } from 'node:diagnostics_channel';
import { addAbortListener, EventEmitter } from 'node:events';
import { performance } from 'node:perf_hooks';
import type { TransferListItem } from 'node:worker_threads';
import {
  abortErrorFrom,
  InvalidArgumentError,
  internalError,
  SkeinError,
  TimeoutError,
  WorkerCrashedError,
} from '../errors.ts';
import { packShared } from '../sync/shared.ts';
// Loaded for its effect: the table of exited threads exists before the first worker starts (workers
// inherit it), and this thread records its workers' exits, so locks they held are recovered.
import '../sync/threads.ts';
import { actorInfo, describe } from '../task.ts';
import { type Span, SpanRecorder } from '../trace/index.ts';
import { createActorProxy } from './actor-proxy.ts';
import { type ChunkCost, chunkedMap } from './chunked-map.ts';
import { deserializeError, isSerializedError } from './error-serdes.ts';
import type {
  ActorProxy,
  CancelMode,
  Executor,
  ExecutorEvents,
  MapOptions,
  Runnable,
  RunOptions,
} from './executor.ts';
import { FunctionRegistry } from './function-registry.ts';
import { Hand } from './hand.ts';
import {
  checkCancelMode,
  checkDuration,
  type PoolOptions,
  type ResolvedPoolOptions,
  resolvePoolOptions,
} from './options.ts';
import {
  FLAG_CAPTURE_OUTPUT,
  FLAG_REPORT_START,
  FLAG_SHARED_ARGS,
  type FunctionSpec,
  KIND_ACTOR_CALL,
  KIND_ACTOR_FREE,
  KIND_ACTOR_NEW,
  KIND_CALL,
  KIND_CHUNK,
  KIND_STAR_CHUNK,
  RESULT_STRIDE,
  type ResultsMessage,
  STATUS_OK,
  STATUS_SKIPPED,
  TASK_STRIDE,
  type WorkerToMain,
} from './protocol.ts';
import { BACK_TO_BACK_MS, LONG_GAPS_BEFORE_NO_SPIN } from './spinning.ts';
import { type PoolStats, StatsRecorder } from './stats.ts';
import { TaskQueue } from './task-queue.ts';
import type { WorkerExit, WorkerFactory, WorkerHandle } from './worker-handle.ts';

/** Keep about this much work in each worker's hand so it never waits for the pool between tasks. */
const TARGET_IN_HAND_MS = 2;
/** Processes answer through their parent's event loop and IPC, tens of µs slower: keep more in hand. */
const PROCESS_TARGET_IN_HAND_MS = 5;
const MIN_IN_HAND = 2;
/** A worker silent this long (and STALLED_RUNS typical run times) is treated as busy with a long task. */
const STALLED_MIN_MS = 50;
const STALLED_RUNS = 20;
/**
 * The same bound when workers are left idle beside a whole batch (WHOLE_BATCH_BELOW_MS): they take its
 * waiting tasks back, which costs a message, not a new worker, so a long task hidden in a batch of short
 * ones holds the tasks behind it for about this long rather than STALLED_MIN_MS.
 */
const TAKE_BACK_MIN_MS = 2;
const MAX_IN_HAND = 1024;
/**
 * While a caller submits many tasks in one synchronous run, the pool cannot dispatch (that waits for
 * a microtask) nor read results: after this many submissions it hands work to workers that have
 * started everything they hold, so they run while the caller is still submitting.
 */
const EAGER_DISPATCH_EVERY = 256;
/**
 * Queued tasks that together run for less than this (by the average run time) go to one worker whole
 * instead of being shared out: waking a second parked thread for them costs it and the pool more (tens
 * of µs a wake-up on these VMs, spinning.ts) than running them takes. A Worker of the tasks layer hands
 * a pool a few short jobs at a time; shared out, each went two or three to a message and woke both
 * threads, and the idle one's answer sent a steal to the other.
 */
const WHOLE_BATCH_BELOW_MS = 0.05;
/** Weight of the newest run time in the moving average that sizes hands. */
const RUN_TIME_SMOOTHING = 0.2;
/**
 * Blocking waits for results start only within this long of the first one in an event-loop turn (timed
 * by the calls' submission times, read anyway), until the loop has had a turn.
 */
const MAX_BLOCKED_PER_TURN_MS = 1;
/**
 * A worker serving lone calls sleeps until its next message with no timeout (entry/thread-worker.ts);
 * this long after its last lone call was sent (or a later answer, while it holds more) the pool turns
 * the mode off, sending it back to its event loop (the timed park it used to end by itself lasted as
 * long).
 */
const LONE_HOLD_MS = 2;
/** A worker asked to stop gets this long to exit by itself (flushing its stdout) before it is killed. */
const STOP_GRACE_MS = 2000;
/** Results carry times in ns (protocol.ts, RESULT_STRIDE). */
const NS_PER_MS = 1e6;
/** Task ids wrap below 2^30 so id + 1 always fits the shared Int32 slots. */
const MAX_TASK_ID = 2 ** 30;

const EMPTY_OPTIONS: RunOptions = Object.freeze({});
/** Epoch milliseconds at this thread's performance.now() zero: workers report start times as epochs. */
const TIME_ORIGIN = performance.timeOrigin;
const NO_TRANSFER: readonly TransferListItem[] = Object.freeze([]);
const SETTLED = Promise.resolve();
const taskChannel = channel('skein:pool:task');

let capturedResolve: (value: unknown) => void = () => {};
let capturedReject: (error: unknown) => void = () => {};
/** The executor of every call's promise: hands its resolving functions to the line that made it. */
function captureResolvers(resolve: (value: unknown) => void, reject: (error: unknown) => void): void {
  capturedResolve = resolve;
  capturedReject = reject;
}

/**
 * What only some calls need (options given, actors, broadcasts, map chunks, a finite timeout or the
 * terminate cancel mode): kept off TaskRecord so the plain call, of which tens of thousands may be in
 * flight at once, is a small object (its size is what the garbage collector copies).
 */
class TaskExtras {
  readonly extra: unknown;
  readonly priority: number;
  readonly transfer: readonly TransferListItem[] | undefined;
  readonly timeout: number;
  readonly cancelMode: CancelMode;
  readonly onProgress: ((value: unknown) => void) | undefined;
  readonly onOutput: ((stream: 'stdout' | 'stderr', text: string) => void) | undefined;
  readonly pinned: WorkerSlot | undefined;
  readonly cost: ChunkCost | undefined;
  timer: NodeJS.Timeout | undefined = undefined;
  abortListener: Disposable | undefined = undefined;

  /**
   * Whether a call with these options may still go through a lone-call slot (lone-slot.ts): a signal
   * (cancelled by id, as any call) and a progress callback may; anything the slot cannot carry (an
   * extra, a transfer list) or that needs its own handling (a pinned worker, a chunk's cost) may not.
   * Timeouts and captured output show in the call's flags.
   */
  loneCompatible(): boolean {
    return (
      this.extra === undefined &&
      this.transfer === undefined &&
      this.pinned === undefined &&
      this.cost === undefined &&
      this.onOutput === undefined
    );
  }

  constructor(
    extra: unknown,
    options: RunOptions,
    timeout: number,
    cancelMode: CancelMode,
    pinned: WorkerSlot | undefined,
    cost: ChunkCost | undefined,
  ) {
    this.extra = extra;
    this.priority = options.priority ?? 0;
    this.transfer = options.transfer;
    this.timeout = timeout;
    this.cancelMode = cancelMode;
    this.onProgress = options.onProgress;
    this.onOutput = options.onOutput;
    this.pinned = pinned;
    this.cost = cost;
  }
}

const STATE_SETTLED = 1;
const STATE_STARTED = 2;
/** Asked back from its worker for an idle one; cleared when it comes back or finishes. */
const STATE_STEALING = 4;

class TaskRecord {
  readonly id: number;
  readonly kind: number;
  readonly key: number;
  readonly args: unknown;
  readonly flags: number;
  readonly submittedAt: number;
  readonly resolve: (value: unknown) => void;
  readonly reject: (error: unknown) => void;
  /** Undefined for a plain call (no options, default timeout and cancel mode). */
  readonly extras: TaskExtras | undefined;
  worker: WorkerSlot | undefined = undefined;
  #state = 0;

  constructor(
    id: number,
    kind: number,
    key: number,
    args: unknown,
    flags: number,
    submittedAt: number,
    resolve: (value: unknown) => void,
    reject: (error: unknown) => void,
    extras: TaskExtras | undefined,
  ) {
    this.id = id;
    this.kind = kind;
    this.key = key;
    this.args = args;
    this.flags = flags;
    this.submittedAt = submittedAt;
    this.resolve = resolve;
    this.reject = reject;
    this.extras = extras;
  }

  // The fields below read the extras, with a plain call's defaults when there are none.
  get priority(): number {
    return this.extras === undefined ? 0 : this.extras.priority;
  }
  get transfer(): readonly TransferListItem[] | undefined {
    return this.extras?.transfer;
  }
  get timeout(): number {
    return this.extras === undefined ? Number.POSITIVE_INFINITY : this.extras.timeout;
  }
  get cancelMode(): CancelMode {
    return this.extras === undefined ? 'signal' : this.extras.cancelMode;
  }
  get onProgress(): ((value: unknown) => void) | undefined {
    return this.extras?.onProgress;
  }
  get onOutput(): ((stream: 'stdout' | 'stderr', text: string) => void) | undefined {
    return this.extras?.onOutput;
  }
  /** A worker this task must run on (actor calls, broadcast), or undefined for any. */
  get pinned(): WorkerSlot | undefined {
    return this.extras?.pinned;
  }

  get settled(): boolean {
    return (this.#state & STATE_SETTLED) !== 0;
  }
  set settled(value: boolean) {
    this.#setState(STATE_SETTLED, value);
  }
  get started(): boolean {
    return (this.#state & STATE_STARTED) !== 0;
  }
  set started(value: boolean) {
    this.#setState(STATE_STARTED, value);
  }
  get stealing(): boolean {
    return (this.#state & STATE_STEALING) !== 0;
  }
  set stealing(value: boolean) {
    this.#setState(STATE_STEALING, value);
  }

  #setState(bit: number, value: boolean): void {
    this.#state = value ? this.#state | bit : this.#state & ~bit;
  }
}

class WorkerSlot {
  readonly id: number;
  handle!: WorkerHandle;
  /** Tasks sent and not yet answered, in the order sent. */
  readonly inHand = new Hand<TaskRecord>();
  /** Function keys this worker has been sent the spec of. */
  readonly known: boolean[] = [];
  readonly pinnedQueue: TaskRecord[] = [];
  readonly actorIds = new Set<number>();
  readonly startedAt = performance.now();
  ready = false;
  /** Takes no new tasks; stopped once its hand is empty (recycling). */
  retiring = false;
  /** We are stopping it: its exit is not a crash. */
  stopping = false;
  exited = false;
  /** Set when the pool killed it to stop a cancelled task. */
  killedFor = -1;
  initError: Error | undefined = undefined;
  tasksDone = 0;
  /** Id of the last task sent to this worker. */
  lastSentId = -1;
  /** What the worker was last told by setLoneCalls. */
  loneCalls = false;
  /** When this worker last answered a task, or got its first task into an empty hand. */
  lastAnswerAt = 0;
  /** Tasks in a row that came into its empty hand well after the one before (spinning.ts, BACK_TO_BACK_MS). */
  longGaps = 0;
  referenced = true;
  /** Idle while referenced: unref'd at the loop's next turn unless it gets work first. */
  unrefDue = false;
  idleSince = 0;
  idleTimer: NodeJS.Timeout | undefined = undefined;

  constructor(id: number) {
    this.id = id;
  }
}

interface ActorState {
  readonly id: number;
  readonly slot: WorkerSlot;
  released: Promise<void> | undefined;
  dead: Error | undefined;
}

/** Shared implementation of ThreadPool and ProcessPool. */
export abstract class BasePool extends EventEmitter<ExecutorEvents> implements Executor {
  abstract readonly kind: 'thread' | 'process';
  /** The resolved, frozen options. */
  readonly options: ResolvedPoolOptions;
  readonly #factory: WorkerFactory;
  readonly #registry = new FunctionRegistry();
  readonly #queue = new TaskQueue<TaskRecord>();
  // An array, not a Set: iterated on every dispatch, where a Set's iterator cost an allocation per loop.
  // Removal makes a new array, so a loop over the old one is never disturbed.
  #workers: WorkerSlot[] = [];
  /** #dispatch's list of workers taking a batch, kept to allocate nothing per dispatch. */
  readonly #open: (WorkerSlot | undefined)[] = [];
  readonly #actors = new Map<number, ActorState>();
  readonly #stats = new StatsRecorder();
  readonly #spans: SpanRecorder | undefined;
  #nextTaskId = 1;
  #nextWorkerId = 1;
  #nextActorId = 1;
  #inHandTotal = 0;
  #activeMaps = 0;
  #avgRunMs = -1;
  #dispatchScheduled = false;
  /** Tasks queued since the last dispatch, for EAGER_DISPATCH_EVERY. */
  #queuedSinceDispatch = 0;
  /** True while #dispatchEagerly takes results, inside a caller's synchronous burst of calls. */
  #takingInBurst = false;
  /** Armed while some worker holds tasks behind a running one and the pool may still grow. */
  #stallTimer: NodeJS.Timeout | undefined;
  /** Armed while some worker serves lone calls: turns the mode off once they stop (LONE_HOLD_MS). */
  #loneTimer: NodeJS.Timeout | undefined;
  readonly #endIdleLoneCalls = () => {
    this.#loneTimer = undefined;
    const now = performance.now();
    for (const slot of this.#workers) {
      if (!slot.loneCalls) continue;
      if (now - slot.lastAnswerAt < LONE_HOLD_MS) {
        this.#watchLoneCalls();
        continue;
      }
      slot.loneCalls = false;
      if (!slot.exited) slot.handle.setLoneCalls(false);
    }
  };
  #unrefScheduled = false;
  /** performance.now() at (the send of the call of) this event-loop turn's first blocking wait; -1: none yet. */
  #turnStartedAt = -1;
  readonly #newTurn = () => {
    this.#turnStartedAt = -1;
    this.#resumeLoneWait();
  };
  #state: 'open' | 'closing' | 'destroyed' = 'open';
  #closing: Promise<void> | undefined;
  #destroying: Promise<void> | undefined;
  #drainWaiters: (() => void)[] = [];
  #initializer: { spec: FunctionSpec; args: readonly unknown[] } | undefined | Promise<void>;
  readonly #dispatchBound = () => this.#dispatch();

  constructor(options: PoolOptions | undefined, factory: WorkerFactory) {
    super();
    this.options = resolvePoolOptions(options);
    this.#factory = factory;
    this.#spans = this.options.trace ? new SpanRecorder() : undefined;
    const initializer = this.options.initializer;
    if (initializer !== undefined) {
      const key = this.#registry.keyOf(initializer.task);
      const args = initializer.args ?? [];
      // Workers wait for the initializer's export name before they start.
      this.#initializer =
        typeof key === 'number'
          ? { spec: this.#registry.specs[key]!, args }
          : key.then(
              (resolved) => {
                this.#initializer = { spec: this.#registry.specs[resolved]!, args };
                this.#ensureMinWorkers();
                this.#scheduleDispatch();
              },
              (error: unknown) => {
                this.#initializer = undefined;
                void this.destroy(error);
              },
            );
    }
    this.#ensureMinWorkers();
  }

  run<A extends unknown[], R>(task: Runnable<A, R>, ...args: A): Promise<Awaited<R>> {
    return this.submit(task, args);
  }

  submit<A extends unknown[], R>(
    task: Runnable<A, R>,
    args: A,
    options: RunOptions = EMPTY_OPTIONS,
  ): Promise<Awaited<R>> {
    try {
      this.#checkOpen();
      if (!Array.isArray(args)) {
        throw new InvalidArgumentError(
          'SKEIN_POOL_INVALID_OPTION',
          `submit args must be an array of arguments (got ${describe(args)}); use run(task, ...args) to pass them one by one`,
        );
      }
      if (options !== EMPTY_OPTIONS) checkRunOptions(options);
      const key = this.#registry.keyOf(task);
      if (typeof key === 'number')
        return this.#enqueue(KIND_CALL, key, args, undefined, options, undefined) as Promise<Awaited<R>>;
      return key.then((resolved) => {
        this.#checkOpen();
        return this.#enqueue(KIND_CALL, resolved, args, undefined, options, undefined);
      }) as Promise<Awaited<R>>;
    } catch (error) {
      return Promise.reject(error);
    }
  }

  map<T, R>(
    task: Runnable<[T], R>,
    items: Iterable<T> | AsyncIterable<T>,
    options?: MapOptions,
  ): Promise<Awaited<R>[]> {
    return this.#collect(KIND_CHUNK, task, items, options) as Promise<Awaited<R>[]>;
  }

  async *imap<T, R>(
    task: Runnable<[T], R>,
    items: Iterable<T> | AsyncIterable<T>,
    options?: MapOptions,
  ): AsyncIterableIterator<Awaited<R>> {
    for await (const chunk of this.#chunks(KIND_CHUNK, task, items, options, true))
      yield* chunk as Awaited<R>[];
  }

  async *imapUnordered<T, R>(
    task: Runnable<[T], R>,
    items: Iterable<T> | AsyncIterable<T>,
    options?: MapOptions,
  ): AsyncIterableIterator<Awaited<R>> {
    for await (const chunk of this.#chunks(KIND_CHUNK, task, items, options, false))
      yield* chunk as Awaited<R>[];
  }

  starmap<A extends unknown[], R>(
    task: Runnable<A, R>,
    items: Iterable<A> | AsyncIterable<A>,
    options?: MapOptions,
  ): Promise<Awaited<R>[]> {
    return this.#collect(KIND_STAR_CHUNK, task, items, options) as Promise<Awaited<R>[]>;
  }

  async #collect(
    kind: number,
    task: unknown,
    items: Iterable<unknown> | AsyncIterable<unknown>,
    options: MapOptions | undefined,
  ): Promise<unknown[]> {
    const out: unknown[] = [];
    for await (const chunk of this.#chunks(kind, task, items, options, true)) {
      for (let i = 0; i < chunk.length; i++) out.push(chunk[i]);
    }
    return out;
  }

  async *#chunks(
    kind: number,
    task: unknown,
    items: Iterable<unknown> | AsyncIterable<unknown>,
    options: MapOptions | undefined,
    ordered: boolean,
  ): AsyncGenerator<unknown[], void, undefined> {
    this.#checkOpen();
    const key = await this.#registry.keyOf(task);
    this.#checkOpen();
    this.#activeMaps++;
    try {
      const submit = (chunk: unknown[], cost: ChunkCost, signal: AbortSignal): Promise<unknown[]> => {
        return this.#enqueue(kind, key, chunk, undefined, { signal }, undefined, cost) as Promise<unknown[]>;
      };
      yield* chunkedMap(items, submit, { ordered, workers: this.options.maxWorkers, options: options ?? {} });
    } finally {
      this.#activeMaps--;
      this.#checkDrained();
    }
  }

  async broadcast<A extends unknown[], R>(task: Runnable<A, R>, ...args: A): Promise<Awaited<R>[]> {
    this.#checkOpen();
    const key = await this.#registry.keyOf(task);
    this.#checkOpen();
    if (this.#workers.length === 0) this.#spawn();
    const calls: Promise<unknown>[] = [];
    for (const slot of this.#workers) {
      if (!slot.exited && !slot.stopping)
        calls.push(this.#enqueue(KIND_CALL, key, args, undefined, EMPTY_OPTIONS, slot));
    }
    return Promise.all(calls) as Promise<Awaited<R>[]>;
  }

  async actor<T extends object, A extends unknown[]>(
    Class: new (...args: A) => T,
    ...args: A
  ): Promise<ActorProxy<T>> {
    this.#checkOpen();
    const key = await this.#registry.actorKeyOf(Class);
    this.#checkOpen();
    // An actor goes to the live worker holding the fewest actors; a new worker while below maxWorkers.
    let slot: WorkerSlot | undefined;
    for (const candidate of this.#workers) {
      if (candidate.exited || candidate.stopping || candidate.retiring) continue;
      if (slot === undefined || candidate.actorIds.size < slot.actorIds.size) slot = candidate;
    }
    if (slot === undefined || (slot.actorIds.size > 0 && this.#workers.length < this.options.maxWorkers)) {
      slot = this.#spawn() ?? slot;
    }
    if (slot === undefined)
      throw new SkeinError('SKEIN_POOL_WORKER_CRASHED', 'No worker could be started for the actor');
    const id = this.#nextActorId++;
    const state: ActorState = { id, slot, released: undefined, dead: undefined };
    slot.actorIds.add(id);
    this.#actors.set(id, state);
    try {
      await this.#enqueue(KIND_ACTOR_NEW, key, args, id, EMPTY_OPTIONS, slot);
    } catch (error) {
      slot.actorIds.delete(id);
      this.#actors.delete(id);
      throw error;
    }
    const className = actorInfo(Class)?.exportName ?? Class.name;
    return createActorProxy<T>(
      {
        call: (method, callArgs) => {
          if (state.released !== undefined) {
            return Promise.reject(
              new SkeinError(
                'SKEIN_POOL_ACTOR_RELEASED',
                `The ${className} actor was released; create a new one with pool.actor()`,
              ),
            );
          }
          if (state.dead !== undefined) return Promise.reject(state.dead);
          if (this.#state === 'destroyed') return Promise.reject(this.#destroyedError(undefined));
          return this.#enqueue(KIND_ACTOR_CALL, -1, callArgs, [id, method], EMPTY_OPTIONS, state.slot);
        },
        release: () => {
          state.released ??= (async () => {
            if (state.dead === undefined && !state.slot.exited && this.#state !== 'destroyed') {
              await this.#enqueue(KIND_ACTOR_FREE, -1, [], id, EMPTY_OPTIONS, state.slot).catch(() => {});
            }
            state.slot.actorIds.delete(id);
            this.#actors.delete(id);
            if (state.slot.actorIds.size === 0 && state.slot.tasksDone >= this.options.maxTasksPerWorker) {
              state.slot.retiring = true;
            }
            this.#afterAnswer(state.slot);
          })();
          return state.released;
        },
      },
      className,
    );
  }

  stats(): PoolStats {
    let busyWorkers = 0;
    let openWorkerMs = 0;
    const now = performance.now();
    for (const slot of this.#workers) {
      if (slot.inHand.size > 0) busyWorkers++;
      openWorkerMs += now - slot.startedAt;
    }
    return this.#stats.snapshot({
      workers: this.#workers.length,
      busyWorkers,
      queued: this.#queue.size,
      running: busyWorkers,
      openWorkerMs,
    });
  }

  spans(): readonly Span[] {
    return this.#spans?.spans() ?? [];
  }

  /** Finishes queued and running work, refuses new work, then stops the workers. Idempotent. */
  close(): Promise<void> {
    if (this.#destroying !== undefined) return this.#destroying;
    if (this.#closing !== undefined) return this.#closing;
    this.#state = 'closing';
    this.#closing = (async () => {
      await new Promise<void>((resolve) => {
        this.#drainWaiters.push(resolve);
        this.#checkDrained();
      });
      await this.#stopAll(true);
    })();
    return this.#closing;
  }

  /** Rejects everything queued or running with SKEIN_POOL_DESTROYED and stops the workers now. Idempotent. */
  destroy(reason?: unknown): Promise<void> {
    if (this.#destroying !== undefined) return this.#destroying;
    this.#state = 'destroyed';
    clearTimeout(this.#stallTimer);
    clearTimeout(this.#loneTimer);
    const error = this.#destroyedError(reason);
    for (const record of this.#queue.drain()) this.#settle(record, false, error);
    for (const slot of this.#workers) {
      for (const record of slot.pinnedQueue.splice(0)) this.#settle(record, false, error);
      for (const record of slot.inHand.values()) this.#settle(record, false, error);
    }
    for (const state of this.#actors.values()) state.dead ??= error;
    this.#destroying = this.#stopAll(false);
    for (const resolve of this.#drainWaiters.splice(0)) resolve();
    return this.#destroying;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    const timeout = this.options.closeTimeout;
    if (!Number.isFinite(timeout)) return this.close();
    let timer: NodeJS.Timeout | undefined;
    const expired = new Promise<'expired'>((resolve) => {
      timer = setTimeout(() => resolve('expired'), timeout);
    });
    try {
      const outcome = await Promise.race([this.close().then(() => 'closed' as const), expired]);
      if (outcome === 'expired') {
        await this.destroy(new TimeoutError(`close() did not finish within closeTimeout (${timeout} ms)`));
      }
    } finally {
      clearTimeout(timer);
    }
  }

  #destroyedError(reason: unknown): SkeinError {
    return new SkeinError(
      'SKEIN_POOL_DESTROYED',
      'The pool was destroyed before the task finished',
      reason === undefined ? undefined : { cause: reason },
    );
  }

  #checkOpen(): void {
    if (this.#state !== 'open') {
      if (this.#state === 'destroyed')
        throw new SkeinError(
          'SKEIN_POOL_CLOSED',
          'The pool was destroyed and takes no new work; create a new pool',
        );
      throw new SkeinError(
        'SKEIN_POOL_CLOSED',
        'The pool is closing and takes no new work; submit before close() or create a new pool',
      );
    }
  }

  #enqueue(
    kind: number,
    key: number,
    args: unknown,
    extra: unknown,
    options: RunOptions,
    pinned: WorkerSlot | undefined,
    cost?: ChunkCost,
  ): Promise<unknown> {
    const signal = options.signal;
    if (signal?.aborted === true) {
      this.#stats.cancelled++;
      return Promise.reject(abortErrorFrom(signal));
    }
    if (this.#state === 'destroyed') return Promise.reject(this.#destroyedError(undefined));
    if (pinned === undefined && this.#queue.size >= this.options.maxQueue) {
      return Promise.reject(
        new SkeinError(
          'SKEIN_POOL_QUEUE_FULL',
          `The pool queue already holds maxQueue (${this.options.maxQueue}) tasks; wait for some to finish (backpressure) or raise maxQueue`,
        ),
      );
    }
    let sharedArgs = false;
    if (kind === KIND_CALL || kind === KIND_ACTOR_NEW || kind === KIND_ACTOR_CALL) {
      try {
        const packed = packArgs(args as unknown[], this.kind === 'process');
        sharedArgs = packed !== args;
        args = packed;
      } catch (error) {
        return Promise.reject(error);
      }
    }
    const timeout = options.timeout ?? this.options.taskTimeout;
    const cancelMode = options.cancelMode ?? this.options.cancelMode;
    const extras =
      options === EMPTY_OPTIONS &&
      extra === undefined &&
      pinned === undefined &&
      cost === undefined &&
      timeout === Number.POSITIVE_INFINITY &&
      cancelMode === 'signal'
        ? undefined
        : new TaskExtras(extra, options, timeout, cancelMode, pinned, cost);
    const flags =
      (Number.isFinite(timeout) || (cancelMode === 'terminate' && signal !== undefined)
        ? FLAG_REPORT_START
        : 0) |
      (sharedArgs ? FLAG_SHARED_ARGS : 0) |
      (options.onOutput === undefined ? 0 : FLAG_CAPTURE_OUTPUT);
    // A shared executor instead of Promise.withResolvers(): no capability and result objects per call
    // (~100 bytes less each, measured with the sampling heap profiler).
    const promise = new Promise<unknown>(captureResolvers);
    const resolve = capturedResolve;
    const reject = capturedReject;
    const id = this.#nextTaskId;
    this.#nextTaskId = id + 1 >= MAX_TASK_ID ? 1 : id + 1;
    const record = new TaskRecord(id, kind, key, args, flags, performance.now(), resolve, reject, extras);
    if (signal !== undefined) {
      extras!.abortListener = addAbortListener(signal, () =>
        this.#cancel(record, abortErrorFrom(signal), 'abort'),
      );
    }
    if (pinned === undefined) {
      this.#queue.push(record);
      if (++this.#queuedSinceDispatch >= EAGER_DISPATCH_EVERY) this.#dispatchEagerly();
    } else pinned.pinnedQueue.push(record);
    this.#scheduleDispatch();
    return promise;
  }

  /**
   * In the middle of a long synchronous burst of submissions: takes the results that have arrived and
   * hands a batch to each worker that has started every task it was sent (it is about to idle). Only
   * workers whose messages and progress can be read without the event loop (threads).
   * Taking results here settles promises (their reactions still wait for the caller to yield) but runs
   * no callback: a progress or output message stops the taking until the event loop. Done here, the
   * settled calls' records are freed at once instead of piling up for the garbage collector to copy,
   * and the result lanes never fill up (a full lane sends by postMessage, several times dearer).
   */
  #dispatchEagerly(): void {
    this.#queuedSinceDispatch = 0;
    if (this.#state === 'destroyed' || this.#initializer instanceof Promise) return;
    // Inside the caller's run(): results settle, but #onResults must not #dispatch (it could start a
    // worker and emit 'workerStart' into the caller's loop); the batches below and the scheduled
    // dispatch hand out the work.
    this.#takingInBurst = true;
    try {
      for (const slot of this.#workers) if (!slot.exited) slot.handle.takeResults();
    } finally {
      this.#takingInBurst = false;
    }
    const limit = this.#handLimit();
    for (const slot of this.#workers) {
      if (this.#queue.size === 0) return;
      if (!slot.ready || slot.retiring || slot.stopping || !slot.handle.canWaitForResults) continue;
      if (slot.inHand.size > 0 && slot.handle.lastStartedTask() !== slot.lastSentId) continue;
      const count = Math.min(limit, this.#queue.size);
      // Built by push as in #dispatch: one array shape reaching #send keeps its optimized code (a
      // preallocated, holey array there deoptimized it again and again).
      const batch: TaskRecord[] = [];
      for (let i = 0; i < count; i++) batch.push(this.#queue.shift()!);
      this.#send(slot, batch);
    }
  }

  #scheduleDispatch(): void {
    if (this.#dispatchScheduled) return;
    this.#dispatchScheduled = true;
    // A reaction on a settled promise rather than queueMicrotask(), which goes through a call into
    // C++ and a task object per call (~50 ns a call here): the same microtask queue, the same order.
    void SETTLED.then(this.#dispatchBound);
  }

  #handLimit(): number {
    if (this.#avgRunMs < 0) return MIN_IN_HAND;
    return Math.max(
      MIN_IN_HAND,
      Math.min(
        MAX_IN_HAND,
        Math.ceil(
          (this.kind === 'process' ? PROCESS_TARGET_IN_HAND_MS : TARGET_IN_HAND_MS) /
            Math.max(this.#avgRunMs, 1e-6),
        ),
      ),
    );
  }

  /** Hands queued tasks to workers with room, starting workers while the backlog exceeds the room. */
  #dispatch(): void {
    this.#dispatchScheduled = false;
    this.#queuedSinceDispatch = 0;
    if (this.#state === 'destroyed' || this.#initializer instanceof Promise) return;
    if (this.#queue.size === 1 && this.#dispatchOne()) return;
    const limit = this.#handLimit();
    // Until a task has finished, nothing says how long tasks run: a starting worker counts for one task,
    // so a second long task gets a worker of its own instead of a place behind the first.
    const startingRoom = this.#avgRunMs < 0 ? 1 : limit;
    // A hand is topped up once half of it is free, not after every answer: a worker holding half its
    // hand has ~1 ms of work left, and each batch costs a message (and its answer) whatever its size.
    const refillAt = Math.ceil(limit / 2);
    let room = 0;
    let eligible = 0;
    let starting = 0;
    // Only a worker holding tasks can be stalled: with every hand empty (a lone call) no clock read.
    const now = this.#inHandTotal > 0 ? performance.now() : 0;
    const stalledAfter = Math.max(STALLED_MIN_MS, STALLED_RUNS * this.#avgRunMs);
    for (const slot of this.#workers) {
      if (slot.pinnedQueue.length > 0 && !slot.exited) this.#send(slot, slot.pinnedQueue.splice(0));
      if (slot.ready && !slot.retiring && !slot.stopping && !this.#stalled(slot, now, stalledAfter)) {
        const free = limit - slot.inHand.size;
        if (free > 0) room += free;
        if (free >= refillAt) eligible++;
      } else if (!slot.ready && !slot.stopping) {
        room += startingRoom;
        starting++;
      }
    }
    while (this.#queue.size > room && this.#workers.length < this.options.maxWorkers) {
      if (this.#spawn() === undefined) return;
      room += startingRoom;
      starting++;
    }
    if (this.#queue.size === 0 || eligible === 0) return;
    // Emptiest hands first, so a task never waits behind another while some worker has nothing. An
    // insertion sort, stable, into a kept array: a handful of workers, and Array.prototype.sort
    // allocated some 800 bytes per call here, the most of any step of a lone call.
    // Its first `opened` slots are this dispatch's; they are cleared after, never cut by setting the
    // length (a call into the runtime, ~160 ns here, twice per lone call).
    const open = this.#open;
    let opened = 0;
    for (const slot of this.#workers) {
      if (
        slot.ready &&
        !slot.retiring &&
        !slot.stopping &&
        limit - slot.inHand.size >= refillAt &&
        !this.#stalled(slot, now, stalledAfter)
      ) {
        let at = opened++;
        if (at === open.length) open.push(slot);
        for (; at > 0 && open[at - 1]!.inHand.size > slot.inHand.size; at--) open[at] = open[at - 1]!;
        open[at] = slot;
      }
    }
    let only: WorkerSlot | undefined;
    // Workers still starting count as takers: a task handed now to a busy worker could wait behind a
    // long task there while a fresh worker sits idle (stealing needs the busy worker to look up).
    let takers = eligible + starting;
    const whole = this.#avgRunMs >= 0 && this.#queue.size * this.#avgRunMs < WHOLE_BATCH_BELOW_MS;
    // A whole batch leaves the other takers idle: should a long task hide in it, they take its waiting
    // tasks back once its worker looks stalled (#watchForStalls), as no answer of theirs will.
    if (whole && takers > 1) this.#watchForStalls(true);
    for (let k = 0; k < opened; k++) {
      const slot = open[k]!;
      const free = limit - slot.inHand.size;
      const share = whole ? this.#queue.size : Math.ceil(this.#queue.size / takers--);
      const count = Math.min(free, share);
      // A literal for one task: an empty array grown by push allocates twice (~90 ns here).
      const batch: TaskRecord[] = count === 1 ? [this.#queue.shift()!] : [];
      for (let i = batch.length; i < count; i++) batch.push(this.#queue.shift()!);
      this.#send(slot, batch);
      only = slot;
      if (this.#queue.size === 0) break;
    }
    for (let k = 0; k < opened; k++) open[k] = undefined;
    if (only !== undefined && this.#inHandTotal === 1) this.#blockForLoneResult(only, only.lastAnswerAt);
  }

  /**
   * One task queued (the lone call's case): hands it to the first ready worker with an empty hand, which
   * is where the general path below puts it (emptiest hand first, in order; such a worker always has
   * room and is never stalled, and the pool never grows for one task while one idles), without sizing
   * hands or sorting workers. False, changing nothing, when no worker is idle or some worker has
   * pinned tasks waiting (the general path sends those first).
   */
  #dispatchOne(): boolean {
    let idle: WorkerSlot | undefined;
    for (const slot of this.#workers) {
      if (slot.pinnedQueue.length > 0) return false;
      if (idle === undefined && slot.ready && !slot.retiring && !slot.stopping && slot.inHand.size === 0)
        idle = slot;
    }
    if (idle === undefined) return false;
    this.#send(idle, [this.#queue.shift()!]);
    if (this.#inHandTotal === 1) this.#blockForLoneResult(idle, idle.lastAnswerAt);
    return true;
  }

  #watchLoneCalls(): void {
    if (this.#loneTimer !== undefined || this.#state === 'destroyed') return;
    this.#loneTimer = setTimeout(this.#endIdleLoneCalls, LONE_HOLD_MS);
    this.#loneTimer.unref();
  }

  // Tasks handed to a worker behind one it is running wait for it. If that one turns out long, start a
  // worker (below maxWorkers): once ready it steals the waiting tasks, since a worker inside an async
  // task still reads its messages; at maxWorkers, the workers with empty hands steal them (`atMax`:
  // a batch went to one worker whole). Checked by one timer, armed only while the pool may grow or
  // some worker was left idle.
  #watchForStalls(atMax = false): void {
    if (this.#stallTimer !== undefined || (!atMax && this.#workers.length >= this.options.maxWorkers)) return;
    const after = Math.max(atMax ? TAKE_BACK_MIN_MS : STALLED_MIN_MS, STALLED_RUNS * this.#avgRunMs);
    this.#stallTimer = setTimeout(() => {
      this.#stallTimer = undefined;
      if (this.#state !== 'open' && this.#state !== 'closing') return;
      const now = performance.now();
      let waiting = false;
      let stalledWithWaiting = false;
      for (const slot of this.#workers) {
        if (slot.inHand.size < 2 || slot.exited || slot.stopping) continue;
        waiting = true;
        if (this.#stalled(slot, now, after)) stalledWithWaiting = true;
      }
      if (!stalledWithWaiting) {
        if (waiting) this.#watchForStalls(atMax);
      } else if (this.#workers.length < this.options.maxWorkers) this.#spawn();
      else for (const slot of this.#workers) if (slot.inHand.size === 0) this.#stealFor(slot);
    }, after);
    this.#stallTimer.unref();
  }

  // A worker that has answered nothing for much longer than tasks usually take is inside a long task:
  // a task handed to it now would wait behind that one, so it gets none, and the pool starts another
  // worker instead (which also takes back, by stealing, what the stalled one holds unstarted).
  #stalled(slot: WorkerSlot, now: number, stalledAfter: number): boolean {
    return slot.inHand.size > 0 && now - slot.lastAnswerAt > stalledAfter;
  }

  // Latency path: one short task in flight and nothing else to hand out, so block briefly for its
  // result on the results doorbell instead of paying an event-loop wake-up (Atomics round trip ~2 µs,
  // event-loop wake-up ~10 µs). Bounded per event-loop turn so I/O still runs: no wait starts more than
  // MAX_BLOCKED_PER_TURN_MS after the turn's first. `since` is when the call went out (the worker's
  // lastAnswerAt, set from the call's submission time when its hand was empty): the wait and this
  // bound read no clock of their own (~100 ns a read here, two per call before).
  #blockForLoneResult(slot: WorkerSlot, since: number, timeout = this.options.blockingWaitTimeout): void {
    if (
      timeout <= 0 ||
      !slot.handle.canWaitForResults ||
      this.#avgRunMs < 0 ||
      this.#avgRunMs * 2 > this.options.blockingWaitTimeout
    ) {
      return;
    }
    if (this.#turnStartedAt < 0) {
      this.#turnStartedAt = since;
      setImmediate(this.#newTurn);
    } else if (since - this.#turnStartedAt >= MAX_BLOCKED_PER_TURN_MS) return;
    slot.handle.waitForResults(timeout, since, slot.longGaps < LONG_GAPS_BEFORE_NO_SPIN);
  }

  // The call that found this turn's blocking budget spent went out without a blocking wait, so its
  // answer would come through the event loop (a wake-up several times dearer than the wait). The loop
  // has now turned (timers and I/O ran): wait here for what is left of that call's blocking window, so
  // a caller awaiting one call after another stays on the fast path. Only while the lone call is that
  // fresh: a long call never costs the loop more than its one window.
  #resumeLoneWait(): void {
    if (this.#inHandTotal !== 1 || this.#queue.size !== 0 || this.#state === 'destroyed') return;
    for (const slot of this.#workers) {
      if (slot.inHand.size !== 1) continue;
      const now = performance.now();
      const left = slot.lastAnswerAt + this.options.blockingWaitTimeout - now;
      if (left > 0) this.#blockForLoneResult(slot, now, left);
      return;
    }
  }

  #send(slot: WorkerSlot, records: TaskRecord[]): void {
    if (records.length === 1 && slot.inHand.size === 0 && this.#sendLone(slot, records[0]!)) return;
    const tasks = new Array<unknown>(records.length * TASK_STRIDE);
    let defs: unknown[] | undefined;
    let transfer: TransferListItem[] | undefined;
    let j = 0;
    for (const record of records) {
      const key = record.key;
      if (key >= 0 && slot.known[key] !== true) {
        defs ??= [];
        defs.push(key, this.#registry.specs[key]);
        slot.known[key] = true;
      }
      tasks[j++] = record.id;
      tasks[j++] = record.kind;
      tasks[j++] = key;
      tasks[j++] = record.args;
      // One read of the extras for both fields (plain calls have none): cheaper than two getters.
      const extras = record.extras;
      tasks[j++] = extras?.extra;
      tasks[j++] = record.flags;
      if (extras?.transfer !== undefined) {
        transfer ??= [];
        for (const item of extras.transfer) transfer.push(item);
      }
      record.worker = slot;
      slot.inHand.add(record);
    }
    this.#handed(slot, records[records.length - 1]!.id, records.length);
    try {
      slot.handle.send({ t: 'run', defs, tasks }, transfer ?? NO_TRANSFER);
    } catch (error) {
      // Undo, then find the task that cannot be copied by sending one at a time.
      slot.inHand.dropLast(records.length);
      for (const record of records) record.worker = undefined;
      this.#inHandTotal -= records.length;
      if (defs !== undefined) for (let i = 0; i < defs.length; i += 2) slot.known[defs[i] as number] = false;
      if (records.length === 1) {
        this.#settle(records[0]!, false, notCloneable(records[0]!, error));
        return;
      }
      for (const record of records) this.#send(slot, [record]);
      return;
    }
    this.#updateRef(slot);
  }

  /**
   * A plain call to a worker holding nothing else goes through its lone-call slot (lone-slot.ts): no
   * message to build, encode and decode on either side. False, changing nothing, when it cannot.
   */
  #sendLone(slot: WorkerSlot, record: TaskRecord): boolean {
    const handle = slot.handle;
    const extras = record.extras;
    if (
      handle.sendLone === undefined ||
      record.kind !== KIND_CALL ||
      record.flags !== 0 ||
      (extras !== undefined && !extras.loneCompatible()) ||
      slot.known[record.key] !== true
    ) {
      return false;
    }
    record.worker = slot;
    slot.inHand.add(record);
    // The hand was empty: its "answered or got work" time is now, for which the later of the call's
    // submission and the worker's last answer stands in (a lone call is sent microseconds after
    // either; a clock read costs ~100 ns here).
    this.#handed(slot, record.id, 1, Math.max(record.submittedAt, slot.lastAnswerAt));
    if (!handle.sendLone(record.id, record.key, record.args)) {
      slot.inHand.dropLast(1);
      record.worker = undefined;
      this.#inHandTotal--;
      return false;
    }
    this.#updateRef(slot);
    return true;
  }

  /**
   * Bookkeeping of `count` tasks just added to a worker's hand, the last of them `lastId`; `now`, when
   * given, stands for the clock.
   */
  #handed(slot: WorkerSlot, lastId: number, count: number, now = -1): void {
    slot.lastSentId = lastId;
    // Only a pool that blocks for lone results has callers waiting on each call.
    const lone = slot.inHand.size === 1 && this.options.blockingWaitTimeout > 0;
    if (lone !== slot.loneCalls) {
      slot.loneCalls = lone;
      slot.handle.setLoneCalls(lone);
      if (lone) this.#watchLoneCalls();
    }
    if (slot.inHand.size === count) {
      const at = now < 0 ? performance.now() : now;
      slot.longGaps = at - slot.lastAnswerAt < BACK_TO_BACK_MS ? 0 : slot.longGaps + 1;
      slot.lastAnswerAt = at;
    } else this.#watchForStalls();
    this.#inHandTotal += count;
  }

  #spawn(): WorkerSlot | undefined {
    const slot = new WorkerSlot(this.#nextWorkerId++);
    try {
      slot.handle = this.#factory(
        {
          workerId: slot.id,
          name: this.options.name,
          env: this.options.env,
          execArgv: this.options.execArgv,
          resourceLimits: this.options.resourceLimits,
        },
        {
          message: (message) => this.#onMessage(slot, message),
          loneAnswer: (id, status, value, startNs, runNs, base) =>
            this.#onLoneAnswer(slot, id, status, value, startNs, runNs, base),
          exit: (exit) => this.#onExit(slot, exit),
        },
      );
    } catch (error) {
      const crash = new WorkerCrashedError(`A worker could not be started: ${(error as Error).message}`, {
        exitCode: null,
        workerId: slot.id,
        cause: error,
      });
      for (const record of this.#queue.drain()) this.#settle(record, false, crash);
      return undefined;
    }
    const initializer = this.#initializer instanceof Promise ? undefined : this.#initializer;
    slot.handle.send(
      {
        t: 'init',
        workerId: slot.id,
        initializer,
        reportHeap: Number.isFinite(this.options.maxHeapUsedBytes),
      },
      NO_TRANSFER,
    );
    this.#workers.push(slot);
    this.emit('workerStart', slot.id);
    return slot;
  }

  #ensureMinWorkers(): void {
    if (this.#state !== 'open' || this.#initializer instanceof Promise) return;
    while (this.#workers.length < this.options.minWorkers) if (this.#spawn() === undefined) return;
  }

  #onMessage(slot: WorkerSlot, message: WorkerToMain): void {
    switch (message.t) {
      case 'results':
        this.#onResults(slot, message);
        return;
      case 'progress': {
        const record = slot.inHand.get(message.id);
        if (record !== undefined && !record.settled && record.onProgress !== undefined) {
          try {
            record.onProgress(message.value);
          } catch (error) {
            // A throwing callback is the caller's bug; surface it like a throwing event listener.
            process.nextTick(() => {
              throw error;
            });
          }
        }
        return;
      }
      case 'output': {
        const record = slot.inHand.get(message.id);
        if (record !== undefined && !record.settled && record.onOutput !== undefined) {
          try {
            record.onOutput(message.stream, message.text);
          } catch (error) {
            process.nextTick(() => {
              throw error;
            });
          }
        }
        return;
      }
      case 'ready':
        if (message.error !== undefined && isSerializedError(message.error)) {
          slot.initError = deserializeError(message.error);
          void slot.handle.kill();
          return;
        }
        slot.ready = true;
        // Its first tasks may have been queued long before: a lone call's send counts from here at least.
        slot.lastAnswerAt = performance.now();
        this.#updateRef(slot);
        this.#dispatch();
        if (slot.inHand.size === 0) this.#stealFor(slot);
        return;
      case 'fatal':
        return;
    }
  }

  #onResults(slot: WorkerSlot, message: ResultsMessage): void {
    const results = message.results;
    const base = message.base ?? 0;
    const tracing = this.#spans !== undefined || taskChannel.hasSubscribers;
    let endedAt = -1;
    for (let i = 0; i < results.length; i += RESULT_STRIDE) {
      endedAt = this.#onResult(
        slot,
        results[i] as number,
        results[i + 1] as number,
        results[i + 2],
        results[i + 3] as number,
        results[i + 4] as number,
        base,
        tracing,
      );
    }
    this.#afterResults(slot, message.heap);
    if (message.started !== undefined) this.#onStarted(slot, message.started);
    this.#afterAnswer(slot, endedAt);
    if (this.#queue.size > 0 && !this.#takingInBurst) this.#dispatch();
  }

  /** A lone call's answer: #onResults for its one entry, with no message (lone-slot.ts). */
  #onLoneAnswer(
    slot: WorkerSlot,
    id: number,
    status: number,
    value: unknown,
    startNs: number,
    runNs: number,
    base: number | undefined,
  ): void {
    const tracing = this.#spans !== undefined || taskChannel.hasSubscribers;
    const endedAt = this.#onResult(slot, id, status, value, startNs, runNs, base ?? 0, tracing);
    this.#afterResults(slot, undefined);
    this.#afterAnswer(slot, endedAt);
    if (this.#queue.size > 0 && !this.#takingInBurst) this.#dispatch();
  }

  /**
   * One entry of a results message: times in ns, the start after `base` (epoch ms). Returns when the
   * task ended, on this thread's clock, or -1 for an entry of a task that did not run here.
   */
  #onResult(
    slot: WorkerSlot,
    id: number,
    status: number,
    value: unknown,
    startNs: number,
    runNs: number,
    base: number,
    tracing: boolean,
  ): number {
    const record = slot.inHand.take(id);
    if (record === undefined) return -1;
    this.#inHandTotal--;
    if (status === STATUS_SKIPPED) {
      // Taken back before it started: cancelled (already settled) or stolen (runs elsewhere).
      if (!record.settled) {
        record.worker = undefined;
        record.stealing = false;
        this.#queue.unshift(record);
      }
      return -1;
    }
    const runMs = runNs / NS_PER_MS;
    const startEpoch = base + startNs / NS_PER_MS;
    slot.tasksDone++;
    this.#avgRunMs =
      this.#avgRunMs < 0 ? runMs : this.#avgRunMs + RUN_TIME_SMOOTHING * (runMs - this.#avgRunMs);
    const cost = record.extras?.cost;
    if (cost !== undefined) {
      const perItem = runMs / Math.max(1, (record.args as unknown[]).length);
      cost.perItemMs = cost.perItemMs < 0 ? perItem : (cost.perItemMs + perItem) / 2;
    }
    const waitMs = startEpoch - TIME_ORIGIN - record.submittedAt;
    this.#stats.recordRun(runMs, waitMs);
    const ok = status === STATUS_OK;
    if (ok) this.#stats.completed++;
    else this.#stats.failed++;
    if (tracing) this.#trace(slot, record, startEpoch, runMs, ok);
    if (!record.settled)
      this.#settle(record, ok, ok ? value : isSerializedError(value) ? deserializeError(value) : value);
    return startEpoch - TIME_ORIGIN + runMs;
  }

  /** After a message's results: the worker's answer time while it holds more, and whether it retires. */
  #afterResults(slot: WorkerSlot, heap: number | undefined): void {
    // Only a worker that still holds tasks can look stalled: one whose hand is now empty keeps the
    // time of its last send or answer (its next send counts from the later of that and the call's
    // submission, and its lone-call mode ends LONE_HOLD_MS after), one clock read fewer per lone call.
    if (slot.inHand.size > 0) slot.lastAnswerAt = performance.now();
    // A worker holding actors keeps them: it retires only once they are released.
    if (slot.actorIds.size === 0) {
      if (heap !== undefined && heap > this.options.maxHeapUsedBytes) slot.retiring = true;
      if (slot.tasksDone >= this.options.maxTasksPerWorker) slot.retiring = true;
    }
  }

  #onStarted(slot: WorkerSlot, id: number): void {
    const record = slot.inHand.get(id);
    if (record === undefined) return;
    record.started = true;
    if (record.settled) {
      // Cancelled while it sat in the worker's hand; it started anyway before the cancel arrived.
      if (record.cancelMode === 'terminate') this.#killFor(slot, record);
      return;
    }
    if (Number.isFinite(record.timeout)) {
      record.extras!.timer = setTimeout(() => {
        this.#cancel(
          record,
          new TimeoutError(`The task ran longer than its timeout of ${record.timeout} ms`),
          'timeout',
        );
      }, record.timeout);
    }
  }

  #trace(slot: WorkerSlot, record: TaskRecord, startEpoch: number, runMs: number, ok: boolean): void {
    // Threads derive their clocks' origins separately; clamp so a task never starts before it was queued.
    const start = Math.max(record.submittedAt, startEpoch - TIME_ORIGIN);
    const spec = record.key >= 0 ? this.#registry.specs[record.key] : undefined;
    const name = spec === undefined ? 'actor' : spec.type === 'export' ? spec.exportName : 'inline';
    this.#spans?.record({
      kind: 'queued',
      name,
      track: -1,
      start: record.submittedAt,
      end: start,
      attributes: { id: record.id },
    });
    this.#spans?.record({
      kind: 'task',
      name,
      track: slot.id,
      start,
      end: start + runMs,
      attributes: { id: record.id, ok },
    });
    if (taskChannel.hasSubscribers) {
      taskChannel.publish({
        pool: this.options.name,
        id: record.id,
        name,
        workerId: slot.id,
        runMs,
        waitMs: start - record.submittedAt,
        ok,
      });
    }
  }

  #settle(record: TaskRecord, ok: boolean, value: unknown): void {
    if (record.settled) return;
    record.settled = true;
    const extras = record.extras;
    if (extras !== undefined) {
      if (extras.timer !== undefined) clearTimeout(extras.timer);
      extras.abortListener?.[Symbol.dispose]();
    }
    if (ok) record.resolve(value);
    else record.reject(value);
  }

  #cancel(record: TaskRecord, error: Error, why: 'abort' | 'timeout'): void {
    if (record.settled) return;
    this.#stats.cancelled++;
    const slot = record.worker;
    if (slot === undefined) {
      if (record.pinned !== undefined) {
        const index = record.pinned.pinnedQueue.indexOf(record);
        if (index >= 0) record.pinned.pinnedQueue.splice(index, 1);
      } else this.#queue.delete(record);
      this.#settle(record, false, error);
      this.#checkDrained();
      return;
    }
    this.#settle(record, false, error);
    if (record.started && record.cancelMode === 'terminate') {
      this.#killFor(slot, record);
      return;
    }
    slot.handle.requestCancel(record.id);
    try {
      slot.handle.send({ t: 'cancel', id: record.id, reason: why }, NO_TRANSFER);
    } catch (sendError) {
      throw internalError(`A cancel message could not be sent (${(sendError as Error).message})`);
    }
  }

  #killFor(slot: WorkerSlot, record: TaskRecord): void {
    if (slot.killedFor >= 0 || slot.exited) return;
    slot.killedFor = record.id;
    slot.retiring = true;
    void slot.handle.kill();
  }

  /**
   * After a worker answered: stop it if it retires or idles, resolve close() once all is done.
   * `endedAt`: when its last task ended (this thread's clock, from the worker's times), -1 if unknown.
   */
  #afterAnswer(slot: WorkerSlot, endedAt = -1): void {
    if (slot.inHand.size === 0 && !slot.exited) {
      if (slot.retiring && slot.actorIds.size === 0 && slot.killedFor < 0) void this.#stop(slot);
      else {
        if (slot.actorIds.size === 0) this.#armIdleTimer(slot, endedAt);
        // Only a worker holding two tasks or more has one to give (#stealFor).
        if (this.#queue.size === 0 && this.#inHandTotal >= 2) this.#stealFor(slot);
      }
      this.#updateRef(slot);
    }
    this.#checkDrained();
  }

  // An idle worker while another holds tasks it has not started (handed out in a batch, now stuck
  // behind a long one): ask the busiest worker for the later half of them back. Tasks it already started
  // simply finish there; the ones it gives back come back 'skipped' and are requeued.
  #stealFor(thief: WorkerSlot): void {
    if (!thief.ready || thief.retiring || thief.stopping || this.#state === 'destroyed') return;
    let victim: WorkerSlot | undefined;
    let most = 0;
    for (const slot of this.#workers) {
      if (slot === thief || slot.exited || slot.stopping) continue;
      // The first task in a hand may be running; only later ones can be taken back.
      const waiting = slot.inHand.size - 1;
      if (waiting > most) {
        most = waiting;
        victim = slot;
      }
    }
    if (victim === undefined) return;
    const candidates: TaskRecord[] = [];
    let first = true;
    for (const record of victim.inHand.values()) {
      if (first) {
        first = false;
        continue;
      }
      // A task whose buffers moved to that worker cannot be sent anywhere else.
      if (
        !record.stealing &&
        !record.settled &&
        record.pinned === undefined &&
        !record.started &&
        (record.transfer === undefined || record.transfer.length === 0)
      ) {
        candidates.push(record);
      }
    }
    if (candidates.length === 0) return;
    const taken = candidates.slice(Math.floor(candidates.length / 2));
    const ids = taken.map((record) => {
      record.stealing = true;
      return record.id;
    });
    victim.handle.send({ t: 'steal', ids }, NO_TRANSFER);
  }

  // Idle since `since` when known: the end of its last task as the worker timed it (an idle timeout is
  // milliseconds at least), which spares a lone call a clock read (~100 ns here).
  #armIdleTimer(slot: WorkerSlot, since = -1): void {
    if (!Number.isFinite(this.options.idleTimeout) || this.#workers.length <= this.options.minWorkers) return;
    slot.idleSince = since < 0 ? performance.now() : since;
    if (slot.idleTimer !== undefined) return;
    const check = () => {
      slot.idleTimer = undefined;
      if (slot.exited || slot.stopping || slot.inHand.size > 0 || slot.actorIds.size > 0) return;
      const idleFor = performance.now() - slot.idleSince;
      if (idleFor >= this.options.idleTimeout && this.#workers.length > this.options.minWorkers)
        void this.#stop(slot);
      else if (this.#workers.length > this.options.minWorkers) {
        slot.idleTimer = setTimeout(check, this.options.idleTimeout - idleFor + 1);
        slot.idleTimer.unref();
      }
    };
    slot.idleTimer = setTimeout(check, this.options.idleTimeout);
    slot.idleTimer.unref();
  }

  #updateRef(slot: WorkerSlot): void {
    if (slot.exited) return;
    if (this.#wantsRef(slot)) {
      slot.unrefDue = false;
      if (slot.referenced) return;
      slot.referenced = true;
      slot.handle.ref();
      return;
    }
    if (!slot.referenced || slot.unrefDue) return;
    // Let the process go at the loop's next turn, not now: a caller awaiting one call after another
    // sends the next before any turn, and each ref() and unref() of a worker is two calls into C++.
    slot.unrefDue = true;
    if (!this.#unrefScheduled) {
      this.#unrefScheduled = true;
      setImmediate(this.#unrefIdle);
    }
  }

  #wantsRef(slot: WorkerSlot): boolean {
    return slot.inHand.size > 0 || slot.pinnedQueue.length > 0 || (!slot.ready && this.#queue.size > 0);
  }

  readonly #unrefIdle = (): void => {
    this.#unrefScheduled = false;
    for (const slot of this.#workers) {
      if (!slot.unrefDue) continue;
      slot.unrefDue = false;
      if (slot.exited || !slot.referenced || this.#wantsRef(slot)) continue;
      slot.referenced = false;
      slot.handle.unref();
    }
  };

  /** Lets an idle worker exit on its own (its output flushed), killing it after STOP_GRACE_MS. */
  #stop(slot: WorkerSlot): Promise<void> {
    slot.stopping = true;
    if (slot.idleTimer !== undefined) clearTimeout(slot.idleTimer);
    return slot.handle.stop(STOP_GRACE_MS);
  }

  async #stopAll(graceful: boolean): Promise<void> {
    const exits: Promise<void>[] = [];
    for (const slot of this.#workers) {
      if (graceful) exits.push(this.#stop(slot));
      else {
        slot.stopping = true;
        if (slot.idleTimer !== undefined) clearTimeout(slot.idleTimer);
        exits.push(slot.handle.kill());
      }
    }
    await Promise.all(exits);
  }

  #onExit(slot: WorkerSlot, exit: WorkerExit): void {
    slot.exited = true;
    this.#workers = this.#workers.filter((other) => other !== slot);
    if (slot.idleTimer !== undefined) clearTimeout(slot.idleTimer);
    this.#stats.workerMsClosed += performance.now() - slot.startedAt;
    this.#spans?.record({
      kind: 'worker',
      name: `worker ${slot.id}`,
      track: slot.id,
      start: slot.startedAt,
      end: performance.now(),
    });
    const crashed = !(slot.stopping && slot.inHand.size === 0);
    if (slot.inHand.size > 0 || slot.pinnedQueue.length > 0) this.#failHand(slot, exit);
    if (slot.actorIds.size > 0) {
      const error = this.#crashError(
        slot,
        exit,
        'The worker holding this actor died; its state is lost, create a new actor',
      );
      for (const id of slot.actorIds) {
        const state = this.#actors.get(id);
        if (state !== undefined) state.dead ??= error;
      }
    }
    this.emit('workerExit', slot.id, exit.exitCode);
    if (this.#state === 'destroyed') return;
    if (crashed && slot.initError !== undefined) {
      // The initializer failed: fail the backlog rather than start workers that fail the same way.
      const error = this.#crashError(slot, exit, 'The pool initializer failed in a new worker');
      for (const record of this.#queue.drain()) this.#settle(record, false, error);
    }
    this.#ensureMinWorkers();
    if (this.#queue.size > 0) this.#dispatch();
    this.#checkDrained();
  }

  /** Settles or requeues what a dead worker held: started tasks fail, unstarted ones run elsewhere. */
  #failHand(slot: WorkerSlot, exit: WorkerExit): void {
    const lastStarted = slot.handle.lastStartedTask();
    const running = slot.handle.runningTask();
    let started = slot.inHand.has(lastStarted);
    for (const record of slot.inHand.values()) {
      const id = record.id;
      this.#inHandTotal--;
      if (record.settled) {
        if (id === lastStarted) started = false;
        continue;
      }
      if (started) {
        const why =
          slot.killedFor >= 0 && slot.killedFor !== id
            ? `Its worker was terminated to stop cancelled task ${slot.killedFor}`
            : id === running || id === lastStarted
              ? 'The worker running this task died'
              : 'The worker died after this task finished but before its result was delivered';
        this.#settle(record, false, this.#crashError(slot, exit, why));
        if (id === lastStarted) started = false;
      } else if (slot.initError !== undefined || record.pinned !== undefined) {
        this.#settle(record, false, this.#crashError(slot, exit, 'The worker died before the task started'));
      } else {
        record.worker = undefined;
        this.#queue.unshift(record);
      }
    }
    slot.inHand.clear();
    const error = this.#crashError(slot, exit, 'The worker died before the task started');
    for (const record of slot.pinnedQueue.splice(0)) this.#settle(record, false, error);
  }

  #crashError(slot: WorkerSlot, exit: WorkerExit, why: string): WorkerCrashedError {
    const cause = slot.initError ?? exit.error;
    const how = exit.signal !== null ? `signal ${exit.signal}` : `exit code ${exit.exitCode}`;
    const detail = cause === undefined ? '' : `: ${cause.message}`;
    return new WorkerCrashedError(
      `${why} (worker ${slot.id}, ${how})${detail}; the pool has replaced the worker`,
      {
        exitCode: exit.exitCode,
        signal: exit.signal,
        workerId: slot.id,
        ...(cause === undefined ? {} : { cause }),
      },
    );
  }

  #checkDrained(): void {
    if (this.#queue.size > 0 || this.#inHandTotal > 0 || this.#activeMaps > 0) return;
    for (const slot of this.#workers) if (slot.pinnedQueue.length > 0) return;
    this.emit('drain');
    if (this.#drainWaiters.length > 0) for (const resolve of this.#drainWaiters.splice(0)) resolve();
  }
}

function checkRunOptions(options: RunOptions): void {
  if (typeof options !== 'object' || options === null) {
    throw new InvalidArgumentError(
      'SKEIN_POOL_INVALID_OPTION',
      `Run options must be an object (got ${describe(options)}); omit them for defaults`,
    );
  }
  if (options.signal !== undefined && !(options.signal instanceof AbortSignal)) {
    throw new InvalidArgumentError(
      'SKEIN_POOL_INVALID_OPTION',
      `signal must be an AbortSignal (got ${describe(options.signal)})`,
    );
  }
  if (options.timeout !== undefined) checkDuration('timeout', options.timeout, 'omit it for no timeout');
  if (
    options.priority !== undefined &&
    (typeof options.priority !== 'number' || !Number.isFinite(options.priority))
  ) {
    throw new InvalidArgumentError(
      'SKEIN_POOL_INVALID_OPTION',
      `priority must be a finite number (got ${describe(options.priority)}); omit it for 0`,
    );
  }
  if (options.transfer !== undefined && !Array.isArray(options.transfer)) {
    throw new InvalidArgumentError(
      'SKEIN_POOL_INVALID_OPTION',
      `transfer must be an array of ArrayBuffers or MessagePorts (got ${describe(options.transfer)})`,
    );
  }
  if (options.onProgress !== undefined && typeof options.onProgress !== 'function') {
    throw new InvalidArgumentError(
      'SKEIN_POOL_INVALID_OPTION',
      `onProgress must be a function (got ${describe(options.onProgress)})`,
    );
  }
  if (options.onOutput !== undefined && typeof options.onOutput !== 'function') {
    throw new InvalidArgumentError(
      'SKEIN_POOL_INVALID_OPTION',
      `onOutput must be a function (got ${describe(options.onOutput)})`,
    );
  }
  if (options.cancelMode !== undefined) checkCancelMode('cancelMode', options.cancelMode);
}

/**
 * Replaces sync and channel objects among the arguments by their handles (the worker revives them over
 * the same shared state). Returns `args` itself, untouched, when no argument is an object, which is the
 * common case and costs one typeof per argument.
 */
function packArgs(args: unknown[], crossProcess: boolean): unknown[] {
  for (let i = 0; i < args.length; i++) {
    const arg = args[i];
    if (typeof arg === 'object' && arg !== null) return packShared(args, crossProcess) as unknown[];
  }
  return args;
}

function notCloneable(record: TaskRecord, error: unknown): InvalidArgumentError {
  const list = record.args as unknown[];
  const noun = record.kind === KIND_CHUNK || record.kind === KIND_STAR_CHUNK ? 'Item' : 'Argument';
  let which = 'An argument';
  for (let i = 0; i < list.length; i++) {
    try {
      structuredClone(list[i]);
    } catch {
      which = `${noun} ${i} (${describe(list[i])})`;
      break;
    }
  }
  return new InvalidArgumentError(
    'SKEIN_POOL_NOT_CLONEABLE',
    `${which} cannot be copied to a worker: ${(error as Error)?.message ?? String(error)}; pass structured-clone data (no functions or symbols) or list detachable buffers in transfer only once`,
    { cause: error },
  );
}
