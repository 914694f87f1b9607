// skein/tasks: a distributed task queue over task references — TaskQueue (producers), Worker
// (consumers on a pool), Scheduler (periodic jobs), canvas (chain, group, chord) — on a Broker engine.

export { JobCancelledError, JobFailedError } from '../errors.ts';
export { backoffDelay, nextRetryAt } from './backoff.ts';
export type {
  Broker,
  BrokerEvent,
  ClaimRequest,
  Enqueued,
  FailOutcome,
  HeldAttempt,
  HeldStatus,
  JobRecord,
  JobState,
  Join,
  NewJob,
  QueueStats,
  RateLimit,
  Settled,
  SettleOutcome,
  StoredError,
} from './broker.ts';
export { JOB_STATES, NEWS_TYPES } from './broker.ts';
export type {
  Canvas,
  CanvasResult,
  ChainSignature,
  ChordSignature,
  GroupSignature,
  Signature,
} from './canvas.ts';
export {
  ChainResult,
  ChordResult,
  chain,
  chord,
  GroupResult,
  group,
  MAX_CANVAS_DEPTH,
  signature,
} from './canvas.ts';
export type { CronExpression } from './cron.ts';
export { nextCronTime, parseCron } from './cron.ts';
export type { JobInfo, ResultOptions } from './job.ts';
export { Job } from './job.ts';
export type {
  BackoffOptions,
  JobOptions,
  ResolvedBackoff,
  ResolvedJobOptions,
  WorkerTimingOptions,
} from './options.ts';
export {
  BACKOFF_DEFAULTS,
  DEFAULT_QUEUE,
  JOB_DEFAULTS,
  resolveBackoff,
  resolveJobOptions,
  WORKER_DEFAULTS,
} from './options.ts';
export type { BulkEntry, ListOptions, TaskQueueOptions } from './queue.ts';
export { TaskQueue } from './queue.ts';
export type { RedisBrokerOptions } from './redis/options.ts';
export { REDIS_BROKER_DEFAULTS } from './redis/options.ts';
export { RedisBroker } from './redis/redis-broker.ts';
export type { Schedule, SchedulerEvents, SchedulerOptions } from './scheduler.ts';
export { Scheduler } from './scheduler.ts';
export type { SqliteBrokerOptions, SqliteSynchronous } from './sqlite/options.ts';
export { SQLITE_BROKER_DEFAULTS } from './sqlite/options.ts';
export { SqliteBroker } from './sqlite/sqlite-broker.ts';
export type {
  ConcurrencyLimitRule,
  JobOutcome,
  RateLimitRule,
  WorkerEvents,
  WorkerOptions,
} from './worker.ts';
export { Worker } from './worker.ts';
