// Pool options: one frozen table of defaults, one resolver that validates every field by its path.
// Both executors resolve through here so a bad option gets the same message from either.

import { availableParallelism } from 'node:os';
import { InvalidArgumentError } from '../errors.ts';
import { describe, isTask } from '../task.ts';
import type { CancelMode } from './executor.ts';

export interface ResourceLimits {
  /** Heap (old generation) ceiling in MiB; a worker going past it crashes with SKEIN_POOL_WORKER_CRASHED. */
  readonly maxOldGenerationSizeMb?: number;
  readonly maxYoungGenerationSizeMb?: number;
  readonly codeRangeSizeMb?: number;
  readonly stackSizeMb?: number;
}

export interface Initializer {
  /** A task reference (not an inline function) run once in every worker before its first task. */
  readonly task: object;
  readonly args?: readonly unknown[];
}

export interface PoolOptions {
  /** Workers kept alive when idle. @defaultValue 0 */
  readonly minWorkers?: number;
  /** Upper bound on workers. @defaultValue os.availableParallelism() */
  readonly maxWorkers?: number;
  /** Milliseconds an idle worker above minWorkers lives. @defaultValue 30000 */
  readonly idleTimeout?: number;
  /** Tasks waiting for a worker before run() rejects with SKEIN_POOL_QUEUE_FULL. @defaultValue Infinity */
  readonly maxQueue?: number;
  /** Per-worker memory limits. */
  readonly resourceLimits?: ResourceLimits;
  /** Environment for the workers. @defaultValue process.env */
  readonly env?: Readonly<Record<string, string>>;
  /** Extra Node flags for the workers. @defaultValue [] */
  readonly execArgv?: readonly string[];
  /** Replace a worker after it ran this many tasks. @defaultValue Infinity */
  readonly maxTasksPerWorker?: number;
  /** Replace a worker whose used heap is above this many bytes after a task. @defaultValue Infinity */
  readonly maxHeapUsedBytes?: number;
  /** Run once in every new worker before it takes tasks. */
  readonly initializer?: Initializer;
  /** How a running task is stopped on cancel or timeout. @defaultValue 'signal' */
  readonly cancelMode?: CancelMode;
  /** Default per-task timeout in milliseconds, counted from the task's start. @defaultValue Infinity */
  readonly taskTimeout?: number;
  /** Milliseconds [Symbol.asyncDispose] waits for close() before destroy(). @defaultValue 30000 */
  readonly closeTimeout?: number;
  /** Record spans (queued, start, end, worker lifetime) for pool.spans() and traces. @defaultValue false */
  readonly trace?: boolean;
  /**
   * Milliseconds the calling thread may block for the result of a lone short task (threads only)
   * instead of returning to the event loop, which saves about 10 µs a round trip. Used only while one
   * task is in flight and tasks have been finishing well within it; at most 1 ms per event-loop turn,
   * so I/O is never held up longer. 0 disables. @defaultValue 0.05
   */
  readonly blockingWaitTimeout?: number;
  /** Name shown in worker thread names and traces. @defaultValue 'skein' */
  readonly name?: string;
}

export interface ResolvedPoolOptions {
  readonly minWorkers: number;
  readonly maxWorkers: number;
  readonly idleTimeout: number;
  readonly maxQueue: number;
  readonly resourceLimits: ResourceLimits;
  readonly env: Readonly<Record<string, string>> | undefined;
  readonly execArgv: readonly string[];
  readonly maxTasksPerWorker: number;
  readonly maxHeapUsedBytes: number;
  readonly initializer: Initializer | undefined;
  readonly cancelMode: CancelMode;
  readonly taskTimeout: number;
  readonly closeTimeout: number;
  readonly trace: boolean;
  readonly blockingWaitTimeout: number;
  readonly name: string;
}

/** Defaults as plain data; maxWorkers is filled from the machine at resolve time. */
export const POOL_DEFAULTS = Object.freeze({
  minWorkers: 0,
  idleTimeout: 30_000, // ms
  maxQueue: Number.POSITIVE_INFINITY,
  maxTasksPerWorker: Number.POSITIVE_INFINITY,
  maxHeapUsedBytes: Number.POSITIVE_INFINITY,
  cancelMode: 'signal' as CancelMode,
  taskTimeout: Number.POSITIVE_INFINITY, // ms
  closeTimeout: 30_000, // ms
  trace: false,
  blockingWaitTimeout: 0.05, // ms
  name: 'skein',
});

function fail(path: string, rule: string, value: unknown, wayOut: string): never {
  throw new InvalidArgumentError(
    'SKEIN_POOL_INVALID_OPTION',
    `${path} must be ${rule} (got ${describe(value)}); ${wayOut}`,
  );
}

export function checkInteger(
  path: string,
  value: unknown,
  min: number,
  wayOut: string,
  allowInfinity = false,
): number {
  if (allowInfinity && value === Number.POSITIVE_INFINITY) return value;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min) {
    fail(path, `an integer >= ${min}${allowInfinity ? ' or Infinity' : ''}`, value, wayOut);
  }
  return value;
}

export function checkDuration(path: string, value: unknown, wayOut: string): number {
  if (typeof value !== 'number' || Number.isNaN(value) || value < 0) {
    fail(path, 'a number of milliseconds >= 0 (or Infinity)', value, wayOut);
  }
  return value;
}

export function checkCancelMode(path: string, value: unknown): CancelMode {
  if (value !== 'signal' && value !== 'terminate')
    fail(path, "'signal' or 'terminate'", value, "omit it for 'signal'");
  return value;
}

/**
 * Merges options over the defaults, validates each (naming its path) and freezes the result.
 * @throws SKEIN_POOL_INVALID_OPTION naming the first bad field.
 */
export function resolvePoolOptions(options: PoolOptions = {}): ResolvedPoolOptions {
  if (typeof options !== 'object' || options === null)
    fail('options', 'an object', options, 'pass {} or omit it');
  const maxWorkers = checkInteger(
    'maxWorkers',
    options.maxWorkers ?? availableParallelism(),
    1,
    'omit it to use os.availableParallelism()',
  );
  const minWorkers = checkInteger(
    'minWorkers',
    options.minWorkers ?? POOL_DEFAULTS.minWorkers,
    0,
    'omit it for 0',
  );
  if (minWorkers > maxWorkers)
    fail('minWorkers', `<= maxWorkers (${maxWorkers})`, minWorkers, 'lower it or raise maxWorkers');
  const limits = options.resourceLimits ?? {};
  if (typeof limits !== 'object' || limits === null || Array.isArray(limits))
    fail('resourceLimits', 'an object', limits, 'omit it for no limits');
  for (const key of Object.keys(limits)) {
    if (
      !['maxOldGenerationSizeMb', 'maxYoungGenerationSizeMb', 'codeRangeSizeMb', 'stackSizeMb'].includes(key)
    ) {
      fail(
        `resourceLimits.${key}`,
        'a known limit',
        key,
        'use maxOldGenerationSizeMb, maxYoungGenerationSizeMb, codeRangeSizeMb or stackSizeMb',
      );
    }
    const value = (limits as Record<string, unknown>)[key];
    if (typeof value !== 'number' || !(value > 0))
      fail(`resourceLimits.${key}`, 'a number of MiB > 0', value, 'omit it for no limit');
  }
  const env = options.env;
  if (env !== undefined) {
    if (typeof env !== 'object' || env === null)
      fail('env', 'an object of strings', env, 'omit it to inherit process.env');
    for (const [key, value] of Object.entries(env)) {
      if (typeof value !== 'string') fail(`env.${key}`, 'a string', value, 'convert it with String()');
    }
  }
  const execArgv = options.execArgv ?? [];
  if (!Array.isArray(execArgv) || execArgv.some((arg) => typeof arg !== 'string')) {
    fail('execArgv', 'an array of strings', execArgv, 'omit it for none');
  }
  const initializer = options.initializer;
  if (initializer !== undefined) {
    if (typeof initializer !== 'object' || initializer === null || !isTask(initializer.task)) {
      fail(
        'initializer',
        'an object { task, args? } whose task is a task() reference',
        initializer,
        'define the initializer with task(import.meta, fn)',
      );
    }
    if (initializer.args !== undefined && !Array.isArray(initializer.args)) {
      fail('initializer.args', 'an array', initializer.args, 'omit it for no arguments');
    }
  }
  const name = options.name ?? POOL_DEFAULTS.name;
  if (typeof name !== 'string' || name === '')
    fail('name', 'a non-empty string', name, "omit it for 'skein'");
  const trace = options.trace ?? POOL_DEFAULTS.trace;
  if (typeof trace !== 'boolean') fail('trace', 'a boolean', trace, 'omit it for false');
  return Object.freeze({
    minWorkers,
    maxWorkers,
    idleTimeout: checkDuration(
      'idleTimeout',
      options.idleTimeout ?? POOL_DEFAULTS.idleTimeout,
      'omit it for 30000',
    ),
    maxQueue: checkInteger(
      'maxQueue',
      options.maxQueue ?? POOL_DEFAULTS.maxQueue,
      0,
      'omit it for no limit',
      true,
    ),
    resourceLimits: Object.freeze({ ...limits }),
    env: env === undefined ? undefined : Object.freeze({ ...env }),
    execArgv: Object.freeze([...execArgv]),
    maxTasksPerWorker: checkInteger(
      'maxTasksPerWorker',
      options.maxTasksPerWorker ?? POOL_DEFAULTS.maxTasksPerWorker,
      1,
      'omit it to never recycle',
      true,
    ),
    maxHeapUsedBytes: checkInteger(
      'maxHeapUsedBytes',
      options.maxHeapUsedBytes ?? POOL_DEFAULTS.maxHeapUsedBytes,
      1,
      'omit it to never recycle',
      true,
    ),
    initializer,
    cancelMode: checkCancelMode('cancelMode', options.cancelMode ?? POOL_DEFAULTS.cancelMode),
    taskTimeout: checkDuration(
      'taskTimeout',
      options.taskTimeout ?? POOL_DEFAULTS.taskTimeout,
      'omit it for no timeout',
    ),
    closeTimeout: checkDuration(
      'closeTimeout',
      options.closeTimeout ?? POOL_DEFAULTS.closeTimeout,
      'omit it for 30000',
    ),
    trace,
    blockingWaitTimeout: checkDuration(
      'blockingWaitTimeout',
      options.blockingWaitTimeout ?? POOL_DEFAULTS.blockingWaitTimeout,
      'omit it for 0.05, or pass 0 to never block',
    ),
    name,
  });
}
