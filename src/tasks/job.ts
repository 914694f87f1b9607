// A handle on one stored job: its state, its result (waiting for it), progress and canvas children.
// The handle holds only the id and the broker; every read goes to the store, so a handle made from an
// id in another process sees the same job.

import { setTimeout as sleep } from 'node:timers/promises';
import {
  abortErrorFrom,
  ERROR_CODES,
  JobCancelledError,
  JobFailedError,
  SkeinError,
  TimeoutError,
} from '../errors.ts';
import { deserializeError } from '../pool/error-serdes.ts';
import type { Broker, JobRecord, JobState, StoredError } from './broker.ts';
import { checkDuration } from './options.ts';
import { decodeArgs, decodeValue } from './payload.ts';
import { decodePlan, gatherResults } from './plan.ts';

const FINISHED: ReadonlySet<JobState> = new Set(['succeeded', 'failed', 'dead', 'cancelled']);
/** How often a wait looks again for a job that is not stored yet (a canvas step not enqueued yet). */
const MISSING_JOB_POLL_MS = 50;

export function isFinished(state: JobState): boolean {
  return FINISHED.has(state);
}

/** A job as the queue shows it: the stored record with arguments, result, error and progress decoded. */
export interface JobInfo<R = unknown> {
  readonly id: string;
  readonly queue: string;
  readonly task: string;
  readonly state: JobState;
  /** The arguments, or undefined when the stored bytes cannot be decoded (see `error`). */
  readonly args: unknown[] | undefined;
  /** Higher runs first (the sign the queue's options use). */
  readonly priority: number;
  readonly attempt: number;
  readonly maxAttempts: number;
  readonly runAt: number;
  readonly createdAt: number;
  readonly startedAt: number | null;
  readonly finishedAt: number | null;
  readonly expiresAt: number | null;
  readonly workerId: string | null;
  readonly parentId: string | null;
  readonly group: string | null;
  readonly idempotencyKey: string | null;
  readonly cancelRequested: boolean;
  /** The result of a succeeded job (undefined when it cannot be decoded). */
  readonly result: R | undefined;
  /** The error of the last failed attempt, rebuilt (class name, message, stack, code). */
  readonly error: Error | undefined;
  readonly progress: unknown;
}

export interface ResultOptions {
  /** Milliseconds to wait before rejecting with SKEIN_TIMEOUT (the job keeps going). @defaultValue Infinity */
  readonly timeout?: number;
  readonly signal?: AbortSignal;
}

/** Rebuilds a stored error: Skein errors as their classes, others under their class name. */
export function errorFromStored(stored: StoredError): Error {
  const skein = stored.code !== undefined && Object.hasOwn(ERROR_CODES, stored.code);
  return deserializeError({
    __skeinError: true,
    name: stored.name,
    message: stored.message,
    stack: stored.stack,
    code: stored.code,
    cause: undefined,
    props: stored.code === undefined || skein ? {} : { code: stored.code },
    skein,
  });
}

/** Turns a thrown value into the shape the store keeps. */
export function storedErrorOf(error: unknown): StoredError {
  const e = error instanceof Error ? error : new Error(String(error));
  const code = (e as { code?: unknown }).code;
  return {
    name: e.name,
    message: e.message,
    stack: e.stack,
    code: typeof code === 'string' ? code : undefined,
  };
}

// A listing of dead letters must not fail because one stored value is damaged.
function orUndefined<T>(decode: () => T): T | undefined {
  try {
    return decode();
  } catch {
    return undefined;
  }
}

export function infoOf<R>(record: JobRecord): JobInfo<R> {
  return Object.freeze({
    id: record.id,
    queue: record.queue,
    task: record.task,
    state: record.state,
    args: orUndefined(() => decodeArgs(record.payload)),
    priority: record.priority === 0 ? 0 : -record.priority,
    attempt: record.attempt,
    maxAttempts: record.maxAttempts,
    runAt: record.runAt,
    createdAt: record.createdAt,
    startedAt: record.startedAt,
    finishedAt: record.finishedAt,
    expiresAt: record.expiresAt,
    workerId: record.workerId,
    parentId: record.parentId,
    group: record.group,
    idempotencyKey: record.idempotencyKey,
    cancelRequested: record.cancelRequested,
    result:
      record.result === null ? undefined : orUndefined(() => decodeValue(record.result!, 'result') as R),
    error: record.error === null ? undefined : errorFromStored(record.error),
    progress:
      record.progress === null ? undefined : orUndefined(() => decodeValue(record.progress!, 'progress')),
  });
}

function notFound(id: string): SkeinError {
  return new SkeinError(
    'SKEIN_TASKS_JOB_NOT_FOUND',
    `job ${id} is not stored: it was never enqueued, or it finished and was purged after its resultTtl`,
  );
}

/** The result of a finished record, or the error its state stands for. */
export function settle<R>(record: JobRecord): R {
  switch (record.state) {
    case 'succeeded':
      return (record.result === null ? undefined : decodeValue(record.result, 'result')) as R;
    case 'cancelled':
      throw new JobCancelledError(`job ${record.id} (${record.task}) was cancelled`);
    default: {
      const cause = record.error === null ? undefined : errorFromStored(record.error);
      throw new JobFailedError(
        `job ${record.id} (${record.task}) ended ${record.state} after ${record.attempt} attempt(s)${cause === undefined ? '' : `: ${cause.message}`}`,
        cause === undefined ? undefined : { cause },
      );
    }
  }
}

/**
 * Waits until the job is finished and returns its record. With `allowMissing`, a job not stored yet is
 * waited for (canvas steps are enqueued when their predecessor finishes); otherwise it is an error.
 */
/**
 * The signal of a wait under `options`: the caller's signal, and `options.timeout` as a TimeoutError
 * whose message `timedOut(ms)` gives. `end()` clears the timer and the listeners tied to the signal.
 * @throws SKEIN_INVALID_ARGUMENT for a bad timeout; the caller's abort reason when already aborted.
 */
export function waitDeadline(
  options: ResultOptions,
  timedOut: (ms: number) => string,
): { readonly signal: AbortSignal; end(): void } {
  const timeout = checkDuration('timeout', options.timeout ?? Number.POSITIVE_INFINITY, 0, true);
  if (options.signal?.aborted) throw abortErrorFrom(options.signal);
  const controller = new AbortController();
  const signal =
    options.signal === undefined ? controller.signal : AbortSignal.any([options.signal, controller.signal]);
  const timer = Number.isFinite(timeout)
    ? setTimeout(() => controller.abort(new TimeoutError(timedOut(timeout))), timeout)
    : undefined;
  return {
    signal,
    end() {
      clearTimeout(timer);
      // A plain reason: a default one (a DOMException with its stack) costs more than the rest of a
      // short job's wait.
      controller.abort(WAIT_OVER);
    },
  };
}

/** The abort reason that ends a finished wait's own listeners. */
export const WAIT_OVER: unique symbol = Symbol('skein: wait over');

export async function waitForFinish(
  broker: Broker,
  id: string,
  options: ResultOptions,
  allowMissing = false,
): Promise<JobRecord> {
  const deadline = waitDeadline(
    options,
    (ms) => `job ${id} did not finish within ${ms} ms; it keeps running`,
  );
  const { signal } = deadline;
  try {
    for (;;) {
      // waitUntilFinished reads the job itself (and rejects with SKEIN_TASKS_JOB_NOT_FOUND for a missing
      // one): a read here first would only add a round trip to every result().
      if (allowMissing) {
        const record = await broker.get(id);
        if (record !== undefined && isFinished(record.state)) return record;
        if (signal.aborted) throw abortErrorFrom(signal);
        if (record === undefined) {
          await sleep(MISSING_JOB_POLL_MS, undefined, { signal }).catch(() => undefined);
          continue;
        }
      }
      const finished = await broker.waitUntilFinished(id, signal).catch((error: unknown) => {
        if (signal.aborted) return undefined;
        throw error;
      });
      if (finished !== undefined && isFinished(finished.state)) return finished;
      if (signal.aborted) throw abortErrorFrom(signal);
    }
  } finally {
    deadline.end();
  }
}

/**
 * A handle on a stored job.
 * @example
 * const job = await queue.enqueue(resize, img, 100);
 * console.log(await job.state(), await job.result({ timeout: 10_000 }));
 */
export class Job<R = unknown> {
  readonly id: string;
  readonly #broker: Broker;

  constructor(broker: Broker, id: string) {
    this.#broker = broker;
    this.id = id;
  }

  /** @throws SKEIN_TASKS_JOB_NOT_FOUND */
  async state(): Promise<JobState> {
    return (await this.#record()).state;
  }

  /**
   * The job with arguments, result, error and progress decoded. A chord callback's arguments end with
   * the list of member results it gathers when it runs, read from the members (left out once one of
   * them was purged). @throws SKEIN_TASKS_JOB_NOT_FOUND
   */
  async info(): Promise<JobInfo<R>> {
    const record = await this.#record();
    const info = infoOf<R>(record);
    const gather = info.args === undefined ? undefined : orUndefined(() => decodePlan(record.canvas).gather);
    if (gather === undefined) return info;
    const gathered = await gatherResults(this.#broker, gather, record.parentId).catch((error: unknown) => {
      if (error instanceof SkeinError && error.code === 'SKEIN_TASKS_JOB_NOT_FOUND') return undefined;
      throw error;
    });
    return gathered === undefined ? info : Object.freeze({ ...info, args: [...info.args!, gathered] });
  }

  /** The last progress value the running task reported, or undefined. */
  async progress(): Promise<unknown> {
    const record = await this.#record();
    return record.progress === null ? undefined : decodeValue(record.progress, 'progress');
  }

  /**
   * Waits for the job to finish and returns the task's result.
   * @throws SKEIN_TASKS_JOB_FAILED (JobFailedError, `cause` = the task's error) when it ended failed or
   * dead; SKEIN_TASKS_JOB_CANCELLED when cancelled; SKEIN_TIMEOUT / SKEIN_ABORTED when the wait ends
   * first; SKEIN_TASKS_JOB_NOT_FOUND for an unknown or purged id.
   */
  async result(options: ResultOptions = {}): Promise<R> {
    return settle<R>(await waitForFinish(this.#broker, this.id, options));
  }

  /** The jobs this one started as a canvas parent (the next chain step), in enqueue order. */
  async children(): Promise<Job[]> {
    return (await this.#broker.children(this.id)).map((record) => new Job(this.#broker, record.id));
  }

  async #record(): Promise<JobRecord> {
    const record = await this.#broker.get(this.id);
    if (record === undefined) throw notFound(this.id);
    return record;
  }
}
