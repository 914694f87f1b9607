// The embedded Broker: one SQLite file in WAL mode, shared safely by several processes on one machine.
// Invariant: every state change is one BEGIN IMMEDIATE transaction run synchronously start to finish
// (node:sqlite is synchronous, so no other call of this process interleaves), and every statement it
// runs lives in sql/<verb_noun>.sql. See docs/tasks-sqlite.md for the schema and the guarantees.

import { addAbortListener } from 'node:events';
import { mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { DatabaseSync, type StatementSync } from 'node:sqlite';
import { abortErrorFrom, internalError, SkeinError } from '../../errors.ts';
import type {
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
  Settled,
  SettleOutcome,
  StoredError,
} from '../broker.ts';
import { JOB_STATES, NEWS_TYPES } from '../broker.ts';
import { claimJobs } from './claim.ts';
import { EventTail, type LoggedEvent, type TailListener, wakeTails } from './event-tail.ts';
import {
  type ResolvedSqliteBrokerOptions,
  resolveSqliteBrokerOptions,
  type SqliteBrokerOptions,
} from './options.ts';
import { corruptRowError, decodeRow, encodeError, isQuarantined, type Row } from './rows.ts';
import { openSchema } from './schema.ts';
import { prepareStatements, type Statements } from './statements.ts';
import { storageError } from './storage-error.ts';

type EventType = BrokerEvent['type'];

const FINISHED_STATES: ReadonlySet<JobState> = new Set(['succeeded', 'failed', 'dead', 'cancelled']);
/** Expired leases handled per transaction, so one recovery never holds the write lock for long. */
const RECOVERY_BATCH = 500;
/** Fired ticks are kept this long (ms): a week, past any scheduler's catch-up window. */
const TICK_RETENTION_MS = 7 * 24 * 60 * 60 * 1000;
/** Rate-limit starts older than this (ms) belong to no window in use: a day. */
const RATE_EVENT_RETENTION_MS = 24 * 60 * 60 * 1000;
/** Window of QueueStats.finishedLastMinute and the latency percentiles, in ms. */
const STATS_WINDOW_MS = 60_000;
/** NEWS_TYPES as select_news_after takes them. */
const NEWS_TYPES_JSON = JSON.stringify([...NEWS_TYPES]);

let memoryStores = 0;

/**
 * A Broker on one SQLite file (node:sqlite, WAL). Opening it creates the directory and the schema.
 * @example
 * const broker = new SqliteBroker({ path: '.skein/tasks.db' });
 * await broker.enqueue([job]);
 * await broker.close();
 * @throws SKEIN_TASKS_INVALID_OPTION for a bad option, SKEIN_TASKS_STORAGE when the file cannot be
 * opened or migrated.
 */
export class SqliteBroker implements Broker {
  /** The resolved options, frozen. */
  readonly options: ResolvedSqliteBrokerOptions;
  readonly #db: DatabaseSync;
  readonly #sql: Statements;
  readonly #begin: StatementSync;
  readonly #commit: StatementSync;
  readonly #rollback: StatementSync;
  readonly #file: string;
  readonly #tail: EventTail;
  #pending: { type: EventType; jobId: string | null; queue: string; workerId: string | null }[] = [];
  #closed = false;

  constructor(options?: SqliteBrokerOptions) {
    this.options = resolveSqliteBrokerOptions(options);
    const { path } = this.options;
    const memory = path === ':memory:';
    this.#file = memory ? `:memory:${++memoryStores}` : resolve(path);
    let db: DatabaseSync | undefined;
    try {
      if (!memory) mkdirSync(dirname(this.#file), { recursive: true });
      db = new DatabaseSync(memory ? ':memory:' : this.#file);
      openSchema(db, this.options);
      this.#sql = prepareStatements(db);
      this.#begin = db.prepare('BEGIN IMMEDIATE');
      this.#commit = db.prepare('COMMIT');
      this.#rollback = db.prepare('ROLLBACK');
    } catch (error) {
      if (db?.isOpen === true) db.close();
      throw storageError(error, path, 'Opening the task store');
    }
    this.#db = db;
    this.#tail = new EventTail(
      {
        lastEventId: () => (this.#sql.select_last_event_id.get() as { id: number }).id,
        eventsAfter: (after, limit) =>
          (this.#sql.select_events_after.all({ after, limit }) as Row[]).map(toEvent),
        newsAfter: (after, upto, limit) =>
          (this.#sql.select_news_after.all({ after, upto, types: NEWS_TYPES_JSON, limit }) as Row[]).map(
            toEvent,
          ),
      },
      this.#file,
      this.options.pollInterval,
    );
  }

  async enqueue(jobs: readonly NewJob[]): Promise<Enqueued[]> {
    return this.#write('enqueue', (now) => this.#enqueueIn(jobs, now));
  }

  /** Stores new jobs inside a #write transaction (enqueue, and a join that fires). */
  #enqueueIn(jobs: readonly NewJob[], now: number): Enqueued[] {
    const answers: Enqueued[] = [];
    for (const job of jobs) {
      const { changes } = this.#sql.insert_job.run({
        id: job.id,
        queue: job.queue,
        task: job.task,
        payload: job.payload,
        priority: job.priority,
        runAt: job.runAt,
        maxAttempts: job.maxAttempts,
        timeLimitMs: job.timeLimitMs,
        idempotencyKey: job.idempotencyKey,
        grp: job.group,
        resultTtlMs: job.resultTtlMs,
        deadLetter: job.deadLetter ? 1 : 0,
        parentId: job.parentId,
        canvas: job.canvas,
        state: job.runAt > now ? 'scheduled' : 'queued',
        createdAt: now,
      });
      if (changes === 1) {
        answers.push({ id: job.id, created: true });
        this.#event('enqueued', job.id, job.queue, null);
        continue;
      }
      // Not stored: its id exists already (a re-sent enqueue), or its idempotency key names a job.
      const existing = (this.#sql.select_job.get({ id: job.id }) ??
        this.#sql.select_job_id_by_key.get({
          queue: job.queue,
          idempotencyKey: job.idempotencyKey,
        })) as { id: string } | undefined;
      if (existing === undefined) throw internalError(`job ${job.id} was neither stored nor a duplicate`);
      answers.push({ id: existing.id, created: false });
    }
    return answers;
  }

  async claim(request: ClaimRequest): Promise<JobRecord[]> {
    return this.#write('claim', (now) => this.#claimIn(request, now));
  }

  async extendLeases(workerId: string, ids: readonly string[], leaseMs: number): Promise<string[]> {
    if (ids.length === 0) return [];
    return this.#write('extendLeases', (now) => {
      const rows = this.#sql.extend_leases.all({
        workerId,
        ids: JSON.stringify(ids),
        leaseUntil: now + leaseMs,
      }) as { id: string }[];
      return rows.map((row) => row.id);
    });
  }

  async heldStatus(workerId: string, attempts: readonly HeldAttempt[]): Promise<HeldStatus[]> {
    if (attempts.length === 0) return [];
    const rows = this.#read(
      'heldStatus',
      () =>
        this.#sql.select_held_status.all({ ids: JSON.stringify(attempts.map((held) => held.id)) }) as {
          id: string;
          state: string;
          worker_id: string | null;
          attempt: number;
          cancel_requested: number;
        }[],
    );
    const byId = new Map(rows.map((row) => [row.id, row]));
    return attempts.map(({ id, attempt }): HeldStatus => {
      const row = byId.get(id);
      if (
        row === undefined ||
        row.state !== 'running' ||
        row.worker_id !== workerId ||
        row.attempt !== attempt
      )
        return 'lost';
      return row.cancel_requested === 1 ? 'cancel-requested' : 'held';
    });
  }

  async complete(workerId: string, id: string, result: Uint8Array, join?: Join): Promise<boolean> {
    return this.#write('complete', (now) => this.#completeIn(workerId, id, result, join, now));
  }

  async fail(workerId: string, id: string, error: StoredError, outcome: FailOutcome): Promise<boolean> {
    return this.#write('fail', (now) => this.#failIn(workerId, id, error, outcome, now));
  }

  /**
   * Settles each outcome as complete() or fail() would, in order, then claims as claim() would, all in
   * one BEGIN IMMEDIATE transaction at one `now`. The claim therefore sees the settled jobs: a job just
   * finished no longer counts against its task's concurrency cap, and a retry whose retryAt <= now is
   * queued again and may be claimed by this very call (by whichever worker `claim.workerId` names).
   */
  async settleAndClaim(
    workerId: string,
    outcomes: readonly SettleOutcome[],
    claim: ClaimRequest | null,
  ): Promise<Settled> {
    if (claim !== null && claim.workerId !== workerId) {
      throw internalError(`settleAndClaim for worker ${workerId} got a claim for worker ${claim.workerId}`);
    }
    return this.#write('settleAndClaim', (now) => {
      const settled = outcomes.map((outcome) =>
        outcome.kind === 'complete'
          ? this.#completeIn(workerId, outcome.id, outcome.result, outcome.join, now)
          : this.#failIn(workerId, outcome.id, outcome.error, outcome.outcome, now),
      );
      return { settled, claimed: claim === null ? [] : this.#claimIn(claim, now) };
    });
  }

  async release(workerId: string, id: string): Promise<boolean> {
    return this.#write('release', (now) => {
      const row = this.#sql.release_job.get({ id, workerId, now }) as
        | { queue: string; state: JobState }
        | undefined;
      if (row === undefined) return false;
      if (row.state === 'cancelled') this.#event('cancelled', id, row.queue, workerId);
      return true;
    });
  }

  async reportProgress(workerId: string, id: string, progress: Uint8Array): Promise<boolean> {
    return this.#write('reportProgress', () => {
      const row = this.#sql.update_progress.get({ id, workerId, progress }) as { queue: string } | undefined;
      if (row === undefined) return false;
      this.#event('progress', id, row.queue, workerId);
      return true;
    });
  }

  async recoverExpiredLeases(now: number): Promise<number> {
    let recovered = 0;
    for (;;) {
      const batch = this.#write('recoverExpiredLeases', (at) => {
        const rows = this.#sql.select_expired_leases.all({ now, limit: RECOVERY_BATCH }) as Row[];
        for (const row of rows) this.#recoverOne(row, at);
        return rows.length;
      });
      recovered += batch;
      if (batch < RECOVERY_BATCH) return recovered;
    }
  }

  async cancel(id: string): Promise<'cancelled' | 'requested' | 'finished' | 'not-found'> {
    return this.#write('cancel', (now) => {
      const row = this.#sql.select_job_for_cancel.get({ id }) as
        | { state: unknown; queue: string }
        | undefined;
      if (row === undefined) return 'not-found';
      if (row.state === 'scheduled' || row.state === 'queued') {
        this.#sql.cancel_waiting_job.run({ id, now });
        this.#event('cancelled', id, row.queue, null);
        return 'cancelled';
      }
      if (row.state === 'running') {
        this.#sql.request_cancel.run({ id });
        // A 'cancelled' event for a job still running tells its worker (in any process) to look at
        // cancelRequested; the job's state says whether it really ended.
        this.#event('cancelled', id, row.queue, null);
        return 'requested';
      }
      return 'finished';
    });
  }

  async cancelled(workerId: string, id: string): Promise<boolean> {
    return this.#write('cancelled', (now) => {
      const row = this.#sql.cancel_job_as_holder.get({ id, workerId, now }) as { queue: string } | undefined;
      if (row === undefined) return false;
      this.#event('cancelled', id, row.queue, workerId);
      return true;
    });
  }

  async retry(id: string): Promise<boolean> {
    return this.#write('retry', (now) => {
      const row = this.#sql.retry_job.get({ id, now }) as { queue: string } | undefined;
      if (row === undefined) return false;
      this.#event('enqueued', id, row.queue, null);
      return true;
    });
  }

  async get(id: string): Promise<JobRecord | undefined> {
    return this.#getNow(id);
  }

  async list(queue: string, state: JobState, limit: number, offset = 0): Promise<JobRecord[]> {
    const rows = this.#read('list', () => this.#sql.list_jobs.all({ queue, state, limit, offset }) as Row[]);
    return this.#records(rows);
  }

  async children(parentId: string): Promise<JobRecord[]> {
    const rows = this.#read('children', () => this.#sql.select_children.all({ parentId }) as Row[]);
    return this.#records(rows);
  }

  async purgeExpired(now: number): Promise<number> {
    return this.#write('purgeExpired', () => {
      const { changes } = this.#sql.delete_expired_jobs.run({ now });
      this.#sql.delete_expired_joins.run({ now });
      this.#sql.delete_old_events.run({ before: now - this.options.eventRetention });
      this.#sql.delete_old_ticks.run({ before: now - TICK_RETENTION_MS });
      this.#sql.delete_old_rate_events.run({ before: now - RATE_EVENT_RETENTION_MS });
      return Number(changes);
    });
  }

  async claimTick(scheduleId: string, tickAt: number, schedulerId: string): Promise<boolean> {
    return this.#write('claimTick', (now) => {
      const { changes } = this.#sql.insert_tick.run({ scheduleId, tickAt, schedulerId, now });
      return changes === 1;
    });
  }

  async heartbeat(workerId: string, queue: string, info: Readonly<Record<string, unknown>>): Promise<void> {
    this.#write('heartbeat', (now) => {
      this.#sql.upsert_worker.run({ workerId, queue, info: JSON.stringify(info), now });
      this.#event('worker-heartbeat', null, queue, workerId);
    });
  }

  /**
   * Events from now on, from every process on this file, until the signal aborts (the iteration then
   * ends). Changes made in this process arrive at once, others within `pollInterval` ms.
   */
  events(signal: AbortSignal): AsyncIterable<BrokerEvent> {
    return {
      [Symbol.asyncIterator]: () => this.#iterate(signal, (listener) => this.#tail.subscribe(listener)),
    };
  }

  /** The events of NEWS_TYPES for `queue`: the tail reads only those rows while nothing else listens. */
  news(queue: string, signal: AbortSignal): AsyncIterable<BrokerEvent> {
    return {
      [Symbol.asyncIterator]: () =>
        this.#iterate(signal, (listener) =>
          this.#tail.subscribeNews({
            event: (event) => {
              if (event.queue === queue) listener.event(event);
            },
            error: listener.error,
          }),
        ),
    };
  }

  async stats(queue: string): Promise<QueueStats> {
    return this.#read('stats', () => {
      const counts = Object.fromEntries(JOB_STATES.map((state) => [state, 0])) as Record<JobState, number>;
      for (const row of this.#sql.count_jobs_by_state.all({ queue }) as { state: unknown; n: number }[]) {
        if (typeof row.state === 'string' && Object.hasOwn(counts, row.state))
          counts[row.state as JobState] = row.n;
      }
      const since = Date.now() - STATS_WINDOW_MS;
      const latencies = (this.#sql.select_finish_latencies.all({ queue, since }) as { ms: unknown }[])
        .map((row) => row.ms)
        .filter((ms): ms is number => typeof ms === 'number')
        .sort((a, b) => a - b);
      return {
        queue,
        counts,
        finishedLastMinute: latencies.length,
        latencyP50Ms: percentile(latencies, 0.5),
        latencyP99Ms: percentile(latencies, 0.99),
      };
    });
  }

  async waitUntilFinished(id: string, signal: AbortSignal): Promise<JobRecord> {
    if (signal.aborted) throw abortErrorFrom(signal);
    this.#checkOpen('waitUntilFinished');
    const { promise, resolve, reject } = Promise.withResolvers<JobRecord>();
    let settled = false;
    const settle = (outcome: () => void): void => {
      if (settled) return;
      settled = true;
      unwatch();
      abortListener[Symbol.dispose]();
      outcome();
    };
    const check = (): void => {
      try {
        const record = this.#getNow(id);
        if (record === undefined) settle(() => reject(notFound(id)));
        else if (FINISHED_STATES.has(record.state)) settle(() => resolve(record));
      } catch (error) {
        settle(() => reject(error));
      }
    };
    // Watch before the first look, so a finish committed in between is seen by one or the other.
    const unwatch = this.#tail.watchJob(id, check, (error) => settle(() => reject(error)));
    const abortListener = addAbortListener(signal, () => settle(() => reject(abortErrorFrom(signal))));
    check();
    return promise;
  }

  /** Closes the database; waits and event iterations in flight end with SKEIN_TASKS_BROKER_UNAVAILABLE. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#tail.close(this.#closedError('a wait'));
    this.#db.close();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  #closedError(what: string): SkeinError {
    return new SkeinError(
      'SKEIN_TASKS_BROKER_UNAVAILABLE',
      `${what} on the SQLite broker of ${this.options.path} after close(); open a new SqliteBroker`,
    );
  }

  #checkOpen(what: string): void {
    if (this.#closed) throw this.#closedError(what);
  }

  /** Runs `body` in one BEGIN IMMEDIATE transaction; logs its events on commit and wakes local tails. */
  #write<T>(what: string, body: (now: number) => T): T {
    this.#checkOpen(what);
    try {
      this.#begin.run();
      try {
        const result = body(Date.now());
        this.#logPending();
        this.#commit.run();
        if (this.#pending.length > 0) wakeTails(this.#file, this.#pending.some(isNews));
        return result;
      } catch (error) {
        if (this.#db.isTransaction) this.#rollback.run();
        throw error;
      } finally {
        this.#pending = [];
      }
    } catch (error) {
      throw storageError(error, this.options.path, what);
    }
  }

  // One statement for the whole transaction's events rather than one per event: a drain logs two per
  // job (its start and its end).
  #logPending(): void {
    const pending = this.#pending;
    if (pending.length === 0) return;
    const at = Date.now();
    const first = pending[0];
    if (pending.length === 1 && first !== undefined) {
      this.#sql.insert_event.run({ ...first, at });
      return;
    }
    const events = JSON.stringify(
      pending.map((event) => [event.type, event.jobId, event.queue, event.workerId]),
    );
    this.#sql.insert_events.run({ events, at });
  }

  #read<T>(what: string, body: () => T): T {
    this.#checkOpen(what);
    try {
      return body();
    } catch (error) {
      throw storageError(error, this.options.path, what);
    }
  }

  #event(type: EventType, jobId: string | null, queue: string, workerId: string | null): void {
    this.#pending.push({ type, jobId, queue, workerId });
  }

  #getNow(id: string): JobRecord | undefined {
    const row = this.#read('get', () => this.#sql.select_job.get({ id }) as Row | undefined);
    return row === undefined ? undefined : this.#records([row])[0];
  }

  /** Decodes rows; a damaged row met here is quarantined first, and returned as quarantined. */
  #records(rows: readonly Row[]): JobRecord[] {
    return rows.map((row) => {
      const decoded = decodeRow(row);
      if (decoded.problems.length === 0 || isQuarantined(decoded.record)) return decoded.record;
      return this.#write('quarantine', (now) => {
        const fresh = this.#sql.select_job_by_seq.get({ seq: row.seq as number }) as Row | undefined;
        if (fresh === undefined) return decoded.record;
        const again = decodeRow(fresh);
        if (again.problems.length === 0 || isQuarantined(again.record)) return again.record;
        return this.#quarantine(fresh, again.problems, now);
      });
    });
  }

  /** Marks a damaged row dead with an error naming its problems; returns the salvaged record. */
  #quarantine(row: Row, problems: readonly string[], now: number): JobRecord {
    const error = corruptRowError(problems);
    this.#sql.quarantine_job.run({ seq: row.seq as number, error: encodeError(error), now });
    const { record } = decodeRow(row);
    this.#event(
      'dead',
      typeof row.id === 'string' ? row.id : null,
      typeof row.queue === 'string' ? row.queue : '',
      null,
    );
    return {
      ...record,
      state: 'dead',
      error,
      finishedAt: now,
      expiresAt: null,
      workerId: null,
      leaseUntil: null,
    };
  }

  // The state changes below run inside a #write transaction; complete, fail, claim and settleAndClaim
  // share them so a batch settles exactly as the single calls do.

  #claimIn(request: ClaimRequest, now: number): JobRecord[] {
    return claimJobs(this.#sql, request, now, {
      quarantine: (row, problems) => this.#quarantine(row, problems, now),
      event: (type, job) => this.#event(type, job.id, job.queue, job.workerId),
    });
  }

  #completeIn(
    workerId: string,
    id: string,
    result: Uint8Array,
    join: Join | undefined,
    now: number,
  ): boolean {
    const row = this.#sql.complete_job.get({ id, workerId, result, now }) as
      | { queue: string; expires_at: number }
      | undefined;
    if (row === undefined) return false;
    this.#event('succeeded', id, row.queue, workerId);
    if (join !== undefined) {
      // In the transaction that records the success: the last completion counted enqueues, and no
      // crash can fall between the two.
      const { count } = this.#sql.count_join.get({ key: join.key, expiresAt: row.expires_at }) as {
        count: number;
      };
      if (count === join.size) {
        this.#sql.delete_join.run({ key: join.key });
        this.#enqueueIn(join.enqueue, now);
      }
    }
    return true;
  }

  #failIn(workerId: string, id: string, error: StoredError, outcome: FailOutcome, now: number): boolean {
    const stored = encodeError(error);
    const row = (
      'retryAt' in outcome
        ? this.#sql.retry_failed_attempt.get({ id, workerId, error: stored, retryAt: outcome.retryAt, now })
        : this.#sql.finish_failed_job.get({ id, workerId, error: stored, now })
    ) as { queue: string; state: JobState } | undefined;
    if (row === undefined) return false;
    const type: EventType =
      row.state === 'queued' || row.state === 'scheduled' ? 'retrying' : (row.state as EventType);
    this.#event(type, id, row.queue, workerId);
    return true;
  }

  #recoverOne(row: Row, now: number): void {
    const { seq, id, queue, worker_id: workerId, attempt, max_attempts: maxAttempts } = row;
    if (
      typeof id !== 'string' ||
      typeof queue !== 'string' ||
      typeof attempt !== 'number' ||
      typeof maxAttempts !== 'number'
    ) {
      const full = this.#sql.select_job_by_seq.get({ seq: seq as number }) as Row;
      this.#quarantine(full, decodeRow(full).problems.concat('a running job with damaged columns'), now);
      return;
    }
    const holder = typeof workerId === 'string' ? workerId : null;
    this.#event('expired-lease', id, queue, holder);
    if (row.cancel_requested === 1) {
      this.#sql.finish_expired_job.run({ seq: seq as number, state: 'cancelled', error: null, now });
      this.#event('cancelled', id, queue, holder);
    } else if (attempt >= maxAttempts) {
      const state = row.dead_letter === 1 ? 'dead' : 'failed';
      const error: StoredError = {
        name: 'SkeinError',
        message: `The lease of job ${id} expired on attempt ${attempt} of ${maxAttempts} (worker ${holder ?? 'unknown'} stopped extending it: it died, hung or lost the store), and no attempt is left`,
        stack: undefined,
        code: 'SKEIN_TASKS_LEASE_EXPIRED',
      };
      this.#sql.finish_expired_job.run({ seq: seq as number, state, error: encodeError(error), now });
      this.#event(state, id, queue, holder);
    } else {
      this.#sql.requeue_job.run({ seq: seq as number });
    }
  }

  async *#iterate(
    signal: AbortSignal,
    subscribe: (listener: TailListener) => () => void,
  ): AsyncGenerator<BrokerEvent> {
    if (signal.aborted) return;
    this.#checkOpen('events');
    const buffered: BrokerEvent[] = [];
    let failure: Error | undefined;
    let wake: (() => void) | undefined;
    const unsubscribe = subscribe({
      event: (event) => {
        const { id: _id, ...plain } = event;
        buffered.push(plain);
        wake?.();
      },
      error: (error) => {
        failure = error;
        wake?.();
      },
    });
    // Unsubscribed at once on abort, so an iteration left unresumed does not keep the tail polling.
    const abortListener = addAbortListener(signal, () => {
      unsubscribe();
      wake?.();
    });
    try {
      for (;;) {
        while (buffered.length > 0) yield buffered.shift() as BrokerEvent;
        if (failure !== undefined) throw failure;
        if (signal.aborted) return;
        const { promise, resolve } = Promise.withResolvers<void>();
        wake = resolve;
        await promise;
        wake = undefined;
      }
    } finally {
      unsubscribe();
      abortListener[Symbol.dispose]();
    }
  }
}

function isNews(event: { readonly type: EventType }): boolean {
  return NEWS_TYPES.has(event.type);
}

function notFound(id: string): SkeinError {
  return new SkeinError(
    'SKEIN_TASKS_JOB_NOT_FOUND',
    `No job ${JSON.stringify(id)} in the store: it was never enqueued, or it was purged after its resultTtlMs; check the id`,
  );
}

function toEvent(row: Row): LoggedEvent {
  return {
    id: row.id as number,
    type: row.type as EventType,
    jobId: (row.job_id as string | null) ?? null,
    queue: row.queue as string,
    workerId: (row.worker_id as string | null) ?? null,
    at: row.at as number,
  };
}

/** The nearest-rank percentile of sorted values, or null when there are none. */
function percentile(sorted: readonly number[], p: number): number | null {
  if (sorted.length === 0) return null;
  return sorted[Math.min(sorted.length - 1, Math.ceil(p * sorted.length) - 1)] ?? null;
}
