// The Redis engine of the tasks layer: every state change is one Lua script (lua/<verb-noun>.lua), so
// no client-side read-modify-write exists; reads are plain commands. A call made while Redis is
// unreachable rejects at once with SKEIN_TASKS_BROKER_UNAVAILABLE (no offline queue, no resend), while
// ioredis reconnects in the background; events() and waitUntilFinished() ride out outages.

import { addAbortListener } from 'node:events';
import { createRequire } from 'node:module';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Redis } from 'ioredis';
import { abortErrorFrom, internalError, SkeinError } from '../../errors.ts';
import { InsertionOrderMap } from '../../insertion-order-map.ts';
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
import { JOB_STATES } from '../broker.ts';
import {
  decodeEvents,
  decodeJob,
  decodeNews,
  encodeError,
  type JobFields,
  type LuaPackable,
  newJobFields,
  packForLua,
  toBuffer,
  unframeClaimed,
  unframeJob,
} from './job-codec.ts';
import {
  awaitedKey,
  childrenKey,
  eventsKey,
  finishedChannel,
  finishedKey,
  handoffChannel,
  jobKey,
  jobQueueKey,
  newsChannel,
  queueBase,
  queuesKey,
  runningKey,
  stateKey,
  storeBase,
  tickKey,
} from './keys.ts';
import {
  type RedisBrokerOptions,
  type ResolvedRedisBrokerOptions,
  resolveRedisBrokerOptions,
} from './options.ts';
import { defineScripts, type RunScript } from './scripts.ts';

const FINISHED_STATES: ReadonlySet<JobState> = new Set(['succeeded', 'failed', 'dead', 'cancelled']);
/** Window of stats(): throughput and latency percentiles cover the last minute. */
const STATS_WINDOW_MS = 60_000;
/** Pause before waitUntilFinished reads a job again after Redis was unreachable. */
const UNAVAILABLE_RETRY_MS = 200;
/** How long a waitUntilFinished mark lives if its waiter never clears it (it died, or gave up). */
const AWAITED_TTL_MS = 3_600_000;
/**
 * Enqueues of at most this many jobs mark them awaited in the enqueue step (see enqueue()), while a
 * wait began less than MARK_AFTER_WAIT_MS ago: a producer that stopped waiting stops paying for marks.
 */
const MARK_ON_ENQUEUE_MAX = 16;
const MARK_AFTER_WAIT_MS = 10_000;
/** Jobs marked at enqueue remembered, and such jobs finished before their wait, at most. */
const MARKED_REMEMBERED = 10_000;
const EARLY_REMEMBERED = 1_000;
/** How long a handoffs() iteration that was aborted waits for the end of its channel, at most. */
const HANDOFF_DRAIN_MS = 2000;
/** Entries one XREAD returns at most. */
const EVENTS_BATCH = 100;
/** Longest pause between two reconnection attempts: a returning Redis is found within about this. */
const RECONNECT_MAX_DELAY_MS = 2000;

/** Reconnection backoff: 50 ms doubling up to RECONNECT_MAX_DELAY_MS, plus up to 100 ms of jitter. */
function reconnectDelay(attempt: number): number {
  return (
    Math.min(50 * 2 ** Math.min(attempt - 1, 10), RECONNECT_MAX_DELAY_MS) + Math.floor(Math.random() * 100)
  );
}

// ioredis (and its dependencies) load on the first RedisBroker built, not when skein/tasks is imported:
// a program on the SQLite engine never pays for the Redis client.
const requireFromHere = createRequire(import.meta.url);
function redisClass(): typeof Redis {
  return (requireFromHere('ioredis') as { Redis: typeof Redis }).Redis;
}

/** The largest sequence part of a stream id (2^64 - 1). */
const MAX_STREAM_SEQ = 18_446_744_073_709_551_615n;
/** Job → queue entries remembered (a job's queue never changes): saves a round trip per call by id. */
const QUEUE_CACHE_SIZE = 50_000;

/** Reply errors that mean "not now" rather than "wrong": the server is loading, read-only, full … */
const TRANSIENT_REPLY = /^(LOADING|READONLY|MASTERDOWN|OOM|BUSY|CLUSTERDOWN|TRYAGAIN|NOREPLICAS)\b/;
const CONNECTION_MESSAGE =
  /Connection is closed|Stream isn't writeable|Command timed out|connect E|ECONN|EPIPE|ETIMEDOUT|ENOTFOUND|EHOSTUNREACH|write after end/;

/**
 * A Broker on Redis (standalone or Sentinel primary), for queues shared by many machines.
 *
 * @example
 * const broker = new RedisBroker({ url: 'redis://10.0.0.5:6379', prefix: 'myapp' });
 * try { … } finally { await broker.close(); }
 * @throws InvalidArgumentError SKEIN_TASKS_INVALID_OPTION from the constructor for a bad option.
 * @throws SkeinError SKEIN_TASKS_BROKER_UNAVAILABLE from any call while Redis is unreachable, or after close().
 */
export class RedisBroker implements Broker {
  readonly options: ResolvedRedisBrokerOptions;
  readonly #client: Redis;
  readonly #ownsClient: boolean;
  readonly #run: RunScript;
  readonly #prefix: string;
  readonly #where: string;
  /** Aborted by close(): ends event readers and waiters. */
  readonly #closing = new AbortController();
  #closed: Promise<void> | undefined;
  #connecting: Promise<void> | undefined;
  /** Pub/sub connection for waitUntilFinished, created on first use. */
  #subscriber: Redis | undefined;
  #subscribed: Promise<void> | undefined;
  /** #subscribed has resolved: a wait need not await it (nor make a signal to stop that await). */
  #subscribedOk = false;
  /** waitUntilFinished callers by job id: called with the finished job when a message carried it. */
  readonly #waiters = new Map<string, Set<(job?: JobRecord) => void>>();
  /**
   * Which subscription of the finished channel is live (confirmed, and no drop since), or undefined;
   * a new number after each reconnect.
   */
  #liveEpoch: number | undefined;
  #epochs = 0;
  /**
   * Jobs this broker enqueued with their awaited mark set in the enqueue step, while subscription
   * #liveEpoch was live: their finish is published whole to this broker, so a wait needs no read.
   */
  readonly #markedAtEnqueue = new InsertionOrderMap<string, number>();
  /** Such jobs that finished before anyone waited on them, as their message carried them. */
  readonly #finishedEarly = new InsertionOrderMap<string, JobRecord>();
  /** performance.now() of the last waitUntilFinished call: enqueues mark only while waits are recent. */
  #lastWaitAt = Number.NEGATIVE_INFINITY;
  readonly #readers = new Set<Redis>();
  /**
   * Queue of recently enqueued, claimed or read jobs, oldest dropped first. (A plain Map dropping its
   * oldest by keys().next() cost a quarter of a worker's CPU at concurrency 10: insertion-order-map.ts.)
   */
  readonly #queueOf = new InsertionOrderMap<string, string>();

  constructor(options: RedisBrokerOptions = {}) {
    this.options = resolveRedisBrokerOptions(options);
    this.#prefix = this.options.prefix;
    if (this.options.client === undefined) {
      const RedisClient = redisClass();
      this.#client = new RedisClient(this.options.url, {
        lazyConnect: true,
        // Fail fast while Redis is away: a queued or re-sent script could run after the caller gave up,
        // or twice; callers (the worker's poll loop) retry instead, and ioredis reconnects meanwhile.
        enableOfflineQueue: false,
        maxRetriesPerRequest: 0,
        autoResendUnfulfilledCommands: false,
        retryStrategy: reconnectDelay,
      });
      this.#ownsClient = true;
      this.#where = `Redis at ${redactUrl(this.options.url)}`;
    } else {
      this.#client = this.options.client;
      this.#ownsClient = false;
      this.#where = 'Redis (through the given client)';
    }
    // Errors also reach each call; without a listener ioredis would print every reconnect failure.
    if (this.#ownsClient) this.#client.on('error', () => {});
    this.#run = defineScripts(this.#client);
  }

  async enqueue(jobs: readonly NewJob[]): Promise<Enqueued[]> {
    if (jobs.length === 0) return [];
    // Each distinct queue base is one KEYS entry; a job names its own by index.
    const keyIndex = new Map<string, number>();
    const keys = [storeBase(this.#prefix)];
    const packed: LuaPackable[] = [];
    for (const job of jobs) {
      const base = queueBase(this.#prefix, job.queue);
      let index = keyIndex.get(base);
      if (index === undefined) {
        index = keys.push(base);
        keyIndex.set(base, index);
      }
      packed.push([String(index), ...newJobFields(job)]);
    }
    // A broker someone waits through (its finished channel is subscribed, and a wait began lately)
    // marks the jobs of a small enqueue as awaited in the same step, so that a wait on one needs no
    // mark and read of its own.
    const epoch =
      jobs.length <= MARK_ON_ENQUEUE_MAX && performance.now() - this.#lastWaitAt < MARK_AFTER_WAIT_MS
        ? this.#liveEpoch
        : undefined;
    const args = [
      String(Date.now()),
      String(this.options.eventsMaxLen),
      packForLua(packed),
      epoch === undefined ? '0' : String(AWAITED_TTL_MS),
    ];
    const reply = (await this.#call('enqueue', () => this.#run('enqueue-jobs', keys, args))) as (
      | string
      | number
    )[];
    const out: Enqueued[] = [];
    for (let i = 0; i < reply.length; i += 2) out.push({ id: String(reply[i]), created: reply[i + 1] === 1 });
    out.forEach((entry, i) => {
      if (!entry.created) return;
      this.#remember(entry.id, jobs[i]!.queue);
      if (epoch !== undefined) boundedSet(this.#markedAtEnqueue, entry.id, epoch, MARKED_REMEMBERED);
    });
    return out;
  }

  async claim(request: ClaimRequest): Promise<JobRecord[]> {
    if (request.max < 1 || request.tasks.length === 0) return [];
    const now = Date.now();
    const args: string[] = [
      String(now),
      request.workerId,
      String(request.max),
      String(request.leaseMs),
      request.queue,
      String(this.options.eventsMaxLen),
      String(this.options.claimScanLimit),
      ...claimFilters(request),
    ];
    const keys = [queueBase(this.#prefix, request.queue), storeBase(this.#prefix)];
    const [texts, binaries] = (await this.#call('claim', () =>
      this.#run('claim-jobs', keys, args, true),
    )) as [Buffer, Buffer];
    return this.#claimed(request, now, texts, binaries);
  }

  async settleAndClaim(
    workerId: string,
    outcomes: readonly SettleOutcome[],
    claim: ClaimRequest | null,
  ): Promise<Settled> {
    if (claim !== null && claim.workerId !== workerId) {
      throw internalError(`settleAndClaim for worker ${workerId} got a claim for worker ${claim.workerId}`);
    }
    const claiming = claim !== null && claim.max >= 1 && claim.tasks.length > 0;
    if (!claiming && outcomes.length === 0) return { settled: [], claimed: [] };
    // The queues the call touches, the claim's first: queue i's base is KEYS[1 + i] of the script.
    const queues: string[] = claiming ? [claim.queue] : [];
    const located = outcomes.length === 0 ? [] : await this.#queuesOfEach(outcomes.map((o) => o.id));
    const queueIndex = (queue: string): number => {
      const index = queues.indexOf(queue);
      return index >= 0 ? index + 1 : queues.push(queue);
    };
    const now = Date.now();
    const args: (string | Buffer)[] = [String(now), workerId, String(this.options.eventsMaxLen)];
    const known: SettleOutcome[] = [];
    const sent: boolean[] = [];
    const packed: LuaPackable[] = [];
    outcomes.forEach((outcome, i) => {
      const queue = located[i];
      // A job unknown to the store: no lease to hold, so not settled (as complete() and fail() answer).
      sent.push(queue !== undefined);
      if (queue === undefined) return;
      known.push(outcome);
      const index = String(queueIndex(queue));
      // Flat: five values per outcome (eight for a join), no array each (settle-and-claim.lua).
      if (outcome.kind === 'complete') {
        const { join } = outcome;
        if (join === undefined) packed.push('complete', index, outcome.id, toBuffer(outcome.result), '');
        else {
          const jobs = join.enqueue.map((job) => [String(1 + queueIndex(job.queue)), ...newJobFields(job)]);
          packed.push(
            'join',
            index,
            outcome.id,
            toBuffer(outcome.result),
            '',
            join.key,
            String(join.size),
            jobs,
          );
        }
      } else {
        const retryAt = 'retryAt' in outcome.outcome ? String(outcome.outcome.retryAt) : '';
        packed.push('fail', index, outcome.id, encodeError(outcome.error), retryAt);
      }
    });
    if (!claiming && known.length === 0) return { settled: sent.map(() => false), claimed: [] };
    args.push(String(queues.length), ...queues, packForLua(packed));
    if (claiming) {
      args.push(
        '1',
        claim.workerId,
        String(claim.max),
        String(claim.leaseMs),
        String(this.options.claimScanLimit),
        ...claimFilters(claim),
      );
    } else {
      args.push('0');
    }
    const keys = [storeBase(this.#prefix), ...queues.map((queue) => queueBase(this.#prefix, queue))];
    const [flags, texts, binaries] = (await this.#call('settleAndClaim', () =>
      this.#run('settle-and-claim', keys, args, true),
    )) as [Buffer, Buffer, Buffer];
    let next = 0;
    // One digit per outcome sent, '1' when it was applied.
    const settled = sent.map((wasSent) => wasSent && flags[next++] === 0x31);
    const claimed = claiming ? await this.#claimed(claim, now, texts, binaries) : [];
    return { settled, claimed };
  }

  /** Decodes the jobs a claim returned, setting aside (see #quarantine) any it cannot decode. */
  async #claimed(request: ClaimRequest, now: number, texts: Buffer, binaries: Buffer): Promise<JobRecord[]> {
    const jobs: JobRecord[] = [];
    const stamp = { queue: request.queue, workerId: request.workerId, now, leaseMs: request.leaseMs };
    for (const hash of unframeClaimed(texts, binaries)) {
      let job: JobRecord | undefined;
      try {
        job = decodeJob(hash, stamp);
      } catch (error) {
        await this.#quarantine(request.queue, request.workerId, hash, error);
        continue;
      }
      if (job === undefined) continue;
      this.#remember(job.id, job.queue);
      jobs.push(job);
    }
    return jobs;
  }

  async extendLeases(workerId: string, ids: readonly string[], leaseMs: number): Promise<string[]> {
    if (ids.length === 0) return [];
    const byQueue = await this.#queuesOf(ids);
    const held: string[] = [];
    for (const [queue, queueIds] of byQueue) {
      const reply = (await this.#call('extendLeases', () =>
        this.#run(
          'extend-leases',
          [queueBase(this.#prefix, queue)],
          [String(Date.now()), workerId, String(leaseMs), ...queueIds],
        ),
      )) as string[];
      held.push(...reply);
    }
    return held;
  }

  async heldStatus(workerId: string, attempts: readonly HeldAttempt[]): Promise<HeldStatus[]> {
    if (attempts.length === 0) return [];
    const queues = await this.#queuesOfEach(
      attempts.map((held) => held.id),
      'heldStatus',
    );
    const pipeline = this.#client.pipeline();
    const asked: number[] = [];
    attempts.forEach(({ id }, i) => {
      const queue = queues[i];
      if (queue === undefined) return;
      asked.push(i);
      pipeline.hmget(jobKey(this.#prefix, queue, id), 'state', 'workerId', 'attempt', 'cancelRequested');
    });
    const statuses: HeldStatus[] = attempts.map(() => 'lost');
    if (asked.length === 0) return statuses;
    const replies = await this.#call('heldStatus', () => pipeline.exec());
    if (replies === null) throw this.#translate(new Error('Connection is closed.'), 'heldStatus');
    replies.forEach(([error, value], k) => {
      if (error) throw this.#translate(error, 'heldStatus');
      const [state, holder, attempt, cancelRequested] = value as (string | null)[];
      const i = asked[k]!;
      if (state === 'running' && holder === workerId && Number(attempt) === attempts[i]!.attempt) {
        statuses[i] = cancelRequested === '1' ? 'cancel-requested' : 'held';
      }
    });
    return statuses;
  }

  async complete(workerId: string, id: string, result: Uint8Array, join?: Join): Promise<boolean> {
    const queue = await this.#queueOfJob('complete', id);
    if (queue === undefined) return false;
    const keys = [queueBase(this.#prefix, queue), storeBase(this.#prefix)];
    const args: (string | Buffer)[] = [
      String(Date.now()),
      workerId,
      id,
      toBuffer(result),
      queue,
      String(this.options.eventsMaxLen),
    ];
    if (join !== undefined) {
      // Each job of the join names its queue base by its index in KEYS.
      const jobs = join.enqueue.map((job): LuaPackable => {
        const base = queueBase(this.#prefix, job.queue);
        const index = keys.indexOf(base);
        return [String(index >= 0 ? index + 1 : keys.push(base)), ...newJobFields(job)];
      });
      args.push(join.key, String(join.size), packForLua(jobs));
    }
    const reply = await this.#call('complete', () => this.#run('complete-job', keys, args));
    return reply === 1;
  }

  fail(workerId: string, id: string, error: StoredError, outcome: FailOutcome): Promise<boolean> {
    const retryAt = 'retryAt' in outcome ? String(outcome.retryAt) : '';
    return this.#byJob('fail', 'fail-job', id, (queue) => [
      String(Date.now()),
      workerId,
      id,
      encodeError(error),
      retryAt,
      queue,
      String(this.options.eventsMaxLen),
    ]).then((reply) => reply === 1);
  }

  release(workerId: string, id: string): Promise<boolean> {
    return this.#byJob('release', 'release-job', id, (queue) => [
      String(Date.now()),
      workerId,
      id,
      queue,
      String(this.options.eventsMaxLen),
    ]).then((reply) => reply === 1);
  }

  reportProgress(workerId: string, id: string, progress: Uint8Array): Promise<boolean> {
    return this.#byJob('reportProgress', 'report-progress', id, (queue) => [
      String(Date.now()),
      workerId,
      id,
      toBuffer(progress),
      queue,
      String(this.options.eventsMaxLen),
    ]).then((reply) => reply === 1);
  }

  async recoverExpiredLeases(now: number): Promise<number> {
    const queues = await this.#queues();
    if (queues.length === 0) return 0;
    const keys = [storeBase(this.#prefix), ...queues.map((queue) => queueBase(this.#prefix, queue))];
    return (await this.#call('recoverExpiredLeases', () =>
      this.#run('recover-leases', keys, [String(now), String(this.options.eventsMaxLen), ...queues]),
    )) as number;
  }

  async cancel(id: string): Promise<'cancelled' | 'requested' | 'finished' | 'not-found'> {
    const reply = await this.#byJob('cancel', 'cancel-job', id, (queue) => [
      String(Date.now()),
      id,
      queue,
      String(this.options.eventsMaxLen),
    ]);
    return reply === undefined
      ? 'not-found'
      : (reply as 'cancelled' | 'requested' | 'finished' | 'not-found');
  }

  cancelled(workerId: string, id: string): Promise<boolean> {
    return this.#byJob('cancelled', 'mark-cancelled', id, (queue) => [
      String(Date.now()),
      workerId,
      id,
      queue,
      String(this.options.eventsMaxLen),
    ]).then((reply) => reply === 1);
  }

  retry(id: string): Promise<boolean> {
    return this.#byJob('retry', 'retry-job', id, (queue) => [
      String(Date.now()),
      id,
      queue,
      String(this.options.eventsMaxLen),
    ]).then((reply) => reply === 1);
  }

  async get(id: string): Promise<JobRecord | undefined> {
    const queue = await this.#queueOfJob('get', id);
    if (queue === undefined) return undefined;
    const hash = await this.#call('get', () => this.#client.hgetallBuffer(jobKey(this.#prefix, queue, id)));
    return decodeJob(hash);
  }

  async list(queue: string, state: JobState, limit: number, offset = 0): Promise<JobRecord[]> {
    if (limit <= 0) return [];
    const ids =
      state === 'running'
        ? await this.#runningIds(queue, limit, offset)
        : await this.#call('list', () =>
            this.#client.zrange(stateKey(this.#prefix, queue, state), offset, String(offset + limit - 1)),
          );
    return this.#readJobs(
      'list',
      ids.map((id) => [queue, id]),
    );
  }

  /**
   * A page of a queue's running jobs' ids, oldest first (createdAt, then id, as the state sets order
   * them). Running jobs have no set by createdAt (the hot path keeps none): the running set is read
   * whole, with each job's createdAt, and sorted here; it holds no more jobs than the workers' run
   * slots and prefetch.
   */
  async #runningIds(queue: string, limit: number, offset: number): Promise<string[]> {
    const ids = await this.#call('list', () => this.#client.zrange(runningKey(this.#prefix, queue), 0, '-1'));
    if (ids.length === 0) return [];
    const pipeline = this.#client.pipeline();
    for (const id of ids) pipeline.hmget(jobKey(this.#prefix, queue, id), 'state', 'createdAt');
    const replies = await this.#call('list', () => pipeline.exec());
    if (replies === null) throw this.#translate(new Error('Connection is closed.'), 'list');
    const found: { id: string; createdAt: number }[] = [];
    replies.forEach(([error, fields], i) => {
      if (error) throw this.#translate(error, 'list');
      const [state, createdAt] = fields as (string | null)[];
      // An entry whose job is gone (deleted by hand) is left out.
      if (state === 'running') found.push({ id: ids[i]!, createdAt: Number(createdAt) });
    });
    found.sort((a, b) => a.createdAt - b.createdAt || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
    return found.slice(offset, offset + limit).map((job) => job.id);
  }

  async children(parentId: string): Promise<JobRecord[]> {
    const ids = await this.#call('children', () =>
      this.#client.zrange(childrenKey(this.#prefix, parentId), 0, '-1'),
    );
    if (ids.length === 0) return [];
    const queues = await this.#call('children', () => this.#client.hmget(jobQueueKey(this.#prefix), ...ids));
    const located: [string, string][] = [];
    ids.forEach((id, i) => {
      const queue = queues[i];
      if (queue !== null && queue !== undefined) located.push([queue, id]);
    });
    return this.#readJobs('children', located);
  }

  async purgeExpired(now: number): Promise<number> {
    const queues = await this.#queues();
    if (queues.length === 0) return 0;
    const keys = [storeBase(this.#prefix), ...queues.map((queue) => queueBase(this.#prefix, queue))];
    return (await this.#call('purgeExpired', () =>
      this.#run('purge-expired', keys, [String(now), ...queues]),
    )) as number;
  }

  async claimTick(scheduleId: string, tickAt: number, schedulerId: string): Promise<boolean> {
    // One SET NX is already atomic: the first caller creates the key, every later one finds it.
    const reply = await this.#call('claimTick', () =>
      this.#client.set(
        tickKey(this.#prefix, scheduleId, tickAt),
        schedulerId,
        'PX',
        this.options.tickRetention,
        'NX',
      ),
    );
    return reply === 'OK';
  }

  async heartbeat(workerId: string, queue: string, info: Readonly<Record<string, unknown>>): Promise<void> {
    const json = JSON.stringify(info);
    await this.#call('heartbeat', () =>
      this.#run(
        'record-heartbeat',
        [storeBase(this.#prefix)],
        [String(Date.now()), workerId, queue, json, String(this.options.eventsMaxLen)],
      ),
    );
  }

  events(signal: AbortSignal): AsyncIterable<BrokerEvent> {
    // Where the iteration starts: before every entry appended from now on. The stream's last id, read
    // now, can come too late when this connection is still connecting and another one appends first;
    // an id made of this host's clock cannot. The earlier of the two wins, so with clocks in step no
    // later event is missed (with a clock skew of d ms, up to d ms of older events may come first).
    const calledAt = Date.now();
    const start = this.#call('events', () =>
      this.#client.xrevrange(eventsKey(this.#prefix), '+', '-', 'COUNT', 1),
    ).then((entries) => earlierId(entries[0]?.[0] ?? '0-0', calledAt));
    start.catch(() => {});
    return this.#readEvents(start, signal, calledAt);
  }

  async *#readEvents(
    start: Promise<string>,
    signal: AbortSignal,
    calledAt: number,
  ): AsyncGenerator<BrokerEvent> {
    if (signal.aborted) return;
    this.#checkOpen('events');
    // Redis was unreachable when events() was called: start from whatever is last once it is back.
    let last = await start.catch(() => undefined);
    const reader = this.#readerConnection();
    const stop = AbortSignal.any([signal, this.#closing.signal]);
    using _listener = addAbortListener(stop, () => reader.disconnect());
    try {
      if (last === undefined) {
        try {
          const entries = await reader.xrevrange(eventsKey(this.#prefix), '+', '-', 'COUNT', 1);
          last = earlierId(entries[0]?.[0] ?? '0-0', calledAt);
        } catch (error) {
          if (signal.aborted) return;
          throw this.#translate(error, 'events');
        }
      }
      while (!stop.aborted) {
        let reply: [string, [string, string[]][]][] | null;
        try {
          reply = (await reader.xread(
            'COUNT',
            EVENTS_BATCH,
            'BLOCK',
            0,
            'STREAMS',
            eventsKey(this.#prefix),
            last,
          )) as [string, [string, string[]][]][] | null;
        } catch (error) {
          if (signal.aborted) return;
          throw this.#translate(error, 'events');
        }
        for (const [, entries] of reply ?? []) {
          for (const [id, fields] of entries) {
            last = id;
            yield* decodeEvents(fields);
          }
        }
      }
      // An abort ends the iteration quietly; close() ends it with an error, as for the SQLite engine.
      if (!signal.aborted) throw this.#closedError('events');
    } finally {
      this.#readers.delete(reader);
      reader.disconnect();
    }
  }

  /**
   * The queue's news from its pub/sub channel (flush_events in include/job-state.lua publishes it): a
   * push per script, where events() would cost the reader a read and a new XREAD per entry. Messages
   * published while this connection is away are lost, as news() allows.
   */
  async *news(queue: string, signal: AbortSignal): AsyncGenerator<BrokerEvent> {
    if (signal.aborted) return;
    this.#checkOpen('news');
    const subscriber = this.#readerConnection();
    const stop = AbortSignal.any([signal, this.#closing.signal]);
    const arrived: BrokerEvent[] = [];
    let wake: (() => void) | undefined;
    subscriber.on('message', (_channel: string, message: string) => {
      decodeNews(message, arrived);
      wake?.();
    });
    using _listener = addAbortListener(stop, () => {
      subscriber.disconnect();
      wake?.();
    });
    try {
      try {
        await subscriber.subscribe(newsChannel(this.#prefix, queue));
      } catch (error) {
        if (stop.aborted) return;
        throw this.#translate(error, 'news');
      }
      while (!stop.aborted) {
        if (arrived.length > 0) {
          yield* arrived.splice(0);
          continue;
        }
        await new Promise<void>((resolve) => {
          wake = resolve;
        });
        wake = undefined;
      }
      // An abort ends the iteration quietly; close() ends it with an error, as events() does.
      if (!signal.aborted) throw this.#closedError('news');
    } finally {
      this.#readers.delete(subscriber);
      subscriber.disconnect();
    }
  }

  /**
   * The jobs enqueues hand to this worker while it is registered idle (include/handoff.lua publishes
   * each whole on its channel). On abort, withdraw-handoff takes the worker off the idle list and
   * publishes an empty message after every job handed to it: the iteration reads up to that message
   * (bounded by HANDOFF_DRAIN_MS), so none handed before is left behind, then ends.
   */
  async *handoffs(
    queue: string,
    workerId: string,
    signal: AbortSignal,
  ): AsyncGenerator<readonly JobRecord[]> {
    if (signal.aborted) return;
    this.#checkOpen('handoffs');
    const subscriber = this.#readerConnection();
    const arrived: Buffer[] = [];
    let ended = false;
    let dropped = false;
    let wake: (() => void) | undefined;
    subscriber.on('messageBuffer', (_channel: Buffer, message: Buffer) => {
      if (message.length === 0) ended = true;
      else arrived.push(message);
      wake?.();
    });
    // Jobs handed off while the connection is down are lost to it: end, so the worker stops asking for
    // handoff until it listens again (those jobs come back when their leases run out).
    subscriber.on('close', () => {
      dropped = true;
      wake?.();
    });
    using _listener = addAbortListener(signal, () => wake?.());
    const stopOnClose = addAbortListener(this.#closing.signal, () => wake?.());
    let withdrawn: Promise<unknown> | undefined;
    let drainUntil = Number.POSITIVE_INFINITY;
    try {
      try {
        await subscriber.subscribe(handoffChannel(this.#prefix, workerId));
      } catch (error) {
        if (signal.aborted || this.#closing.signal.aborted) return;
        throw this.#translate(error, 'handoffs');
      }
      yield [];
      for (;;) {
        if (arrived.length > 0) {
          const jobs: JobRecord[] = [];
          for (const message of arrived.splice(0)) {
            const hash = unframeJob(message);
            let job: JobRecord | undefined;
            try {
              job = decodeJob(hash);
            } catch (error) {
              await this.#quarantine(queue, workerId, hash, error).catch(() => {});
              continue;
            }
            if (job === undefined) continue;
            this.#remember(job.id, job.queue);
            jobs.push(job);
          }
          if (jobs.length > 0) yield jobs;
          continue;
        }
        if (ended || this.#closing.signal.aborted) return;
        if (dropped) {
          if (signal.aborted) return;
          throw this.#translate(new Error('Connection is closed.'), 'handoffs');
        }
        if (signal.aborted && withdrawn === undefined) {
          drainUntil = Date.now() + HANDOFF_DRAIN_MS;
          withdrawn = this.#call('handoffs', () =>
            this.#run(
              'withdraw-handoff',
              [queueBase(this.#prefix, queue), storeBase(this.#prefix)],
              [workerId],
            ),
          ).then(
            () => {},
            () => {
              // Redis is away: the registration lapses by its ttl, and nothing more can arrive here.
              ended = true;
              wake?.();
            },
          );
        }
        const wait = signal.aborted ? drainUntil - Date.now() : undefined;
        if (wait !== undefined && wait <= 0) return;
        await new Promise<void>((resolve) => {
          const timer = wait === undefined ? undefined : setTimeout(resolve, wait);
          wake = () => {
            clearTimeout(timer);
            resolve();
          };
        });
        wake = undefined;
      }
    } finally {
      stopOnClose[Symbol.dispose]();
      await withdrawn;
      this.#readers.delete(subscriber);
      subscriber.disconnect();
    }
  }

  async stats(queue: string): Promise<QueueStats> {
    const now = Date.now();
    const pipeline = this.#client.pipeline();
    for (const state of JOB_STATES) {
      pipeline.zcard(
        state === 'running' ? runningKey(this.#prefix, queue) : stateKey(this.#prefix, queue, state),
      );
    }
    pipeline.zrangebyscore(
      finishedKey(this.#prefix, queue),
      `(${now - STATS_WINDOW_MS}`,
      '+inf',
      'WITHSCORES',
    );
    const replies = await this.#call('stats', () => pipeline.exec());
    if (replies === null) throw this.#translate(new Error('Connection is closed.'), 'stats');
    const values = replies.map(([error, value]) => {
      if (error) throw this.#translate(error, 'stats');
      return value;
    });
    const counts = Object.fromEntries(JOB_STATES.map((state, i) => [state, Number(values[i])])) as Record<
      JobState,
      number
    >;
    const latencies = finishedLatencies(values[JOB_STATES.length] as string[]);
    return {
      queue,
      counts,
      finishedLastMinute: latencies.length,
      latencyP50Ms: percentile(latencies, 0.5),
      latencyP99Ms: percentile(latencies, 0.99),
    };
  }

  async waitUntilFinished(id: string, signal: AbortSignal): Promise<JobRecord> {
    if (signal.aborted) throw abortErrorFrom(signal);
    this.#checkOpen('waitUntilFinished');
    this.#lastWaitAt = performance.now();
    // The caller's signal and close() each get a listener for the whole wait, not one composite
    // AbortSignal.any(): making one cost ~30 µs a wait here, on the path from a job's enqueue to its
    // worker when both live in one process (the enqueue's reply is handled before the handoff).
    const closing = this.#closing.signal;
    const stopped = (): boolean => signal.aborted || closing.aborted;
    let woken = false;
    let wake: (() => void) | undefined;
    let delivered: JobRecord | undefined;
    const onFinished = (job?: JobRecord): void => {
      delivered ??= job;
      woken = true;
      wake?.();
    };
    const onStop = (): void => wake?.();
    using _stopListener = addAbortListener(signal, onStop);
    using _closeListener = addAbortListener(closing, onStop);
    // Sleeps until onFinished (or a reconnect) wakes the wait, or it is stopped.
    const untilWoken = async (): Promise<void> => {
      if (woken || stopped()) return;
      await new Promise<void>((resolve) => {
        wake = resolve;
      });
      wake = undefined;
    };
    let set = this.#waiters.get(id);
    if (set === undefined) this.#waiters.set(id, (set = new Set()));
    set.add(onFinished);
    try {
      // Subscribe first, then read: a finish after the read publishes to a channel already heard. The
      // awaited mark asks the finishing script to publish the job whole (flush_events), so that no read
      // follows its message; it is sent before the read, on the same connection, so it lands first.
      if (!this.#subscribedOk) await this.#subscribe(AbortSignal.any([signal, closing]));
      const awaited = awaitedKey(this.#prefix, id);
      // The first read carries the mark in the same write (one pipeline): set first, then read.
      let mark: string | undefined = awaited;
      // Marked when this broker enqueued it, with the finished channel heard since: its finish reaches
      // this broker whole (kept in #finishedEarly if it came first), so no mark or read is needed.
      const epoch = this.#markedAtEnqueue.get(id);
      if (epoch !== undefined && epoch === this.#liveEpoch) {
        this.#markedAtEnqueue.delete(id);
        delivered ??= this.#finishedEarly.get(id);
        this.#finishedEarly.delete(id);
        mark = undefined;
        // Anything else that wakes the wait (an id list: another waiter spent the mark; a reconnect)
        // falls back to a read below.
        if (delivered === undefined) {
          await untilWoken();
        }
      }
      for (;;) {
        woken = false;
        if (delivered !== undefined) return delivered;
        if (stopped()) break;
        let job: JobRecord | 'waiting' | undefined;
        try {
          job = await this.#finishedJob(id, mark);
          mark = undefined;
        } catch (error) {
          if (!(error instanceof SkeinError && error.code === 'SKEIN_TASKS_BROKER_UNAVAILABLE') || stopped())
            throw error;
          await sleep(UNAVAILABLE_RETRY_MS, undefined, { signal: AbortSignal.any([signal, closing]) }).catch(
            () => {},
          );
          woken = true;
        }
        if (stopped()) break;
        if (!woken && job === undefined) {
          throw new SkeinError(
            'SKEIN_TASKS_JOB_NOT_FOUND',
            `No job ${JSON.stringify(id)} in ${this.#where} under prefix '${this.#prefix}': it was never enqueued there or was purged after its resultTtlMs; wait on a job before its result expires`,
          );
        }
        if (job !== undefined && job !== 'waiting') {
          this.#client.del(awaited).catch(() => {});
          return job;
        }
        if (woken) continue;
        await untilWoken();
        if (stopped()) break;
      }
      if (signal.aborted) throw abortErrorFrom(signal);
      throw this.#closedError('waitUntilFinished');
    } finally {
      set.delete(onFinished);
      if (set.size === 0 && this.#waiters.get(id) === set) this.#waiters.delete(id);
    }
  }

  /**
   * Job `id` once finished, 'waiting' before, undefined when unknown: its state alone is read first, so
   * a wait that starts before the job ends costs one small reply, not the whole job.
   */
  /** The job if finished, 'waiting' if not, undefined if unknown; sets `mark` first when given. */
  async #finishedJob(id: string, mark?: string): Promise<JobRecord | 'waiting' | undefined> {
    const queue = await this.#queueOfJob('waitUntilFinished', id);
    if (queue === undefined) return undefined;
    const key = jobKey(this.#prefix, queue, id);
    const state = await this.#call('waitUntilFinished', async () => {
      if (mark === undefined) return this.#client.hget(key, 'state');
      const replies = await this.#client
        .pipeline()
        .set(mark, '1', 'PX', AWAITED_TTL_MS)
        .hget(key, 'state')
        .exec();
      if (replies === null) throw new Error('Connection is closed.');
      const [[markError], [readError, value]] = replies as [[Error | null, unknown], [Error | null, unknown]];
      if (markError) throw markError;
      if (readError) throw readError;
      return value as string | null;
    });
    if (state === null) return undefined;
    if (!FINISHED_STATES.has(state as JobState)) return 'waiting';
    const job = await this.get(id);
    return job !== undefined && FINISHED_STATES.has(job.state) ? job : 'waiting';
  }

  close(): Promise<void> {
    this.#closed ??= (async () => {
      this.#closing.abort();
      for (const reader of this.#readers) reader.disconnect();
      this.#subscriber?.disconnect();
      if (!this.#ownsClient) return;
      if (this.#client.status === 'ready') {
        await this.#client.quit().catch(() => this.#client.disconnect());
      } else {
        this.#client.disconnect();
      }
    })();
    return this.#closed;
  }

  /**
   * Ends a claimed job whose hash cannot be decoded (edited by hand, or half-written when Redis ran out
   * of memory) as a final failure with the reason as its error, so the worker goes on with the others
   * and the job stays listed (dead, or failed without dead-lettering) for a person to look at.
   */
  async #quarantine(queue: string, workerId: string, hash: JobFields, cause: unknown): Promise<void> {
    const id = Object.hasOwn(hash, 'id') ? hash.id?.toString() : undefined;
    if (id === undefined) throw cause;
    const reason = cause instanceof Error ? cause.message : String(cause);
    const error: StoredError = {
      name: 'SkeinError',
      message: `Job ${id} is damaged in Redis (${reason}); it was set aside instead of run`,
      stack: undefined,
      code: 'SKEIN_INTERNAL',
    };
    const keys = [queueBase(this.#prefix, queue), storeBase(this.#prefix)];
    await this.#call('claim', () =>
      this.#run('fail-job', keys, [
        String(Date.now()),
        workerId,
        id,
        encodeError(error),
        '',
        queue,
        String(this.options.eventsMaxLen),
      ]),
    );
  }

  /**
   * A connection of its own for a reader (XREAD BLOCK, or pub/sub, holds it). Unlike the command
   * connection it queues while Redis is away and re-sends its (read-only) commands after a reconnect,
   * so a reader resumes where it stopped. `tracked` ones are disconnected by close() with the others.
   */
  #readerConnection(tracked = true): Redis {
    const connection = this.#client.duplicate({
      lazyConnect: false,
      enableOfflineQueue: true,
      maxRetriesPerRequest: null,
      autoResendUnfulfilledCommands: true,
    });
    connection.on('error', () => {});
    if (tracked) this.#readers.add(connection);
    return connection;
  }

  /** Ensures the pub/sub connection listens on the finished channel. */
  #subscribe(stop: AbortSignal): Promise<void> {
    if (this.#subscribed === undefined) {
      const subscriber = this.#readerConnection(false);
      // Per script: each awaited job it finished, whole, then the ids of all it finished.
      subscriber.on('messageBuffer', (_channel: Buffer, message: Buffer) => {
        if (message[0] === 1) {
          let job: JobRecord | undefined;
          try {
            const fields = unframeJob(message);
            const id = typeof fields.id === 'string' ? fields.id : undefined;
            // Nobody here waits on it, or will: not worth decoding.
            if (id === undefined || !(this.#waiters.has(id) || this.#markedAtEnqueue.has(id))) return;
            job = decodeJob(fields);
          } catch {
            return; // The id list that follows wakes the waiter, which then reads the job itself.
          }
          // The finishing script spent the awaited mark when it published this.
          if (job !== undefined && FINISHED_STATES.has(job.state)) {
            const waiters = this.#waiters.get(job.id);
            if (waiters === undefined) boundedSet(this.#finishedEarly, job.id, job, EARLY_REMEMBERED);
            for (const wake of waiters ?? []) wake(job);
          }
          return;
        }
        for (const id of message.toString().split('\n'))
          for (const wake of this.#waiters.get(id) ?? []) wake();
      });
      // A publish made while the subscriber was away is lost: after each reconnect every waiter reads
      // its job again, and jobs marked at enqueue before it are waited on as any other.
      let connected = false;
      subscriber.on('close', () => {
        this.#liveEpoch = undefined;
      });
      subscriber.on('ready', () => {
        if (connected) {
          // Subscribed again (ioredis resubscribes too; a second SUBSCRIBE is harmless): a new epoch.
          const epoch = ++this.#epochs;
          subscriber
            .subscribe(finishedChannel(this.#prefix))
            .then(() => {
              if (subscriber.status === 'ready') this.#liveEpoch = epoch;
            })
            .catch(() => {});
        }
        connected = true;
        for (const set of this.#waiters.values()) for (const wake of set) wake();
      });
      this.#subscriber = subscriber;
      const first = ++this.#epochs;
      this.#subscribed = subscriber.subscribe(finishedChannel(this.#prefix)).then(() => {
        this.#subscribedOk = true;
        if (subscriber.status === 'ready' && this.#epochs === first) this.#liveEpoch = first;
      });
      this.#subscribed.catch(() => {});
    }
    const subscribed = this.#subscribed;
    return new Promise<void>((resolve, reject) => {
      const listener = addAbortListener(stop, () => resolve());
      subscribed.then(
        () => {
          listener[Symbol.dispose]();
          resolve();
        },
        (error: unknown) => {
          listener[Symbol.dispose]();
          reject(this.#translate(error, 'waitUntilFinished'));
        },
      );
    });
  }

  /** Runs a script against the queue of job `id`; undefined when the job is unknown. */
  async #byJob(
    what: string,
    script: Parameters<RunScript>[0],
    id: string,
    args: (queue: string) => (string | Buffer)[],
  ): Promise<unknown> {
    // The queue of a job never changes, so reading it before the script is no read-modify-write: the
    // script itself checks that the job still exists in that queue.
    const queue = await this.#queueOfJob(what, id);
    if (queue === undefined) return undefined;
    return this.#call(what, () =>
      this.#run(script, [queueBase(this.#prefix, queue), storeBase(this.#prefix)], args(queue)),
    );
  }

  /**
   * The queue of job `id` (from the cache, else from the job-queue index), or undefined when unknown.
   * A cached entry may name a job purged since: the scripts check the job exists, so that is harmless.
   */
  async #queueOfJob(what: string, id: string): Promise<string | undefined> {
    const cached = this.#queueOf.get(id);
    if (cached !== undefined) return cached;
    const queue = await this.#call(what, () => this.#client.hget(jobQueueKey(this.#prefix), id));
    if (queue === null) return undefined;
    this.#remember(id, queue);
    return queue;
  }

  #remember(id: string, queue: string): void {
    boundedSet(this.#queueOf, id, queue, QUEUE_CACHE_SIZE);
  }

  async #queuesOf(ids: readonly string[]): Promise<Map<string, string[]>> {
    const queues = await this.#queuesOfEach(ids, 'extendLeases');
    const byQueue = new Map<string, string[]>();
    ids.forEach((id, i) => {
      const queue = queues[i];
      if (queue === undefined) return;
      const list = byQueue.get(queue);
      if (list === undefined) byQueue.set(queue, [id]);
      else list.push(id);
    });
    return byQueue;
  }

  /** The queue of each job (undefined when unknown): from the cache, the rest in one HMGET. */
  async #queuesOfEach(ids: readonly string[], what = 'settleAndClaim'): Promise<(string | undefined)[]> {
    // The usual case, a worker settling jobs it claimed: every queue is cached, one lookup per id.
    const cached = ids.map((id) => this.#queueOf.get(id));
    if (!cached.includes(undefined)) return cached;
    const unknown = ids.filter((_, i) => cached[i] === undefined);
    const fetched =
      unknown.length === 0
        ? []
        : await this.#call(what, () => this.#client.hmget(jobQueueKey(this.#prefix), ...unknown));
    const found = new Map<string, string>();
    unknown.forEach((id, i) => {
      const queue = fetched[i];
      if (queue !== null && queue !== undefined) {
        this.#remember(id, queue);
        found.set(id, queue);
      }
    });
    return ids.map((id, i) => cached[i] ?? found.get(id));
  }

  #queues(): Promise<string[]> {
    return this.#call('queues', () => this.#client.smembers(queuesKey(this.#prefix)));
  }

  async #readJobs(what: string, located: readonly (readonly [string, string])[]): Promise<JobRecord[]> {
    if (located.length === 0) return [];
    const pipeline = this.#client.pipeline();
    for (const [queue, id] of located) pipeline.hgetallBuffer(jobKey(this.#prefix, queue, id));
    const replies = await this.#call(what, () => pipeline.exec());
    if (replies === null) throw this.#translate(new Error('Connection is closed.'), what);
    const jobs: JobRecord[] = [];
    for (const [error, hash] of replies) {
      if (error) throw this.#translate(error, what);
      const job = decodeJob(hash as Record<string, Buffer>);
      if (job !== undefined) jobs.push(job);
    }
    return jobs;
  }

  #checkOpen(what: string): void {
    if (this.#closing.signal.aborted) throw this.#closedError(what);
  }

  #closedError(what: string): SkeinError {
    return new SkeinError(
      'SKEIN_TASKS_BROKER_UNAVAILABLE',
      `${what}: the RedisBroker is closed; create a new broker to go on`,
    );
  }

  /** Connects an own client on first use; then runs `operation`, turning Redis errors into Skein codes. */
  async #call<T>(what: string, operation: () => Promise<T>): Promise<T> {
    this.#checkOpen(what);
    try {
      if (this.#client.status === 'wait') this.#connecting ??= this.#client.connect();
      // The first connection passes through 'connecting' and then 'connect' (the ready check) before
      // 'ready', and without an offline queue a command sent before 'ready' fails: calls made during
      // the first connection wait for it. Later outages fail fast (the promise has settled by then).
      if (this.#connecting !== undefined && this.#client.status !== 'ready') {
        await this.#connecting.catch(() => {});
      }
      return await operation();
    } catch (error) {
      throw this.#translate(error, what);
    }
  }

  #translate(error: unknown, what: string): Error {
    if (error instanceof SkeinError) return error;
    if (this.#closing.signal.aborted) return this.#closedError(what);
    const message = error instanceof Error ? error.message : String(error);
    const name = error instanceof Error ? error.name : '';
    if (
      name === 'MaxRetriesPerRequestError' ||
      CONNECTION_MESSAGE.test(message) ||
      TRANSIENT_REPLY.test(message)
    ) {
      return new SkeinError(
        'SKEIN_TASKS_BROKER_UNAVAILABLE',
        `${what}: ${this.#where} is unavailable (${message}); retry after a backoff, the client reconnects by itself`,
        { cause: error },
      );
    }
    return new SkeinError(
      'SKEIN_INTERNAL',
      `${what}: Redis rejected a broker command (${message}); this is a bug in Skein, please report it`,
      { cause: error },
    );
  }
}

/**
 * A claim's task list, caps, rate limits and handoff (slots, or -1 to leave the registration alone, and
 * ttl) as claim-jobs.lua and settle-and-claim.lua read them.
 */
function claimFilters(request: ClaimRequest): string[] {
  const caps = Object.entries(request.concurrency ?? {});
  const rates = Object.entries(request.rateLimits ?? {});
  return [
    String(request.tasks.length),
    ...request.tasks,
    String(caps.length),
    ...caps.flatMap(([task, cap]) => [task, String(cap)]),
    String(rates.length),
    ...rates.flatMap(([name, rate]) => [name, String(rate.limit), String(rate.intervalMs)]),
    String(request.handoff?.slots ?? -1),
    String(request.handoff?.ttlMs ?? 0),
  ];
}

/** Sets `key` in `map`, first dropping the oldest entry when it holds `limit` already. */
function boundedSet<K, V>(map: InsertionOrderMap<K, V>, key: K, value: V, limit: number): void {
  if (map.size >= limit && !map.has(key)) map.deleteOldest();
  map.set(key, value);
}

/** The earlier of stream id `id` and the last possible id of the millisecond before `at`. */
function earlierId(id: string, at: number): string {
  const bound = BigInt(Math.max(0, Math.floor(at) - 1));
  return BigInt(id.split('-')[0] ?? '0') <= bound ? id : `${bound}-${MAX_STREAM_SEQ}`;
}

/**
 * The latencies (ms, ascending) of a finished-times set read WITHSCORES: one member per script and queue
 * (job-state.lua flush_events), `c<createdAt>,<createdAt>…|<first job id>` at score finishedAt, or, as
 * earlier versions wrote them, `<latency>,<latency>…|<first job id>`.
 */
function finishedLatencies(reply: readonly string[]): number[] {
  const latencies: number[] = [];
  for (let i = 0; i + 1 < reply.length; i += 2) {
    const member = reply[i]!;
    const values = member.slice(member.startsWith('c') ? 1 : 0, member.indexOf('|')).split(',');
    if (member.startsWith('c')) {
      const finishedAt = Number(reply[i + 1]);
      for (const createdAt of values) latencies.push(finishedAt - Number(createdAt));
    } else {
      for (const latency of values) latencies.push(Number(latency));
    }
  }
  return latencies.sort((a, b) => a - b);
}

/** Nearest-rank percentile of an ascending list, or null when empty. */
function percentile(sorted: readonly number[], p: number): number | null {
  if (sorted.length === 0) return null;
  return sorted[Math.max(0, Math.ceil(p * sorted.length) - 1)]!;
}

/** The URL without its password, for messages. */
function redactUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password !== '') parsed.password = '***';
    return parsed.toString();
  } catch {
    return url;
  }
}
