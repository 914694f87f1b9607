// Runs function calls: one warm pool per (bundle hash, isolation, memory limit) — a ThreadPool, or a
// ProcessPool for process isolation — made on the first call and closed after idleTimeout ms without
// one. A call for which that pool has no free worker goes to the agents when they have room
// (agent-calls.ts), so sync calls scale with the registered agents; a server that runs no function code
// itself (--no-local-agent) sends every call there. Each call has a wall-clock timeout from its start that terminates its thread or kills its
// process (cancelMode 'terminate'), and a heap limit when its function has one. Each function name runs
// at most `concurrency` calls at once; more wait in a FIFO queue of at most `queue` calls (a caller
// that leaves is taken out), and beyond that are refused at once (429). Task references are built from
// (bundle URL, export name) without importing the bundle here: only pool threads and processes load it.

import { AbortError, SkeinError, type WorkerCrashedError } from '../errors.ts';
import { type PoolOptions, ProcessPool, ThreadPool } from '../pool/index.ts';
import { type Task, task } from '../task.ts';
import { type AgentCalls, noAgent } from './agent-calls.ts';
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
  /** Run calls on this server's own warm pools; false sends every call to an agent. @defaultValue true */
  readonly local?: boolean;
  /** Where calls beyond the server's own workers go; without it every call runs on the server. */
  readonly agents?: AgentCalls;
  /**
   * How long a call sent to an agent may wait for one to start it before it fails as timed out (the
   * job is cancelled), in ms, on top of its timeout. @defaultValue 30000
   */
  readonly agentStartTimeout?: number;
}

/** A function to call: its name (for limits and messages), its bundle, export and chosen settings. */
export interface FunctionTarget {
  readonly name: string;
  readonly hash: string;
  readonly exportName: string;
  readonly url: string;
  readonly settings: FunctionSettings;
  /** The caller's tenant: a call run on an agent is a job of this tenant. */
  readonly tenant: string;
}

/** Where one call runs: the server's warm pool of its bundle, or an agent. */
export type CallPlacement = 'server' | 'agent';

/** Default of agentStartTimeout, in ms. */
const DEFAULT_AGENT_START_TIMEOUT_MS = 30_000;
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
  /** Calls running on the server's warm pools now, over all bundles. */
  #onServer = 0;
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
    try {
      if ((await this.#placement(target.name)) === 'agent') {
        try {
          return await this.#onAgent(target, settings, args, signal);
        } catch (error) {
          // Every agent left before one started it: a server with workers of its own runs it itself.
          const code = (error as { code?: unknown } | null)?.code;
          if (code !== 'SKEIN_CLOUD_NO_AGENT' || this.options.local === false || this.#closed) throw error;
        }
      }
      return await this.#onServerPool(target, settings, args, signal);
    } finally {
      this.#release(target.name, gate);
    }
  }

  /** Calls running on the server's warm pools now, and calls out on agents. */
  get running(): { server: number; agents: number } {
    return { server: this.#onServer, agents: this.options.agents?.outstanding ?? 0 };
  }

  /**
   * The server's pool while it has a free worker (its pools together run at most maxWorkers calls at
   * once), else an agent with room, else the server's pool again (the call waits for a worker there).
   * A server that runs no function code always answers 'agent', or refuses when no agent is live.
   */
  async #placement(name: string): Promise<CallPlacement> {
    const agents = this.options.agents;
    const local = this.options.local ?? true;
    if (local && (agents === undefined || this.#onServer < this.options.maxWorkers)) return 'server';
    if (agents === undefined) throw noAgent(name);
    const room = await agents.room({ beforeRefusal: !local });
    if (!local) {
      if (room.agents === 0) throw noAgent(name);
      return 'agent';
    }
    return room.free > 0 ? 'agent' : 'server';
  }

  async #onServerPool(
    target: FunctionTarget,
    settings: EffectiveFunctionSettings,
    args: unknown[],
    signal: AbortSignal | undefined,
  ): Promise<unknown> {
    const key = `${target.hash}/${settings.isolation}/${settings.memoryMb ?? ''}`;
    const warm = this.#warm(key, settings);
    warm.running += 1;
    this.#onServer += 1;
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
      this.#onServer -= 1;
      warm.running -= 1;
      if (warm.running === 0 && this.#pools.get(key) === warm) this.#scheduleIdle(key, warm);
    }
  }

  async #onAgent(
    target: FunctionTarget,
    settings: EffectiveFunctionSettings,
    args: unknown[],
    signal: AbortSignal | undefined,
  ): Promise<unknown> {
    try {
      return await this.options.agents!.run(
        {
          name: target.name,
          reference: this.jobTaskOf(target.url, target.exportName, target.settings),
          args,
          timeout: settings.timeout,
          tenant: target.tenant,
          ...(signal === undefined ? {} : { signal }),
        },
        this.options.agentStartTimeout ?? DEFAULT_AGENT_START_TIMEOUT_MS,
      );
    } catch (error) {
      // The job's own error is the attempt's: its timeout, its worker's crash, or what the function threw.
      const code = (error as { code?: unknown } | null)?.code;
      if (code === 'SKEIN_TASKS_JOB_FAILED')
        throw this.#wrap(target, settings, (error as Error).cause, 'agent');
      if (code === 'SKEIN_TIMEOUT') {
        throw new SkeinError(
          'SKEIN_CLOUD_FUNCTION_TIMEOUT',
          `function ${target.name} was sent to an agent and did not finish within its timeout of ${settings.timeout} ms plus ${this.options.agentStartTimeout ?? DEFAULT_AGENT_START_TIMEOUT_MS} ms to start; its job was cancelled (are the agents overloaded or gone? see skein agents)`,
          { cause: error as Error },
        );
      }
      if (code === 'SKEIN_TASKS_JOB_CANCELLED') throw closed();
      throw error;
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

  #wrap(
    target: FunctionTarget,
    settings: EffectiveFunctionSettings,
    error: unknown,
    where: CallPlacement = 'server',
  ): unknown {
    const code = (error as { code?: unknown } | null)?.code;
    const kind = settings.isolation === 'process' ? 'process was killed' : 'thread was terminated';
    const worker = where === 'agent' ? `${kind} on its agent` : kind;
    if (code === 'SKEIN_TIMEOUT') {
      return new SkeinError(
        'SKEIN_CLOUD_FUNCTION_TIMEOUT',
        `function ${target.name} ran longer than its timeout of ${settings.timeout} ms; its worker ${worker} (invoke it with --async, or deploy it with a larger --timeout)`,
        { cause: error },
      );
    }
    if (code === 'SKEIN_ABORTED') return error;
    if (where === 'server' && (code === 'SKEIN_POOL_CLOSED' || code === 'SKEIN_POOL_DESTROYED'))
      return closed();
    const outOfMemory =
      where === 'agent'
        ? agentOutOfMemoryMessage(error)
        : outOfMemoryMessage(`function ${target.name}`, settings, error, 'call');
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
 * The message of an attempt's error that an agent reported as out of memory (its outOfMemoryMessage:
 * the job's stored error keeps only name, message and code, so the message is what says it), else undefined.
 */
function agentOutOfMemoryMessage(error: unknown): string | undefined {
  if ((error as { code?: unknown } | null)?.code !== 'SKEIN_POOL_WORKER_CRASHED') return undefined;
  const message = (error as Error).message;
  return OUT_OF_MEMORY_REPORT.test(message) ? message : undefined;
}

/** What every outOfMemoryMessage says. */
const OUT_OF_MEMORY_REPORT = / ran out of memory \(its limit: [^)]+\); its worker /;

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
