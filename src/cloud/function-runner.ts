// Runs function calls: one warm pool per (bundle hash, isolation, memory limit) — a ThreadPool, or a
// ProcessPool for process isolation — made on the first call and closed after idleTimeout ms without
// one. Each call has a wall-clock timeout from its start that terminates its thread or kills its
// process (cancelMode 'terminate'), and a heap limit when its function has one. Each function name runs
// at most `concurrency` calls at once; more wait in a FIFO queue of at most `queue` calls (a caller
// that leaves is taken out), and beyond that are refused at once (429). Task references are built from
// (bundle URL, export name) without importing the bundle here: only pool threads and processes load it.

import { AbortError, SkeinError, type WorkerCrashedError } from '../errors.ts';
import { type PoolOptions, ProcessPool, ThreadPool } from '../pool/index.ts';
import { type Task, task } from '../task.ts';
import { type FunctionLimits, functionUrl } from './api/agent-wire.ts';
import type { EffectiveFunctionSettings } from './api/schemas.ts';
import type { FunctionSettings } from './cloud-store.ts';

export interface FunctionRunnerOptions {
  /** Default wall-clock limit of a call from its start, in ms. */
  readonly timeout: number;
  /** Default calls one function name runs at once. */
  readonly concurrency: number;
  /** Default calls one function name keeps waiting beyond its concurrency. */
  readonly queue: number;
  /** How long a pool lives with no call running, in ms. */
  readonly idleTimeout: number;
  /** Threads (or processes) of one pool at most. */
  readonly maxWorkers: number;
}

/** A function to call: its name (for limits and messages), its bundle, export and chosen settings. */
export interface FunctionTarget {
  readonly name: string;
  readonly hash: string;
  readonly exportName: string;
  readonly url: string;
  readonly settings: FunctionSettings;
}

/** Seconds a refused caller is told to wait (Retry-After). */
const RETRY_AFTER_S = 1;
/** The exit code of a process ended by SIGABRT (128 + 6), as some platforms report it. */
const SIGABRT_EXIT_CODE = 134;

interface WarmPool {
  readonly pool: ThreadPool | ProcessPool;
  running: number;
  idle: NodeJS.Timeout | undefined;
}

/** A call waiting for a slot of its function. */
interface Waiter {
  readonly start: () => void;
  readonly fail: (error: unknown) => void;
}

/** The slots of one function name: calls running and calls waiting, oldest first. */
interface Gate {
  running: number;
  concurrency: number;
  readonly waiting: Waiter[];
}

function placeholder(): never {
  throw new Error('a deployed function ran in the server thread: this is a bug in Skein');
}

export class FunctionRunner {
  readonly options: FunctionRunnerOptions;
  readonly #pools = new Map<string, WarmPool>();
  readonly #gates = new Map<string, Gate>();
  readonly #tasks = new Map<string, Task<unknown[], unknown>>();
  #closed = false;

  constructor(options: FunctionRunnerOptions) {
    this.options = options;
  }

  /** A function's chosen settings over the server's defaults: what its calls run with. */
  effective(settings: FunctionSettings): EffectiveFunctionSettings {
    return {
      isolation: settings.isolation ?? 'thread',
      memoryMb: settings.memoryMb ?? null,
      timeout: settings.timeout ?? this.options.timeout,
      concurrency: settings.concurrency ?? this.options.concurrency,
      queue: settings.queue ?? this.options.queue,
    };
  }

  /** True while the bundle has a warm pool of any isolation (from its first call until idleTimeout ms after its last). */
  isWarm(hash: string): boolean {
    for (const key of this.#pools.keys()) if (key.startsWith(`${hash}/`)) return true;
    return false;
  }

  /** Calls of the function running now and waiting in its queue. */
  load(name: string): { running: number; waiting: number } {
    const gate = this.#gates.get(name);
    return { running: gate?.running ?? 0, waiting: gate?.waiting.length ?? 0 };
  }

  /** The task reference of (bundle, export): the same object for the same pair, never loaded here. */
  taskOf(url: string, exportName: string): Task<unknown[], unknown> {
    const key = `${url}#${exportName}`;
    let found = this.#tasks.get(key);
    if (found === undefined) {
      found = task({ url }, placeholder as (...args: unknown[]) => unknown, { name: exportName });
      this.#tasks.set(key, found);
    }
    return found;
  }

  /**
   * The task reference of an async call (a job) of a function with these settings: its bundle URL
   * carries the isolation and memory limit (functionUrl), so the agent runs the job on a pool with them.
   */
  jobTaskOf(url: string, exportName: string, settings: FunctionSettings): Task<unknown[], unknown> {
    const { isolation, memoryMb } = this.effective(settings);
    return this.taskOf(functionUrl(url, { isolation, memoryMb }), exportName);
  }

  /**
   * What an agent serves for one version: the reference of its async calls (jobTaskOf) and, when that
   * carries limits, the plain one too, for jobs stored before limits travelled with them.
   */
  versionTasks(
    url: string,
    version: { readonly exportName: string; readonly settings: FunctionSettings },
  ): Task<unknown[], unknown>[] {
    const plain = this.taskOf(url, version.exportName);
    const limited = this.jobTaskOf(url, version.exportName, version.settings);
    return limited === plain ? [plain] : [limited, plain];
  }

  /**
   * Runs one call and answers its result; waits for a slot first when the function is busy.
   * @throws SKEIN_CLOUD_FUNCTION_BUSY (with `retryAfter` in seconds), SKEIN_CLOUD_FUNCTION_TIMEOUT,
   * SKEIN_CLOUD_FUNCTION_OUT_OF_MEMORY, SKEIN_CLOUD_FUNCTION_FAILED (the function's error in `cause`),
   * SKEIN_ABORTED (the signal, while waiting or running), SKEIN_CLOUD_CLOSED
   */
  async invoke(target: FunctionTarget, args: unknown[], signal?: AbortSignal): Promise<unknown> {
    if (this.#closed) throw closed();
    const settings = this.effective(target.settings);
    const gate = await this.#acquire(target.name, settings, signal);
    if (this.#closed) {
      // Its slot came free while the server began to close: no new pool is made after close().
      this.#release(target.name, gate);
      throw closed();
    }
    const key = `${target.hash}/${settings.isolation}/${settings.memoryMb ?? ''}`;
    const warm = this.#warm(key, settings);
    warm.running += 1;
    clearTimeout(warm.idle);
    try {
      return await warm.pool.submit(this.taskOf(target.url, target.exportName), args, {
        // Counted by the pool from the moment the call starts in its worker, not while it waited.
        timeout: settings.timeout,
        cancelMode: 'terminate',
        ...(signal === undefined ? {} : { signal }),
      });
    } catch (error) {
      throw this.#wrap(target, settings, error);
    } finally {
      this.#release(target.name, gate);
      warm.running -= 1;
      if (warm.running === 0 && this.#pools.get(key) === warm) this.#scheduleIdle(key, warm);
    }
  }

  /** Takes a slot of the function now, or waits for one in its queue; refuses when the queue is full. */
  #acquire(name: string, settings: EffectiveFunctionSettings, signal?: AbortSignal): Promise<Gate> | Gate {
    let gate = this.#gates.get(name);
    if (gate === undefined) {
      gate = { running: 0, concurrency: settings.concurrency, waiting: [] };
      this.#gates.set(name, gate);
    }
    gate.concurrency = settings.concurrency;
    if (signal?.aborted === true) throw new AbortError('the caller left before the call started');
    if (gate.running < gate.concurrency && gate.waiting.length === 0) {
      gate.running += 1;
      return gate;
    }
    if (gate.waiting.length >= settings.queue) {
      const error = new SkeinError(
        'SKEIN_CLOUD_FUNCTION_BUSY',
        `function ${name} runs ${gate.running} calls (its concurrency ${settings.concurrency}) and ${gate.waiting.length} wait (its queue ${settings.queue}); retry after ${RETRY_AFTER_S} s`,
      );
      Object.defineProperty(error, 'retryAfter', { value: RETRY_AFTER_S, enumerable: true });
      throw error;
    }
    const held = gate;
    return new Promise<Gate>((resolve, reject) => {
      const onAbort = (): void => {
        const at = held.waiting.indexOf(waiter);
        if (at >= 0) held.waiting.splice(at, 1);
        this.#forget(name, held);
        reject(new AbortError('the caller left while the call waited in its queue'));
      };
      const waiter: Waiter = {
        start: () => {
          signal?.removeEventListener('abort', onAbort);
          resolve(held);
        },
        fail: (error) => {
          signal?.removeEventListener('abort', onAbort);
          reject(error);
        },
      };
      held.waiting.push(waiter);
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  }

  /** Frees a slot: the oldest waiting call takes it. */
  #release(name: string, gate: Gate): void {
    gate.running -= 1;
    while (gate.running < gate.concurrency && gate.waiting.length > 0) {
      gate.running += 1;
      gate.waiting.shift()!.start();
    }
    this.#forget(name, gate);
  }

  #forget(name: string, gate: Gate): void {
    if (gate.running === 0 && gate.waiting.length === 0 && this.#gates.get(name) === gate)
      this.#gates.delete(name);
  }

  #warm(key: string, settings: EffectiveFunctionSettings): WarmPool {
    let warm = this.#pools.get(key);
    if (warm === undefined) {
      const options = functionPoolOptions(settings, {
        maxWorkers: this.options.maxWorkers,
        idleTimeout: Math.max(1, this.options.idleTimeout),
        name: `skein-fn-${key.slice(0, 12)}-${settings.isolation}`,
      });
      warm = {
        pool: settings.isolation === 'process' ? new ProcessPool(options) : new ThreadPool(options),
        running: 0,
        idle: undefined,
      };
      this.#pools.set(key, warm);
    }
    return warm;
  }

  #scheduleIdle(key: string, warm: WarmPool): void {
    warm.idle = setTimeout(() => {
      if (warm.running > 0 || this.#pools.get(key) !== warm) return;
      this.#pools.delete(key);
      void warm.pool.close();
    }, this.options.idleTimeout);
    warm.idle.unref();
  }

  #wrap(target: FunctionTarget, settings: EffectiveFunctionSettings, error: unknown): unknown {
    const code = (error as { code?: unknown } | null)?.code;
    const worker = settings.isolation === 'process' ? 'process was killed' : 'thread was terminated';
    if (code === 'SKEIN_TIMEOUT') {
      return new SkeinError(
        'SKEIN_CLOUD_FUNCTION_TIMEOUT',
        `function ${target.name} ran longer than its timeout of ${settings.timeout} ms; its worker ${worker} (invoke it with --async, or deploy it with a larger --timeout)`,
        { cause: error },
      );
    }
    if (code === 'SKEIN_ABORTED') return error;
    if (code === 'SKEIN_POOL_CLOSED' || code === 'SKEIN_POOL_DESTROYED') return closed();
    const outOfMemory = outOfMemoryMessage(`function ${target.name}`, settings, error, 'call');
    if (outOfMemory !== undefined) {
      return new SkeinError('SKEIN_CLOUD_FUNCTION_OUT_OF_MEMORY', outOfMemory, { cause: error as Error });
    }
    const shown = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
    return new SkeinError('SKEIN_CLOUD_FUNCTION_FAILED', `function ${target.name} failed: ${shown}`, {
      cause: error instanceof Error ? error : new Error(String(error)),
    });
  }

  /** Refuses new calls, fails waiting ones and terminates every warm pool (running calls fail). Idempotent. */
  async close(): Promise<void> {
    this.#closed = true;
    for (const gate of this.#gates.values())
      for (const waiter of gate.waiting.splice(0)) waiter.fail(closed());
    const pools = [...this.#pools.values()];
    this.#pools.clear();
    for (const warm of pools) clearTimeout(warm.idle);
    await Promise.all(pools.map((warm) => warm.pool.destroy(closed())));
  }
}

/**
 * The options of a pool that runs function calls with these limits (a ThreadPool's, or a ProcessPool's
 * for process isolation, which gives its children --max-old-space-size from resourceLimits): no worker
 * before the first call, a timeout terminates the thread or kills the process, never a blocking wait.
 * Shared by the server's warm pools and the agents' pools for async calls (local-agent.ts).
 */
export function functionPoolOptions(
  limits: FunctionLimits,
  options: { readonly maxWorkers: number; readonly idleTimeout?: number; readonly name: string },
): PoolOptions {
  return {
    minWorkers: 0,
    maxWorkers: options.maxWorkers,
    ...(options.idleTimeout === undefined ? {} : { idleTimeout: options.idleTimeout }),
    cancelMode: 'terminate',
    // A server's thread has other requests to serve: never block it waiting for one call's result.
    blockingWaitTimeout: 0,
    name: options.name,
    ...(limits.memoryMb === null ? {} : { resourceLimits: { maxOldGenerationSizeMb: limits.memoryMb } }),
  };
}

/**
 * What to say when `error` is a pool's crash of a worker that ran out of its heap, else undefined.
 * `what` names the function, `next` what gets a fresh worker ('call', 'attempt').
 */
export function outOfMemoryMessage(
  what: string,
  limits: FunctionLimits,
  error: unknown,
  next: string,
): string | undefined {
  if ((error as { code?: unknown } | null)?.code !== 'SKEIN_POOL_WORKER_CRASHED') return undefined;
  if (!isOutOfMemory(error as WorkerCrashedError, limits)) return undefined;
  const limit = limits.memoryMb === null ? "Node's default heap limit" : `${limits.memoryMb} MiB`;
  return `${what} ran out of memory (its limit: ${limit}); its worker ${limits.isolation === 'process' ? 'process' : 'thread'} was stopped and the next ${next} gets a fresh one (use less memory per call, or deploy it with a larger --memory)`;
}

/**
 * A worker thread past its heap limit is stopped by Node with ERR_WORKER_OUT_OF_MEMORY; a process past
 * --max-old-space-size is ended by V8 with SIGABRT (which process.abort() gives too: it reads the same).
 */
function isOutOfMemory(error: WorkerCrashedError, limits: FunctionLimits): boolean {
  if ((error.cause as { code?: unknown } | undefined)?.code === 'ERR_WORKER_OUT_OF_MEMORY') return true;
  return (
    limits.isolation === 'process' && (error.signal === 'SIGABRT' || error.exitCode === SIGABRT_EXIT_CODE)
  );
}

function closed(): SkeinError {
  return new SkeinError('SKEIN_CLOUD_CLOSED', 'the server is shutting down; retry once it is up again');
}
