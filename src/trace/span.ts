// A span is one interval on one track (a worker, the queue). The recorder keeps a bounded ring so a
// long-running traced pool cannot grow without limit.

import { writeFile } from 'node:fs/promises';

export type SpanKind = 'task' | 'queued' | 'worker' | 'gpu';

export interface Span {
  readonly kind: SpanKind;
  readonly name: string;
  /** Track: the worker id, or -1 for the pool's queue (GPU devices: skein/gpu's GPU_TRACE_TRACK + id). */
  readonly track: number;
  /** The track's name in a trace viewer; default "queue" for -1, else "worker <track>". */
  readonly trackName?: string;
  /** Start, milliseconds since the recorder's epoch (performance.timeOrigin based). */
  readonly start: number;
  /** End, milliseconds since the same epoch. */
  readonly end: number;
  readonly attributes?: Readonly<Record<string, string | number | boolean>>;
}

export interface ChromeTraceEvent {
  readonly name: string;
  readonly cat: string;
  readonly ph: 'X' | 'M';
  readonly ts: number;
  readonly dur?: number;
  readonly pid: number;
  readonly tid: number;
  readonly args?: Readonly<Record<string, unknown>>;
}

const DEFAULT_SPAN_CAPACITY = 100_000;

/** Keeps the most recent spans, at most `capacity` of them. */
export class SpanRecorder {
  readonly #capacity: number;
  readonly #spans: Span[] = [];
  #next = 0;

  constructor(capacity = DEFAULT_SPAN_CAPACITY) {
    this.#capacity = capacity;
  }

  record(span: Span): void {
    if (this.#spans.length < this.#capacity) this.#spans.push(span);
    else {
      this.#spans[this.#next] = span;
      this.#next = (this.#next + 1) % this.#capacity;
    }
  }

  /** The spans in recording order. */
  spans(): Span[] {
    return [...this.#spans.slice(this.#next), ...this.#spans.slice(0, this.#next)];
  }
}

/** Converts spans to Chrome trace events (complete 'X' events plus track names). */
export function toChromeTrace(
  spans: readonly Span[],
  processName = 'skein',
): { traceEvents: ChromeTraceEvent[] } {
  const events: ChromeTraceEvent[] = [
    { name: 'process_name', cat: '__metadata', ph: 'M', ts: 0, pid: 1, tid: 0, args: { name: processName } },
  ];
  const tracks = new Set<number>();
  for (const span of spans) {
    // Chrome wants non-negative thread ids: the queue (-1) becomes thread 0, worker n becomes n + 1.
    const tid = span.track + 1;
    if (!tracks.has(tid)) {
      tracks.add(tid);
      events.push({
        name: 'thread_name',
        cat: '__metadata',
        ph: 'M',
        ts: 0,
        pid: 1,
        tid,
        args: { name: span.trackName ?? (span.track < 0 ? 'queue' : `worker ${span.track}`) },
      });
    }
    events.push({
      name: span.name,
      cat: span.kind,
      ph: 'X',
      ts: Math.round(span.start * 1000),
      dur: Math.max(0, Math.round((span.end - span.start) * 1000)),
      pid: 1,
      tid,
      ...(span.attributes === undefined ? {} : { args: span.attributes }),
    });
  }
  return { traceEvents: events };
}

/** Writes spans as a Chrome/Perfetto trace JSON file. */
export async function writeChromeTrace(
  path: string,
  spans: readonly Span[],
  processName?: string,
): Promise<void> {
  await writeFile(path, JSON.stringify(toChromeTrace(spans, processName)));
}
