// skein/pool: thread and process executors behind one interface, plus concurrent.futures helpers.

export type {
  ActorProxy,
  CancelMode,
  Executor,
  ExecutorEvents,
  MapOptions,
  ReturnWhen,
  Runnable,
  RunOptions,
} from './executor.ts';
export type { AsCompletedOptions, WaitOptions, WaitResult } from './futures.ts';
export { asCompleted, wait } from './futures.ts';
export type { Initializer, PoolOptions, ResolvedPoolOptions, ResourceLimits } from './options.ts';
export { POOL_DEFAULTS, resolvePoolOptions } from './options.ts';
export { ProcessPool } from './process-pool.ts';
export type { HistogramSummary, PoolStats } from './stats.ts';
export { ThreadPool } from './thread-pool.ts';
export { transfer } from './transfer.ts';
