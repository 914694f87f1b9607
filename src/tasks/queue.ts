// The producer side: TaskQueue turns a task reference and its arguments into a stored job, validated
// and encoded before anything is written, and hands out Job handles. It keeps no state of its own
// besides its name and whether it was closed: every job lives in the broker.

import { InvalidArgumentError, SkeinError } from '../errors.ts';
import { describe, isTask, rememberExportName, resolveExportName, type Task } from '../task.ts';
import type { Broker, BrokerEvent, JobState, NewJob, QueueStats } from './broker.ts';
import { JOB_STATES } from './broker.ts';
import { infoOf, Job, type JobInfo } from './job.ts';
import { newJobId } from './job-id.ts';
import {
  BACKOFF_DEFAULTS,
  checkInteger,
  checkObject,
  type JobOptions,
  type ResolvedJobOptions,
  resolveJobOptions,
  resolveQueueName,
} from './options.ts';
import { encodeArgs } from './payload.ts';
import { encodePlan, type JobPlan } from './plan.ts';

export interface TaskQueueOptions {
  /** The store of jobs (SqliteBroker, RedisBroker). The queue does not close it. */
  readonly broker: Broker;
  /** @defaultValue 'default' */
  readonly name?: string;
  /** Job options applied under each job's own options. */
  readonly defaults?: JobOptions;
}

/** One entry of enqueueBulk (its args are checked against the task's parameters by submit only). */
export interface BulkEntry {
  readonly task: Task<never, unknown>;
  readonly args: readonly unknown[];
  readonly options?: JobOptions;
}

export interface ListOptions {
  /** @defaultValue 100 */
  readonly limit?: number;
  /** @defaultValue 0 */
  readonly offset?: number;
}

/** `${moduleUrl}#${exportName}`: how workers find a task. */
export async function taskAddress(task: unknown, path = 'task'): Promise<string> {
  if (!isTask(task)) {
    throw new InvalidArgumentError(
      'SKEIN_TASKS_INVALID_TASK',
      `${path} must be a task reference (got ${describe(task)}); define it with export const x = task(import.meta, fn) — the queue runs no inline functions`,
    );
  }
  const name = await resolveExportName(task, task.moduleUrl, task.exportName);
  rememberExportName(task, name);
  return `${task.moduleUrl}#${name}`;
}

/** Builds the stored form of a job from validated parts. */
export function newJobOf(
  queue: string,
  address: string,
  args: readonly unknown[],
  resolved: ResolvedJobOptions,
  extra: { readonly id?: string; readonly parentId?: string | null; readonly plan?: JobPlan } = {},
): NewJob {
  const backoffIsDefault =
    resolved.attempts === 1 ||
    (Object.keys(BACKOFF_DEFAULTS) as (keyof typeof BACKOFF_DEFAULTS)[]).every(
      (key) => resolved.backoff[key] === BACKOFF_DEFAULTS[key],
    );
  return {
    id: extra.id ?? newJobId(),
    queue,
    task: address,
    payload: encodeArgs(args),
    // The broker runs lower first; the API runs higher first, as pools do.
    priority: resolved.priority === 0 ? 0 : -resolved.priority,
    runAt: resolved.runAt,
    maxAttempts: resolved.attempts,
    timeLimitMs: Number.isFinite(resolved.timeLimit) ? resolved.timeLimit : null,
    idempotencyKey: resolved.idempotencyKey,
    group: resolved.group,
    resultTtlMs: resolved.resultTtl,
    deadLetter: resolved.deadLetter,
    parentId: extra.parentId ?? null,
    canvas: encodePlan({ ...(backoffIsDefault ? {} : { backoff: resolved.backoff }), ...extra.plan }),
  };
}

/**
 * Puts jobs on a named queue of a broker; workers serving that queue run them.
 * @example
 * const queue = new TaskQueue({ broker: new SqliteBroker({ path: 'jobs.db' }) });
 * const job = await queue.enqueue(resize, img, 100);
 * const small = await job.result({ timeout: 30_000 });
 * await queue.submit(resize, [img, 50], { priority: 5, attempts: 3, backoff: { type: 'exponential', delay: 500 } });
 */
export class TaskQueue {
  readonly name: string;
  readonly broker: Broker;
  readonly #defaults: JobOptions;
  #closed = false;

  /** @throws SKEIN_TASKS_INVALID_OPTION */
  constructor(options: TaskQueueOptions) {
    checkObject('options', options);
    const broker = options.broker as unknown;
    if (typeof broker !== 'object' || broker === null || typeof (broker as Broker).enqueue !== 'function') {
      throw new InvalidArgumentError(
        'SKEIN_TASKS_INVALID_OPTION',
        `broker must be a Broker such as new SqliteBroker() (got ${describe(broker)})`,
      );
    }
    this.broker = options.broker;
    this.name = resolveQueueName(options.name);
    this.#defaults = Object.freeze({ ...(options.defaults ?? {}) });
    resolveJobOptions(this.#defaults, Date.now(), 'defaults');
  }

  /** Enqueues `task(...args)` with the queue's default options. */
  enqueue<A extends unknown[], R>(task: Task<A, R>, ...args: A): Promise<Job<Awaited<R>>> {
    return this.submit(task, args);
  }

  /**
   * Enqueues `task(...args)` with options. With an idempotencyKey already used in this queue, returns
   * the first job instead of creating one.
   * @throws SKEIN_TASKS_INVALID_OPTION, SKEIN_TASKS_INVALID_TASK, SKEIN_TASKS_NOT_ENCODABLE,
   * SKEIN_TASKS_CLOSED — all before anything is stored.
   */
  async submit<A extends unknown[], R>(
    task: Task<A, R>,
    args: A,
    options: JobOptions = {},
  ): Promise<Job<Awaited<R>>> {
    const [job] = await this.enqueueBulk([{ task, args, options }]);
    return job as Job<Awaited<R>>;
  }

  /** Enqueues many jobs in one atomic step: all are stored or none. */
  async enqueueBulk(entries: readonly BulkEntry[]): Promise<Job[]> {
    this.#checkOpen();
    if (!Array.isArray(entries)) {
      throw new InvalidArgumentError(
        'SKEIN_TASKS_INVALID_OPTION',
        `enqueueBulk needs an array of { task, args, options? } (got ${describe(entries)})`,
      );
    }
    const now = Date.now();
    const jobs: NewJob[] = [];
    for (let i = 0; i < entries.length; i++) {
      const entry = checkObject(`entries[${i}]`, entries[i]) as unknown as BulkEntry;
      const address = await taskAddress(entry.task, entries.length === 1 ? 'task' : `entries[${i}].task`);
      const resolved = resolveJobOptions(
        { ...this.#defaults, ...(entry.options ?? {}) },
        now,
        entries.length === 1 ? 'options' : `entries[${i}].options`,
      );
      jobs.push(newJobOf(this.name, address, entry.args, resolved));
    }
    this.#checkOpen();
    const stored = jobs.length === 0 ? [] : await this.broker.enqueue(jobs);
    return stored.map((enqueued) => new Job(this.broker, enqueued.id));
  }

  /** A handle on a job of this broker by id (no store access until used). */
  job<R = unknown>(id: string): Job<R> {
    return new Job<R>(this.broker, id);
  }

  /** Depth per state, throughput and latency of this queue. */
  stats(): Promise<QueueStats> {
    return this.broker.stats(this.name);
  }

  /** Jobs of this queue in a state, oldest first (e.g. the dead letters: `list('dead')`). */
  async list(state: JobState, options: ListOptions = {}): Promise<JobInfo[]> {
    if (!JOB_STATES.includes(state)) {
      throw new InvalidArgumentError(
        'SKEIN_TASKS_INVALID_OPTION',
        `state must be one of ${JOB_STATES.join(', ')} (got ${describe(state)})`,
      );
    }
    const limit = checkInteger('limit', options.limit ?? 100, 1);
    const offset = checkInteger('offset', options.offset ?? 0, 0);
    return (await this.broker.list(this.name, state, limit, offset)).map((record) => infoOf(record));
  }

  /** Job and worker events of this queue until the signal aborts. */
  async *events(signal: AbortSignal): AsyncGenerator<BrokerEvent> {
    for await (const event of this.broker.events(signal)) {
      if (event.queue === this.name) yield event;
    }
  }

  /**
   * Cancels a job: a waiting one at once ('cancelled'); a running one is flagged and its worker aborts
   * the task's signal ('requested'); a finished one is left ('finished').
   * @throws SKEIN_TASKS_JOB_NOT_FOUND
   */
  async cancel(id: string): Promise<'cancelled' | 'requested' | 'finished'> {
    const outcome = await this.broker.cancel(id);
    if (outcome === 'not-found') {
      throw new SkeinError('SKEIN_TASKS_JOB_NOT_FOUND', `cannot cancel job ${id}: no such job is stored`);
    }
    return outcome;
  }

  /**
   * Sends a dead or failed job back to the queue with a fresh attempt count; false when the job is in
   * another state. @throws SKEIN_TASKS_JOB_NOT_FOUND
   */
  async retry(id: string): Promise<boolean> {
    if (await this.broker.retry(id)) return true;
    if ((await this.broker.get(id)) === undefined) {
      throw new SkeinError('SKEIN_TASKS_JOB_NOT_FOUND', `cannot retry job ${id}: no such job is stored`);
    }
    return false;
  }

  /** Refuses further enqueues with SKEIN_TASKS_CLOSED; jobs already stored are unaffected. Idempotent. */
  close(): Promise<void> {
    this.#closed = true;
    return Promise.resolve();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  #checkOpen(): void {
    if (this.#closed) {
      throw new SkeinError('SKEIN_TASKS_CLOSED', `task queue ${this.name} is closed; create a new TaskQueue`);
    }
  }
}
