// The broker contract: everything the tasks layer needs from a storage engine, and nothing more. Two
// engines implement it (sqlite/, embedded default; redis/, many machines); one conformance suite
// (test/conformance/broker.ts) runs against both. Every state change below is one atomic step in the
// engine (one SQLite transaction, one Lua script), so no client-side read-modify-write race exists.
//
// Delivery is at-least-once through leases: a claimed job belongs to one worker until its lease runs
// out; only the lease holder may complete, fail or extend it; an expired lease sends the job back.
//
// @remarks Excluded on purpose: task lookup, argument encoding, backoff arithmetic, cron parsing and the
// canvas logic live above the broker (queue.ts, worker.ts, backoff.ts, cron.ts, canvas.ts), so both
// engines share them and the engines stay storage and atomicity only.

/**
 * Where a job is in its life.
 * - `scheduled`: waits for `runAt` (a delay, an ETA, or a retry's backoff: then `attempt > 0`).
 * - `queued`: runnable now, waiting for a worker.
 * - `running`: claimed by a worker holding a lease.
 * - `succeeded`: finished with a result (kept until `expiresAt`).
 * - `failed`: the last attempt failed and the job asked for no dead-lettering (`deadLetter: false`).
 * - `dead`: attempts exhausted (or not retryable); kept with its error until retried by hand.
 * - `cancelled`: cancelled while queued or scheduled, or while running once its worker gave it up.
 */
export type JobState = 'scheduled' | 'queued' | 'running' | 'succeeded' | 'failed' | 'dead' | 'cancelled';

export const JOB_STATES: readonly JobState[] = Object.freeze([
  'scheduled',
  'queued',
  'running',
  'succeeded',
  'failed',
  'dead',
  'cancelled',
]);

/** An error as stored: enough to show and to rebuild it (see pool/error-serdes.ts for the shape). */
export interface StoredError {
  readonly name: string;
  readonly message: string;
  readonly stack: string | undefined;
  readonly code: string | undefined;
}

/** What a producer hands the broker; the layer above has validated and resolved every field. */
export interface NewJob {
  /** Unique id chosen by the producer (time-ordered, e.g. a UUIDv7). */
  readonly id: string;
  readonly queue: string;
  /** The task's address: `${moduleUrl}#${exportName}`. */
  readonly task: string;
  /** The encoded argument list. */
  readonly payload: Uint8Array;
  /** Lower runs first among runnable jobs; FIFO (by runAt, then id) among equals. */
  readonly priority: number;
  /** Epoch ms before which the job must not run; <= now means queued at once. */
  readonly runAt: number;
  readonly maxAttempts: number;
  /** Per-attempt time limit in ms, or null. */
  readonly timeLimitMs: number | null;
  /** A second enqueue with the same key (in the same queue) returns the first job instead. */
  readonly idempotencyKey: string | null;
  /** Rate-limit group shared by jobs of different tasks, or null. */
  readonly group: string | null;
  /** How long a finished job (and its result or error) is kept, in ms. */
  readonly resultTtlMs: number;
  /** Dead-letter after the last failed attempt (true) or end as `failed` (false). */
  readonly deadLetter: boolean;
  /** The canvas parent (chain/group/chord), or null. */
  readonly parentId: string | null;
  /** Opaque canvas data for the layer above (what to enqueue next), or null. */
  readonly canvas: Uint8Array | null;
}

/** A job as stored, at the moment it was read. */
export interface JobRecord extends NewJob {
  readonly state: JobState;
  /** Attempts started so far (1 while the first attempt runs). */
  readonly attempt: number;
  readonly createdAt: number;
  readonly startedAt: number | null;
  readonly finishedAt: number | null;
  /** The worker holding the lease while running, else null. */
  readonly workerId: string | null;
  readonly leaseUntil: number | null;
  readonly result: Uint8Array | null;
  readonly error: StoredError | null;
  /** The last progress value reported by the running task (encoded), or null. */
  readonly progress: Uint8Array | null;
  /** True once cancellation was requested for a running job; its worker aborts the task's signal. */
  readonly cancelRequested: boolean;
  /** When a finished job may be deleted (finishedAt + resultTtlMs), else null. */
  readonly expiresAt: number | null;
}

/** The answer to an enqueue: the job's id, and whether this call created it (false: idempotency hit). */
export interface Enqueued {
  readonly id: string;
  readonly created: boolean;
}

/** Limits a claim must respect, per task and per group: at most `limit` starts per `intervalMs`. */
export interface RateLimit {
  readonly limit: number;
  readonly intervalMs: number;
}

export interface ClaimRequest {
  readonly queue: string;
  readonly workerId: string;
  /** Claim at most this many jobs. */
  readonly max: number;
  readonly leaseMs: number;
  /** Only these tasks (the worker's registry); a job of another task stays queued for other workers. */
  readonly tasks: readonly string[];
  /** Per-task cap of running jobs across all workers (absent: no cap). */
  readonly concurrency?: Readonly<Record<string, number>>;
  /** Per-task and per-group rate limits (absent: none). Keys are task addresses or `group:<name>`. */
  readonly rateLimits?: Readonly<Record<string, RateLimit>>;
  /**
   * For an engine with `handoffs()`, and only from the worker listening on them: when this claim leaves
   * the queue dry for the worker, register it as idle with `slots` (its free run slots) minus the jobs
   * claimed, for `ttlMs`; otherwise (or with `slots` 0) withdraw it. While registered, an enqueue claims
   * new jobs for it on the spot, exactly as this request would (its tasks, caps, rate limits and lease),
   * and pushes them through `handoffs()`. Absent: the registration is left as it is. Other engines
   * ignore it.
   */
  readonly handoff?: { readonly slots: number; readonly ttlMs: number };
}

/** How a failed attempt ends: retried at `retryAt`, or final (dead or failed per the job's deadLetter). */
export type FailOutcome = { readonly retryAt: number } | { readonly final: true };

/**
 * Jobs a completion enqueues once it is the last of a set of jobs to complete (a chord's members): each
 * job of the set completes with the same `key` and `size`, and the completion that brings the count of
 * completions under `key` to `size` enqueues `enqueue` in the same atomic step that records it, so no
 * crash between the two can lose them. The count is one counter per key (O(1) per completion, whatever
 * the size); the layer above guarantees `size` distinct jobs count toward a key, each at most once (a
 * job succeeds at most once). The counter is kept at least as long as the result of the latest job
 * counted (its expiresAt), and dropped when it fires; a set with a failed job never fires (its counter
 * expires with the results).
 */
export interface Join {
  /** Names the set in the store: the same for every job of the set, never reused by another set. */
  readonly key: string;
  /** How many distinct jobs complete toward `key` (>= 1). */
  readonly size: number;
  /**
   * Enqueued by the last completion exactly as enqueue() would store them (an idempotency key already
   * present in the queue skips its job), and with their events.
   */
  readonly enqueue: readonly NewJob[];
}

/** A finished attempt a worker reports through settleAndClaim. */
export type SettleOutcome =
  | {
      readonly id: string;
      readonly kind: 'complete';
      readonly result: Uint8Array;
      /** Counted only when the completion is recorded (this worker held the lease). */
      readonly join?: Join;
    }
  | {
      readonly id: string;
      readonly kind: 'fail';
      readonly error: StoredError;
      readonly outcome: FailOutcome;
    };

/** An attempt a worker runs: its job and attempt number (JobRecord.attempt when claimed). */
export interface HeldAttempt {
  readonly id: string;
  readonly attempt: number;
}

export type HeldStatus = 'held' | 'cancel-requested' | 'lost';

/** What settleAndClaim did: per outcome (in order) whether it applied, and the jobs claimed. */
export interface Settled {
  readonly settled: readonly boolean[];
  readonly claimed: readonly JobRecord[];
}

/** One change of a job, or a worker's heartbeat, for the console and CLI live views. */
export interface BrokerEvent {
  readonly type:
    | 'enqueued'
    | 'started'
    | 'progress'
    | 'succeeded'
    | 'retrying'
    | 'failed'
    | 'dead'
    | 'cancelled'
    | 'expired-lease'
    | 'worker-heartbeat';
  readonly jobId: string | null;
  readonly queue: string;
  readonly workerId: string | null;
  readonly at: number;
}

/** The event types news() carries: a job to claim (enqueued, retrying, expired-lease) or to stop (cancelled, expired-lease). */
export const NEWS_TYPES: ReadonlySet<BrokerEvent['type']> = new Set([
  'enqueued',
  'retrying',
  'expired-lease',
  'cancelled',
]);

export interface QueueStats {
  readonly queue: string;
  readonly counts: Readonly<Record<JobState, number>>;
  /** Jobs finished (succeeded, failed or dead) in the last minute. */
  readonly finishedLastMinute: number;
  /** Median and 99th percentile of enqueue → finish in ms over the last minute, or null when none. */
  readonly latencyP50Ms: number | null;
  readonly latencyP99Ms: number | null;
}

/** A storage engine for jobs. Every method is one atomic operation against the store. */
export interface Broker {
  /** Stores new jobs, all or none. An idempotency key already present returns the existing id. */
  enqueue(jobs: readonly NewJob[]): Promise<Enqueued[]>;
  /**
   * Moves due scheduled jobs to queued, then claims up to `max` queued jobs (priority, then runAt, then
   * id), honouring concurrency caps and rate limits: each becomes running with a lease for this worker
   * and its attempt counted.
   */
  claim(request: ClaimRequest): Promise<JobRecord[]>;
  /** Extends the leases this worker still holds; returns the ids it still holds (others were lost). */
  extendLeases(workerId: string, ids: readonly string[], leaseMs: number): Promise<string[]>;
  /**
   * What became of a worker's attempts, in order: 'held' (still running under this worker's lease),
   * 'cancel-requested' (held, and cancel() was called) or 'lost' (another attempt or worker holds the
   * job, it finished, or it is gone). A read in one round trip however many attempts: a worker's
   * fallback when news of a cancel or a lease taken back did not reach it.
   */
  heldStatus(workerId: string, attempts: readonly HeldAttempt[]): Promise<HeldStatus[]>;
  /**
   * Records a success if this worker still holds the lease; false (and no change) otherwise. With a
   * `join`, the recorded success counts toward it in the same step (see Join).
   */
  complete(workerId: string, id: string, result: Uint8Array, join?: Join): Promise<boolean>;
  /** Records a failed attempt if this worker still holds the lease; false (and no change) otherwise. */
  fail(workerId: string, id: string, error: StoredError, outcome: FailOutcome): Promise<boolean>;
  /**
   * The worker's hot path, one round trip per batch instead of two per job: applies each outcome exactly
   * as complete() or fail() would (each only if this worker still holds that lease; `settled[i]` says
   * whether it did), then, when `claim` is not null, claims as claim() would. One atomic step.
   * `claim.workerId` must be `workerId` (a mismatch is a bug in the caller: SKEIN_INTERNAL).
   */
  settleAndClaim(
    workerId: string,
    outcomes: readonly SettleOutcome[],
    claim: ClaimRequest | null,
  ): Promise<Settled>;
  /** Gives a claimed job back unstarted (graceful shutdown): queued again, its attempt not counted. */
  release(workerId: string, id: string): Promise<boolean>;
  /** Stores a progress value of a running job held by this worker. */
  reportProgress(workerId: string, id: string, progress: Uint8Array): Promise<boolean>;
  /** Sends jobs whose lease ran out back to queued (or to dead when out of attempts); returns how many. */
  recoverExpiredLeases(now: number): Promise<number>;
  /**
   * Cancels a job: a scheduled or queued one becomes cancelled at once ('cancelled'); a running one is
   * flagged (cancelRequested) for its worker ('requested'); a finished one is left ('finished').
   */
  cancel(id: string): Promise<'cancelled' | 'requested' | 'finished' | 'not-found'>;
  /** Records that the worker stopped a cancelled running job. */
  cancelled(workerId: string, id: string): Promise<boolean>;
  /** Sends a dead (or failed) job back to queued with a fresh attempt count. */
  retry(id: string): Promise<boolean>;
  get(id: string): Promise<JobRecord | undefined>;
  /** Jobs of a queue in a state, oldest first, for dead-letter listings and the console. */
  list(queue: string, state: JobState, limit: number, offset?: number): Promise<JobRecord[]>;
  /** Children of a canvas parent, in enqueue order. */
  children(parentId: string): Promise<JobRecord[]>;
  /** Deletes finished jobs past their expiresAt; returns how many. */
  purgeExpired(now: number): Promise<number>;
  /**
   * Claims the right to fire schedule `scheduleId` for the tick at `tickAt` (epoch ms): true for exactly
   * one caller per (schedule, tick) across every scheduler, so a periodic task fires once per tick.
   */
  claimTick(scheduleId: string, tickAt: number, schedulerId: string): Promise<boolean>;
  /** Records a worker's heartbeat (and emits a worker-heartbeat event). */
  heartbeat(workerId: string, queue: string, info: Readonly<Record<string, unknown>>): Promise<void>;
  /** Events from now on, across every producer and worker on this store, until the signal aborts. */
  events(signal: AbortSignal): AsyncIterable<BrokerEvent>;
  /**
   * What a worker of `queue` acts on, from now on until the signal aborts: the events of types in
   * NEWS_TYPES (work to claim, a running job cancelled or taken back). Cheaper than events() on an
   * engine that can push them, but best effort (an outage may drop some): a worker also polls.
   */
  news(queue: string, signal: AbortSignal): AsyncIterable<BrokerEvent>;
  /**
   * Optional (an engine that can push): the jobs claimed for worker `workerId` by enqueues while it was
   * registered idle (ClaimRequest.handoff), each running under its lease as if the worker had claimed
   * it. Yields an empty batch once it listens (only then may the worker's claims ask for handoff). When
   * the signal aborts it withdraws the registration and yields every job handed off before that, then
   * ends; it ends with SKEIN_TASKS_BROKER_UNAVAILABLE when the connection drops. A job whose batch
   * never arrives is redelivered when its lease runs out, as after a lost claim reply.
   */
  handoffs?(queue: string, workerId: string, signal: AbortSignal): AsyncIterable<readonly JobRecord[]>;
  stats(queue: string): Promise<QueueStats>;
  /** Resolves when the job reaches a finished state (succeeded, failed, dead, cancelled) or on abort. */
  waitUntilFinished(id: string, signal: AbortSignal): Promise<JobRecord>;
  /** Releases the engine's connections; idempotent. */
  close(): Promise<void>;
}
