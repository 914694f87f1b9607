// Jobs: the server pages and filters (GET /api/console/jobs, newest first): states, task, agent, time
// and a text search. The filters live in the URL, so a list can be linked. The page reloads itself
// (at most once per RELOAD_MS) when job events touch it.

import { useEffect, useState } from 'preact/hooks';
import type { ConsoleJobPage } from '../../../src/cloud/api/console-schemas.ts';
import type { JobState } from '../../../src/tasks/index.ts';
import { get } from '../api.ts';
import { formatCount, formatDuration, formatTime } from '../lib/format.ts';
import {
  EMPTY_QUERY,
  isFiltered,
  type JobListQuery,
  jobQueryString,
  PAGE_SIZES,
  parseJobQuery,
  STATES,
} from '../lib/job-query.ts';
import { live } from '../live.ts';
import { navigate } from '../router.ts';
import { Clip, ErrorNote, StateBadge, useNow, useResource, useThrottle, When } from '../ui.tsx';

const RELOAD_MS = 1500;
const QUIET_RELOAD_MS = 5000;

function toLocalInput(at: number | null): string {
  if (at === null) return '';
  const d = new Date(at - new Date(at).getTimezoneOffset() * 60_000);
  return d.toISOString().slice(0, 16);
}

function fromLocalInput(value: string): number | null {
  if (value === '') return null;
  const at = new Date(value).getTime();
  return Number.isFinite(at) ? at : null;
}

export function JobsView({ search }: { search: string }) {
  const query = parseJobQuery(search);
  const apiQuery = jobQueryString(query);
  const page = useResource(
    (signal) => get<ConsoleJobPage>(`/api/console/jobs?${apiQuery}`, signal),
    [apiQuery],
  );
  const [following, setFollowing] = useState(true);
  const now = useNow(2000);
  const reload = useThrottle(page.reload, RELOAD_MS);
  const visible = new Set((page.data?.jobs ?? []).map((job) => job.id));
  useEffect(
    () =>
      live.subscribe({
        jobs: (events) => {
          if (!following) return;
          if (query.offset === 0 || events.some((event) => event.jobId !== null && visible.has(event.jobId)))
            reload();
        },
      }),
    [following, query.offset, reload, visible],
  );

  // Events reload the page; a quiet list is read again now and then (jobs change state without events
  // of this tenant's, e.g. purges).
  useEffect(() => {
    if (!following) return;
    const timer = setInterval(reload, QUIET_RELOAD_MS);
    return () => clearInterval(timer);
  }, [following, reload]);

  // On a phone the filters start folded (unless some are set), so the list shows first.
  const [wide] = useState(() => window.matchMedia('(min-width: 701px)').matches);
  const active =
    (query.states.length > 0 ? 1 : 0) +
    [query.task, query.agent, query.q].filter((v) => v.trim() !== '').length +
    (query.from !== null ? 1 : 0) +
    (query.to !== null ? 1 : 0);

  const go = (next: JobListQuery) => {
    const qs = jobQueryString(next);
    navigate(qs === '' ? '/jobs' : `/jobs?${qs}`);
  };

  return (
    <div class="stack">
      <h1 class="page-title">Jobs</h1>
      <details class="card filters-box" open={wide || active > 0}>
        <summary>Filters{active > 0 ? ` (${active} active)` : ''}</summary>
        <Filters query={query} onApply={(next) => go({ ...next, offset: 0 })} />
      </details>
      <div class="toolbar">
        <span role="status" class="muted small" data-testid="jobs-summary">
          {page.data === undefined
            ? 'Loading…'
            : page.data.total !== null
              ? `${formatCount(page.data.total)} jobs`
              : `${page.data.jobs.length} shown; ${formatCount(page.data.scanned)} examined${page.data.truncated ? ' (search stopped at its budget: narrow it with states or time to see older jobs)' : ''}`}
        </span>
        <label class="check">
          <input
            type="checkbox"
            checked={following}
            onChange={(e) => setFollowing((e.target as HTMLInputElement).checked)}
          />
          Live
        </label>
      </div>
      <ErrorNote error={page.error} />
      <div class="table-wrap">
        <table class="jobs">
          <caption class="sr-only">Jobs, newest first</caption>
          <thead>
            <tr>
              <th scope="col">Task</th>
              <th scope="col">State</th>
              <th scope="col">Attempt</th>
              <th scope="col">Created</th>
              <th scope="col">Ran</th>
              <th scope="col">Worker</th>
              <th scope="col">Id</th>
            </tr>
          </thead>
          <tbody>
            {(page.data?.jobs ?? []).map((job) => (
              <tr key={job.id} data-job={job.id} data-state={job.state}>
                <td>
                  <Clip text={job.task} href={`/jobs/${job.id}`} />
                </td>
                <td>
                  <StateBadge state={job.state} />
                </td>
                <td>
                  {job.attempt}/{job.maxAttempts}
                </td>
                <td>
                  <span title={formatTime(job.createdAt)}>
                    <When at={job.createdAt} now={now} />
                  </span>
                </td>
                <td>
                  {job.startedAt === null ? '—' : formatDuration((job.finishedAt ?? now) - job.startedAt)}
                </td>
                <td>
                  <Clip text={job.workerId ?? '—'} />
                </td>
                <td>
                  <code class="clip" title={job.id}>
                    {job.id}
                  </code>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
        {page.data !== undefined && page.data.jobs.length === 0 ? <p class="muted">No jobs match.</p> : null}
      </div>
      <nav class="pager" aria-label="Pages">
        <button
          type="button"
          disabled={query.offset === 0}
          onClick={() => go({ ...query, offset: Math.max(0, query.offset - query.limit) })}
        >
          Newer
        </button>
        <span class="small">
          {query.offset + 1}–{query.offset + (page.data?.jobs.length ?? 0)}
          {page.data?.total === null || page.data === undefined ? '' : ` of ${formatCount(page.data.total)}`}
        </span>
        <button
          type="button"
          disabled={page.data === undefined || page.data.jobs.length < query.limit}
          onClick={() => go({ ...query, offset: query.offset + query.limit })}
        >
          Older
        </button>
        <label>
          Per page{' '}
          <select
            value={query.limit}
            onChange={(e) =>
              go({ ...query, limit: Number((e.target as HTMLSelectElement).value), offset: 0 })
            }
          >
            {PAGE_SIZES.map((size) => (
              <option key={size} value={size}>
                {size}
              </option>
            ))}
          </select>
        </label>
      </nav>
    </div>
  );
}

function Filters({ query, onApply }: { query: JobListQuery; onApply: (query: JobListQuery) => void }) {
  const [draft, setDraft] = useState(query);
  useEffect(() => setDraft(query), [jobQueryString(query)]);
  const toggle = (state: JobState) =>
    setDraft((d) => ({
      ...d,
      states: d.states.includes(state) ? d.states.filter((s) => s !== state) : [...d.states, state],
    }));
  return (
    <form
      class="filters"
      aria-label="Filters"
      onSubmit={(e) => {
        e.preventDefault();
        onApply(draft);
      }}
    >
      <fieldset class="states">
        <legend>States</legend>
        {STATES.map((state) => (
          <label key={state} class="check">
            <input
              type="checkbox"
              name="state"
              value={state}
              checked={draft.states.includes(state)}
              onChange={() => toggle(state)}
            />
            {state}
          </label>
        ))}
      </fieldset>
      <label>
        Search
        <input
          type="search"
          name="q"
          placeholder="id, task, tenant or error"
          value={draft.q}
          onInput={(e) => setDraft({ ...draft, q: (e.target as HTMLInputElement).value })}
        />
      </label>
      <label>
        Task
        <input
          name="task"
          placeholder="tasks.ts:resize"
          value={draft.task}
          onInput={(e) => setDraft({ ...draft, task: (e.target as HTMLInputElement).value })}
        />
      </label>
      <label>
        Agent or worker
        <input
          name="agent"
          placeholder="agent-…"
          value={draft.agent}
          onInput={(e) => setDraft({ ...draft, agent: (e.target as HTMLInputElement).value })}
        />
      </label>
      <label>
        Created from
        <input
          type="datetime-local"
          name="from"
          value={toLocalInput(draft.from)}
          onInput={(e) => setDraft({ ...draft, from: fromLocalInput((e.target as HTMLInputElement).value) })}
        />
      </label>
      <label>
        to
        <input
          type="datetime-local"
          name="to"
          value={toLocalInput(draft.to)}
          onInput={(e) => setDraft({ ...draft, to: fromLocalInput((e.target as HTMLInputElement).value) })}
        />
      </label>
      <div class="actions">
        <button type="submit">Apply</button>
        {isFiltered(query) || query.states.length > 0 ? (
          <button type="button" class="secondary" onClick={() => onApply(EMPTY_QUERY)}>
            Clear
          </button>
        ) : null}
      </div>
    </form>
  );
}
