// What every view shares: data loading hooks, the clock, and small pieces (state badges, times, JSON,
// errors, charts). Kept plain so the whole console stays small (see docs/console.md for the size).

import type { ComponentChildren } from 'preact';
import { useCallback, useEffect, useRef, useState } from 'preact/hooks';
import { messageOf } from './api.ts';
import { formatJson, formatRelative, formatTime } from './lib/format.ts';
import { linePath, niceMax } from './lib/series.ts';

export interface Resource<T> {
  readonly data: T | undefined;
  readonly error: unknown;
  readonly loading: boolean;
  reload(): void;
}

/** Loads `load()` now and whenever `deps` change; reload() loads again (keeping the old data meanwhile). */
export function useResource<T>(
  load: (signal: AbortSignal) => Promise<T>,
  deps: readonly unknown[],
): Resource<T> {
  const [state, setState] = useState<{ data: T | undefined; error: unknown; loading: boolean }>({
    data: undefined,
    error: undefined,
    loading: true,
  });
  const [tick, setTick] = useState(0);
  const current = useRef<AbortController | undefined>(undefined);
  useEffect(() => {
    current.current?.abort();
    const controller = new AbortController();
    current.current = controller;
    setState((old) => ({ ...old, loading: true }));
    load(controller.signal).then(
      (data) => {
        if (!controller.signal.aborted) setState({ data, error: undefined, loading: false });
      },
      (error: unknown) => {
        if (!controller.signal.aborted) setState((old) => ({ data: old.data, error, loading: false }));
      },
    );
    return () => controller.abort();
  }, [...deps, tick]);
  const reload = useCallback(() => setTick((n) => n + 1), []);
  return { ...state, reload };
}

/** Calls `fn` at most once per `ms` however often the returned function is called (trailing call kept). */
export function useThrottle(fn: () => void, ms: number): () => void {
  const last = useRef(0);
  const timer = useRef<ReturnType<typeof setTimeout> | undefined>(undefined);
  const latest = useRef(fn);
  latest.current = fn;
  useEffect(() => () => clearTimeout(timer.current), []);
  return useCallback(() => {
    const wait = last.current + ms - Date.now();
    if (wait <= 0) {
      last.current = Date.now();
      latest.current();
    } else if (timer.current === undefined) {
      timer.current = setTimeout(() => {
        timer.current = undefined;
        last.current = Date.now();
        latest.current();
      }, wait);
    }
  }, [ms]);
}

/** The time, re-read every `ms` (for "5 s ago" texts). */
export function useNow(ms = 1000): number {
  const [now, setNow] = useState(Date.now());
  useEffect(() => {
    const timer = setInterval(() => setNow(Date.now()), ms);
    return () => clearInterval(timer);
  }, [ms]);
  return now;
}

export function StateBadge({ state }: { state: string }) {
  return <span class={`badge state-${state}`}>{state}</span>;
}

export function When({ at, now }: { at: number | null | undefined; now: number }) {
  if (at === null || at === undefined) return <span class="muted">—</span>;
  return (
    <time dateTime={new Date(at).toISOString()} title={formatTime(at)}>
      {formatRelative(at, now)}
    </time>
  );
}

export function Json({ value, label }: { value: unknown; label: string }) {
  return (
    <pre class="json" data-label={label}>
      {formatJson(value)}
    </pre>
  );
}

export function ErrorNote({ error }: { error: unknown }) {
  if (error === undefined || error === null) return null;
  return (
    <p class="error" role="alert">
      {messageOf(error)}
    </p>
  );
}

export function Section({
  title,
  children,
  actions,
}: {
  title: string;
  children: ComponentChildren;
  actions?: ComponentChildren;
}) {
  return (
    <section class="card" aria-label={title}>
      <header class="card-head">
        <h2>{title}</h2>
        {actions}
      </header>
      {children}
    </section>
  );
}

/** A truncating cell: the whole text in the title, never wider than its column. */
export function Clip({ text, href }: { text: string; href?: string }) {
  return href === undefined ? (
    <span class="clip" title={text}>
      {text}
    </span>
  ) : (
    <a class="clip" href={href} title={text}>
      {text}
    </a>
  );
}

export interface ChartSeries {
  readonly name: string;
  readonly className: string;
  readonly points: readonly { readonly t: number; readonly v: number | null }[];
}

const CHART_W = 600;
const CHART_H = 160;

/** A line chart over a time window; the label and the latest values are its accessible text. */
export function LineChart({
  label,
  series,
  from,
  to,
  unit,
  format,
}: {
  label: string;
  series: readonly ChartSeries[];
  from: number;
  to: number;
  unit: string;
  format: (value: number) => string;
}) {
  let max = 0;
  for (const s of series) for (const p of s.points) if (p.v !== null && p.v > max) max = p.v;
  const top = niceMax(max);
  const latest = series.map((s) => {
    const last = [...s.points].reverse().find((p) => p.v !== null);
    return `${s.name} ${last?.v === undefined || last.v === null ? '—' : format(last.v)}`;
  });
  return (
    <figure class="chart">
      <svg
        viewBox={`0 0 ${CHART_W} ${CHART_H}`}
        preserveAspectRatio="none"
        role="img"
        aria-label={`${label}: ${latest.join(', ')}`}
      >
        {[0.25, 0.5, 0.75].map((f) => (
          <line key={f} class="grid" x1="0" x2={CHART_W} y1={CHART_H * f} y2={CHART_H * f} />
        ))}
        {series.map((s) => (
          <path
            key={s.name}
            class={`line ${s.className}`}
            d={linePath(s.points, from, to, top, CHART_W, CHART_H)}
          />
        ))}
      </svg>
      <figcaption>
        <span class="axis">
          max {format(top)}
          {unit === '' ? '' : ` ${unit}`}
        </span>
        {series.map((s, i) => (
          <span key={s.name} class={`legend ${s.className}`}>
            {latest[i]}
          </span>
        ))}
      </figcaption>
    </figure>
  );
}
