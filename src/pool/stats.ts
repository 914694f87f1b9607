// Counters and histograms a pool keeps about its work. Recording is O(1) per task and stays in
// JavaScript (a call into perf_hooks' native histogram costs more than a trivial task's bookkeeping);
// the snapshot is computed on demand.

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

/** Sub-buckets per power of two: percentiles are exact to within 1/16 (6%) of the value. */
const SUB_BUCKETS = 16;
/** Values are kept in µs from 2^-10 (~1 ns) to 2^40 µs (~12 days). */
const MIN_EXPONENT = -10;
const EXPONENTS = 50;
const US_PER_MS = 1000;

/** A log-linear histogram of durations, recorded in ms. */
export class DurationHistogram {
  readonly #counts = new Uint32Array(EXPONENTS * SUB_BUCKETS);
  count = 0;
  #sum = 0;
  #min = Number.POSITIVE_INFINITY;
  #max = 0;

  record(ms: number): void {
    const us = ms * US_PER_MS;
    this.count++;
    this.#sum += ms;
    if (ms < this.#min) this.#min = ms;
    if (ms > this.#max) this.#max = ms;
    this.#counts[bucketOf(us)]!++;
  }

  /** The smallest bucket bound below which `percent` of the recorded values lie, in ms. */
  percentile(percent: number): number {
    if (this.count === 0) return 0;
    const wanted = Math.max(1, Math.ceil((percent / 100) * this.count));
    let seen = 0;
    for (let i = 0; i < this.#counts.length; i++) {
      seen += this.#counts[i]!;
      if (seen >= wanted) return Math.min(this.#max, Math.max(this.#min, upperBoundUs(i) / US_PER_MS));
    }
    return this.#max;
  }

  summary(): HistogramSummary {
    if (this.count === 0) return { count: 0, min: 0, max: 0, mean: 0, p50: 0, p90: 0, p99: 0 };
    return {
      count: this.count,
      min: this.#min,
      max: this.#max,
      mean: this.#sum / this.count,
      p50: this.percentile(50),
      p90: this.percentile(90),
      p99: this.percentile(99),
    };
  }
}

const floatBits = new Float64Array(1);
const floatWords = new Uint32Array(floatBits.buffer);
/** Index of the word holding a float64's sign, exponent and top mantissa bits. */
const HIGH_WORD = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1 ? 1 : 0;

// The bucket is read off the float's bits (exponent, then the top 4 mantissa bits: exactly
// floor((us / 2^exponent - 1) * 16)), which costs a fraction of Math.log2 and a division per task.
function bucketOf(us: number): number {
  if (!(us > 0)) return 0;
  floatBits[0] = us;
  const high = floatWords[HIGH_WORD]!;
  const exponent = ((high >>> 20) & 0x7ff) - 1023;
  if (exponent < MIN_EXPONENT) return 0;
  if (exponent >= MIN_EXPONENT + EXPONENTS) return (EXPONENTS - 1) * SUB_BUCKETS;
  return (exponent - MIN_EXPONENT) * SUB_BUCKETS + ((high >>> 16) & (SUB_BUCKETS - 1));
}

function upperBoundUs(bucket: number): number {
  const exponent = Math.floor(bucket / SUB_BUCKETS) + MIN_EXPONENT;
  return 2 ** exponent * (1 + ((bucket % SUB_BUCKETS) + 1) / SUB_BUCKETS);
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
  readonly #runTime = new DurationHistogram();
  readonly #waitTime = new DurationHistogram();

  recordRun(runMs: number, waitMs: number): void {
    this.busyMs += runMs;
    this.#runTime.record(runMs);
    this.#waitTime.record(Math.max(0, waitMs));
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
      runTime: this.#runTime.summary(),
      waitTime: this.#waitTime.summary(),
    };
  }
}
