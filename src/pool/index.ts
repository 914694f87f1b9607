// skein/pool: thread and process executors behind one interface, plus concurrent.futures helpers.

export { ThreadPool } from './thread-pool.ts';
export { ProcessPool } from './process-pool.ts';
export { asCompleted, wait } from './futures.ts';
export type { WaitOptions, WaitResult, AsCompletedOptions } from './futures.ts';
export { transfer } from './transfer.ts';
export { POOL_DEFAULTS, resolvePoolOptions } from './options.ts';
export type { Initializer, PoolOptions, ResolvedPoolOptions, ResourceLimits } from './options.ts';
export type {
  ActorProxy,
  CancelMode,
  Executor,
  ExecutorEvents,
  MapOptions,
  ReturnWhen,
  RunOptions,
  Runnable,
} from './executor.ts';
export type { HistogramSummary, PoolStats } from './stats.ts';
