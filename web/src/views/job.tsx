// One job: state, arguments, result, error and stack, attempts, parent and children, its logs
// (followed live while it runs) and the actions its state allows: cancel, retry (failed or dead), and
// replay (submit the same task and arguments again, for a dead letter or any finished job).

import { useEffect, useRef, useState } from 'preact/hooks';
import type { ConsoleJobDetail, ConsoleJobView } from '../../../src/cloud/api/console-schemas.ts';
import type { LogEndView, LogLineView } from '../../../src/cloud/api/log-schemas.ts';
import type { CancelView } from '../../../src/cloud/api/schemas.ts';
import { get, messageOf, post, readEvents } from '../api.ts';
import { Batcher } from '../lib/batch.ts';
import { formatDuration, formatTime } from '../lib/format.ts';
import { replayTarget } from '../lib/job-query.ts';
import { live } from '../live.ts';
import { navigate } from '../router.ts';
import {
  Clip,
  ErrorNote,
  Json,
  Section,
  StateBadge,
  useNow,
  useResource,
  useThrottle,
  When,
} from '../ui.tsx';

const FINISHED = new Set(['succeeded', 'failed', 'dead', 'cancelled']);
/** Lines kept on the page; older ones are dropped (the CLI reads them all: skein logs). */
const MAX_LINES = 5000;

export function JobView({ id }: { id: string }) {
  const detail = useResource(
    (signal) => get<ConsoleJobDetail>(`/api/console/jobs/${encodeURIComponent(id)}`, signal),
    [id],
  );
  const reload = useThrottle(detail.reload, 500);
  const now = useNow(1000);
  useEffect(
    () => live.subscribe({ jobs: (events) => events.some((e) => e.jobId === id) && reload() }),
    [id, reload],
  );
  const job = detail.data?.job;
  if (job === undefined) {
    return (
      <div class="stack">
        <h1 class="page-title">Job {id}</h1>
        {detail.error === undefined ? <p class="muted">Loading…</p> : <ErrorNote error={detail.error} />}
      </div>
    );
  }
  const data = detail.data!;
  return (
    <div class="stack">
      <div class="title-row">
        <h1 class="page-title clip" title={job.task}>
          {job.task}
        </h1>
        <StateBadge state={job.state} />
      </div>
      <ErrorNote error={detail.error} />
      <Actions job={job} onDone={detail.reload} />
      <Section title="Job">
        <dl class="facts">
          <dt>Id</dt>
          <dd>
            <code>{job.id}</code>
          </dd>
          <dt>Attempt</dt>
          <dd>
            {job.attempt} of {job.maxAttempts}
          </dd>
          <dt>Created</dt>
          <dd title={formatTime(job.createdAt)}>
            <When at={job.createdAt} now={now} />
          </dd>
          <dt>Started</dt>
          <dd>
            <When at={job.startedAt} now={now} />
          </dd>
          <dt>Finished</dt>
          <dd>
            <When at={job.finishedAt} now={now} />
          </dd>
          <dt>Ran</dt>
          <dd>{job.startedAt === null ? '—' : formatDuration((job.finishedAt ?? now) - job.startedAt)}</dd>
          <dt>Worker</dt>
          <dd>
            <Clip text={job.workerId ?? '—'} />
          </dd>
          <dt>Priority</dt>
          <dd>{job.priority}</dd>
          <dt>Tenant</dt>
          <dd>{job.tenant ?? '—'}</dd>
          {job.idempotencyKey === null ? null : (
            <>
              <dt>Idempotency key</dt>
              <dd>
                <Clip text={job.idempotencyKey} />
              </dd>
            </>
          )}
        </dl>
      </Section>
      <Section title="Arguments">
        <Json value={job.args} label="Arguments" />
      </Section>
      {job.state === 'succeeded' ? (
        <Section title="Result">
          <Json value={job.result} label="Result" />
        </Section>
      ) : null}
      {job.error === null ? null : (
        <Section title="Error">
          <p class="error-title">
            <strong>{job.error.name}</strong>
            {job.error.code === null ? null : <code> {job.error.code}</code>}: {job.error.message}
          </p>
          {job.stack === null ? null : <pre class="stack-trace">{job.stack}</pre>}
        </Section>
      )}
      <Section title="Attempts">
        {data.attempts.length === 0 ? (
          <p class="muted small">
            {data.recordingSince === null
              ? 'Attempts are recorded while the console is open.'
              : 'No attempt recorded since the console started recording.'}
          </p>
        ) : (
          <div class="table-wrap">
            <table>
              <thead>
                <tr>
                  <th scope="col">#</th>
                  <th scope="col">Worker</th>
                  <th scope="col">Started</th>
                  <th scope="col">Ran</th>
                  <th scope="col">Outcome</th>
                </tr>
              </thead>
              <tbody>
                {data.attempts.map((a) => (
                  <tr key={a.attempt}>
                    <td>{a.attempt}</td>
                    <td>
                      <Clip text={a.workerId ?? '—'} />
                    </td>
                    <td>
                      <When at={a.startedAt} now={now} />
                    </td>
                    <td>{formatDuration((a.finishedAt ?? now) - a.startedAt)}</td>
                    <td>
                      {a.outcome === null ? <StateBadge state="running" /> : <StateBadge state={a.outcome} />}
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
      </Section>
      {data.parent === null && data.children.length === 0 ? null : (
        <Section title="Parent and children">
          {data.parent === null ? null : (
            <p>
              Parent: <a href={`/jobs/${data.parent.id}`}>{data.parent.task}</a>{' '}
              <StateBadge state={data.parent.state} />
            </p>
          )}
          {data.children.length === 0 ? null : (
            <ul class="children">
              {data.children.map((child) => (
                <li key={child.id}>
                  <Clip text={child.task} href={`/jobs/${child.id}`} /> <StateBadge state={child.state} />
                </li>
              ))}
            </ul>
          )}
        </Section>
      )}
      <Logs
        id={job.id}
        running={!FINISHED.has(job.state)}
        generation={`${job.attempt}:${job.finishedAt ?? ''}`}
      />
    </div>
  );
}

function Actions({ job, onDone }: { job: ConsoleJobView; onDone: () => void }) {
  const [message, setMessage] = useState<string | undefined>(undefined);
  const [busy, setBusy] = useState(false);
  const replay = replayTarget(job.task);
  const run = async (what: () => Promise<string>) => {
    setBusy(true);
    try {
      setMessage(await what());
      onDone();
    } catch (error) {
      setMessage(messageOf(error));
    } finally {
      setBusy(false);
    }
  };
  return (
    <fieldset class="toolbar bare">
      <legend class="sr-only">Actions</legend>
      {FINISHED.has(job.state) ? null : (
        <button
          type="button"
          disabled={busy}
          onClick={() =>
            run(async () => `Cancel: ${(await post<CancelView>(`/api/jobs/${job.id}/cancel`)).outcome}`)
          }
        >
          Cancel
        </button>
      )}
      {job.state === 'failed' || job.state === 'dead' ? (
        <button
          type="button"
          disabled={busy}
          onClick={() =>
            run(async () => {
              await post(`/api/jobs/${job.id}/retry`);
              return 'Queued again';
            })
          }
        >
          Retry
        </button>
      ) : null}
      {FINISHED.has(job.state) && replay !== undefined ? (
        <button
          type="button"
          class="secondary"
          disabled={busy}
          title="Submit a new job with the same task and arguments"
          onClick={() =>
            run(async () => {
              const args = Array.isArray(job.args) ? job.args : [];
              const made = await post<{ id: string }>('/api/jobs', {
                module: replay.module,
                export: replay.export,
                args,
              });
              navigate(`/jobs/${made.id}`);
              return `Replayed as ${made.id}`;
            })
          }
        >
          Replay
        </button>
      ) : null}
      {message === undefined ? null : (
        <span role="status" class="small">
          {message}
        </span>
      )}
    </fieldset>
  );
}

function Logs({ id, running, generation }: { id: string; running: boolean; generation: string }) {
  const [lines, setLines] = useState<LogLineView[]>([]);
  const [dropped, setDropped] = useState(0);
  const [ended, setEnded] = useState(false);
  const [error, setError] = useState<unknown>(undefined);
  const [stick, setStick] = useState(true);
  const box = useRef<HTMLPreElement>(null);
  const next = useRef(0);
  // Reconnect when a finished job ran again (retry: a new attempt or finish time): it printed more.
  useEffect(() => {
    const stop = new AbortController();
    setEnded(false);
    setError(undefined);
    const batcher = new Batcher<LogLineView>(200, (batch) =>
      setLines((old) => {
        const all = old.concat(batch);
        if (all.length <= MAX_LINES) return all;
        setDropped((n) => n + all.length - MAX_LINES);
        return all.slice(all.length - MAX_LINES);
      }),
    );
    readEvents(
      `/api/jobs/${encodeURIComponent(id)}/logs?follow=1&after=${next.current}`,
      (frame) => {
        if (frame.event === 'log') {
          const line = JSON.parse(frame.data) as LogLineView;
          next.current = Math.max(next.current, line.seq);
          batcher.push(line);
        } else if (frame.event === 'end') {
          const end = JSON.parse(frame.data) as LogEndView;
          next.current = Math.max(next.current, end.next);
          batcher.flushNow();
          setEnded(true);
        }
      },
      stop.signal,
    )
      .catch((caught: unknown) => {
        if (!stop.signal.aborted) setError(caught);
      })
      .finally(() => batcher.flushNow());
    return () => {
      stop.abort();
      batcher.close();
    };
  }, [id, running, generation]);
  useEffect(() => {
    if (stick && box.current !== null) box.current.scrollTop = box.current.scrollHeight;
  }, [lines, stick]);
  let lastAttempt = 1;
  return (
    <Section
      title="Logs"
      actions={
        <label class="check small">
          <input
            type="checkbox"
            checked={stick}
            onChange={(e) => setStick((e.target as HTMLInputElement).checked)}
          />
          Follow
        </label>
      }
    >
      <ErrorNote error={error} />
      <pre class="logs" ref={box} data-testid="logs">
        {dropped > 0 ? (
          <span class="muted">
            … {dropped} earlier lines not shown (skein logs {id} prints them all)\n
          </span>
        ) : null}
        {lines.map((line) => {
          const marker = line.attempt !== lastAttempt ? `--- attempt ${line.attempt} ---\n` : '';
          lastAttempt = line.attempt;
          return (
            <span key={line.seq} class={line.stream === 'stderr' ? 'stderr' : undefined}>
              {marker}
              {line.text}
              {'\n'}
            </span>
          );
        })}
      </pre>
      <p class="muted small" role="status">
        {ended ? `${lines.length} lines; the job finished.` : running ? 'Following…' : ''}
      </p>
    </Section>
  );
}
