// What the web console records while it is used: each job attempt's start and finish (worker, times,
// outcome) from the job store's events, per-second throughput and run times, and the queue's metrics
// samples. The store clears a job's worker when the job finishes, so these spans are the only record of
// where a finished job ran. It follows the store only while the console calls (it stops after
// IDLE_MS without a call), so a server nobody watches does no extra work; memory is bounded.

import { InsertionOrderMap } from '../../insertion-order-map.ts';
import type { Broker, BrokerEvent } from '../../tasks/index.ts';
import type { LiveFeed, MetricsEventView } from '../live-feed.ts';
import type { ActivityBucket, ActivityView, AttemptView } from './console-schemas.ts';

/** The console stops following the store after this long without a console call, in ms. */
const IDLE_MS = 10 * 60_000;
/** Attempts kept (oldest jobs forgotten first). */
const MAX_ATTEMPTS_KEPT = 200_000;
/** Seconds of throughput buckets and metrics kept: one hour. */
const HISTORY_S = 3600;
/** Metrics samples kept (one every 2 s: one hour). */
const MAX_SAMPLES = 1800;
/** A bucket this old (ms) gets no more events: its percentiles are computed and its run times dropped. */
const SETTLE_MS = 5000;

const FINISHING: ReadonlySet<BrokerEvent['type']> = new Set([
  'succeeded',
  'failed',
  'dead',
  'cancelled',
  'retrying',
  'expired-lease',
]);

/** One recorded attempt. */
export interface RecordedSpan {
  readonly jobId: string;
  readonly workerId: string;
  /** 1 for the first attempt recorded of this job, and so on. */
  readonly index: number;
  readonly start: number;
  end: number | null;
  outcome: string | null;
  /** The job's task label, once a spans answer looked it up (it never changes). */
  task: string | undefined;
}

interface OpenBucket {
  started: number;
  succeeded: number;
  failed: number;
  runs: number[];
  settled: ActivityBucket | undefined;
}

export interface ConsoleActivityOptions {
  readonly broker: Broker;
  readonly feed: LiveFeed;
  /** Aborted when the server closes. */
  readonly closing: AbortSignal;
  readonly warn: (message: string, error?: unknown) => void;
}

/** The p-th percentile (0..1) of sorted numbers, or null for none. */
export function percentileOf(sorted: readonly number[], p: number): number | null {
  if (sorted.length === 0) return null;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1))]!;
}

export class ConsoleActivity {
  readonly #options: ConsoleActivityOptions;
  /** Attempts by job, oldest job first (Map order). */
  readonly #attempts = new InsertionOrderMap<string, RecordedSpan[]>();
  #attemptCount = 0;
  readonly #buckets = new Map<number, OpenBucket>();
  readonly #samples: MetricsEventView[] = [];
  #stop: AbortController | undefined;
  #idle: NodeJS.Timeout | undefined;
  #recordingSince: number | null = null;

  constructor(options: ConsoleActivityOptions) {
    this.#options = options;
    // Metrics come only while some event stream listens; keeping them costs nothing more.
    const onMetrics = (event: MetricsEventView): void => {
      this.#samples.push(event);
      if (this.#samples.length > MAX_SAMPLES) this.#samples.splice(0, this.#samples.length - MAX_SAMPLES);
    };
    options.feed.on('metrics', onMetrics);
    options.closing.addEventListener('abort', () => {
      options.feed.off('metrics', onMetrics);
      this.#halt();
    });
  }

  /** Since when attempts are recorded without a gap (null: not recording). */
  get recordingSince(): number | null {
    return this.#recordingSince;
  }

  /** A console call: follow the store (from now on) until IDLE_MS pass without another. */
  touch(): void {
    if (this.#options.closing.aborted) return;
    clearTimeout(this.#idle);
    this.#idle = setTimeout(() => this.#halt(), IDLE_MS);
    this.#idle.unref();
    if (this.#stop !== undefined) return;
    const stop = new AbortController();
    this.#stop = stop;
    this.#recordingSince = Date.now();
    void this.#follow(AbortSignal.any([stop.signal, this.#options.closing]));
  }

  #halt(): void {
    clearTimeout(this.#idle);
    this.#stop?.abort();
    this.#stop = undefined;
    this.#recordingSince = null;
  }

  async #follow(signal: AbortSignal): Promise<void> {
    try {
      for await (const event of this.#options.broker.events(signal)) {
        if (signal.aborted) break;
        this.record(event);
      }
    } catch (error) {
      const code = (error as { code?: unknown } | null)?.code;
      if (code !== 'SKEIN_ABORTED' && !signal.aborted) {
        this.#options.warn('the console stopped recording job events on an error of the job store', error);
        this.#halt();
      }
    }
  }

  /** Applies one job store event (public for the tests of the recording itself). */
  record(event: BrokerEvent): void {
    const { jobId } = event;
    if (jobId === null) return;
    if (event.type === 'started') {
      let list = this.#attempts.get(jobId);
      if (list === undefined) {
        list = [];
        this.#attempts.set(jobId, list);
      }
      list.push({
        jobId,
        workerId: event.workerId ?? 'unknown',
        index: list.length + 1,
        start: event.at,
        end: null,
        outcome: null,
        task: list[0]?.task,
      });
      this.#attemptCount++;
      this.#bucket(event.at).started++;
      this.#evict();
      return;
    }
    if (!FINISHING.has(event.type)) return;
    const open = this.#attempts.get(jobId)?.at(-1);
    const bucket = this.#bucket(event.at);
    if (event.type === 'succeeded') bucket.succeeded++;
    else if (event.type !== 'cancelled' && event.type !== 'expired-lease') bucket.failed++;
    if (open !== undefined && open.end === null) {
      open.end = event.at;
      open.outcome = event.type;
      bucket.runs.push(Math.max(0, event.at - open.start));
    }
  }

  #bucket(at: number): OpenBucket {
    const second = Math.floor(at / 1000) * 1000;
    let bucket = this.#buckets.get(second);
    if (bucket === undefined) {
      bucket = { started: 0, succeeded: 0, failed: 0, runs: [], settled: undefined };
      this.#buckets.set(second, bucket);
      const oldest = second - HISTORY_S * 1000;
      for (const key of this.#buckets.keys()) {
        if (key >= oldest) break;
        this.#buckets.delete(key);
      }
    }
    return bucket;
  }

  #evict(): void {
    while (this.#attemptCount > MAX_ATTEMPTS_KEPT) {
      const oldest = this.#attempts.deleteOldest();
      if (oldest === undefined) return;
      this.#attemptCount -= oldest[1].length;
    }
  }

  /** Recorded attempts of one job, oldest first. */
  attemptsOf(jobId: string): readonly RecordedSpan[] {
    return this.#attempts.get(jobId) ?? [];
  }

  /** The worker of a job's latest recorded attempt. */
  workerOf(jobId: string): string | undefined {
    return this.#attempts.get(jobId)?.at(-1)?.workerId;
  }

  /** Attempts that overlap [from, to), the latest `limit` by start; `truncated` when more overlap. */
  spans(from: number, to: number, limit: number): { spans: RecordedSpan[]; truncated: boolean } {
    const found: RecordedSpan[] = [];
    for (const list of this.#attempts.values()) {
      for (const span of list) {
        if (span.start < to && (span.end === null || span.end >= from)) found.push(span);
      }
    }
    found.sort((a, b) => a.start - b.start);
    const truncated = found.length > limit;
    return { spans: truncated ? found.slice(found.length - limit) : found, truncated };
  }

  /** Buckets and samples after `since`, for the overview's charts. */
  activity(since: number): ActivityView {
    const now = Date.now();
    const buckets: ActivityBucket[] = [];
    for (const [at, bucket] of this.#buckets) {
      if (at <= since) continue;
      buckets.push(this.#view(at, bucket, now));
    }
    buckets.sort((a, b) => a.at - b.at);
    return {
      buckets,
      samples: this.#samples.filter((sample) => sample.at > since),
      recordingSince: this.#recordingSince,
      now,
    };
  }

  #view(at: number, bucket: OpenBucket, now: number): ActivityBucket {
    if (bucket.settled !== undefined) return bucket.settled;
    const runs = [...bucket.runs].sort((a, b) => a - b);
    const view: ActivityBucket = {
      at,
      started: bucket.started,
      succeeded: bucket.succeeded,
      failed: bucket.failed,
      runP50Ms: percentileOf(runs, 0.5),
      runP95Ms: percentileOf(runs, 0.95),
    };
    if (now - at > SETTLE_MS) {
      bucket.settled = view;
      bucket.runs = [];
    }
    return view;
  }
}

/** A job's recorded attempts as the job page shows them, numbered back from its current attempt. */
export function attemptViews(recorded: readonly RecordedSpan[], currentAttempt: number): AttemptView[] {
  const first = Math.max(1, currentAttempt - recorded.length + 1);
  return recorded.map((span, i) => ({
    attempt: first + i,
    workerId: span.workerId,
    startedAt: span.start,
    finishedAt: span.end,
    outcome: span.outcome,
  }));
}
