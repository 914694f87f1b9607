// The timeline's geometry: spans (job attempts on workers) packed into lanes, one row per worker thread
// in use at once, so overlapping attempts of one worker never hide each other; the visible window and
// its zoom; and the concurrency profile that shows where parallelism is lost. Pure functions.

import type { SpanView } from '../../../src/cloud/api/console-schemas.ts';

export interface Lane {
  /** `<worker id>#<row>`. */
  readonly key: string;
  readonly workerId: string;
  /** 0 for the worker's first row. */
  readonly row: number;
  readonly spans: readonly SpanView[];
}

/** The agent of a worker id (`<agent id>.<n>` for skein worker agents), else the worker id itself. */
export function agentOfWorker(workerId: string): string {
  const dot = workerId.lastIndexOf('.');
  return dot > 0 && /^\d+$/.test(workerId.slice(dot + 1)) ? workerId.slice(0, dot) : workerId;
}

/**
 * Packs spans into lanes: per worker (sorted by id), each span goes into the first row whose last span
 * ended at or before it starts (a running span, end null, holds its row until `now`).
 */
export function packLanes(spans: readonly SpanView[], now: number): Lane[] {
  const byWorker = new Map<string, SpanView[]>();
  for (const span of spans) {
    const list = byWorker.get(span.workerId) ?? [];
    list.push(span);
    byWorker.set(span.workerId, list);
  }
  const lanes: Lane[] = [];
  for (const workerId of [...byWorker.keys()].sort()) {
    const sorted = [...byWorker.get(workerId)!].sort(
      (a, b) => a.start - b.start || (a.jobId < b.jobId ? -1 : 1),
    );
    const rows: { end: number; spans: SpanView[] }[] = [];
    for (const span of sorted) {
      const end = span.end ?? Math.max(now, span.start);
      const row = rows.find((candidate) => candidate.end <= span.start);
      if (row === undefined) rows.push({ end, spans: [span] });
      else {
        row.end = end;
        row.spans.push(span);
      }
    }
    for (const [i, row] of rows.entries())
      lanes.push({ key: `${workerId}#${i}`, workerId, row: i, spans: row.spans });
  }
  return lanes;
}

export interface Window {
  readonly from: number;
  readonly to: number;
}

/** Smallest window the zoom reaches, in ms. */
export const MIN_WINDOW_MS = 100;
/** Largest window, in ms: one hour (what the server keeps of metrics). */
export const MAX_WINDOW_MS = 3_600_000;

/** The window scaled by `factor` (< 1 zooms in) around `center` (a time in the window), clamped. */
export function zoomWindow(window: Window, factor: number, center = (window.from + window.to) / 2): Window {
  const width = Math.min(MAX_WINDOW_MS, Math.max(MIN_WINDOW_MS, (window.to - window.from) * factor));
  const ratio = window.to > window.from ? (center - window.from) / (window.to - window.from) : 0.5;
  const from = center - width * Math.min(1, Math.max(0, ratio));
  return { from: Math.round(from), to: Math.round(from + width) };
}

/** The window moved by `fraction` of its width (negative: earlier). */
export function panWindow(window: Window, fraction: number): Window {
  const shift = Math.round((window.to - window.from) * fraction);
  return { from: window.from + shift, to: window.to + shift };
}

/** A span's box as percentages of the window: left and width (at least `minWidth`), or undefined when outside. */
export function spanBox(
  span: Pick<SpanView, 'start' | 'end'>,
  window: Window,
  now: number,
  minWidth = 0.2,
): { left: number; width: number } | undefined {
  const end = span.end ?? now;
  if (end < window.from || span.start > window.to) return undefined;
  const width = window.to - window.from;
  const left = ((Math.max(span.start, window.from) - window.from) / width) * 100;
  const right = ((Math.min(end, window.to) - window.from) / width) * 100;
  return { left, width: Math.max(minWidth, right - left) };
}

/**
 * Attempts running at once, averaged over each of `steps` equal parts of the window: the shape of the
 * parallelism a run got (a dip is time where workers sat idle).
 */
export function concurrencyProfile(
  spans: readonly SpanView[],
  window: Window,
  steps: number,
  now: number,
): number[] {
  const width = (window.to - window.from) / steps;
  const busy = new Array<number>(steps).fill(0);
  if (!(width > 0)) return busy;
  for (const span of spans) {
    const start = Math.max(span.start, window.from);
    const end = Math.min(span.end ?? now, window.to);
    if (end <= start) continue;
    const first = Math.floor((start - window.from) / width);
    const last = Math.min(steps - 1, Math.floor((end - window.from) / width));
    for (let i = first; i <= last; i++) {
      const stepFrom = window.from + i * width;
      const overlap = Math.min(end, stepFrom + width) - Math.max(start, stepFrom);
      if (overlap > 0) busy[i]! += overlap / width;
    }
  }
  return busy;
}
