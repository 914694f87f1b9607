// The overview's chart data: per-second activity buckets and metrics samples from
// /api/console/activity, merged as new ones arrive and cut to a window, then summed into chart steps.
// Pure functions over plain data (unit-tested in test/console/data-shaping.test.ts).

import type { ActivityBucket } from '../../../src/cloud/api/console-schemas.ts';
import type { MetricsEventView } from '../../../src/cloud/live-feed.ts';

/** Merges incoming items into `existing` by `at` (an incoming one replaces an older copy), oldest first, dropping those before `since`. */
export function mergeByTime<T extends { readonly at: number }>(
  existing: readonly T[],
  incoming: readonly T[],
  since: number,
): T[] {
  const byAt = new Map<number, T>();
  for (const item of existing) if (item.at >= since) byAt.set(item.at, item);
  for (const item of incoming) if (item.at >= since) byAt.set(item.at, item);
  return [...byAt.values()].sort((a, b) => a.at - b.at);
}

export interface ThroughputPoint {
  readonly t: number;
  /** Jobs per second over the step. */
  readonly succeeded: number;
  readonly failed: number;
  readonly started: number;
}

/**
 * Throughput per step of `stepMs` from `from` to `to` (steps with no bucket are 0 once recording had
 * started, omitted before it), in jobs per second.
 */
export function throughputSeries(
  buckets: readonly ActivityBucket[],
  from: number,
  to: number,
  stepMs: number,
  recordingSince: number | null,
): ThroughputPoint[] {
  if (!(stepMs > 0) || to <= from) return [];
  const first = Math.floor(from / stepMs) * stepMs;
  const steps = Math.ceil((to - first) / stepMs);
  const sums = Array.from({ length: steps }, () => ({ succeeded: 0, failed: 0, started: 0, seen: false }));
  for (const bucket of buckets) {
    const i = Math.floor((bucket.at - first) / stepMs);
    const sum = sums[i];
    if (sum === undefined) continue;
    sum.succeeded += bucket.succeeded;
    sum.failed += bucket.failed;
    sum.started += bucket.started;
    sum.seen = true;
  }
  const perSecond = 1000 / stepMs;
  const out: ThroughputPoint[] = [];
  sums.forEach((sum, i) => {
    const t = first + i * stepMs;
    const recorded = sum.seen || (recordingSince !== null && t + stepMs > recordingSince);
    if (!recorded) return;
    out.push({
      t,
      succeeded: sum.succeeded * perSecond,
      failed: sum.failed * perSecond,
      started: sum.started * perSecond,
    });
  });
  return out;
}

export interface LatencyPoint {
  readonly t: number;
  readonly p50: number | null;
  readonly p95: number | null;
}

/** Run-time percentiles per step: the worst (largest) bucket value in each step, so spikes stay visible. */
export function runTimeSeries(
  buckets: readonly ActivityBucket[],
  from: number,
  to: number,
  stepMs: number,
): LatencyPoint[] {
  const steps = new Map<number, { p50: number | null; p95: number | null }>();
  for (const bucket of buckets) {
    if (bucket.at < from || bucket.at >= to) continue;
    const t = Math.floor(bucket.at / stepMs) * stepMs;
    const step = steps.get(t) ?? { p50: null, p95: null };
    step.p50 = maxOf(step.p50, bucket.runP50Ms);
    step.p95 = maxOf(step.p95, bucket.runP95Ms);
    steps.set(t, step);
  }
  return [...steps].sort(([a], [b]) => a - b).map(([t, step]) => ({ t, ...step }));
}

function maxOf(a: number | null, b: number | null): number | null {
  if (a === null) return b;
  if (b === null) return a;
  return Math.max(a, b);
}

/** Enqueue → finish latency over the last minute, as the metrics samples carry it. */
export function queueLatencySeries(samples: readonly MetricsEventView[], from: number): LatencyPoint[] {
  return samples
    .filter((sample) => sample.at >= from)
    .map((sample) => ({ t: sample.at, p50: sample.latencyP50Ms, p95: sample.latencyP99Ms }));
}

/** A round upper bound for an axis: 1, 2, 5 × 10^n at or above `value` (1 for nothing). */
export function niceMax(value: number): number {
  if (!(value > 0) || !Number.isFinite(value)) return 1;
  const power = 10 ** Math.floor(Math.log10(value));
  for (const factor of [1, 2, 5, 10]) if (factor * power >= value) return factor * power;
  return 10 * power;
}

/**
 * An SVG path through points scaled into a `width` × `height` box (x from `from` to `to`, y from 0 to
 * `max`); a null value breaks the line.
 */
export function linePath(
  points: readonly { readonly t: number; readonly v: number | null }[],
  from: number,
  to: number,
  max: number,
  width: number,
  height: number,
): string {
  const span = Math.max(1, to - from);
  let path = '';
  let pen = false;
  for (const point of points) {
    if (point.v === null || !Number.isFinite(point.v)) {
      pen = false;
      continue;
    }
    const x = ((point.t - from) / span) * width;
    const y = height - (Math.min(point.v, max) / max) * height;
    path += `${pen ? 'L' : 'M'}${x.toFixed(1)},${y.toFixed(1)}`;
    pen = true;
  }
  return path;
}
