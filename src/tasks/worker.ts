// The consumer side: a Worker claims jobs of one queue up to its free concurrency, runs each on a pool
// by task reference, and records how it ended. Invariant: every claimed job ends in exactly one of
// complete, fail, cancelled or release by this worker — or, when the worker dies, in lease expiry —
// so no job is ever lost; leases are extended while a job runs, so a long job is not redelivered.

import { channel } from 'node:diagnostics_channel';
import { addAbortListener, EventEmitter } from 'node:events';
import { hostname } from 'node:os';
import { SkeinError, WorkerCrashedError } from '../errors.ts';
import type { Executor, RunOptions } from '../pool/executor.ts';
import { ThreadPool } from '../pool/thread-pool.ts';
import type { Task } from '../task.ts';
import { nextRetryAt } from './backoff.ts';
import type {
  Broker,
  ClaimRequest,
  JobRecord,
  Join,
  RateLimit,
  SettleOutcome,
  StoredError,
} from './broker.ts';
import { chordJoin, continueChain, continueLegacyChord } from './canvas.ts';
import { inlineRunner, type JobRunner } from './inline-runner.ts';
import { storedErrorOf } from './job.ts';
import { newJobId } from './job-id.ts';
import {
  BACKOFF_DEFAULTS,
  checkDuration,
  checkInteger,
  checkName,
  checkObject,
  invalidOption,
  type ResolvedWorkerTiming,
  resolveQueueName,
  resolveWorkerTiming,
  type WorkerTimingOptions,
} from './options.ts';
import { decodeArgs, encodeValue } from './payload.ts';
import { decodePlan, gatherResults, type JobPlan } from './plan.ts';
import { taskAddress } from './queue.ts';

/** At most `limit` starts per `interval` ms, for one task or for a group of jobs (JobOptions.group). */
export type RateLimitRule =
  | { readonly task: Task<never, unknown>; readonly limit: number; readonly interval: number }
  | { readonly group: string; readonly limit: number; readonly interval: number };

/** At most `limit` jobs of `task` running at once across every worker of the queue. */
export interface ConcurrencyLimitRule {
  readonly task: Task<never, unknown>;
  readonly limit: number;
}

export interface WorkerOptions extends WorkerTimingOptions {
  readonly broker: Broker;
  /** @defaultValue 'default' */
  readonly queue?: string;
  /** The tasks this worker runs: its registry, by address (module URL + export name). */
  readonly tasks: readonly Task<never, unknown>[];
  /**
   * The pool running the jobs; the worker does not close a pool it was given. `'inline'` runs them in
   * the worker's own thread (Celery's solo pool): no thread hop, for I/O-bound async tasks; a
   * synchronous task blocks the worker's event loop while it runs.
   * @defaultValue a ThreadPool of `concurrency` threads, closed with the worker
   */
  readonly pool?: Executor | 'inline';
  /**
   * Pools for particular tasks, e.g. a ProcessPool to isolate a task that may crash or leak; the worker
   * does not close them. Other tasks run on `pool`.
   */
  readonly taskPools?: readonly { readonly task: Task<never, unknown>; readonly pool: Executor }[];
  readonly rateLimits?: readonly RateLimitRule[];
  readonly concurrencyLimits?: readonly ConcurrencyLimitRule[];
  /**
   * Queued jobs of tasks missing from `tasks`: 'dead-letter' claims them and ends them dead with
   * SKEIN_TASKS_UNKNOWN_TASK (one kind of worker per queue, as in Celery); 'leave' leaves them for
   * other workers (several kinds of workers sharing one queue). @defaultValue 'dead-letter'
   */
  readonly unknownTasks?: 'dead-letter' | 'leave';
  /** This worker's id in the store. @defaultValue `${hostname}:${pid}:${random}` */
  readonly id?: string;
  /**
   * Receives what each job's task prints on stdout and stderr while it runs (console.* included), with
   * the job (its id and `attempt` tell attempts apart), in order and before the attempt is settled in
   * the store; the text still reaches the pool's own output. Storing it is the embedder's choice (the
   * cloud keeps it per job). Absent: nothing is captured and jobs pay nothing. Text is coalesced and
   * capped per attempt as the pool's `onOutput` says (docs/pool.md); jobs run `'inline'` are captured
   * too. A hook that throws is reported as `brokerError`, and the job goes on.
   */
  readonly onOutput?: (job: JobRecord, stream: 'stdout' | 'stderr', text: string) => void;
}

export interface WorkerEvents {
  /** A store operation of a background loop failed; the worker keeps going and tries again. */
  brokerError: [error: unknown];
  /**
   * A job ended here: 'succeeded', 'retrying', 'failed' (final), 'cancelled', 'released' or 'lost'
   * (another worker holds it now); `error` is the attempt's error, or why the job was lost.
   */
  jobEnded: [jobId: string, outcome: JobOutcome, error: Error | undefined];
}

export type JobOutcome = 'succeeded' | 'retrying' | 'failed' | 'cancelled' | 'released' | 'lost';

type StopReason = 'cancel' | 'lease-lost' | 'close';

interface PendingSettle {
  readonly outcome: SettleOutcome;
  readonly resolve: (applied: boolean) => void;
  readonly reject: (error: unknown) => void;
}

/** Claim-loop store calls in flight at once: three keep both the store and this thread busy (two left gaps). */
const CALLS_IN_FLIGHT = 3;
/**
 * Most jobs one store call claims: bounds how long one call holds the store (a Redis script blocks every
 * other client while it runs) and keeps batches small enough to pipeline.
 */
const CLAIM_PER_CALL = 128;
/**
 * Settles fewer than this wait for the reply of a call in flight while enough jobs claimed ahead wait
 * for slots (#holdBack): a quarter of a full claim.
 */
const HOLD_BACK_BELOW = CLAIM_PER_CALL / 4;
/**
 * With no store call in flight to wait for (an engine whose calls return at once, as SQLite's do), a
 * small batch of settles waits at most this long for the jobs still running to end and join it (#holdBack).
 * Jobs claimed ahead cover it too (#prefetchTarget), so no slot idles meanwhile.
 */
const SETTLE_HOLD_MS = 2;
/**
 * An idle worker's handoff registration lapses after this many poll intervals without a claim: a dry
 * worker claims once per pollInterval, so a live one renews it, and a dead one stops being handed jobs.
 */
const HANDOFF_TTL_POLLS = 4;
/** Weight of the newest sample in the run-time and call-time moving averages. */
const EWMA_WEIGHT = 0.1;

interface SlotWaiter {
  readonly entry: Running;
  /** performance.now() when it began to wait. */
  readonly since: number;
  /** true: the slot is the job's; false: it is not run (stopped, or waited too long). */
  readonly resolve: (granted: boolean) => void;
}

interface Running {
  readonly record: JobRecord;
  readonly controller: AbortController;
  /** When the job got a run slot (performance.now()); claimed ahead, it may wait for one first. */
  startedAt: number;
  /** The task has returned or thrown: what is left is recording the outcome. */
  ran: boolean;
  /** Set while the job, claimed ahead, waits for a run slot. */
  slotWaiter?: SlotWaiter | undefined;
  stopReason: StopReason | undefined;
  stopError: Error | undefined;
  /** The last progress value not yet written, and the write in flight. */
  pendingProgress: { value: unknown } | undefined;
  progressTimer: NodeJS.Timeout | undefined;
  lastProgressWrite: number;
  /** The chain of this job's progress writes; undefined until its first (most jobs report none). */
  progressWrite: Promise<unknown> | undefined;
}

const UNKNOWN_SWEEP_LIMIT = 100;

/** Every job that ends on a worker, as `{ worker, queue, jobId, task, attempt, outcome, runMs }`. */
const jobChannel = channel('skein:tasks:job');

/**
 * Runs the jobs of one queue on a pool.
 * @example
 * await using worker = new Worker({ broker, tasks: [resize, thumbnail], concurrency: 8 });
 * await worker.start();
 * @throws SKEIN_TASKS_INVALID_OPTION, SKEIN_TASKS_INVALID_TASK
 */
export class Worker extends EventEmitter<WorkerEvents> {
  readonly id: string;
  readonly queue: string;
  readonly options: ResolvedWorkerTiming;
  readonly #broker: Broker;
  readonly #tasks: readonly Task<never, unknown>[];
  readonly #rateLimitRules: readonly RateLimitRule[];
  readonly #concurrencyRules: readonly ConcurrencyLimitRule[];
  readonly #unknownTasks: 'dead-letter' | 'leave';
  readonly #ownPool: boolean;
  readonly #pool: JobRunner;
  readonly #running = new Map<string, Running>();
  readonly #jobPromises = new Set<Promise<void>>();
  readonly #registry = new Map<string, Task<never, unknown>>();
  readonly #taskPoolRules: readonly { readonly task: Task<never, unknown>; readonly pool: Executor }[];
  readonly #poolOf = new Map<string, JobRunner>();
  readonly #onOutput: WorkerOptions['onOutput'];
  readonly #stop = new AbortController();
  /** Ends the handoffs() listener: after the claim loop, so that no claim registers the worker again. */
  readonly #handoffStop = new AbortController();
  /** handoffs() listens: the claim loop's claims may register this worker as idle. */
  #handoffLive = false;
  #handoffWatch: Promise<void> | undefined;
  #claim: Omit<ClaimRequest, 'max'> | undefined;
  #started: Promise<void> | undefined;
  #loop: Promise<void> | undefined;
  #closing: Promise<void> | undefined;
  #destroying: Promise<void> | undefined;
  #wake: (() => void) | undefined;
  #timers: NodeJS.Timeout[] = [];
  readonly #pendingSettles: PendingSettle[] = [];
  #loopEnded = false;
  /** Store calls of the claim loop in flight, the settles they carry and the slots they claim. */
  #callsInFlight = 0;
  #settlesInFlight = 0;
  #claimsInFlight = 0;
  /** The last claim found fewer jobs than it asked for: claim again on news, or at #dryUntil. */
  #queueDry = false;
  #dryUntil = 0;
  /** performance.now() when the oldest settle in #pendingSettles was added. */
  #pendingSince = 0;
  /** Something happened since the claim loop last looked: a settle, a job's end, news, a reply. */
  #nudged = false;
  /** Jobs holding one of the `concurrency` run slots, and jobs claimed ahead waiting for one (FIFO). */
  #active = 0;
  readonly #slotWaiters: SlotWaiter[] = [];
  /** Moving averages of a job's run time and of a claim-loop store call, in ms (NaN until measured). */
  #runMs = Number.NaN;
  #giveBackTimer: NodeJS.Timeout | undefined;
  #prefetchPaused = false;
  #callMs = Number.NaN;
  #sweeping: Promise<void> | undefined;

  constructor(options: WorkerOptions) {
    super();
    checkObject('options', options);
    const broker = options.broker as unknown;
    if (typeof broker !== 'object' || broker === null || typeof (broker as Broker).claim !== 'function') {
      throw invalidOption('broker', 'a Broker such as new SqliteBroker()', broker);
    }
    this.#broker = options.broker;
    this.queue = resolveQueueName(options.queue, 'queue');
    this.options = resolveWorkerTiming(options);
    if (!Array.isArray(options.tasks) || options.tasks.length === 0) {
      throw invalidOption('tasks', 'a non-empty array of task references', options.tasks);
    }
    this.#tasks = [...options.tasks];
    this.#rateLimitRules = checkRules('rateLimits', options.rateLimits, true);
    this.#concurrencyRules = checkRules('concurrencyLimits', options.concurrencyLimits, false);
    this.#taskPoolRules = checkRules('taskPools', options.taskPools, false, true);
    const unknownTasks = options.unknownTasks ?? 'dead-letter';
    if (unknownTasks !== 'dead-letter' && unknownTasks !== 'leave') {
      throw invalidOption('unknownTasks', "'dead-letter' or 'leave'", unknownTasks);
    }
    this.#unknownTasks = unknownTasks;
    if (options.onOutput !== undefined && typeof options.onOutput !== 'function') {
      throw invalidOption('onOutput', 'a function', options.onOutput);
    }
    this.#onOutput = options.onOutput;
    this.id =
      options.id === undefined
        ? `${hostname()}:${process.pid}:${newJobId().slice(-12)}`
        : checkName('id', options.id);
    if (options.pool !== undefined && options.pool !== 'inline') {
      const pool = options.pool as unknown;
      if (typeof pool !== 'object' || pool === null || typeof (pool as Executor).submit !== 'function') {
        throw invalidOption('pool', "a ThreadPool, a ProcessPool or 'inline'", pool);
      }
    }
    this.#ownPool = options.pool === undefined || options.pool === 'inline';
    // minWorkers = maxWorkers: with threads started lazily, a pool hands a new task to its one live
    // thread even while a long async job holds it, so a short job would wait behind a long one.
    this.#pool =
      options.pool === 'inline'
        ? inlineRunner()
        : (options.pool ??
          new ThreadPool({
            minWorkers: this.options.concurrency,
            maxWorkers: this.options.concurrency,
            name: `skein-tasks-${this.queue}`,
          }));
  }

  /** Jobs running here now. */
  get running(): number {
    return this.#running.size;
  }

  /**
   * Resolves the tasks' addresses and starts claiming. Idempotent.
   * @throws SKEIN_TASKS_INVALID_TASK, SKEIN_TASK_NOT_EXPORTED, SKEIN_TASKS_CLOSED
   */
  start(): Promise<void> {
    if (this.#closing !== undefined || this.#destroying !== undefined) {
      return Promise.reject(
        new SkeinError('SKEIN_TASKS_CLOSED', `worker ${this.id} is closed; create a new Worker`),
      );
    }
    this.#started ??= this.#start();
    return this.#started;
  }

  async #start(): Promise<void> {
    for (let i = 0; i < this.#tasks.length; i++) {
      const task = this.#tasks[i]!;
      this.#registry.set(await taskAddress(task, `tasks[${i}]`), task);
    }
    for (const rule of this.#taskPoolRules) {
      this.#poolOf.set(await taskAddress(rule.task, 'taskPools[].task'), rule.pool);
    }
    const rateLimits: Record<string, RateLimit> = {};
    for (const rule of this.#rateLimitRules) {
      const key = 'group' in rule ? `group:${rule.group}` : await taskAddress(rule.task, 'rateLimits[].task');
      rateLimits[key] = { limit: rule.limit, intervalMs: rule.interval };
    }
    const concurrency: Record<string, number> = {};
    for (const rule of this.#concurrencyRules) {
      concurrency[await taskAddress(rule.task, 'concurrencyLimits[].task')] = rule.limit;
    }
    this.#claim = {
      queue: this.queue,
      workerId: this.id,
      leaseMs: this.options.leaseTimeout,
      tasks: [...this.#registry.keys()],
      ...(this.#concurrencyRules.length > 0 ? { concurrency } : {}),
      ...(this.#rateLimitRules.length > 0 ? { rateLimits } : {}),
    };
    if (this.#stop.signal.aborted) return;
    const { leaseTimeout, pollInterval, heartbeatInterval, recoverInterval } = this.options;
    this.#every(leaseTimeout / 3, () => this.#extendLeases());
    this.#every(pollInterval, () => this.#checkCancellations());
    this.#every(heartbeatInterval, () => this.#heartbeat());
    this.#every(recoverInterval, () => this.#sweep());
    void this.#heartbeat();
    void this.#sweep();
    void this.#watchEvents();
    this.#handoffWatch = this.#watchHandoffs();
    this.#loop = this.#claimLoop();
  }

  /**
   * Adds tasks to this worker's registry: its next claims include their jobs (a server that learns of a
   * task at run time extends its worker instead of replacing it). Tasks it has already are skipped.
   * @throws SKEIN_TASKS_INVALID_OPTION, SKEIN_TASKS_INVALID_TASK, SKEIN_TASK_NOT_EXPORTED,
   * SKEIN_TASKS_CLOSED
   */
  async addTasks(tasks: readonly Task<never, unknown>[]): Promise<void> {
    if (!Array.isArray(tasks)) throw invalidOption('tasks', 'an array of task references', tasks);
    if (this.#closing !== undefined || this.#destroying !== undefined) {
      throw new SkeinError('SKEIN_TASKS_CLOSED', `worker ${this.id} is closed; create a new Worker`);
    }
    // Every address resolved before any is added: a bad task adds none.
    const added = new Map<string, Task<never, unknown>>();
    for (const [i, task] of tasks.entries()) added.set(await taskAddress(task, `tasks[${i}]`), task);
    await this.start();
    for (const [address, task] of added) this.#registry.set(address, task);
    if (this.#claim !== undefined) this.#claim = { ...this.#claim, tasks: [...this.#registry.keys()] };
    // New tasks may have jobs queued already: look now rather than at the next poll.
    this.#nudge(true);
  }

  /**
   * Stops claiming, lets running jobs finish for up to `closeTimeout` ms, then gives the rest back to
   * the queue unfinished (release: queued again, the attempt not counted). Idempotent.
   */
  close(): Promise<void> {
    this.#closing ??= this.#close();
    return this.#closing;
  }

  /** Stops now: running jobs are aborted and given back to the queue. Idempotent. */
  destroy(): Promise<void> {
    this.#destroying ??= this.#shutdown(0);
    return this.#destroying;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  async #close(): Promise<void> {
    await (this.#destroying ?? this.#shutdown(this.options.closeTimeout));
  }

  async #shutdown(grace: number): Promise<void> {
    this.#stop.abort();
    // Jobs claimed ahead and not started go back to the queue now, whatever the grace period.
    for (const waiter of [...this.#slotWaiters]) this.#endWait(waiter.entry);
    this.#nudge();
    await this.#started?.catch(() => undefined);
    await this.#loop;
    // No claim is in flight now: withdraw from handoff, and take in (to give back) any job handed over
    // before that.
    this.#handoffStop.abort();
    await this.#handoffWatch;
    if (this.#running.size > 0 && grace > 0) {
      let timer: NodeJS.Timeout | undefined;
      const deadline = new Promise<void>((resolve) => {
        if (Number.isFinite(grace)) timer = setTimeout(resolve, grace);
      });
      await Promise.race([Promise.allSettled([...this.#jobPromises]), deadline]);
      clearTimeout(timer);
    }
    // A sweep in flight may still claim jobs of unknown tasks; let it, so they are ended too.
    await this.#sweeping;
    for (const entry of this.#running.values()) this.#stopJob(entry, 'close', closedError(this.id));
    await Promise.allSettled([...this.#jobPromises]);
    for (const timer of this.#timers) clearInterval(timer);
    clearTimeout(this.#giveBackTimer);
    this.#timers = [];
    if (this.#ownPool) await this.#pool.close();
  }

  #every(interval: number, fn: () => Promise<void>): void {
    const timer = setInterval(() => void fn(), Math.max(1, interval));
    this.#timers.push(timer);
  }

  // The hot path: attempts that finished since the last call are settled, and free slots refilled, in
  // one settleAndClaim (one store round trip per batch, not two per job). Up to CALLS_IN_FLIGHT calls
  // overlap, so the store works on one batch while this thread decodes the last and runs its jobs;
  // attempts finishing meanwhile wait for the next call, so batches grow with load. After stop, the
  // loop settles what is pending and exits; later attempts settle directly (#settle).
  async #claimLoop(): Promise<void> {
    const signal = this.#stop.signal;
    const { concurrency } = this.options;
    for (;;) {
      this.#nudged = false;
      if (this.#callsInFlight < CALLS_IN_FLIGHT && !this.#holdBack(signal)) {
        const pendingNow = this.#pendingSettles.length;
        if (
          pendingNow > 0 &&
          pendingNow < Math.max(concurrency, this.#running.size) / 4 &&
          this.#running.size > pendingNow &&
          !signal.aborted
        ) {
          // Other jobs are still running: one turn of the event loop lets results already on their way
          // join this batch, so a store call settles several jobs instead of one or two. Jobs claimed
          // ahead count too: at concurrency 10 a claim of 128 short jobs otherwise went out in calls of
          // 3 to 4 settles (430 calls for 20,000 jobs, against 230 now; 3 µs less worker CPU per job).
          await new Promise<void>((resolve) => setImmediate(resolve));
        }
        if (this.#queueDry && Date.now() >= this.#dryUntil) this.#queueDry = false;
        const batch = this.#pendingSettles.splice(0);
        // Attempts being settled still count in #running until their job promise ends, and slots being
        // claimed do not count yet: neither is busy for this count.
        const busy = this.#running.size - batch.length - this.#settlesInFlight + this.#claimsInFlight;
        const capacity = concurrency + this.#prefetchTarget();
        const free =
          signal.aborted || (this.#queueDry && batch.length === 0)
            ? 0
            : Math.min(CLAIM_PER_CALL, Math.max(0, capacity - busy));
        if (batch.length > 0 || free > 0) {
          this.#send(batch, free);
          continue;
        }
      }
      if (signal.aborted && this.#callsInFlight === 0 && this.#pendingSettles.length === 0) break;
      if (this.#nudged) continue;
      // Nothing to send: wait for news, a job's end, a call's reply, or the next poll of a dry queue.
      let wait = this.#queueDry && this.#callsInFlight === 0 ? this.#dryUntil - Date.now() : undefined;
      if (this.#callsInFlight === 0 && this.#pendingSettles.length > 0) {
        // Settles held back with no reply to wake the loop: a job's end does, or the hold's end.
        const held = this.#pendingSince + SETTLE_HOLD_MS - performance.now();
        wait = wait === undefined ? held : Math.min(wait, held);
      }
      await new Promise<void>((resolve) => {
        const timer = wait === undefined ? undefined : setTimeout(done, Math.max(0, wait));
        function done(): void {
          clearTimeout(timer);
          resolve();
        }
        this.#wake = done;
      });
      this.#wake = undefined;
    }
    this.#loopEnded = true;
  }

  /**
   * Whether the claim loop lets a small batch of settles wait rather than send it now: while jobs
   * claimed ahead still wait for every run slot, a claim is not needed yet, and a store call costs the
   * store and this thread about as much for one settle as for dozens. Jobs on a pool end a few at a
   * time (each thread answers what it held), and every group went out in a call of its own: at
   * concurrency 10 on a 2-thread pool, calls of ~10 settles, three times the calls of inline jobs for as
   * many jobs (SQLite: ten times). They wait for the reply of a call in flight (which wakes the loop
   * again), or with none in flight, for running jobs to end, up to SETTLE_HOLD_MS.
   */
  #holdBack(signal: AbortSignal): boolean {
    const pending = this.#pendingSettles.length;
    if (signal.aborted || pending >= HOLD_BACK_BELOW || this.#slotWaiters.length < this.options.concurrency) {
      return false;
    }
    if (this.#callsInFlight > 0) return true;
    return pending > 0 && this.#active > 0 && performance.now() - this.#pendingSince < SETTLE_HOLD_MS;
  }

  /** Sends one batch of settles with a claim of `free` slots, without waiting for the reply. */
  #send(batch: PendingSettle[], free: number): void {
    this.#callsInFlight++;
    this.#settlesInFlight += batch.length;
    this.#claimsInFlight += free;
    let claim: ClaimRequest | null = null;
    if (free > 0) {
      claim = { ...this.#claim!, max: free };
      if (this.#broker.handoffs !== undefined) {
        // Run slots no job holds, waits for or is being claimed for: what enqueues may hand over when
        // this claim finds the queue dry (0 withdraws the registration).
        const slots = this.#handoffLive
          ? Math.max(
              0,
              this.options.concurrency -
                this.#active -
                this.#slotWaiters.length -
                (this.#claimsInFlight - free),
            )
          : 0;
        claim = { ...claim, handoff: { slots, ttlMs: HANDOFF_TTL_POLLS * this.options.pollInterval } };
      }
    }
    const sentAt = performance.now();
    const call =
      batch.length > 0
        ? this.#broker.settleAndClaim(
            this.id,
            batch.map((pending) => pending.outcome),
            claim,
          )
        : this.#broker.claim(claim!).then((claimed) => ({ settled: [], claimed }));
    const done = (): void => {
      this.#callsInFlight--;
      this.#settlesInFlight -= batch.length;
      this.#claimsInFlight -= free;
      this.#nudge();
    };
    call.then(
      ({ settled, claimed }) => {
        this.#callMs = average(this.#callMs, performance.now() - sentAt);
        for (let i = 0; i < batch.length; i++) batch[i]!.resolve(settled[i] === true);
        for (const record of claimed) this.#startJob(record);
        // Fewer jobs than free slots: the queue is empty (for this worker) until news or the next poll.
        if (claimed.length < free) this.#dry();
        done();
      },
      (error: unknown) => {
        // Each settled job's own path reports the error; its lease expires and the job is redelivered.
        for (const pending of batch) pending.reject(error);
        if (batch.length === 0) this.emit('brokerError', error);
        // Try again after a poll interval rather than at once against a store that just failed.
        this.#dry();
        done();
      },
    );
  }

  /**
   * Jobs to hold beyond `concurrency`: as many as the slots finish during one store call and a settle
   * hold (so none waits for a round trip, and settles can wait to be batched: #holdBack), up to the
   * prefetch option; none until both times are measured.
   */
  #prefetchTarget(): number {
    const { prefetch, concurrency } = this.options;
    if (prefetch === 0 || this.#prefetchPaused || !(this.#runMs >= 0) || !(this.#callMs >= 0)) return 0;
    const coverMs = this.#callMs + SETTLE_HOLD_MS;
    return Math.min(prefetch, Math.floor((concurrency * coverMs) / Math.max(this.#runMs, 0.001)));
  }

  /** Takes a run slot, waiting for one if all are held; false when the job or the worker stopped first. */
  #acquireSlot(entry: Running): boolean | Promise<boolean> {
    if (this.#active < this.options.concurrency && this.#slotWaiters.length === 0) {
      this.#active++;
      return true;
    }
    if (entry.controller.signal.aborted || this.#stop.signal.aborted) return false;
    // No abort listeners (they cost more than a short job): #stopJob, #shutdown and the give-back
    // timer end a wait through #endWait.
    return new Promise<boolean>((resolve) => {
      entry.slotWaiter = { entry, since: performance.now(), resolve };
      this.#slotWaiters.push(entry.slotWaiter);
      this.#armGiveBack();
    });
  }

  #releaseSlot(): void {
    this.#active--;
    while (this.#active < this.options.concurrency && this.#slotWaiters.length > 0) {
      const waiter = this.#slotWaiters.shift()!;
      waiter.entry.slotWaiter = undefined;
      this.#active++;
      waiter.resolve(true);
    }
  }

  /** Ends a job's wait for a slot without one: it is not run. */
  #endWait(entry: Running): void {
    const waiter = entry.slotWaiter;
    if (waiter === undefined) return;
    entry.slotWaiter = undefined;
    const at = this.#slotWaiters.indexOf(waiter);
    if (at >= 0) this.#slotWaiters.splice(at, 1);
    waiter.resolve(false);
  }

  // A job claimed ahead that waits longer than pollInterval for a slot (a long job holds them all) goes
  // back to the queue, where another worker's next poll finds it: prefetch never holds a job hostage.
  #armGiveBack(): void {
    if (this.#giveBackTimer !== undefined || this.#slotWaiters.length === 0) return;
    const due = this.#slotWaiters[0]!.since + this.options.pollInterval - performance.now();
    this.#giveBackTimer = setTimeout(
      () => {
        this.#giveBackTimer = undefined;
        const late = performance.now() - this.options.pollInterval;
        if (this.#slotWaiters.length > 0 && this.#slotWaiters[0]!.since <= late) {
          // Every held job goes back, not only the late ones: those behind came later in priority
          // order, and would otherwise run before the ones given back.
          for (const waiter of [...this.#slotWaiters]) this.#endWait(waiter.entry);
          // No claiming ahead (which would take the same jobs back) until a running job ends.
          this.#prefetchPaused = true;
        }
        this.#armGiveBack();
      },
      Math.max(0, due),
    );
  }

  #dry(): void {
    this.#queueDry = true;
    this.#dryUntil = Date.now() + this.options.pollInterval;
  }

  /** Wakes the claim loop; `news` (jobs were enqueued or came back) ends a dry spell at once. */
  #nudge(news = false): void {
    if (news) this.#queueDry = false;
    this.#nudged = true;
    this.#wake?.();
  }

  /** Records a finished attempt: through the claim loop's next batch while it runs, else directly. */
  #settle(outcome: SettleOutcome): Promise<boolean> {
    if (this.#loopEnded || this.#loop === undefined) {
      return outcome.kind === 'complete'
        ? this.#broker.complete(this.id, outcome.id, outcome.result, outcome.join)
        : this.#broker.fail(this.id, outcome.id, outcome.error, outcome.outcome);
    }
    const { promise, resolve, reject } = Promise.withResolvers<boolean>();
    if (this.#pendingSettles.length === 0) this.#pendingSince = performance.now();
    this.#pendingSettles.push({ outcome, resolve, reject });
    this.#nudge();
    return promise;
  }

  /** Starts the jobs enqueues hand to this worker while it is idle (Broker.handoffs), until close. */
  async #watchHandoffs(): Promise<void> {
    const broker = this.#broker;
    if (broker.handoffs === undefined) return;
    const signal = this.#handoffStop.signal;
    while (!signal.aborted) {
      try {
        for await (const jobs of broker.handoffs(this.queue, this.id, signal)) {
          // The first (empty) batch says the listener is up: claim now, so that a dry queue registers
          // this worker at once rather than at the next poll.
          if (!this.#handoffLive) {
            this.#handoffLive = true;
            this.#nudge(true);
          }
          for (const record of jobs) this.#startJob(record);
        }
      } catch (error) {
        if (!signal.aborted) this.emit('brokerError', error);
      }
      this.#handoffLive = false;
      if (!signal.aborted) {
        await new Promise<void>((resolve) => {
          const timer = setTimeout(done, this.options.pollInterval);
          const listener = addAbortListener(signal, done);
          function done(): void {
            clearTimeout(timer);
            listener[Symbol.dispose]();
            resolve();
          }
        });
      }
    }
  }

  async #watchEvents(): Promise<void> {
    const signal = this.#stop.signal;
    while (!signal.aborted) {
      try {
        for await (const event of this.#broker.news(this.queue, signal)) {
          if (event.queue !== this.queue) continue;
          if (event.type === 'enqueued' || event.type === 'expired-lease' || event.type === 'retrying')
            this.#nudge(true);
          // Only a cancel or a lease taken away concerns a job running here; its own start, progress
          // and end events do not, and re-reading every running job on each of them cost ~67 reads a job.
          if (
            (event.type === 'cancelled' || event.type === 'expired-lease') &&
            event.jobId !== null &&
            this.#running.has(event.jobId)
          ) {
            void this.#checkCancellations();
          }
        }
      } catch (error) {
        if (!signal.aborted) this.emit('brokerError', error);
      }
      if (!signal.aborted) await new Promise((resolve) => setTimeout(resolve, this.options.pollInterval));
    }
  }

  #startJob(record: JobRecord): void {
    const earlier = this.#running.get(record.id);
    if (earlier !== undefined) {
      // Claimed again while an earlier attempt still runs here: that attempt's lease had expired.
      this.#stopJob(earlier, 'lease-lost', leaseLost(this.id, record.id));
    }
    const entry: Running = {
      record,
      controller: new AbortController(),
      startedAt: performance.now(),
      ran: false,
      stopReason: undefined,
      stopError: undefined,
      pendingProgress: undefined,
      progressTimer: undefined,
      lastProgressWrite: 0,
      progressWrite: undefined,
    };
    this.#running.set(record.id, entry);
    // A store error here leaves the job running under a lease nobody extends: it expires and the job
    // is redelivered, so even this path loses nothing.
    // One then() for both endings (a catch() and a finally() would make two more promises per job).
    const ended = (): void => {
      clearTimeout(entry.progressTimer);
      if (this.#running.get(record.id) === entry) this.#running.delete(record.id);
      this.#jobPromises.delete(promise);
      this.#nudge();
    };
    const promise: Promise<void> = this.#runJob(entry).then(ended, (error: unknown) => {
      this.emit('brokerError', error);
      ended();
    });
    this.#jobPromises.add(promise);
  }

  async #runJob(entry: Running): Promise<void> {
    const { record } = entry;
    const task = this.#registry.get(record.task);
    if (task === undefined) {
      const error = new SkeinError(
        'SKEIN_TASKS_UNKNOWN_TASK',
        `worker ${this.id} has no task ${record.task}; add it to the worker's tasks, then retry the job`,
      );
      await this.#finalFailure(entry, error);
      return;
    }
    let args: unknown[];
    let plan: JobPlan;
    try {
      args = decodeArgs(record.payload);
      plan = decodePlan(record.canvas);
    } catch (error) {
      await this.#finalFailure(entry, error);
      return;
    }
    if (plan.gather !== undefined) {
      // A chord callback: the members' results are read now, not stored with it when it was enqueued.
      try {
        args.push(await gatherResults(this.#broker, plan.gather, record.parentId));
      } catch (error) {
        await this.#attemptFailed(entry, plan, error);
        return;
      }
    }
    // A job claimed ahead (prefetch) waits here for a run slot; without one (the job was cancelled or
    // taken back, the worker is closing, or it waited too long) it is not run.
    const slot = this.#acquireSlot(entry);
    if (!(slot === true || (await slot))) {
      if (entry.stopReason !== undefined) await this.#attemptFailed(entry, plan, entry.stopError);
      else await this.#release(entry);
      return;
    }
    entry.startedAt = performance.now();
    if (this.#stop.signal.aborted) {
      this.#releaseSlot();
      await this.#release(entry);
      return;
    }
    let payload: Uint8Array;
    let result: unknown;
    try {
      const pool = this.#poolOf.get(record.task) ?? this.#pool;
      // Optional fields set only when there is one, without spreading an object literal for each.
      const options: { -readonly [K in keyof RunOptions]: RunOptions[K] } = {
        signal: entry.controller.signal,
        onProgress: (value) => this.#progress(entry, value),
      };
      if (record.timeLimitMs !== null) options.timeout = record.timeLimitMs;
      if (this.#onOutput !== undefined) options.onOutput = this.#outputOf(record, this.#onOutput);
      result = await pool.submit(task as Task<unknown[], unknown>, args, options);
    } catch (error) {
      this.#ranFor(entry);
      await this.#attemptFailed(entry, plan, error);
      return;
    }
    this.#ranFor(entry);
    const { chord } = plan;
    let join: Join | undefined;
    try {
      payload = encodeValue(result, 'the result');
      if (plan.chain !== undefined && plan.chain.length > 0)
        await continueChain(this.#broker, record, plan.chain, result);
      // A group's last jobs complete toward its join: the broker enqueues the callback in the step
      // that records the last of them, so no crash can come between the two.
      if (chord?.join !== undefined) join = chordJoin({ ...chord, join: chord.join });
      else if (chord !== undefined) await continueLegacyChord(this.#broker, record, chord, result, false);
    } catch (error) {
      await this.#attemptFailed(entry, plan, error);
      return;
    }
    // A job that reported no progress has nothing to wait for (no await: this is the hot path).
    const flushing = this.#flushProgress(entry);
    if (flushing !== undefined) await flushing;
    const outcome: SettleOutcome =
      join === undefined
        ? { id: record.id, kind: 'complete', result: payload }
        : { id: record.id, kind: 'complete', result: payload, join };
    if (await this.#settle(outcome)) {
      this.#ended(entry, 'succeeded', undefined);
      if (chord !== undefined && chord.join === undefined)
        await continueLegacyChord(this.#broker, record, chord, result, true);
    } else {
      this.#ended(entry, 'lost', undefined);
    }
  }

  /** The pool's onOutput for one attempt: hands its text to the worker's hook, which must not throw. */
  #outputOf(
    record: JobRecord,
    hook: NonNullable<WorkerOptions['onOutput']>,
  ): (stream: 'stdout' | 'stderr', text: string) => void {
    return (stream, text) => {
      try {
        hook(record, stream, text);
      } catch (error) {
        this.emit('brokerError', error);
      }
    };
  }

  /** The job's run ended: frees its slot and feeds the run-time average. */
  #ranFor(entry: Running): void {
    entry.ran = true;
    this.#prefetchPaused = false;
    this.#releaseSlot();
    this.#runMs = average(this.#runMs, performance.now() - entry.startedAt);
  }

  async #attemptFailed(entry: Running, plan: JobPlan, error: unknown): Promise<void> {
    const { record } = entry;
    switch (entry.stopReason) {
      case 'cancel':
        await this.#broker.cancelled(this.id, record.id);
        this.#ended(entry, 'cancelled', entry.stopError);
        return;
      case 'lease-lost':
        this.#ended(entry, 'lost', entry.stopError);
        return;
      case 'close':
        await this.#release(entry);
        return;
      default:
    }
    await this.#flushProgress(entry);
    const retryable =
      !(error instanceof SkeinError) ||
      RETRYABLE_SKEIN_CODES.has(error.code) ||
      error instanceof WorkerCrashedError;
    if (retryable && record.attempt < record.maxAttempts) {
      const retryAt = nextRetryAt(plan.backoff ?? BACKOFF_DEFAULTS, record.attempt, Date.now());
      const ok = await this.#settle({
        id: record.id,
        kind: 'fail',
        error: storedErrorOf(error),
        outcome: { retryAt },
      });
      this.#ended(entry, ok ? 'retrying' : 'lost', asError(error));
    } else {
      await this.#finalFailure(entry, error);
    }
  }

  async #finalFailure(entry: Running, error: unknown): Promise<void> {
    const stored: StoredError = storedErrorOf(error);
    const ok = await this.#settle({
      id: entry.record.id,
      kind: 'fail',
      error: stored,
      outcome: { final: true },
    });
    this.#ended(entry, ok ? 'failed' : 'lost', asError(error));
  }

  async #release(entry: Running): Promise<void> {
    const ok = await this.#broker.release(this.id, entry.record.id);
    this.#ended(entry, ok ? 'released' : 'lost', undefined);
  }

  #ended(entry: Running, outcome: JobOutcome, error: Error | undefined): void {
    const { record } = entry;
    if (jobChannel.hasSubscribers) {
      jobChannel.publish({
        worker: this.id,
        queue: this.queue,
        jobId: record.id,
        task: record.task,
        attempt: record.attempt,
        outcome,
        runMs: performance.now() - entry.startedAt,
      });
    }
    this.emit('jobEnded', record.id, outcome, error);
  }

  #stopJob(entry: Running, reason: StopReason, why: Error): void {
    if (entry.stopReason !== undefined) return;
    entry.stopReason = reason;
    entry.stopError = why;
    entry.controller.abort(why);
    this.#endWait(entry);
  }

  #progress(entry: Running, value: unknown): void {
    entry.pendingProgress = { value };
    if (entry.progressTimer !== undefined) return;
    const wait = entry.lastProgressWrite + this.options.progressInterval - Date.now();
    if (wait <= 0) void this.#writeProgress(entry);
    else entry.progressTimer = setTimeout(() => void this.#writeProgress(entry), wait);
  }

  #writeProgress(entry: Running): Promise<unknown> | undefined {
    entry.progressTimer = undefined;
    const pending = entry.pendingProgress;
    if (pending === undefined) return entry.progressWrite;
    entry.pendingProgress = undefined;
    entry.lastProgressWrite = Date.now();
    let bytes: Uint8Array;
    try {
      bytes = encodeValue(pending.value, 'the progress value');
    } catch (error) {
      this.emit('brokerError', error);
      return entry.progressWrite;
    }
    entry.progressWrite = (entry.progressWrite ?? Promise.resolve())
      .then(() => this.#broker.reportProgress(this.id, entry.record.id, bytes))
      .catch((error: unknown) => this.emit('brokerError', error));
    return entry.progressWrite;
  }

  /** Writes the last progress value before the job's end is recorded, so it is never lost. */
  #flushProgress(entry: Running): Promise<unknown> | undefined {
    clearTimeout(entry.progressTimer);
    return this.#writeProgress(entry);
  }

  async #extendLeases(): Promise<void> {
    const ids = [...this.#running.keys()];
    if (ids.length === 0) return;
    try {
      const held = new Set(await this.#broker.extendLeases(this.id, ids, this.options.leaseTimeout));
      for (const id of ids) {
        const entry = this.#running.get(id);
        if (entry !== undefined && !held.has(id)) {
          this.#stopJob(entry, 'lease-lost', leaseLost(this.id, id));
        }
      }
    } catch (error) {
      this.emit('brokerError', error);
    }
  }

  async #checkCancellations(): Promise<void> {
    // A job whose task has returned is being recorded: a cancel or a lost lease can no longer stop it.
    const entries = [...this.#running.values()].filter(
      (entry) => entry.stopReason === undefined && !entry.ran,
    );
    if (entries.length === 0) return;
    try {
      const statuses = await this.#broker.heldStatus(
        this.id,
        entries.map((entry) => ({ id: entry.record.id, attempt: entry.record.attempt })),
      );
      statuses.forEach((status, index) => {
        const entry = entries[index]!;
        if (status === 'cancel-requested') {
          this.#stopJob(
            entry,
            'cancel',
            new SkeinError('SKEIN_TASKS_JOB_CANCELLED', `job ${entry.record.id} was cancelled`),
          );
        } else if (status === 'lost') {
          this.#stopJob(entry, 'lease-lost', leaseLost(this.id, entry.record.id));
        }
      });
    } catch (error) {
      this.emit('brokerError', error);
    }
  }

  async #heartbeat(): Promise<void> {
    try {
      await this.#broker.heartbeat(this.id, this.queue, {
        host: hostname(),
        pid: process.pid,
        running: this.#running.size,
        concurrency: this.options.concurrency,
      });
    } catch (error) {
      this.emit('brokerError', error);
    }
  }

  #sweep(): Promise<void> {
    this.#sweeping ??= this.#sweepOnce().finally(() => {
      this.#sweeping = undefined;
    });
    return this.#sweeping;
  }

  async #sweepOnce(): Promise<void> {
    try {
      const now = Date.now();
      await this.#broker.recoverExpiredLeases(now);
      await this.#broker.purgeExpired(now);
      if (this.#unknownTasks === 'dead-letter') await this.#claimUnknown();
    } catch (error) {
      this.emit('brokerError', error);
    }
  }

  /** Claims queued jobs of tasks this worker does not know, to dead-letter them (unknownTasks). */
  async #claimUnknown(): Promise<void> {
    if (this.#claim === undefined || this.#stop.signal.aborted) return;
    const queued = await this.#broker.list(this.queue, 'queued', UNKNOWN_SWEEP_LIMIT);
    const unknown = [
      ...new Set(queued.map((job) => job.task).filter((address) => !this.#registry.has(address))),
    ];
    if (unknown.length === 0) return;
    const claimed = await this.#broker.claim({
      queue: this.queue,
      workerId: this.id,
      leaseMs: this.options.leaseTimeout,
      tasks: unknown,
      max: UNKNOWN_SWEEP_LIMIT,
    });
    for (const record of claimed) this.#startJob(record);
  }
}

/** Failures of Skein's own making that another attempt may cure; the rest (bad data) are final. */
const RETRYABLE_SKEIN_CODES: ReadonlySet<string> = new Set([
  'SKEIN_TIMEOUT',
  'SKEIN_POOL_WORKER_CRASHED',
  'SKEIN_POOL_TASK_NOT_FOUND',
  'SKEIN_POOL_DESTROYED',
  'SKEIN_POOL_CLOSED',
  'SKEIN_NON_ERROR_THROWN',
  'SKEIN_TASKS_BROKER_UNAVAILABLE',
]);

function leaseLost(workerId: string, jobId: string): SkeinError {
  return new SkeinError(
    'SKEIN_TASKS_LEASE_EXPIRED',
    `worker ${workerId} lost the lease of job ${jobId}; another worker may run it (raise leaseTimeout if this worker's event loop is busy)`,
  );
}

function average(current: number, sample: number): number {
  return Number.isNaN(current) ? sample : current + EWMA_WEIGHT * (sample - current);
}

function asError(value: unknown): Error {
  return value instanceof Error ? value : new Error(String(value));
}

function closedError(id: string): SkeinError {
  return new SkeinError(
    'SKEIN_TASKS_CLOSED',
    `worker ${id} closed before the job finished; it was given back to the queue`,
  );
}

function checkRules<T>(
  path: string,
  rules: readonly T[] | undefined,
  rate: boolean,
  pools = false,
): readonly T[] {
  if (rules === undefined) return [];
  if (!Array.isArray(rules)) throw invalidOption(path, 'an array of rules', rules);
  rules.forEach((rule, i) => {
    const given = checkObject(`${path}[${i}]`, rule);
    if ('group' in given && rate) checkName(`${path}[${i}].group`, given.group);
    else if (typeof given.task !== 'function') {
      throw invalidOption(
        `${path}[${i}].task`,
        `a task reference${rate ? " (or give 'group')" : ''}`,
        given.task,
      );
    }
    if (pools) {
      const pool = given.pool as Executor | undefined;
      if (typeof pool !== 'object' || pool === null || typeof pool.submit !== 'function') {
        throw invalidOption(`${path}[${i}].pool`, 'a ThreadPool or ProcessPool', pool);
      }
      return;
    }
    checkInteger(`${path}[${i}].limit`, given.limit, 1);
    if (rate) checkDuration(`${path}[${i}].interval`, given.interval, 1);
  });
  return [...rules];
}
