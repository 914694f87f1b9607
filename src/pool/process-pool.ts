// ProcessPool: the executor on child processes. Everything but the worker factory lives in BasePool.

import type { PoolOptions } from './options.ts';
import { BasePool } from './pool-base.ts';
import { ProcessWorkerHandle } from './process-worker-handle.ts';

/**
 * Runs tasks in child Node processes: a crash, a native fault or memory exhaustion in a task never
 * harms this process. Arguments and results are copied with the V8 serializer.
 * @example
 * await using pool = new ProcessPool({ maxWorkers: 2, resourceLimits: { maxOldGenerationSizeMb: 256 } });
 * const n = await pool.run(fib, 30);
 * @throws SKEIN_POOL_INVALID_OPTION for an invalid option, naming it.
 */
export class ProcessPool extends BasePool {
  readonly kind = 'process' as const;

  constructor(options?: PoolOptions) {
    super(options, (spawn, hooks) => new ProcessWorkerHandle(spawn, hooks));
  }
}
