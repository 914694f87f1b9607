// The shapes of the routes the web console adds (console-api.ts): JSON
// schemas the server validates with and the wire types web/ imports. Query schemas refuse unknown
// fields, as every other route's do.

import type { JobState } from '../../tasks/index.ts';
import type { MetricsEventView } from '../live-feed.ts';
import type { JobView } from './schemas.ts';

/** Largest page of the console's job search. */
export const CONSOLE_MAX_PAGE = 200;
/** Deepest page the console's job search reaches (offset), newest first. */
export const CONSOLE_MAX_OFFSET = 100_000;
/** Jobs a filtered search examines at most before it answers with what it found (`truncated`). */
export const CONSOLE_SCAN_BUDGET = 20_000;
/** Most spans one timeline answer carries. */
export const CONSOLE_MAX_SPANS = 5000;

const INTEGER_STRING = (max: number) => ({ type: 'string', pattern: `^[0-9]{1,${String(max).length}}$` });
const EPOCH_MS = { type: 'string', pattern: '^[0-9]{1,15}$' } as const;

export const CONSOLE_JOB_QUERY = {
  type: 'object',
  additionalProperties: false,
  properties: {
    state: {
      type: 'string',
      pattern:
        '^(scheduled|queued|running|succeeded|failed|dead|cancelled)(,(scheduled|queued|running|succeeded|failed|dead|cancelled)){0,6}$',
      description: 'Only jobs in these states (comma-separated); all states when absent.',
    },
    task: {
      type: 'string',
      maxLength: 1024,
      description: 'Only jobs whose task (module:export) contains this.',
    },
    agent: {
      type: 'string',
      maxLength: 128,
      description: 'Only jobs run by this agent or worker id (a prefix of the worker id).',
    },
    q: {
      type: 'string',
      maxLength: 256,
      description: 'Search: job id, task, tenant or error message containing this (case-insensitive).',
    },
    from: { ...EPOCH_MS, description: 'Only jobs created at or after this (epoch ms).' },
    to: { ...EPOCH_MS, description: 'Only jobs created before this (epoch ms).' },
    limit: {
      ...INTEGER_STRING(CONSOLE_MAX_PAGE),
      description: `Page size, 1 to ${CONSOLE_MAX_PAGE}. Default 50.`,
    },
    offset: { ...INTEGER_STRING(CONSOLE_MAX_OFFSET), description: 'Jobs to skip, newest first. Default 0.' },
  },
} as const;

export const CONSOLE_SPAN_QUERY = {
  type: 'object',
  additionalProperties: false,
  properties: {
    from: { ...EPOCH_MS, description: 'Spans that end at or after this (epoch ms). Default: 5 minutes ago.' },
    to: { ...EPOCH_MS, description: 'Spans that start before this (epoch ms). Default: now.' },
    limit: {
      ...INTEGER_STRING(CONSOLE_MAX_SPANS),
      description: `At most this many, the latest. Default 2000.`,
    },
  },
} as const;

export const CONSOLE_ACTIVITY_QUERY = {
  type: 'object',
  additionalProperties: false,
  properties: {
    since: { ...EPOCH_MS, description: 'Buckets and samples after this (epoch ms). Default: the last hour.' },
  },
} as const;

/** A job as the console's job page shows it: the API's view and what the store adds. */
export interface ConsoleJobView extends JobView {
  readonly queue: string;
  /** The worker holding it now (running jobs only; the store clears it when the job finishes). */
  readonly workerId: string | null;
  readonly parentId: string | null;
  readonly group: string | null;
  readonly idempotencyKey: string | null;
  readonly expiresAt: number | null;
  /** The last failed attempt's stack, as the worker saw it. */
  readonly stack: string | null;
}

export interface ConsoleJobPage {
  readonly jobs: readonly ConsoleJobView[];
  readonly limit: number;
  readonly offset: number;
  /** Jobs that match, when known without a scan (no filter but states); null otherwise. */
  readonly total: number | null;
  /** Jobs examined to answer (a filtered search stops at CONSOLE_SCAN_BUDGET). */
  readonly scanned: number;
  /** True when the scan stopped at its budget: older matches may exist. */
  readonly truncated: boolean;
}

/** One attempt of a job, from the start and finish events the console recorded. */
export interface AttemptView {
  readonly attempt: number;
  readonly workerId: string | null;
  readonly startedAt: number;
  readonly finishedAt: number | null;
  /** succeeded, failed, retrying, dead, cancelled, expired-lease; null while running. */
  readonly outcome: string | null;
}

export interface ConsoleJobDetail {
  readonly job: ConsoleJobView;
  readonly parent: ConsoleJobView | null;
  readonly children: readonly ConsoleJobView[];
  /** Attempts seen since the console started recording (recordingSince); older ones are not known. */
  readonly attempts: readonly AttemptView[];
  readonly recordingSince: number | null;
}

/** One attempt of a job on a worker, for the timeline. */
export interface SpanView {
  readonly jobId: string;
  readonly task: string;
  readonly workerId: string;
  readonly attempt: number;
  readonly start: number;
  /** null while running. */
  readonly end: number | null;
  readonly outcome: string | null;
}

export interface SpanPage {
  readonly spans: readonly SpanView[];
  readonly from: number;
  readonly to: number;
  /** Whether spans in the window were left out (more than `limit`): the latest are kept. */
  readonly truncated: boolean;
  readonly recordingSince: number | null;
}

/** Jobs finished in one second, and their run times. */
export interface ActivityBucket {
  /** Start of the second (epoch ms). */
  readonly at: number;
  readonly started: number;
  readonly succeeded: number;
  /** Failed attempts (retried or not), dead and cancelled jobs. */
  readonly failed: number;
  /** Run time (start → finish of the attempt) percentiles in ms; null when nothing finished. */
  readonly runP50Ms: number | null;
  readonly runP95Ms: number | null;
}

export interface ActivityView {
  readonly buckets: readonly ActivityBucket[];
  /** The queue's metrics events (every 2 s while an event stream is open). */
  readonly samples: readonly MetricsEventView[];
  readonly recordingSince: number | null;
  readonly now: number;
}

/** The calling token (GET /api/console/whoami). */
export interface WhoAmIView {
  readonly id: string;
  readonly name: string;
  readonly scopes: readonly string[];
  readonly tenant: string;
  readonly operator: boolean;
  /** The server: its Skein version and the threads of its own agent (0 with --no-local-agent). */
  readonly server: { readonly version: string; readonly localAgentThreads: number };
}

export type { JobState };
