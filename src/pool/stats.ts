// Counters and histograms a pool keeps about its work. Recording is O(1) per task; the snapshot is
// computed on demand so the hot path only bumps numbers.

import { createHistogram, type RecordableHistogram } from 'node:perf_hooks';

/** A histogram summary in milliseconds. */
export interface HistogramSummary {
  readonly count: number;
  readonly min: number;
  readonly max: number;
  readonly mean: number;
  readonly p50: number;
  readonly p90: number;
  readonly p99: number;
}

export interface PoolStats {
  readonly workers: number;
  readonly busyWorkers: number;
  readonly queued: number;
  readonly running: number;
  readonly completed: number;
  readonly failed: number;
  readonly cancelled: number;
  /** Time inside task code / (workers × wall time) since the pool started, in [0, 1]. */
  readonly utilization: number;
  /** Time each task ran inside its worker. */
  readonly runTime: HistogramSummary;
  /** Time each task waited between submission and its start. */
  readonly waitTime: HistogramSummary;
}

const NS_PER_MS = 1e6;

function summarize(histogram: RecordableHistogram): HistogramSummary {
  if (histogram.count === 0) return { count: 0, min: 0, max: 0, mean: 0, p50: 0, p90: 0, p99: 0 };
  return {
    count: histogram.count,
    min: histogram.min / NS_PER_MS,
    max: histogram.max / NS_PER_MS,
    mean: histogram.mean / NS_PER_MS,
    p50: histogram.percentile(50) / NS_PER_MS,
    p90: histogram.percentile(90) / NS_PER_MS,
    p99: histogram.percentile(99) / NS_PER_MS,
  };
}

/** Mutable counters owned by one pool. */
export class StatsRecorder {
  completed = 0;
  failed = 0;
  cancelled = 0;
  /** Sum of task run times in ms, for utilization. */
  busyMs = 0;
  /** Sum over workers of their alive time in ms, closed when a worker exits. */
  workerMsClosed = 0;
  readonly #runTime = createHistogram();
  readonly #waitTime = createHistogram();

  recordRun(runMs: number, waitMs: number): void {
    this.busyMs += runMs;
    // Histograms take integers >= 1 (ns).
    this.#runTime.record(Math.max(1, Math.round(runMs * NS_PER_MS)));
    this.#waitTime.record(Math.max(1, Math.round(waitMs * NS_PER_MS)));
  }

  snapshot(live: {
    workers: number;
    busyWorkers: number;
    queued: number;
    running: number;
    openWorkerMs: number;
  }): PoolStats {
    const workerMs = this.workerMsClosed + live.openWorkerMs;
    return {
      workers: live.workers,
      busyWorkers: live.busyWorkers,
      queued: live.queued,
      running: live.running,
      completed: this.completed,
      failed: this.failed,
      cancelled: this.cancelled,
      utilization: workerMs > 0 ? Math.min(1, this.busyMs / workerMs) : 0,
      runTime: summarize(this.#runTime),
      waitTime: summarize(this.#waitTime),
    };
  }
}
