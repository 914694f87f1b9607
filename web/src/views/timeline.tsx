// Timeline: a Gantt chart of job attempts on workers (GET /api/console/spans), one row per worker thread
// busy at once, with the concurrency profile above it: a dip is where parallelism was lost. Zoom with
// the buttons, +/- and arrow keys, or the mouse wheel; "Live" keeps the window's end at now.

import { useEffect, useMemo, useRef, useState } from 'preact/hooks';
import type { SpanPage } from '../../../src/cloud/api/console-schemas.ts';
import { get } from '../api.ts';
import { formatDuration, formatTime } from '../lib/format.ts';
import {
  agentOfWorker,
  concurrencyProfile,
  MAX_WINDOW_MS,
  MIN_WINDOW_MS,
  packLanes,
  panWindow,
  spanBox,
  type Window,
  zoomWindow,
} from '../lib/timeline.ts';
import { ErrorNote, Section } from '../ui.tsx';

const POLL_MS = 2000;
const PROFILE_STEPS = 120;
const PRESETS = [
  [10_000, '10 s'],
  [60_000, '1 min'],
  [5 * 60_000, '5 min'],
  [15 * 60_000, '15 min'],
] as const;

export function TimelineView() {
  const [follow, setFollow] = useState(true);
  const [width, setWidth] = useState<number>(60_000);
  const [window, setWindow] = useState<Window>(() => ({ from: Date.now() - 60_000, to: Date.now() }));
  const [page, setPage] = useState<SpanPage | undefined>(undefined);
  const [error, setError] = useState<unknown>(undefined);
  const [now, setNow] = useState(Date.now());
  const area = useRef<HTMLDivElement>(null);

  useEffect(() => {
    let stopped = false;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const load = async () => {
      const at = Date.now();
      const shown = follow ? { from: at - width, to: at } : window;
      if (follow) setWindow(shown);
      try {
        const next = await get<SpanPage>(
          `/api/console/spans?from=${Math.floor(shown.from)}&to=${Math.ceil(shown.to)}&limit=3000`,
        );
        if (stopped) return;
        setPage(next);
        setNow(Date.now());
        setError(undefined);
      } catch (caught) {
        if (!stopped) setError(caught);
      }
      if (!stopped && follow) timer = setTimeout(load, POLL_MS);
    };
    void load();
    return () => {
      stopped = true;
      clearTimeout(timer);
    };
  }, [follow, width, follow ? 0 : window.from, follow ? 0 : window.to]);

  const spans = page?.spans ?? [];
  const lanes = useMemo(() => packLanes(spans, now), [spans, now]);
  const profile = useMemo(() => concurrencyProfile(spans, window, PROFILE_STEPS, now), [spans, window, now]);
  const peak = Math.max(1, ...profile);

  const zoom = (factor: number, center?: number) => {
    setFollow(false);
    const next = zoomWindow(window, factor, center);
    setWidth(next.to - next.from);
    setWindow(next);
  };
  const pan = (fraction: number) => {
    setFollow(false);
    setWindow(panWindow(window, fraction));
  };
  const onKey = (event: KeyboardEvent) => {
    if (event.key === '+' || event.key === '=') zoom(0.5);
    else if (event.key === '-') zoom(2);
    else if (event.key === 'ArrowLeft') pan(-0.25);
    else if (event.key === 'ArrowRight') pan(0.25);
    else return;
    event.preventDefault();
  };
  const onWheel = (event: WheelEvent) => {
    if (!event.ctrlKey && !event.altKey) return;
    event.preventDefault();
    const rect = area.current?.getBoundingClientRect();
    const ratio = rect === undefined || rect.width === 0 ? 0.5 : (event.clientX - rect.left) / rect.width;
    zoom(event.deltaY < 0 ? 0.8 : 1.25, window.from + ratio * (window.to - window.from));
  };

  const keys = useRef(onKey);
  keys.current = onKey;
  const wheel = useRef(onWheel);
  wheel.current = onWheel;
  useEffect(() => {
    const key = (event: KeyboardEvent) => {
      const target = event.target as HTMLElement | null;
      if (target !== null && /^(INPUT|TEXTAREA|SELECT)$/.test(target.tagName)) return;
      keys.current(event);
    };
    const scroll = (event: WheelEvent) => wheel.current(event);
    const element = area.current;
    document.addEventListener('keydown', key);
    element?.addEventListener('wheel', scroll, { passive: false });
    return () => {
      document.removeEventListener('keydown', key);
      element?.removeEventListener('wheel', scroll);
    };
  }, []);

  let lastAgent = '';
  return (
    <div class="stack">
      <h1 class="page-title">Timeline</h1>
      <fieldset class="toolbar bare">
        <legend class="sr-only">Window</legend>
        {PRESETS.map(([ms, label]) => (
          <button
            key={ms}
            type="button"
            aria-pressed={follow && width === ms}
            onClick={() => {
              setWidth(ms);
              setFollow(true);
            }}
          >
            Last {label}
          </button>
        ))}
        <button
          type="button"
          onClick={() => zoom(0.5)}
          disabled={window.to - window.from <= MIN_WINDOW_MS}
          aria-label="Zoom in"
        >
          +
        </button>
        <button
          type="button"
          onClick={() => zoom(2)}
          disabled={window.to - window.from >= MAX_WINDOW_MS}
          aria-label="Zoom out"
        >
          −
        </button>
        <button type="button" onClick={() => pan(-0.5)} aria-label="Earlier">
          ←
        </button>
        <button type="button" onClick={() => pan(0.5)} aria-label="Later">
          →
        </button>
        <label class="check">
          <input
            type="checkbox"
            checked={follow}
            onChange={(e) => setFollow((e.target as HTMLInputElement).checked)}
          />
          Live
        </label>
      </fieldset>
      <ErrorNote error={error} />
      <Section
        title={`${formatTime(window.from)} – ${formatTime(window.to)} (${formatDuration(window.to - window.from)})`}
      >
        <p class="muted small" role="status" data-testid="timeline-summary">
          {spans.length} attempts on {new Set(spans.map((s) => s.workerId)).size} workers, {lanes.length}{' '}
          rows; peak {peak.toFixed(1)} at once
          {page?.truncated ? ' (the latest shown: zoom in for all)' : ''}
          {page?.recordingSince === null
            ? ' — not recording: attempts are recorded while the console is open'
            : ''}
        </p>
        <p class="sr-only">
          Keys: + and - zoom, the left and right arrows move the window; ctrl and the mouse wheel zoom.
        </p>
        <div class="timeline" ref={area}>
          <div class="profile" aria-hidden="true">
            {profile.map((value, i) => (
              <span key={i} style={{ height: `${(value / peak) * 100}%` }} />
            ))}
          </div>
          {lanes.length === 0 ? <p class="muted">No attempts in this window.</p> : null}
          {lanes.map((lane) => {
            const agent = agentOfWorker(lane.workerId);
            const head = agent !== lastAgent;
            lastAgent = agent;
            return (
              <div key={lane.key} class={head ? 'lane first' : 'lane'}>
                <span class="lane-label clip" title={`${lane.workerId} row ${lane.row + 1}`}>
                  {lane.row === 0 ? lane.workerId : ''}
                </span>
                <div class="lane-track">
                  {lane.spans.map((span) => {
                    const box = spanBox(span, window, now);
                    if (box === undefined) return null;
                    const text = `${span.task} ${span.outcome ?? 'running'} ${formatDuration((span.end ?? now) - span.start)}`;
                    return (
                      <a
                        key={`${span.jobId}:${span.attempt}`}
                        class={`span o-${span.outcome ?? 'running'}`}
                        href={`/jobs/${span.jobId}`}
                        style={{ left: `${box.left}%`, width: `${box.width}%` }}
                        title={text}
                        data-span={span.jobId}
                      >
                        <span class="sr-only">{text}</span>
                      </a>
                    );
                  })}
                </div>
              </div>
            );
          })}
        </div>
      </Section>
    </div>
  );
}
