// The root `skein` entry: the task reference, errors and the version. Each layer is its own subpath
// (skein/pool, skein/trace, …) so importing one never loads another.

export type { ErrorCode, SkeinErrorOptions, WorkerCrashedErrorOptions } from './errors.ts';
export {
  AbortError,
  BrokenBarrierError,
  ChannelClosedError,
  ERROR_CODES,
  InvalidArgumentError,
  JobCancelledError,
  JobFailedError,
  OwnerDiedError,
  QueueEmptyError,
  QueueFullError,
  SkeinError,
  TimeoutError,
  WorkerCrashedError,
} from './errors.ts';
export type { ActorClass, Task, TaskContext, TaskOptions } from './task.ts';
export { actor, task, taskContext } from './task.ts';
export { version } from './version.ts';
