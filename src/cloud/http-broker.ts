// The Broker a remote agent's tasks Worker runs on: each operation the Worker needs is one call of the
// server's agent routes, which applies it to the server's store as one atomic broker call. The agent
// holds an agent-scoped token, never the store's credentials. Operations a Worker of the cloud does not
// need (enqueue, reads of other jobs, events, chord joins) are refused; sweeps for expired leases and
// results are the server's, so this broker's sweeps do nothing. Task addresses travel relative to the
// project directory and are turned into this machine's file URLs here. A claimed job of a deployed
// function is handed to the Worker only once its bundle is in the agent's cache and matches its hash;
// jobs of a bundle that cannot be had go back to the queue unstarted, and the agent claims none of that
// bundle's jobs for a while (BundleCache's retryInterval), so other agents can take them. What jobs
// print is sent in batches (the agent log route), always before the outcome of the attempt that printed it.

import { SkeinError } from '../errors.ts';
import type {
  Broker,
  BrokerEvent,
  ClaimRequest,
  Enqueued,
  FailOutcome,
  JobRecord,
  QueueStats,
  Settled,
  SettleOutcome,
  StoredError,
} from '../tasks/index.ts';
import {
  type AddressBase,
  type AgentClaimAnswer,
  type AgentClaimRequest,
  type AgentHeldAnswer,
  bundleOfAddress,
  type JobWire,
  jobFromWire,
  outcomeToWire,
  relativeAddress,
} from './api/agent-wire.ts';
import { type AgentLogChunk, MAX_LOG_BATCH } from './api/log-schemas.ts';
import type { BundleCache } from './bundle-cache.ts';
import type { CloudClient } from './client.ts';

/** Codes meaning "the server cannot be reached now": the Worker treats them as a store outage and retries. */
const UNAVAILABLE: ReadonlySet<string> = new Set([
  'SKEIN_CLOUD_UNREACHABLE',
  'SKEIN_CLOUD_CLOSED',
  'SKEIN_TASKS_BROKER_UNAVAILABLE',
  'SKEIN_TASKS_STORAGE',
  'SKEIN_INTERNAL',
]);

export interface HttpBrokerOptions {
  readonly client: CloudClient;
  readonly agentId: string;
  /** This machine's project directory: task modules are at the same relative paths as on the server. */
  readonly projectDir: string;
  /** Where this agent keeps deployed bundles; jobs of functions run from there. */
  readonly bundles: BundleCache;
  /** A bundle could not be fetched or failed its hash check: its jobs went back to the queue. */
  readonly onBundleError?: (hash: string, error: unknown) => void;
}

type PendingLog = AgentLogChunk & { readonly workerId: string };

/** Output waits at most this long on the agent before it is sent, in ms. */
const LOG_FLUSH_INTERVAL_MS = 250;
/** Output waiting to be sent is capped (the server being unreachable): beyond, new chunks are dropped. */
const MAX_PENDING_LOG_CHARS = 16 * 1024 * 1024;

function refused(what: string): Promise<never> {
  return Promise.reject(
    new SkeinError(
      'SKEIN_CLOUD_FORBIDDEN',
      `an agent cannot ${what} through the agent routes; use a token with the invoke or read scope and the jobs API`,
    ),
  );
}

/** A Broker over the server's agent routes, for one registered agent. */
export class HttpBroker implements Broker {
  readonly #client: CloudClient;
  readonly #agentId: string;
  readonly #base: string;
  readonly #addresses: AddressBase;
  readonly #bundles: BundleCache;
  readonly #onBundleError: (hash: string, error: unknown) => void;
  /** Jobs claimed here and not yet settled, released or lost: what heartbeats report. */
  readonly #held = new Set<string>();
  /** The worker that claimed each held job: output is sent under its id, which the lease is checked for. */
  readonly #holder = new Map<string, string>();
  #pendingLogs: PendingLog[] = [];
  #pendingLogChars = 0;
  #logTimer: NodeJS.Timeout | undefined;
  #logFlush: Promise<void> = Promise.resolve();
  #closed = false;

  constructor(options: HttpBrokerOptions) {
    this.#client = options.client;
    this.#agentId = options.agentId;
    this.#base = `/api/agents/${encodeURIComponent(options.agentId)}`;
    this.#addresses = { projectDir: options.projectDir, bundleDir: options.bundles.dir };
    this.#bundles = options.bundles;
    this.#onBundleError = options.onBundleError ?? (() => {});
  }

  /** The server's being away as the store outage the Worker retries (SKEIN_TASKS_BROKER_UNAVAILABLE); other errors as they are. */
  #unavailable(error: unknown, streamBroke = false): unknown {
    if (
      (error instanceof SkeinError && UNAVAILABLE.has(error.code)) ||
      (streamBroke && !(error instanceof SkeinError))
    ) {
      return new SkeinError(
        'SKEIN_TASKS_BROKER_UNAVAILABLE',
        `the Skein server at ${this.#client.server} is unavailable (${(error as Error).message}); the agent retries`,
        { cause: error },
      );
    }
    return error;
  }

  /** Ids of the jobs this agent holds now. */
  get held(): string[] {
    return [...this.#held];
  }

  async #post<T>(path: string, body: unknown): Promise<T> {
    if (this.#closed) {
      throw new SkeinError('SKEIN_TASKS_BROKER_UNAVAILABLE', 'the agent closed its connection to the server');
    }
    try {
      return await this.#client.call<T>('POST', `${this.#base}${path}`, body);
    } catch (error) {
      throw this.#unavailable(error);
    }
  }

  /**
   * Queues what a job printed (the Worker's onOutput); sent within LOG_FLUSH_INTERVAL_MS, and before
   * the outcome of its attempt. Dropped when the server has been unreachable long enough to fill the cap.
   */
  output(job: JobRecord, stream: 'stdout' | 'stderr', text: string): void {
    const workerId = this.#holder.get(job.id) ?? job.workerId;
    if (this.#closed || workerId === null || this.#pendingLogChars + text.length > MAX_PENDING_LOG_CHARS)
      return;
    this.#pendingLogs.push({ workerId, id: job.id, attempt: job.attempt, stream, at: Date.now(), text });
    this.#pendingLogChars += text.length;
    this.#logTimer ??= setTimeout(() => {
      this.#logTimer = undefined;
      void this.flushLogs();
    }, LOG_FLUSH_INTERVAL_MS).unref();
  }

  /** Sends the output queued so far; resolves when it was sent (or could not be: it is then kept or dropped). */
  flushLogs(): Promise<void> {
    if (this.#logTimer !== undefined) {
      clearTimeout(this.#logTimer);
      this.#logTimer = undefined;
    }
    this.#logFlush = this.#logFlush.then(() => this.#sendLogs());
    return this.#logFlush;
  }

  async #sendLogs(): Promise<void> {
    while (this.#pendingLogs.length > 0 && !this.#closed) {
      const workerId = this.#pendingLogs[0]!.workerId;
      const batch: AgentLogChunk[] = [];
      const rest: PendingLog[] = [];
      for (const chunk of this.#pendingLogs) {
        if (chunk.workerId === workerId && batch.length < MAX_LOG_BATCH) {
          const { workerId: _, ...wire } = chunk;
          batch.push(wire);
        } else rest.push(chunk);
      }
      try {
        await this.#post('/logs', { workerId, chunks: batch });
      } catch (error) {
        // Unreachable: kept for the next flush. Refused (the request itself): dropped, as a retry would be.
        if (error instanceof SkeinError && error.code === 'SKEIN_TASKS_BROKER_UNAVAILABLE') return;
      }
      this.#pendingLogs = rest;
      this.#pendingLogChars = rest.reduce((sum, chunk) => sum + chunk.text.length, 0);
    }
  }

  async settleAndClaim(
    workerId: string,
    outcomes: readonly SettleOutcome[],
    claim: ClaimRequest | null,
  ): Promise<Settled> {
    if (outcomes.some((outcome) => outcome.kind === 'complete' && outcome.join !== undefined)) {
      return refused('complete a chord member (canvases are not submitted through the cloud)');
    }
    // A job's output reaches the server before its outcome: a reader that saw it finish has all its lines.
    if (outcomes.length > 0 && this.#pendingLogs.length > 0) await this.flushLogs();
    const now = Date.now();
    // Tasks of a bundle that could not be had a moment ago are left to other agents for a while.
    const wanted = (address: string): boolean => {
      const hash = bundleOfAddress(address);
      return hash === undefined || this.#bundles.usable(hash, now);
    };
    const tasks = claim === null ? [] : claim.tasks.map((task) => relativeAddress(task, this.#addresses));
    const request: AgentClaimRequest = {
      workerId,
      outcomes: outcomes.map(outcomeToWire),
      claim:
        claim === null
          ? null
          : {
              queue: claim.queue,
              max: claim.max,
              tasks: tasks.filter(wanted),
              ...(claim.concurrency === undefined
                ? {}
                : {
                    concurrency: Object.fromEntries(
                      Object.entries(claim.concurrency)
                        .map(([task, cap]) => [relativeAddress(task, this.#addresses), cap] as const)
                        .filter(([task]) => wanted(task)),
                    ),
                  }),
            },
    };
    const answer = await this.#post<AgentClaimAnswer>('/claim', request);
    for (const outcome of outcomes) {
      this.#held.delete(outcome.id);
      this.#holder.delete(outcome.id);
    }
    for (const job of answer.claimed) {
      this.#held.add(job.id);
      this.#holder.set(job.id, workerId);
    }
    const runnable = await this.#withBundles(workerId, answer.claimed);
    return { settled: answer.settled, claimed: runnable.map((job) => jobFromWire(job, this.#addresses)) };
  }

  /**
   * The claimed jobs whose bundle (if any) is in the cache, checked; the jobs of a bundle that could not
   * be fetched or failed its hash check are released (queued again, the attempt not counted).
   */
  async #withBundles(workerId: string, claimed: readonly JobWire[]): Promise<JobWire[]> {
    const hashes = new Set<string>();
    for (const job of claimed) {
      const hash = bundleOfAddress(job.task);
      if (hash !== undefined) hashes.add(hash);
    }
    if (hashes.size === 0) return [...claimed];
    const failed = new Set<string>();
    await Promise.all(
      [...hashes].map((hash) =>
        this.#bundles.ensure(hash).catch((error: unknown) => {
          failed.add(hash);
          this.#onBundleError(hash, error);
        }),
      ),
    );
    if (failed.size === 0) return [...claimed];
    const kept: JobWire[] = [];
    for (const job of claimed) {
      const hash = bundleOfAddress(job.task);
      if (hash === undefined || !failed.has(hash)) {
        kept.push(job);
        continue;
      }
      // A release that does not reach the server leaves the job to its lease, which brings it back too.
      await this.release(workerId, job.id).catch(() => this.#held.delete(job.id));
    }
    return kept;
  }

  async claim(request: ClaimRequest): Promise<JobRecord[]> {
    return [...(await this.settleAndClaim(request.workerId, [], request)).claimed];
  }

  async complete(
    workerId: string,
    id: string,
    result: Uint8Array,
    join?: Parameters<Broker['complete']>[3],
  ): Promise<boolean> {
    const outcome: SettleOutcome =
      join === undefined ? { id, kind: 'complete', result } : { id, kind: 'complete', result, join };
    return (await this.settleAndClaim(workerId, [outcome], null)).settled[0] === true;
  }

  async fail(workerId: string, id: string, error: StoredError, outcome: FailOutcome): Promise<boolean> {
    return (
      (await this.settleAndClaim(workerId, [{ id, kind: 'fail', error, outcome }], null)).settled[0] === true
    );
  }

  async extendLeases(workerId: string, ids: readonly string[], _leaseMs: number): Promise<string[]> {
    // The lease length is the server's (what it answered at registration), whatever the caller asks.
    const { held } = await this.#post<{ held: string[] }>('/leases', { workerId, ids });
    const kept = new Set(held);
    for (const id of ids) if (!kept.has(id)) this.#held.delete(id);
    return held;
  }

  async heldStatus(
    workerId: string,
    attempts: readonly { readonly id: string; readonly attempt: number }[],
  ): Promise<AgentHeldAnswer['statuses'][number][]> {
    const { statuses } = await this.#post<AgentHeldAnswer>('/held', { workerId, attempts });
    statuses.forEach((status, i) => {
      if (status === 'lost') this.#held.delete(attempts[i]!.id);
    });
    return [...statuses];
  }

  async release(workerId: string, id: string): Promise<boolean> {
    const { applied } = await this.#post<{ applied: boolean }>('/job', { workerId, id, action: 'release' });
    this.#held.delete(id);
    this.#holder.delete(id);
    return applied;
  }

  async cancelled(workerId: string, id: string): Promise<boolean> {
    if (this.#pendingLogs.length > 0) await this.flushLogs();
    const { applied } = await this.#post<{ applied: boolean }>('/job', { workerId, id, action: 'cancelled' });
    this.#held.delete(id);
    return applied;
  }

  async reportProgress(workerId: string, id: string, progress: Uint8Array): Promise<boolean> {
    const encoded = Buffer.from(progress.buffer, progress.byteOffset, progress.byteLength).toString('base64');
    const { applied } = await this.#post<{ applied: boolean }>('/job', {
      workerId,
      id,
      action: 'progress',
      progress: encoded,
    });
    return applied;
  }

  async heartbeat(
    _workerId: string,
    _queue: string,
    _info: Readonly<Record<string, unknown>>,
  ): Promise<void> {
    await this.#post('/heartbeat', { running: this.held });
  }

  /** The server sweeps expired leases itself (every min(5 s, lease)); agents need not. */
  async recoverExpiredLeases(_now: number): Promise<number> {
    return 0;
  }

  /** The server purges expired results itself. */
  async purgeExpired(_now: number): Promise<number> {
    return 0;
  }

  /**
   * The server's news for the queue (GET /api/agents/:id/news), so the Worker claims as soon as a job
   * is enqueued and hears of cancels at once. Ends when the signal aborts or the stream does (the
   * Worker then polls and subscribes again); a server from before news streams answers 404: no news,
   * the Worker polls every pollInterval.
   */
  async *news(queue: string, signal: AbortSignal): AsyncIterable<BrokerEvent> {
    if (signal.aborted || this.#closed) return;
    let events: AsyncIterable<BrokerEvent>;
    try {
      events = await this.#client.agentNews(this.#agentId, signal);
    } catch (error) {
      if (signal.aborted) return;
      if ((error as { code?: unknown }).code !== 'SKEIN_CLOUD_ROUTE_NOT_FOUND')
        throw this.#unavailable(error);
      // An older server: no news to wait for; the Worker's polls do the work.
      await new Promise<void>((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }));
      return;
    }
    try {
      for await (const event of events) if (event.queue === queue) yield event;
    } catch (error) {
      // The connection broke mid-stream (the server stopped, the network went): an outage.
      if (!signal.aborted) throw this.#unavailable(error, true);
    }
  }

  enqueue(): Promise<Enqueued[]> {
    return refused('enqueue jobs');
  }

  get(): Promise<JobRecord | undefined> {
    return refused('read jobs');
  }

  list(): Promise<JobRecord[]> {
    return refused('list jobs');
  }

  children(): Promise<JobRecord[]> {
    return refused('read jobs');
  }

  cancel(): Promise<'cancelled' | 'requested' | 'finished' | 'not-found'> {
    return refused('cancel jobs');
  }

  retry(): Promise<boolean> {
    return refused('retry jobs');
  }

  claimTick(): Promise<boolean> {
    return refused('fire schedules');
  }

  stats(): Promise<QueueStats> {
    return refused('read queue statistics');
  }

  waitUntilFinished(): Promise<JobRecord> {
    return refused('wait for jobs');
  }

  events(): AsyncIterable<BrokerEvent> {
    return { [Symbol.asyncIterator]: () => ({ next: () => refused('read the event stream') }) };
  }

  async close(): Promise<void> {
    await this.flushLogs();
    this.#closed = true;
  }
}
