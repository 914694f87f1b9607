// The claim step: inside the caller's BEGIN IMMEDIATE transaction, moves due scheduled jobs to queued,
// then takes queued jobs in (priority, runAt, id) order for one worker while honouring per-task
// concurrency caps (running jobs across all workers) and sliding-window rate limits (starts within the
// last intervalMs). Invariant: the write lock is held throughout, so counts read here cannot go stale
// before the jobs are started.

import type { ClaimRequest, JobRecord, RateLimit } from '../broker.ts';
import { decodeRow, type Row } from './rows.ts';
import type { Statements } from './statements.ts';

export interface ClaimEffects {
  /** Takes a damaged row out of circulation (dead, with an error naming the problems). */
  quarantine(row: Row, problems: readonly string[]): void;
  /** Logs an event of this transaction. */
  event(type: 'started', job: JobRecord): void;
}

interface Window {
  readonly key: string;
  readonly limit: RateLimit;
  count: number;
}

/** Claims up to `request.max` jobs at `now`; returns them as they are after the claim. */
export function claimJobs(
  sql: Statements,
  request: ClaimRequest,
  now: number,
  effects: ClaimEffects,
): JobRecord[] {
  const { queue, workerId, max, leaseMs } = request;
  sql.queue_due_jobs.run({ queue, now });
  if (max <= 0 || request.tasks.length === 0) return [];

  const running = new Map<string, number>();
  const caps = request.concurrency ?? {};
  for (const task of Object.keys(caps)) {
    const row = sql.count_running_jobs.get({ queue, task }) as { n: number };
    running.set(task, row.n);
  }
  const windows = new Map<string, Window>();
  for (const [key, limit] of Object.entries(request.rateLimits ?? {})) {
    const since = now - limit.intervalMs;
    sql.delete_rate_events.run({ queue, key, until: since });
    const row = sql.count_rate_events.get({ queue, key, since }) as { n: number };
    windows.set(key, { key, limit, count: row.n });
  }

  const blockedTasks = new Set<string>();
  const blockedGroups = new Set<string>();
  const isFull = (task: string, group: string | null): 'task' | 'group' | undefined => {
    const cap = caps[task];
    if (cap !== undefined && (running.get(task) ?? 0) >= cap) return 'task';
    const taskWindow = windows.get(task);
    if (taskWindow !== undefined && taskWindow.count >= taskWindow.limit.limit) return 'task';
    const groupWindow = group === null ? undefined : windows.get(`group:${group}`);
    if (groupWindow !== undefined && groupWindow.count >= groupWindow.limit.limit) return 'group';
    return undefined;
  };
  const tasks = JSON.stringify(request.tasks);
  const claimed: JobRecord[] = [];
  // Each pass claims, quarantines or blocks (a new task or group) at least its first row, and the next
  // pass excludes what was blocked, so the loop ends.
  while (claimed.length < max) {
    const rows = sql.select_claim_candidates.all({
      queue,
      tasks,
      blockedTasks: JSON.stringify([...blockedTasks]),
      blockedGroups: JSON.stringify([...blockedGroups]),
      limit: max - claimed.length,
    }) as Row[];
    if (rows.length === 0) break;
    const leaseUntil = now + leaseMs;
    // Started in one statement after the pass rather than one per job (the next pass's read is the
    // first to look at these rows again).
    const seqs: number[] = [];
    for (const row of rows) {
      const { record, problems } = decodeRow(row);
      if (problems.length > 0) {
        effects.quarantine(row, problems);
        continue;
      }
      if (blockedTasks.has(record.task) || (record.group !== null && blockedGroups.has(record.group)))
        continue;
      const full = isFull(record.task, record.group);
      if (full === 'task') {
        blockedTasks.add(record.task);
        continue;
      }
      if (full === 'group' && record.group !== null) {
        blockedGroups.add(record.group);
        continue;
      }
      seqs.push(row.seq as number);
      const started: JobRecord = {
        ...record,
        state: 'running',
        workerId,
        leaseUntil,
        attempt: record.attempt + 1,
        startedAt: now,
        progress: null,
      };
      claimed.push(started);
      effects.event('started', started);
      if (caps[record.task] !== undefined) running.set(record.task, (running.get(record.task) ?? 0) + 1);
      for (const key of [record.task, record.group === null ? undefined : `group:${record.group}`]) {
        const window = key === undefined ? undefined : windows.get(key);
        if (window === undefined) continue;
        sql.insert_rate_event.run({ queue, key: window.key, at: now });
        window.count++;
      }
    }
    if (seqs.length > 0) sql.start_jobs.run({ seqs: JSON.stringify(seqs), workerId, leaseUntil, now });
  }
  return claimed;
}
