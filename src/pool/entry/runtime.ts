// The worker side of a pool, shared by threads and processes: runs the tasks it is handed one at a
// time, in the order received, and answers each exactly once. Results are batched and flushed when the
// queue runs dry, every FLUSH_INTERVAL_MS, before a task that reports its start, and at exit, so a
// worker that dies loses at most what it computed since the last flush (the pool knows which).

import { AsyncResource } from 'node:async_hooks';
import { performance } from 'node:perf_hooks';
import type { TransferListItem } from 'node:worker_threads';
import { AbortError, SkeinError, TimeoutError } from '../../errors.ts';
import { modulesToLoad, unpackSharedLoaded } from '../../sync/shared.ts';
import { isTask, type TaskContext, taskContextStorage } from '../../task.ts';
import { serializeError } from '../error-serdes.ts';
import { itemsFitLane, valueFitsLane } from '../lane-fit.ts';
import { installOutputHook, OUTPUT_SINK, OutputCapture } from '../output-capture.ts';
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
  type MainToWorker,
  RESULT_STRIDE,
  type ResultsMessage,
  STATUS_ERROR,
  STATUS_OK,
  STATUS_SKIPPED,
  TASK_STRIDE,
  type WorkerToMain,
} from '../protocol.ts';
import { BACK_TO_BACK_MS, LONG_GAPS_BEFORE_NO_SPIN } from '../spinning.ts';
import { isTransfer } from '../transfer.ts';

/** Results wait at most this long in the worker before being sent, while tasks keep running. */
const FLUSH_INTERVAL_MS = 0.2;
/** Epoch milliseconds at this thread's performance.now() zero, read once (the getter is not free). */
const TIME_ORIGIN = performance.timeOrigin;
/** An idle worker spins before blocking only after tasks shorter than this. */
const SPIN_WORTHY_TASK_MS = 0.05;
/** A flush carries at most this many results. */
const FLUSH_MAX_RESULTS = 1024;
/**
 * Results carry times in whole nanoseconds (start: after the flush's base), which stay small integers
 * for tasks under 2 s: numbers the engine keeps unboxed, where milliseconds would be fractions (a heap
 * object each, on both sides, per task).
 */
const NS_PER_MS = 1e6;

/** What a runtime needs from its transport. */
export interface RuntimePort {
  /**
   * Sends a message; throws (synchronously) when something in it cannot be copied. `fitsLane`: its
   * values come out of a shared-memory lane exactly (lane-fit.ts), so a thread may send it that way.
   */
  post(message: WorkerToMain, transfer: TransferListItem[], fitsLane: boolean): void;
  /** Records the task running now (id) or none (-1), where the pool can read it after a crash. */
  markRunning(id: number): void;
  /** True when the pool asked, through shared memory, to cancel this task. */
  cancelRequested(id: number): boolean;
  /** Takes messages that arrived without going through the event loop; true if any did. */
  drain(): boolean;
  /** Takes messages now if any arrived since the last drain (cheap when none did). */
  poll(): void;
  /** Stops listening to the pool so the worker exits once its event loop is empty. */
  close(): void;
  /**
   * Blocks briefly for new work when idle; true if messages arrived (they were handed to receive).
   * `shortTasks`: the last task was short (a lone call's worker then sleeps until its next message);
   * `backToBack`: and it came right after the one before, so spinning for the next first may pay.
   */
  park(shortTasks: boolean, backToBack: boolean): boolean;
  /**
   * Answers a lone call through its slot (lone-slot.ts, threads only): `results` holds one entry, whose
   * value fits a lane. False, sending nothing, when that entry is not the lone call's or does not fit.
   */
  answerLone?(results: unknown[], base: number | undefined): boolean;
  /** A task returned a promise that has not settled yet (its #settleAsync calls asyncSettled). */
  wentAsync?(): void;
  /** A task that went async settled. */
  asyncSettled?(): void;
}

type AnyFunction = (...args: unknown[]) => unknown;
type Loaded = { fn: AnyFunction; error?: undefined } | { fn?: undefined; error: Error };

class RunningTaskContext implements TaskContext {
  readonly #runtime: WorkerRuntime;
  readonly id: number;
  #controller: AbortController | undefined;
  /** Set only on the context of a call that captures its output (added then, so other calls pay nothing). */
  declare [OUTPUT_SINK]?: OutputCapture;

  constructor(runtime: WorkerRuntime, id: number) {
    this.#runtime = runtime;
    this.id = id;
  }

  get workerId(): number {
    return this.#runtime.workerId;
  }

  get signal(): AbortSignal {
    this.#controller ??= new AbortController();
    return this.#controller.signal;
  }

  get cancelled(): boolean {
    if (this.#controller?.signal.aborted === true) return true;
    if (this.#runtime.port.cancelRequested(this.id)) {
      this.abort(new AbortError('The task was cancelled'));
      return true;
    }
    return false;
  }

  throwIfCancelled(): void {
    if (this.cancelled) throw this.signal.reason;
  }

  progress(value: unknown): void {
    this.#runtime.post({ t: 'progress', id: this.id, value }, valueFitsLane(value));
  }

  abort(reason: Error): void {
    this.#controller ??= new AbortController();
    if (!this.#controller.signal.aborted) this.#controller.abort(reason);
  }
}

export class WorkerRuntime {
  readonly port: RuntimePort;
  workerId = -1;
  readonly #functions: (Loaded | Promise<Loaded> | undefined)[] = [];
  #queue: unknown[] = [];
  #head = 0;
  #results: unknown[] = [];
  /** performance.now() of the first task in #results that ran, which their start times count from; -1 when none. */
  #resultsBase = -1;
  /** Whether every result in #results may travel on a lane (lane-fit.ts). */
  #resultsFitLane = true;
  #transfer: TransferListItem[] = [];
  #lastFlush = 0;
  /** When the last synchronous task ended: the flush check reuses it instead of reading the clock. */
  #lastEnd = 0;
  /** Tasks in a row that started well after the end of the one before (spinning.ts, BACK_TO_BACK_MS). */
  #longGaps = 0;
  #lastRunMs = Number.POSITIVE_INFINITY;
  /** True while the pump owns the queue (running, or awaiting an async task or module). */
  #busy = false;
  /** Asked to stop: never park again, so the event loop can empty and the worker exit. */
  #stopping = false;
  #ready = false;
  #reportHeap = false;
  #current: RunningTaskContext | undefined;
  readonly #actors = new Map<number, object>();
  readonly #handleModulesTried = new Set<string>();

  constructor(port: RuntimePort) {
    this.port = port;
    // Results computed before an exit (process.exit in a task, an uncaught error) still reach the pool,
    // after what the running task printed.
    process.on('exit', () => {
      this.#current?.[OUTPUT_SINK]?.flush();
      this.#flush();
    });
  }

  post(message: WorkerToMain, fitsLane = false): void {
    this.port.post(message, [], fitsLane);
  }

  receive(message: MainToWorker): void {
    switch (message.t) {
      case 'run': {
        const defs = message.defs;
        if (defs !== undefined) {
          for (let i = 0; i < defs.length; i += 2)
            this.#define(defs[i] as number, defs[i + 1] as FunctionSpec);
        }
        this.receiveTasks(message.tasks);
        return;
      }
      case 'cancel': {
        const reason =
          message.reason === 'timeout'
            ? new TimeoutError('The task ran past its timeout')
            : new AbortError('The task was cancelled');
        if (this.#current?.id === message.id) this.#current.abort(reason);
        else if (this.#takeBack(message.id)) this.#flush();
        return;
      }
      case 'steal': {
        let any = false;
        for (const id of message.ids) any = this.#takeBack(id) || any;
        if (any) this.#flush();
        return;
      }
      case 'init':
        this.workerId = message.workerId;
        this.#reportHeap = message.reportHeap;
        void this.#initialize(message.initializer);
        return;
      case 'stop':
        this.#flush();
        this.#stopping = true;
        this.port.close();
        return;
    }
  }

  /** Queues task entries (TASK_STRIDE slots each) after those held, and runs them if idle. */
  receiveTasks(tasks: unknown[]): void {
    if (this.#head === this.#queue.length) {
      this.#queue = tasks;
      this.#head = 0;
    } else {
      for (let i = 0; i < tasks.length; i++) this.#queue.push(tasks[i]);
    }
    if (!this.#busy && this.#ready) this.#pump();
  }

  /** Removes a task that has not started from the queue and answers it as skipped. */
  #takeBack(id: number): boolean {
    const queue = this.#queue;
    for (let at = this.#head; at < queue.length; at += TASK_STRIDE) {
      if (queue[at] === id) {
        queue[at] = -1;
        this.#push(id, KIND_CALL, STATUS_SKIPPED, undefined, -1, 0);
        return true;
      }
    }
    return false;
  }

  async #initialize(
    initializer: { spec: FunctionSpec; args: readonly unknown[] } | undefined,
  ): Promise<void> {
    if (initializer !== undefined) {
      try {
        const loaded = await load(initializer.spec);
        if (loaded.error !== undefined) throw loaded.error;
        await loaded.fn(...initializer.args);
      } catch (error) {
        this.post({ t: 'ready', error: serializeError(error) });
        return;
      }
    }
    this.#ready = true;
    this.post({ t: 'ready' });
    if (!this.#busy) this.#pump();
  }

  #define(key: number, spec: FunctionSpec): void {
    if (this.#functions[key] !== undefined) return;
    const loading = load(spec);
    this.#functions[key] = loading;
    void loading.then((loaded) => {
      this.#functions[key] = loaded;
    });
  }

  /** Runs queued tasks until the queue is empty or a task (or its module) must be awaited. */
  #pump(): void {
    this.#busy = true;
    for (;;) {
      if (this.#head >= this.#queue.length) {
        // Messages drained here may be cancels or steals rather than tasks: look at the queue again.
        if (this.port.drain()) continue;
        this.#flush();
        // Spinning pays only when short tasks come one at a time (a caller awaiting each); with long
        // tasks the CPU it burns is taken from the pool's own thread and lowers utilization.
        if (
          !this.#stopping &&
          this.port.park(this.#lastRunMs < SPIN_WORTHY_TASK_MS, this.#longGaps < LONG_GAPS_BEFORE_NO_SPIN)
        ) {
          continue;
        }
        this.#busy = false;
        return;
      }
      const queue = this.#queue;
      const at = this.#head;
      const id = queue[at] as number;
      const kind = queue[at + 1] as number;
      const key = queue[at + 2] as number;
      if (id === -1) {
        this.#head += TASK_STRIDE;
        continue;
      }
      let loaded: Loaded | Promise<Loaded> | undefined;
      if (kind !== KIND_ACTOR_CALL && kind !== KIND_ACTOR_FREE) {
        loaded = this.#functions[key];
        if (loaded instanceof Promise) {
          // The module is still loading: resume once it is, with this task still at the head.
          void loaded.then(() => this.#pump());
          return;
        }
      }
      const flags = queue[at + 5] as number;
      if ((flags & FLAG_SHARED_ARGS) !== 0 && this.#loadHandleKinds(queue[at + 3])) return;
      this.#head += TASK_STRIDE;
      const args = queue[at + 3];
      const extra = queue[at + 4];
      if ((flags & FLAG_REPORT_START) !== 0) this.#flush(id);
      if (this.#run(id, kind, key, loaded as Loaded | undefined, args, extra, flags) === 'async') return;
      if (
        this.#results.length >= FLUSH_MAX_RESULTS * RESULT_STRIDE ||
        this.#lastEnd - this.#lastFlush >= FLUSH_INTERVAL_MS
      ) {
        this.#flush();
      }
    }
  }

  /**
   * Imports the modules of handle kinds in `args` this thread has not loaded, then resumes the pump;
   * returns false when there is nothing to import. A module is tried once: if it fails, reviving the
   * handle fails inside the task, which reports the error to its caller.
   */
  #loadHandleKinds(args: unknown): boolean {
    const modules = modulesToLoad(args).filter((module) => !this.#handleModulesTried.has(module));
    if (modules.length === 0) return false;
    for (const module of modules) this.#handleModulesTried.add(module);
    const resume = (): void => this.#pump();
    void Promise.all(modules.map((module) => import(module).catch(() => {}))).then(resume);
    return true;
  }

  /** Runs one task; returns 'async' when it continues the pump itself after a promise settles. */
  #run(
    id: number,
    kind: number,
    key: number,
    loaded: Loaded | undefined,
    args: unknown,
    extra: unknown,
    flags: number,
  ): 'sync' | 'async' {
    const context = new RunningTaskContext(this, id);
    const output = (flags & FLAG_CAPTURE_OUTPUT) !== 0 ? this.#capture(context) : undefined;
    this.#current = context;
    const start = performance.now();
    // From the end of the task before (its answer) to the start of this one.
    this.#longGaps = start - this.#lastEnd < BACK_TO_BACK_MS ? 0 : this.#longGaps + 1;
    this.port.markRunning(id);
    let value: unknown;
    let failed = false;
    try {
      if (loaded?.error !== undefined) throw loaded.error;
      if (loaded === undefined && kind !== KIND_ACTOR_CALL && kind !== KIND_ACTOR_FREE) {
        throw new SkeinError(
          'SKEIN_INTERNAL',
          `Task ${id} names function key ${String(key)} that was never defined; this is a bug in Skein`,
        );
      }
      if ((flags & FLAG_SHARED_ARGS) !== 0) args = unpackSharedLoaded(args);
      value = TASK_SCOPE.runInAsyncScope(invokeInContext, this, context, kind, loaded?.fn, args, extra);
    } catch (error) {
      value = error;
      failed = true;
    }
    if (!failed && isThenable(value)) {
      value.then(
        (result) => {
          output?.close();
          this.#settleAsync(context, kind, STATUS_OK, result, start);
        },
        (error: unknown) => {
          output?.close();
          this.#settleAsync(context, kind, STATUS_ERROR, error, start);
        },
      );
      this.port.wentAsync?.();
      return 'async';
    }
    // Its output goes out before its result, which waits in #results for the next flush.
    output?.close();
    this.port.markRunning(-1);
    this.#current = undefined;
    const end = performance.now();
    this.#lastEnd = end;
    this.#lastRunMs = end - start;
    this.#push(id, kind, failed ? STATUS_ERROR : STATUS_OK, value, start, end - start);
    return 'sync';
  }

  /** Starts capturing the output of the call run in `context` (installing the stream hook once). */
  #capture(context: RunningTaskContext): OutputCapture {
    installOutputHook();
    const id = context.id;
    // A string of any content takes a lane (lane-codec.ts carries raw UTF-16 units).
    const capture = new OutputCapture((stream, text) => this.post({ t: 'output', id, stream, text }, true));
    context[OUTPUT_SINK] = capture;
    return capture;
  }

  #settleAsync(
    context: RunningTaskContext,
    kind: number,
    status: number,
    value: unknown,
    start: number,
  ): void {
    this.port.asyncSettled?.();
    this.port.markRunning(-1);
    this.#current = undefined;
    this.#lastRunMs = performance.now() - start;
    this.#push(context.id, kind, status, value, start, this.#lastRunMs);
    this.#pump();
  }

  /** Buffers a result; `start` is the task's performance.now() at its start (-1: it never ran). */
  #push(id: number, kind: number, status: number, value: unknown, start: number, runMs: number): void {
    if (status === STATUS_ERROR) {
      value = serializeError(value);
      this.#resultsFitLane = false;
    } else if (status === STATUS_OK) {
      if (isTransfer(value)) {
        for (const item of value.list) this.#transfer.push(item);
        value = value.value;
      }
      // A chunk's results are an array the runtime built (mapChunk), so only its items are checked.
      if (this.#resultsFitLane)
        this.#resultsFitLane =
          kind === KIND_CHUNK || kind === KIND_STAR_CHUNK
            ? Array.isArray(value) && itemsFitLane(value)
            : valueFitsLane(value);
    }
    let startNs = 0;
    if (start >= 0) {
      if (this.#resultsBase < 0) this.#resultsBase = start;
      startNs = Math.round((start - this.#resultsBase) * NS_PER_MS);
    }
    this.#results.push(id, status, value, startNs, Math.round(runMs * NS_PER_MS));
  }

  /** Sends buffered results; `started` tells the pool a task that reports its start begins now. */
  #flush(started?: number): void {
    if (this.#results.length === 0 && started === undefined) return;
    const results = this.#results;
    const transfer = this.#transfer;
    const fitsLane = this.#resultsFitLane;
    const base = this.#resultsBase < 0 ? undefined : TIME_ORIGIN + this.#resultsBase;
    this.#resultsBase = -1;
    this.#resultsFitLane = true;
    // The end of the task just run stands for now: one clock read (~80 ns here) fewer per flush.
    this.#lastFlush = this.#lastEnd;
    if (
      results.length === RESULT_STRIDE &&
      fitsLane &&
      started === undefined &&
      transfer.length === 0 &&
      !this.#reportHeap &&
      this.port.answerLone?.(results, base) === true
    ) {
      // Answered in place: the array stays for the next flush, emptied by pops (setting its length
      // calls into the runtime and drops its backing store: several times dearer).
      for (let i = 0; i < RESULT_STRIDE; i++) results.pop();
      return;
    }
    this.#results = [];
    this.#transfer = [];
    const message: ResultsMessage = {
      t: 'results',
      results,
      base,
      heap: this.#reportHeap ? process.memoryUsage().heapUsed : undefined,
      started,
      startedAt: started === undefined ? undefined : TIME_ORIGIN + performance.now(),
    };
    try {
      this.port.post(message, transfer, fitsLane);
    } catch {
      this.#postOneByOne(results, transfer, message);
    }
  }

  // Something in the batch cannot be copied: send results one by one so only the guilty task fails.
  #postOneByOne(results: unknown[], transfer: TransferListItem[], batch: ResultsMessage): void {
    for (let i = 0; i < results.length; i += RESULT_STRIDE) {
      const entry = results.slice(i, i + RESULT_STRIDE);
      const own = transfer.filter((item) => holds(entry[2], item));
      try {
        this.port.post({ t: 'results', results: entry, base: batch.base }, own, false);
      } catch (error) {
        entry[1] = STATUS_ERROR;
        entry[2] = serializeError(
          new SkeinError(
            'SKEIN_POOL_NOT_CLONEABLE',
            `The task's result cannot be copied to the caller (${(error as Error).message}); return structured-clone data: no functions, class instances lose their prototype`,
          ),
        );
        this.port.post({ t: 'results', results: entry, base: batch.base }, [], false);
      }
    }
    if (batch.started !== undefined) {
      this.port.post(
        { t: 'results', results: [], started: batch.started, startedAt: batch.startedAt ?? 0 },
        [],
        true,
      );
    }
  }

  actor(id: number): object {
    const instance = this.#actors.get(id);
    if (instance === undefined) {
      throw new SkeinError(
        'SKEIN_POOL_ACTOR_RELEASED',
        `Actor ${id} was released; create a new one with pool.actor()`,
      );
    }
    return instance;
  }

  addActor(id: number, instance: object): void {
    this.#actors.set(id, instance);
  }

  removeActor(id: number): object | undefined {
    const instance = this.#actors.get(id);
    this.#actors.delete(id);
    return instance;
  }
}

/**
 * Every task runs in this resource's scope, made before any AsyncLocalStorage store was entered here:
 * its context is entered into an empty frame (~90 ns here) instead of a copy of the frame the task
 * before it left (~220 ns: AsyncLocalStorage copies the frame, a Map, entry by entry), and the pump's
 * own frame is back once the task returns, so what runs after it (and what that schedules) is in no
 * task. What a task schedules carries its context, as before. A store some other AsyncLocalStorage
 * had entered in the worker is not seen inside tasks (it came into the next task's copied frame before).
 */
const TASK_SCOPE = new AsyncResource('SkeinTask');

/** Enters a task's context (in TASK_SCOPE) and runs it. */
function invokeInContext(
  this: WorkerRuntime,
  context: TaskContext,
  kind: number,
  fn: AnyFunction | undefined,
  args: unknown,
  extra: unknown,
): unknown {
  taskContextStorage.enterWith(context);
  return invoke(this, kind, fn, args, extra);
}

function invoke(
  runtime: WorkerRuntime,
  kind: number,
  fn: AnyFunction | undefined,
  args: unknown,
  extra: unknown,
): unknown {
  switch (kind) {
    case KIND_CALL:
      return fn!(...(args as unknown[]));
    case KIND_CHUNK: {
      const call = fn!;
      return mapChunk(args as unknown[], (item) => call(item));
    }
    case KIND_STAR_CHUNK: {
      const call = fn!;
      return mapChunk(args as unknown[][], (item) => call(...item));
    }
    case KIND_ACTOR_NEW:
      runtime.addActor(
        extra as number,
        new (fn as unknown as new (...a: unknown[]) => object)(...(args as unknown[])),
      );
      return undefined;
    case KIND_ACTOR_CALL: {
      const [actorId, method] = extra as [number, string];
      const instance = runtime.actor(actorId) as Record<string, unknown>;
      const member = instance[method];
      if (typeof member !== 'function') {
        throw new SkeinError(
          'SKEIN_POOL_ACTOR_METHOD',
          `The actor of class ${instance.constructor.name} has no method ${JSON.stringify(method)}`,
        );
      }
      return member.apply(instance, args as unknown[]);
    }
    case KIND_ACTOR_FREE: {
      const instance = runtime.removeActor(extra as number) as Record<symbol, unknown> | undefined;
      const asyncDispose = instance?.[Symbol.asyncDispose];
      if (typeof asyncDispose === 'function') return asyncDispose.call(instance);
      const dispose = instance?.[Symbol.dispose];
      if (typeof dispose === 'function') dispose.call(instance);
      return undefined;
    }
    default:
      throw new SkeinError('SKEIN_INTERNAL', `Unknown task kind ${kind}; this is a bug in Skein`);
  }
}

function mapChunk<T>(items: T[], call: (item: T) => unknown): unknown {
  const results = new Array<unknown>(items.length);
  let async = false;
  for (let i = 0; i < items.length; i++) {
    const value = call(items[i]!);
    if (!async && isThenable(value)) async = true;
    results[i] = value;
  }
  return async ? Promise.all(results) : results;
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return (
    value !== null &&
    (typeof value === 'object' || typeof value === 'function') &&
    typeof (value as { then?: unknown }).then === 'function'
  );
}

function holds(value: unknown, item: TransferListItem): boolean {
  if (value === item) return true;
  if (ArrayBuffer.isView(value)) return value.buffer === item;
  if (typeof value === 'object' && value !== null) {
    for (const inner of Object.values(value)) if (holds(inner, item)) return true;
  }
  return false;
}

async function load(spec: FunctionSpec): Promise<Loaded> {
  try {
    if (spec.type === 'inline') {
      const fn: unknown = new Function(`"use strict"; return (${spec.source});`)();
      if (typeof fn !== 'function') throw new TypeError('the source does not evaluate to a function');
      return { fn: fn as AnyFunction };
    }
    const namespace = (await import(spec.moduleUrl)) as Record<string, unknown>;
    const value = namespace[spec.exportName];
    if (typeof value !== 'function') {
      throw new SkeinError(
        'SKEIN_POOL_TASK_NOT_FOUND',
        `Module ${spec.moduleUrl} has no function export ${JSON.stringify(spec.exportName)}; export the task or actor under that name`,
      );
    }
    return { fn: (isTask(value) ? value.fn : value) as AnyFunction };
  } catch (error) {
    if (error instanceof SkeinError) return { error };
    const what = spec.type === 'inline' ? 'compile the inline function' : `import ${spec.moduleUrl}`;
    return {
      error: new SkeinError(
        'SKEIN_POOL_TASK_NOT_FOUND',
        `The worker could not ${what}: ${(error as Error)?.message ?? String(error)}; check the path and that the module loads on its own`,
        { cause: error },
      ),
    };
  }
}
