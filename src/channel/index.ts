// skein/channel: queues and pipes in shared memory for worker threads and the main thread, and select()
// over several of them. Objects made in one thread are passed to others (pool arguments, workerData via
// toHandle/fromHandle from skein/sync) and keep working on the same memory.

export type {
  PipeOptions,
  QueueOptions,
  QueueOrder,
  ResolvedPipeOptions,
  ResolvedQueueOptions,
} from './options.ts';
export { PIPE_DEFAULTS, QUEUE_DEFAULTS, resolvePipeOptions, resolveQueueOptions } from './options.ts';
export { Connection, Pipe } from './pipe.ts';
export type { ProcessPipeOptions } from './process-pipe.ts';
export { PROCESS_PIPE_DEFAULTS, ProcessConnection, ProcessPipe } from './process-pipe.ts';
export type {
  ProcessPutOptions,
  ProcessQueueOptions,
  ResolvedProcessQueueOptions,
} from './process-queue.ts';
export { PROCESS_QUEUE_DEFAULTS, ProcessQueue, resolveProcessQueueOptions } from './process-queue.ts';
export type { PutOptions } from './queue.ts';
export { LifoQueue, PriorityQueue, Queue } from './queue.ts';
export type {
  CaseValue,
  CheckedCases,
  GetCase,
  PutCase,
  RecvCase,
  SelectCase,
  SelectResult,
  SendCase,
} from './select.ts';
export { select } from './select.ts';
