// ThreadPool: the executor on worker_threads. Everything but the worker factory lives in BasePool.

import type { PoolOptions } from './options.ts';
import { BasePool } from './pool-base.ts';
import { ThreadWorkerHandle } from './thread-worker-handle.ts';

/**
 * Runs tasks on worker threads. Arguments and results are structured-cloned; listed ArrayBuffers move.
 * @example
 * await using pool = new ThreadPool({ maxWorkers: 4 });
 * const n = await pool.run(fib, 30);
 * @throws SKEIN_POOL_INVALID_OPTION for an invalid option, naming it.
 */
export class ThreadPool extends BasePool {
  readonly kind = 'thread' as const;

  constructor(options?: PoolOptions) {
    super(options, (spawn, hooks) => new ThreadWorkerHandle(spawn, hooks));
  }
}
