// Schedules: cron and interval entries with their target, next and last run, the jobs each made, and
// pause/resume (deploy scope). Schedule events reload the list.

import { useEffect, useState } from 'preact/hooks';
import type { ScheduleDetailView, ScheduleView } from '../../../src/cloud/api/schedule-schemas.ts';
import { get, messageOf, post } from '../api.ts';
import { formatDuration } from '../lib/format.ts';
import { live } from '../live.ts';
import { Clip, ErrorNote, StateBadge, useNow, useResource, useThrottle, When } from '../ui.tsx';

export function SchedulesView() {
  const list = useResource((signal) => get<{ schedules: ScheduleView[] }>('/api/schedules', signal), []);
  const reload = useThrottle(list.reload, 500);
  const now = useNow(1000);
  const [open, setOpen] = useState<string | undefined>(undefined);
  useEffect(() => live.subscribe({ schedule: reload }), [reload]);
  return (
    <div class="stack">
      <h1 class="page-title">Schedules</h1>
      <ErrorNote error={list.error} />
      {list.data?.schedules.length === 0 ? (
        <p class="card muted">No schedules. Add one with skein schedule add.</p>
      ) : null}
      <div class="table-wrap">
        <table>
          <thead>
            <tr>
              <th scope="col">Name</th>
              <th scope="col">State</th>
              <th scope="col">When</th>
              <th scope="col">Target</th>
              <th scope="col">Next run</th>
              <th scope="col">Last run</th>
              <th scope="col">
                <span class="sr-only">Actions</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {(list.data?.schedules ?? []).map((s) => (
              <Row
                key={`${s.tenant}/${s.name}`}
                schedule={s}
                now={now}
                open={open === s.name}
                onToggle={() => setOpen(open === s.name ? undefined : s.name)}
                onChange={list.reload}
              />
            ))}
          </tbody>
        </table>
      </div>
      {open === undefined ? null : <History name={open} now={now} />}
    </div>
  );
}

function Row({
  schedule: s,
  now,
  open,
  onToggle,
  onChange,
}: {
  schedule: ScheduleView;
  now: number;
  open: boolean;
  onToggle: () => void;
  onChange: () => void;
}) {
  const [message, setMessage] = useState<string | undefined>(undefined);
  const act = async (action: 'pause' | 'resume') => {
    try {
      await post(`/api/schedules/${encodeURIComponent(s.name)}/${action}`);
      setMessage(undefined);
      onChange();
    } catch (error) {
      setMessage(messageOf(error));
    }
  };
  return (
    <tr data-schedule={s.name}>
      <td>
        <Clip text={s.name} />
        {s.error === null ? null : (
          <span class="error small" role="note">
            {' '}
            {s.error}
          </span>
        )}
      </td>
      <td>
        <StateBadge state={s.state} />
      </td>
      <td>{s.cron !== null ? <code>{s.cron}</code> : `every ${formatDuration(s.every)}`}</td>
      <td>
        <Clip text={s.task ?? `fn ${s.function ?? '?'}`} />
      </td>
      <td>
        <When at={s.nextRunAt} now={now} />
      </td>
      <td>
        <When at={s.lastRunAt} now={now} />
      </td>
      <td class="row-actions">
        {s.state === 'active' ? (
          <button type="button" class="secondary" onClick={() => act('pause')}>
            Pause
          </button>
        ) : (
          <button type="button" onClick={() => act('resume')}>
            Resume
          </button>
        )}
        <button type="button" class="link" aria-expanded={open} onClick={onToggle}>
          History
        </button>
        {message === undefined ? null : (
          <span class="error small" role="alert">
            {message}
          </span>
        )}
      </td>
    </tr>
  );
}

function History({ name, now }: { name: string; now: number }) {
  const detail = useResource(
    (signal) => get<ScheduleDetailView>(`/api/schedules/${encodeURIComponent(name)}?history=50`, signal),
    [name],
  );
  const reload = useThrottle(detail.reload, 1000);
  useEffect(() => live.subscribe({ schedule: (e) => e.schedule === name && reload() }), [name, reload]);
  return (
    <section class="card" aria-label={`History of ${name}`}>
      <h2 class="clip" title={name}>
        {name}: jobs it made
      </h2>
      <ErrorNote error={detail.error} />
      {detail.data?.history.length === 0 ? <p class="muted">It has not fired yet.</p> : null}
      <ul class="children">
        {(detail.data?.history ?? []).map((run) => (
          <li key={run.jobId}>
            <a href={`/jobs/${run.jobId}`}>
              <code>{run.jobId}</code>
            </a>{' '}
            {run.state === null ? <span class="muted small">purged</span> : <StateBadge state={run.state} />}{' '}
            <When at={run.firedAt} now={now} />
          </li>
        ))}
      </ul>
    </section>
  );
}
