// Task-queue options: frozen tables of defaults and resolvers that validate every field by its path.
// Every job, queue, worker and scheduler option is resolved here once, so a bad value gets the same
// SKEIN_TASKS_INVALID_OPTION message from every entry point and the rest of the layer trusts its input.

import { availableParallelism } from 'node:os';
import { InvalidArgumentError } from '../errors.ts';
import { describe } from '../task.ts';

/** How long to wait before retrying a failed attempt. */
export interface BackoffOptions {
  /** 'fixed': always `delay`; 'exponential': `delay × 2^(failures − 1)`. @defaultValue 'exponential' */
  readonly type?: 'fixed' | 'exponential';
  /** Base delay in milliseconds. @defaultValue 1000 */
  readonly delay?: number;
  /** Cap on the delay in milliseconds. @defaultValue 600000 */
  readonly maxDelay?: number;
  /**
   * 'none': the computed delay; 'full': uniform in [0, delay]; 'equal': uniform in [delay/2, delay]
   * (spreads retries of jobs that failed together). @defaultValue 'full'
   */
  readonly jitter?: 'none' | 'full' | 'equal';
}

export type ResolvedBackoff = Required<BackoffOptions>;

export const BACKOFF_DEFAULTS: ResolvedBackoff = Object.freeze({
  type: 'exponential',
  delay: 1000, // ms
  maxDelay: 600_000, // ms
  jitter: 'full',
});

/** Options of one job (`queue.submit(task, args, options)`); every field optional. */
export interface JobOptions {
  /** Milliseconds to wait before the job may run. Exclusive with `eta`. @defaultValue 0 */
  readonly delay?: number;
  /** The earliest time the job may run (a Date or epoch milliseconds). Exclusive with `delay`. */
  readonly eta?: Date | number;
  /** Higher runs first among runnable jobs of a queue; FIFO among equals (as in pools). @defaultValue 0 */
  readonly priority?: number;
  /**
   * Attempts in all, the first included. An attempt also ends when its worker dies (its lease runs
   * out), so 1 means a job whose worker is killed is dead-lettered rather than redelivered. @defaultValue 3
   */
  readonly attempts?: number;
  /** When to retry a failed attempt. */
  readonly backoff?: BackoffOptions;
  /** Milliseconds one attempt may run before it fails with SKEIN_TIMEOUT. @defaultValue Infinity */
  readonly timeLimit?: number;
  /** A second enqueue with the same key in the same queue returns the first job. */
  readonly idempotencyKey?: string;
  /** Rate-limit group shared by jobs of different tasks (see the worker's `rateLimits`). */
  readonly group?: string;
  /** Milliseconds a finished job (and its result or error) is kept. @defaultValue 86400000 */
  readonly resultTtl?: number;
  /** After the last failed attempt: true keeps the job as `dead`, false ends it `failed`. @defaultValue true */
  readonly deadLetter?: boolean;
}

export interface ResolvedJobOptions {
  /** Epoch ms before which the job must not run. */
  readonly runAt: number;
  readonly priority: number;
  readonly attempts: number;
  readonly backoff: ResolvedBackoff;
  readonly timeLimit: number;
  readonly idempotencyKey: string | null;
  readonly group: string | null;
  readonly resultTtl: number;
  readonly deadLetter: boolean;
}

export const JOB_DEFAULTS = Object.freeze({
  delay: 0, // ms
  priority: 0,
  attempts: 3,
  timeLimit: Number.POSITIVE_INFINITY, // ms
  resultTtl: 86_400_000, // ms: one day, like Celery's result_expires
  deadLetter: true,
});

/** The queue a TaskQueue, Worker or Scheduler uses when none is named. */
export const DEFAULT_QUEUE = 'default';

const MAX_NAME_LENGTH = 200;
const MAX_KEY_LENGTH = 512;
// Priorities are stored negated (the broker runs lower first), so both ends must stay exact integers.
const MAX_PRIORITY = 1_000_000;

export function invalidOption(
  path: string,
  rule: string,
  value: unknown,
  wayOut?: string,
): InvalidArgumentError {
  return new InvalidArgumentError(
    'SKEIN_TASKS_INVALID_OPTION',
    `${path} must be ${rule} (got ${describe(value)})${wayOut === undefined ? '' : `; ${wayOut}`}`,
  );
}

export function checkInteger(
  path: string,
  value: unknown,
  min: number,
  max = Number.MAX_SAFE_INTEGER,
): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw invalidOption(
      path,
      max === Number.MAX_SAFE_INTEGER ? `an integer >= ${min}` : `an integer in ${min}..${max}`,
      value,
    );
  }
  return value;
}

/** A duration in ms: a finite number >= min, or Infinity when allowed. */
/** The longest delay a Node timer keeps (a longer one fires after 1 ms): the cap of durations that become timers. */
export const MAX_TIMER_MS = 2 ** 31 - 1;
/** The largest epoch milliseconds a Date holds: the cap of delays and times that are stored, not timed. */
export const MAX_DATE_MS = 8.64e15;

/**
 * A duration in ms in [min, max] (or Infinity when allowed). `max` defaults to MAX_TIMER_MS because most
 * durations end up in a setTimeout, where a longer one would fire at once.
 */
export function checkDuration(
  path: string,
  value: unknown,
  min: number,
  allowInfinity = false,
  max = MAX_TIMER_MS,
): number {
  const ok =
    typeof value === 'number' &&
    !Number.isNaN(value) &&
    value >= min &&
    (value <= max || (allowInfinity && value === Number.POSITIVE_INFINITY));
  if (!ok) {
    throw invalidOption(
      path,
      `a number of milliseconds in ${min}..${max}${max === MAX_TIMER_MS ? ' (the longest Node timer, about 24.8 days)' : ''}${allowInfinity ? ', or Infinity' : ''}`,
      value,
    );
  }
  return value;
}

function hasControlCharacter(text: string): boolean {
  for (let i = 0; i < text.length; i++) if (text.charCodeAt(i) < 0x20) return true;
  return false;
}

export function checkName(path: string, value: unknown, maxLength = MAX_NAME_LENGTH): string {
  if (typeof value !== 'string' || value === '' || value.length > maxLength || hasControlCharacter(value)) {
    throw invalidOption(
      path,
      `a non-empty string of at most ${maxLength} characters without control characters`,
      value,
    );
  }
  return value;
}

export function checkObject(path: string, value: unknown): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw invalidOption(path, 'an object', value);
  }
  return value as Record<string, unknown>;
}

function checkKnownKeys(path: string, value: Record<string, unknown>, known: readonly string[]): void {
  for (const key of Object.keys(value)) {
    if (!known.includes(key)) {
      throw new InvalidArgumentError(
        'SKEIN_TASKS_INVALID_OPTION',
        `${path === '' ? '' : `${path}.`}${key} is not an option; the options are ${known.join(', ')}`,
      );
    }
  }
}

export function resolveBackoff(options: unknown = {}, path = 'backoff'): ResolvedBackoff {
  const given = checkObject(path, options);
  checkKnownKeys(path, given, ['type', 'delay', 'maxDelay', 'jitter']);
  const type = given.type ?? BACKOFF_DEFAULTS.type;
  if (type !== 'fixed' && type !== 'exponential') {
    throw invalidOption(`${path}.type`, "'fixed' or 'exponential'", type);
  }
  const jitter = given.jitter ?? BACKOFF_DEFAULTS.jitter;
  if (jitter !== 'none' && jitter !== 'full' && jitter !== 'equal') {
    throw invalidOption(`${path}.jitter`, "'none', 'full' or 'equal'", jitter);
  }
  const delay = checkDuration(`${path}.delay`, given.delay ?? BACKOFF_DEFAULTS.delay, 0, false, MAX_DATE_MS);
  const maxDelay = checkDuration(
    `${path}.maxDelay`,
    given.maxDelay ?? BACKOFF_DEFAULTS.maxDelay,
    0,
    false,
    MAX_DATE_MS,
  );
  if (maxDelay < delay) {
    throw invalidOption(`${path}.maxDelay`, `>= ${path}.delay (${delay})`, maxDelay);
  }
  return Object.freeze({ type, delay, maxDelay, jitter });
}

const JOB_KEYS = [
  'delay',
  'eta',
  'priority',
  'attempts',
  'backoff',
  'timeLimit',
  'idempotencyKey',
  'group',
  'resultTtl',
  'deadLetter',
] as const;

/**
 * Merges job options over the defaults (and over the queue's own defaults), validates each field by
 * its path and freezes the result.
 * @throws SKEIN_TASKS_INVALID_OPTION naming the first bad field.
 */
export function resolveJobOptions(
  options: JobOptions = {},
  now: number = Date.now(),
  path = 'options',
): ResolvedJobOptions {
  const given = checkObject(path, options);
  checkKnownKeys(path, given, JOB_KEYS);
  const at = (key: string): string => `${path}.${key}`;
  if (given.delay !== undefined && given.eta !== undefined) {
    throw new InvalidArgumentError(
      'SKEIN_TASKS_INVALID_OPTION',
      `${at('delay')} and ${at('eta')} are exclusive (got both); give one`,
    );
  }
  let runAt =
    now + checkDuration(at('delay'), given.delay ?? JOB_DEFAULTS.delay, 0, false, MAX_DATE_MS - now);
  if (given.eta !== undefined) {
    const eta = given.eta instanceof Date ? given.eta.getTime() : given.eta;
    if (typeof eta !== 'number' || !(Math.abs(eta) <= MAX_DATE_MS)) {
      throw invalidOption(at('eta'), 'a valid Date or epoch milliseconds', given.eta);
    }
    runAt = eta;
  }
  const priority = checkInteger(
    at('priority'),
    given.priority ?? JOB_DEFAULTS.priority,
    -MAX_PRIORITY,
    MAX_PRIORITY,
  );
  const attempts = checkInteger(at('attempts'), given.attempts ?? JOB_DEFAULTS.attempts, 1);
  const backoff = resolveBackoff(given.backoff ?? {}, at('backoff'));
  const timeLimit = checkDuration(at('timeLimit'), given.timeLimit ?? JOB_DEFAULTS.timeLimit, 1, true);
  const idempotencyKey =
    given.idempotencyKey === undefined
      ? null
      : checkName(at('idempotencyKey'), given.idempotencyKey, MAX_KEY_LENGTH);
  const group = given.group === undefined ? null : checkName(at('group'), given.group);
  const resultTtl = checkDuration(
    at('resultTtl'),
    given.resultTtl ?? JOB_DEFAULTS.resultTtl,
    0,
    false,
    MAX_DATE_MS,
  );
  const deadLetter = given.deadLetter ?? JOB_DEFAULTS.deadLetter;
  if (typeof deadLetter !== 'boolean') throw invalidOption(at('deadLetter'), 'a boolean', deadLetter);
  return Object.freeze({
    runAt,
    priority,
    attempts,
    backoff,
    timeLimit,
    idempotencyKey,
    group,
    resultTtl,
    deadLetter,
  });
}

/** Validates a queue name. @throws SKEIN_TASKS_INVALID_OPTION */
export function resolveQueueName(name: unknown = DEFAULT_QUEUE, path = 'name'): string {
  return checkName(path, name);
}

/** Options of a Worker besides its broker, tasks and pool. */
export interface WorkerTimingOptions {
  /** Jobs run at once by this worker. @defaultValue os.availableParallelism() */
  readonly concurrency?: number;
  /**
   * Most jobs this worker claims beyond `concurrency`, so that a job starts the moment a slot frees
   * instead of one store round trip later (Celery's prefetch). The worker holds only as many as its
   * jobs finish within about one round trip, measured as it goes: none for jobs much longer than a
   * round trip, which stay in the queue for other workers; and a job held for `pollInterval` without a
   * free slot goes back to the queue. 0 turns it off. @defaultValue max(256, 4 × concurrency)
   */
  readonly prefetch?: number;
  /** Milliseconds a claimed job stays this worker's without an extension; extended every third of it. @defaultValue 30000 */
  readonly leaseTimeout?: number;
  /** Milliseconds between claims while idle, and between checks for cancelled running jobs. @defaultValue 250 */
  readonly pollInterval?: number;
  /** Milliseconds between heartbeats. @defaultValue 5000 */
  readonly heartbeatInterval?: number;
  /** Milliseconds between sweeps for expired leases and expired results. @defaultValue 5000 */
  readonly recoverInterval?: number;
  /** Minimum milliseconds between two progress writes of one job (the last value is always written). @defaultValue 100 */
  readonly progressInterval?: number;
  /** Milliseconds close() lets running jobs finish before it gives them back. @defaultValue 30000 */
  readonly closeTimeout?: number;
}

export const WORKER_DEFAULTS = Object.freeze({
  leaseTimeout: 30_000, // ms
  pollInterval: 250, // ms
  heartbeatInterval: 5_000, // ms
  recoverInterval: 5_000, // ms
  progressInterval: 100, // ms
  closeTimeout: 30_000, // ms
});

export interface ResolvedWorkerTiming {
  readonly concurrency: number;
  readonly prefetch: number;
  readonly leaseTimeout: number;
  readonly pollInterval: number;
  readonly heartbeatInterval: number;
  readonly recoverInterval: number;
  readonly progressInterval: number;
  readonly closeTimeout: number;
}

export function resolveWorkerTiming(options: WorkerTimingOptions): ResolvedWorkerTiming {
  const concurrency = checkInteger('concurrency', options.concurrency ?? availableParallelism(), 1, 10_000);
  return Object.freeze({
    concurrency,
    prefetch: checkInteger('prefetch', options.prefetch ?? Math.max(256, 4 * concurrency), 0, 40_000),
    leaseTimeout: checkDuration('leaseTimeout', options.leaseTimeout ?? WORKER_DEFAULTS.leaseTimeout, 30),
    pollInterval: checkDuration('pollInterval', options.pollInterval ?? WORKER_DEFAULTS.pollInterval, 1),
    heartbeatInterval: checkDuration(
      'heartbeatInterval',
      options.heartbeatInterval ?? WORKER_DEFAULTS.heartbeatInterval,
      1,
    ),
    recoverInterval: checkDuration(
      'recoverInterval',
      options.recoverInterval ?? WORKER_DEFAULTS.recoverInterval,
      1,
    ),
    progressInterval: checkDuration(
      'progressInterval',
      options.progressInterval ?? WORKER_DEFAULTS.progressInterval,
      0,
    ),
    closeTimeout: checkDuration(
      'closeTimeout',
      options.closeTimeout ?? WORKER_DEFAULTS.closeTimeout,
      0,
      true,
    ),
  });
}
