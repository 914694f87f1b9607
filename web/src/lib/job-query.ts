// The job list's filters as the page URL carries them (so a filtered list can be linked and reloaded)
// and as the API's query string (/api/console/jobs) wants them.

import type { JobState } from '../../../src/tasks/index.ts';

export const STATES: readonly JobState[] = [
  'scheduled',
  'queued',
  'running',
  'succeeded',
  'failed',
  'dead',
  'cancelled',
];
export const PAGE_SIZES = [25, 50, 100, 200] as const;

export interface JobListQuery {
  readonly states: readonly JobState[];
  readonly task: string;
  readonly agent: string;
  readonly q: string;
  /** Epoch ms, or null for no bound. */
  readonly from: number | null;
  readonly to: number | null;
  readonly limit: number;
  readonly offset: number;
}

export const EMPTY_QUERY: JobListQuery = {
  states: [],
  task: '',
  agent: '',
  q: '',
  from: null,
  to: null,
  limit: 50,
  offset: 0,
};

function epoch(value: string | null): number | null {
  if (value === null || !/^\d{1,15}$/.test(value)) return null;
  return Number(value);
}

/** Reads the filters from a page URL's query (unknown or bad values fall back to the defaults). */
export function parseJobQuery(search: string): JobListQuery {
  const params = new URLSearchParams(search);
  const states = (params.get('state') ?? '')
    .split(',')
    .filter((s): s is JobState => (STATES as readonly string[]).includes(s));
  const limit = Number(params.get('limit'));
  const offset = Number(params.get('offset'));
  return {
    states: [...new Set(states)],
    task: params.get('task') ?? '',
    agent: params.get('agent') ?? '',
    q: params.get('q') ?? '',
    from: epoch(params.get('from')),
    to: epoch(params.get('to')),
    limit: (PAGE_SIZES as readonly number[]).includes(limit) ? limit : EMPTY_QUERY.limit,
    offset: Number.isSafeInteger(offset) && offset > 0 ? Math.min(offset, 100_000) : 0,
  };
}

/** The query string (without '?') for a page URL or the API: defaults left out. */
export function jobQueryString(query: JobListQuery): string {
  const params = new URLSearchParams();
  if (query.states.length > 0) params.set('state', query.states.join(','));
  if (query.task.trim() !== '') params.set('task', query.task.trim());
  if (query.agent.trim() !== '') params.set('agent', query.agent.trim());
  if (query.q.trim() !== '') params.set('q', query.q.trim());
  if (query.from !== null) params.set('from', String(query.from));
  if (query.to !== null) params.set('to', String(query.to));
  if (query.limit !== EMPTY_QUERY.limit) params.set('limit', String(query.limit));
  if (query.offset > 0) params.set('offset', String(query.offset));
  return params.toString();
}

/** Whether the query filters by more than states (the server then scans, and total is unknown). */
export function isFiltered(query: JobListQuery): boolean {
  return (
    query.task.trim() !== '' ||
    query.agent.trim() !== '' ||
    query.q.trim() !== '' ||
    query.from !== null ||
    query.to !== null
  );
}

/** `module:export` of a task label the API can submit again, or undefined (bundle addresses, odd labels). */
export function replayTarget(task: string): { module: string; export: string } | undefined {
  if (task.includes('://') || task.startsWith('bundle:') || task.startsWith('file:')) return undefined;
  const colon = task.lastIndexOf(':');
  if (colon <= 0 || colon === task.length - 1) return undefined;
  return { module: task.slice(0, colon), export: task.slice(colon + 1) };
}
