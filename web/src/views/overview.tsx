// Overview: throughput and run times over time (from /api/console/activity, polled every 2 s), queue
// depth by state (metrics events), agents and their load, recent failures. Updates arrive in batches
// (live.ts), so the page re-renders a few times a second at most whatever the job rate.

import { useEffect, useMemo, useRef, useState } from 'preact/hooks';
import type { AgentView } from '../../../src/cloud/api/agent-wire.ts';
import type {
  ActivityBucket,
  ActivityView,
  ConsoleJobPage,
  WhoAmIView,
} from '../../../src/cloud/api/console-schemas.ts';
import type { MetricsEventView } from '../../../src/cloud/live-feed.ts';
import { get } from '../api.ts';
import { formatCount, formatDuration } from '../lib/format.ts';
import { STATES } from '../lib/job-query.ts';
import { mergeByTime, queueLatencySeries, runTimeSeries, throughputSeries } from '../lib/series.ts';
import { live } from '../live.ts';
import {
  Clip,
  ErrorNote,
  LineChart,
  Section,
  StateBadge,
  useNow,
  useResource,
  useThrottle,
  When,
} from '../ui.tsx';

const POLL_MS = 2000;
const WINDOWS = [
  [5 * 60_000, '5 min'],
  [15 * 60_000, '15 min'],
  [60 * 60_000, '1 h'],
] as const;

export function Overview({ me }: { me: WhoAmIView }) {
  return (
    <div class="grid">
      <h1 class="page-title">Overview</h1>
      {me.operator ? (
        <Activity />
      ) : (
        <p class="card muted">
          Throughput, latency and queue depth count every tenant's jobs: they need an operator token.
        </p>
      )}
      <Agents me={me} />
      <RecentFailures />
    </div>
  );
}

function Activity() {
  const [windowMs, setWindowMs] = useState<number>(WINDOWS[0][0]);
  const [buckets, setBuckets] = useState<ActivityBucket[]>([]);
  const [samples, setSamples] = useState<MetricsEventView[]>([]);
  const [recordingSince, setRecordingSince] = useState<number | null>(null);
  const [error, setError] = useState<unknown>(undefined);
  const [now, setNow] = useState(Date.now());
  const since = useRef(0);

  useEffect(() => {
    let stopped = false;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const poll = async () => {
      try {
        const view = await get<ActivityView>(`/api/console/activity?since=${since.current}`);
        if (stopped) return;
        const keepFrom = view.now - 3_600_000;
        // The latest buckets are still filling: ask for them again next time.
        since.current = Math.max(0, view.now - 10_000);
        setBuckets((old) => mergeByTime(old, view.buckets, keepFrom));
        setSamples((old) => mergeByTime(old, view.samples, keepFrom));
        setRecordingSince(view.recordingSince);
        setNow(view.now);
        setError(undefined);
      } catch (caught) {
        if (!stopped) setError(caught);
      }
      if (!stopped) timer = setTimeout(poll, POLL_MS);
    };
    void poll();
    const unsubscribe = live.subscribe({
      metrics: (sample) => setSamples((old) => mergeByTime(old, [sample], sample.at - 3_600_000)),
    });
    return () => {
      stopped = true;
      clearTimeout(timer);
      unsubscribe();
    };
  }, []);

  const from = now - windowMs;
  const step = windowMs <= 5 * 60_000 ? 2000 : windowMs <= 15 * 60_000 ? 5000 : 20_000;
  const throughput = useMemo(
    () => throughputSeries(buckets, from, now, step, recordingSince),
    [buckets, from, now, step, recordingSince],
  );
  const runs = useMemo(() => runTimeSeries(buckets, from, now, step), [buckets, from, now, step]);
  const queueLatency = useMemo(() => queueLatencySeries(samples, from), [samples, from]);
  const latest = samples.at(-1);

  return (
    <>
      <Section
        title="Throughput"
        actions={
          <fieldset class="segmented bare">
            <legend class="sr-only">Time window</legend>
            {WINDOWS.map(([ms, label]) => (
              <button key={ms} type="button" aria-pressed={windowMs === ms} onClick={() => setWindowMs(ms)}>
                {label}
              </button>
            ))}
          </fieldset>
        }
      >
        <ErrorNote error={error} />
        <LineChart
          label="Jobs per second"
          unit="jobs/s"
          from={from}
          to={now}
          format={(v) => formatCount(v)}
          series={[
            {
              name: 'succeeded',
              className: 's-ok',
              points: throughput.map((p) => ({ t: p.t, v: p.succeeded })),
            },
            { name: 'failed', className: 's-bad', points: throughput.map((p) => ({ t: p.t, v: p.failed })) },
            {
              name: 'started',
              className: 's-info',
              points: throughput.map((p) => ({ t: p.t, v: p.started })),
            },
          ]}
        />
        <p class="muted small">
          {recordingSince === null ? (
            'Not recording.'
          ) : (
            <>
              Recorded while the console is open (since <When at={recordingSince} now={now} />
              ).
            </>
          )}
          {latest === undefined
            ? null
            : ` Finished in the last minute: ${formatCount(latest.finishedLastMinute)}.`}
        </p>
      </Section>
      <Section title="Latency">
        <LineChart
          label="Run time of attempts"
          unit=""
          from={from}
          to={now}
          format={(v) => formatDuration(v)}
          series={[
            { name: 'run p50', className: 's-info', points: runs.map((p) => ({ t: p.t, v: p.p50 })) },
            { name: 'run p95', className: 's-warn', points: runs.map((p) => ({ t: p.t, v: p.p95 })) },
            {
              name: 'queued→done p50',
              className: 's-ok',
              points: queueLatency.map((p) => ({ t: p.t, v: p.p50 })),
            },
            {
              name: 'queued→done p99',
              className: 's-bad',
              points: queueLatency.map((p) => ({ t: p.t, v: p.p95 })),
            },
          ]}
        />
      </Section>
      <Section title="Queue depth">
        {latest === undefined ? (
          <p class="muted">Waiting for the first metrics (every 2 s)…</p>
        ) : (
          <ul class="depth" aria-label="Jobs by state">
            {STATES.map((state) => (
              <li key={state}>
                <a href={`/jobs?state=${state}`}>
                  <StateBadge state={state} />
                  <strong
                    data-testid={`count-${state}`}
                    data-value={latest.counts[state]}
                    title={String(latest.counts[state])}
                  >
                    {formatCount(latest.counts[state])}
                  </strong>
                </a>
              </li>
            ))}
          </ul>
        )}
      </Section>
    </>
  );
}

function Agents({ me }: { me: WhoAmIView }) {
  const agents = useResource((signal) => get<{ agents: AgentView[] }>('/api/agents', signal), []);
  const now = useNow(2000);
  // The server's own agent is not in the registry: its load is the running jobs no agent reports.
  const [localRunning, setLocalRunning] = useState<number | undefined>(undefined);
  useEffect(
    () =>
      live.subscribe({ metrics: (m) => setLocalRunning(Math.max(0, m.counts.running - m.agentJobsRunning)) }),
    [],
  );
  const threads = me.server.localAgentThreads;
  const reload = useThrottle(agents.reload, 1000);
  useEffect(() => live.subscribe({ agent: reload }), [reload]);
  useEffect(() => {
    const timer = setInterval(agents.reload, 10_000);
    return () => clearInterval(timer);
  }, [agents.reload]);
  const list = (agents.data?.agents ?? []).filter((agent) => agent.state !== 'stopped');
  return (
    <Section title="Agents" actions={<a href="/agents">All agents</a>}>
      <ErrorNote error={agents.error} />
      {threads === 0 ? null : (
        <ul class="load-list">
          <li data-testid="local-agent">
            <span class="clip">this server</span>
            <span class="badge state-ready">local</span>
            <meter min={0} max={threads} value={localRunning ?? 0} aria-label="this server's agent load" />
            <span class="small">
              {localRunning === undefined ? '—' : Math.min(localRunning, threads)}/{threads} threads
            </span>
          </li>
        </ul>
      )}
      {list.length === 0 ? (
        <p class="muted small">No agents (skein worker) registered.</p>
      ) : (
        <ul class="load-list">
          {list.map((agent) => (
            <li key={agent.id}>
              <Clip text={agent.name} href="/agents" />
              <StateBadge state={agent.state} />
              <meter
                min={0}
                max={Math.max(1, agent.concurrency)}
                value={agent.runningJobs.length}
                aria-label={`${agent.name} load`}
              />
              <span class="small">
                {agent.runningJobs.length}/{agent.concurrency} · <When at={agent.lastHeartbeat} now={now} />
              </span>
            </li>
          ))}
        </ul>
      )}
    </Section>
  );
}

function RecentFailures() {
  const failures = useResource(
    (signal) => get<ConsoleJobPage>('/api/console/jobs?state=failed,dead&limit=8', signal),
    [],
  );
  const now = useNow(5000);
  const reload = useThrottle(failures.reload, 3000);
  useEffect(
    () =>
      live.subscribe({
        jobs: (events) =>
          events.some((e) => e.type === 'failed' || e.type === 'dead' || e.type === 'retrying') && reload(),
      }),
    [reload],
  );
  const jobs = failures.data?.jobs ?? [];
  return (
    <Section title="Recent failures" actions={<a href="/jobs?state=failed,dead">All failures</a>}>
      <ErrorNote error={failures.error} />
      {jobs.length === 0 ? (
        <p class="muted">No failed or dead jobs.</p>
      ) : (
        <ul class="failures">
          {jobs.map((job) => (
            <li key={job.id}>
              <a href={`/jobs/${job.id}`} class="clip" title={`${job.task} ${job.id}`}>
                {job.task}
              </a>
              <StateBadge state={job.state} />
              <span class="clip small" title={job.error?.message ?? ''}>
                {job.error?.message ?? ''}
              </span>
              <When at={job.finishedAt} now={now} />
            </li>
          ))}
        </ul>
      )}
    </Section>
  );
}
