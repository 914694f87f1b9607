// Runs function calls: one warm ThreadPool per bundle hash, made on the first call and closed after
// functionIdleTimeout ms without one. Each call has a wall-clock timeout that terminates its worker
// thread (cancelMode 'terminate'), and each function name runs at most functionConcurrency calls at
// once: a call beyond that is refused at once (429), never queued. Task references are built from
// (bundle URL, export name) without importing the bundle here: only pool threads load it.

import { SkeinError } from '../errors.ts';
import { ThreadPool } from '../pool/index.ts';
import { type Task, task } from '../task.ts';

export interface FunctionRunnerOptions {
  /** Wall-clock limit of a call, in ms. */
  readonly timeout: number;
  /** Calls one function name runs at once. */
  readonly concurrency: number;
  /** How long a bundle's pool lives with no call running, in ms. */
  readonly idleTimeout: number;
  /** Threads of one bundle's pool at most. */
  readonly maxWorkers: number;
}

/** A function to call: its name (for limits and messages), its bundle and export. */
export interface FunctionTarget {
  readonly name: string;
  readonly hash: string;
  readonly exportName: string;
  readonly url: string;
}

/** Seconds a refused caller is told to wait (Retry-After). */
const RETRY_AFTER_S = 1;

interface WarmPool {
  readonly pool: ThreadPool;
  running: number;
  idle: NodeJS.Timeout | undefined;
}

function placeholder(): never {
  throw new Error('a deployed function ran in the server thread: this is a bug in Skein');
}

export class FunctionRunner {
  readonly options: FunctionRunnerOptions;
  readonly #pools = new Map<string, WarmPool>();
  readonly #running = new Map<string, number>();
  readonly #tasks = new Map<string, Task<unknown[], unknown>>();
  #closed = false;

  constructor(options: FunctionRunnerOptions) {
    this.options = options;
  }

  /** True while the bundle has a warm pool (from its first call until functionIdleTimeout ms after its last). */
  isWarm(hash: string): boolean {
    return this.#pools.has(hash);
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
   * Runs one call and answers its result.
   * @throws SKEIN_CLOUD_FUNCTION_BUSY (with `retryAfter` in seconds), SKEIN_CLOUD_FUNCTION_TIMEOUT,
   * SKEIN_CLOUD_FUNCTION_FAILED (the function's error in `cause`), SKEIN_CLOUD_CLOSED
   */
  async invoke(target: FunctionTarget, args: unknown[], signal?: AbortSignal): Promise<unknown> {
    if (this.#closed) throw closed();
    const running = this.#running.get(target.name) ?? 0;
    if (running >= this.options.concurrency) {
      const error = new SkeinError(
        'SKEIN_CLOUD_FUNCTION_BUSY',
        `function ${target.name} runs ${running} calls, its limit (--function-concurrency ${this.options.concurrency}); retry after ${RETRY_AFTER_S} s`,
      );
      Object.defineProperty(error, 'retryAfter', { value: RETRY_AFTER_S, enumerable: true });
      throw error;
    }
    this.#running.set(target.name, running + 1);
    const warm = this.#warm(target.hash);
    warm.running += 1;
    clearTimeout(warm.idle);
    try {
      return await warm.pool.submit(this.taskOf(target.url, target.exportName), args, {
        timeout: this.options.timeout,
        cancelMode: 'terminate',
        ...(signal === undefined ? {} : { signal }),
      });
    } catch (error) {
      throw this.#wrap(target, error);
    } finally {
      const left = (this.#running.get(target.name) ?? 1) - 1;
      if (left === 0) this.#running.delete(target.name);
      else this.#running.set(target.name, left);
      warm.running -= 1;
      if (warm.running === 0 && this.#pools.get(target.hash) === warm) this.#scheduleIdle(target.hash, warm);
    }
  }

  #warm(hash: string): WarmPool {
    let warm = this.#pools.get(hash);
    if (warm === undefined) {
      warm = {
        pool: new ThreadPool({
          minWorkers: 0,
          maxWorkers: this.options.maxWorkers,
          idleTimeout: Math.max(1, this.options.idleTimeout),
          cancelMode: 'terminate',
          name: `skein-fn-${hash.slice(0, 12)}`,
        }),
        running: 0,
        idle: undefined,
      };
      this.#pools.set(hash, warm);
    }
    return warm;
  }

  #scheduleIdle(hash: string, warm: WarmPool): void {
    warm.idle = setTimeout(() => {
      if (warm.running > 0 || this.#pools.get(hash) !== warm) return;
      this.#pools.delete(hash);
      void warm.pool.close();
    }, this.options.idleTimeout);
    warm.idle.unref();
  }

  #wrap(target: FunctionTarget, error: unknown): unknown {
    const code = (error as { code?: unknown } | null)?.code;
    if (code === 'SKEIN_TIMEOUT') {
      return new SkeinError(
        'SKEIN_CLOUD_FUNCTION_TIMEOUT',
        `function ${target.name} ran longer than its timeout of ${this.options.timeout} ms; its worker thread was terminated (invoke it with --async, or raise --function-timeout)`,
        { cause: error },
      );
    }
    if (code === 'SKEIN_ABORTED') return error;
    if (code === 'SKEIN_POOL_CLOSED' || code === 'SKEIN_POOL_DESTROYED') return closed();
    const shown = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
    return new SkeinError('SKEIN_CLOUD_FUNCTION_FAILED', `function ${target.name} failed: ${shown}`, {
      cause: error instanceof Error ? error : new Error(String(error)),
    });
  }

  /** Refuses new calls and terminates every warm pool (running calls fail). Idempotent. */
  async close(): Promise<void> {
    this.#closed = true;
    const pools = [...this.#pools.values()];
    this.#pools.clear();
    for (const warm of pools) clearTimeout(warm.idle);
    await Promise.all(pools.map((warm) => warm.pool.destroy(closed())));
  }
}

function closed(): SkeinError {
  return new SkeinError('SKEIN_CLOUD_CLOSED', 'the server is shutting down; retry once it is up again');
}
