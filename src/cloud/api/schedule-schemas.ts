// The schedule routes' shapes: the JSON schemas requests are validated against (and published in the
// OpenAPI document) and the wire types the CLI, CloudClient and the web console read. A schedule's
// target is a task (module + export, as POST /api/jobs takes it) or a deployed function's name.

import type { JobState } from '../../tasks/index.ts';
import { FUNCTION_NAME, MAX_DELAY_MS, SUBMIT_BODY, type SubmitJobOptions } from './schemas.ts';

/** Shortest interval of an `every` schedule, in ms. */
export const MIN_EVERY_MS = 1000;
/** Jobs of a schedule's history kept in the store (older ones are forgotten, the jobs stay). */
export const SCHEDULE_HISTORY_KEPT = 100;
/** Most history entries GET /api/schedules/:name shows. */
export const MAX_HISTORY_SHOWN = 100;

const SCHEDULE_NAME = {
  type: 'string',
  pattern: '^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$',
  description: 'Unique name: a letter or digit, then up to 63 letters, digits, _, . or -.',
} as const;

// The job options of POST /api/jobs but the idempotency key, which each firing sets per tick.
const { idempotencyKey: _perTick, ...SCHEDULE_JOB_OPTIONS } = SUBMIT_BODY.properties.options.properties;

export const SCHEDULE_CREATE_BODY = {
  type: 'object',
  additionalProperties: false,
  required: ['name'],
  properties: {
    name: SCHEDULE_NAME,
    cron: {
      type: 'string',
      minLength: 1,
      maxLength: 256,
      description:
        'Five-field cron expression in UTC (minute hour day-of-month month day-of-week) or a macro (@hourly …). Exclusive with every.',
    },
    every: {
      type: 'integer',
      minimum: MIN_EVERY_MS,
      maximum: MAX_DELAY_MS,
      description: 'Milliseconds between firings, aligned to multiples since the epoch. Exclusive with cron.',
    },
    module: { ...SUBMIT_BODY.properties.module, description: 'Task target: the module (with export).' },
    export: { ...SUBMIT_BODY.properties.export, description: 'Task target: the export name (with module).' },
    function: {
      ...FUNCTION_NAME,
      description: 'Function target: a deployed function, called as a job (POST /fn/<name>?async=1).',
    },
    args: SUBMIT_BODY.properties.args,
    options: {
      type: 'object',
      additionalProperties: false,
      description: 'Job options of each firing (task targets only), as POST /api/jobs takes them.',
      properties: SCHEDULE_JOB_OPTIONS,
    },
    paused: { type: 'boolean', description: 'Create it paused. Default false.' },
  },
} as const;

export const SCHEDULE_NAME_PARAMS = {
  type: 'object',
  additionalProperties: false,
  required: ['name'],
  properties: { name: SCHEDULE_NAME },
} as const;

export const SCHEDULE_GET_QUERY = {
  type: 'object',
  additionalProperties: false,
  properties: {
    history: {
      type: 'string',
      pattern: '^[0-9]{1,3}$',
      description: `Jobs of the history to show, newest first, 0 to ${MAX_HISTORY_SHOWN}. Default 20.`,
    },
  },
} as const;

export const SCHEDULE_VIEW = {
  type: 'object',
  properties: {
    name: { type: 'string' },
    tenant: { type: 'string', description: 'The tenant the schedule belongs to (names are per tenant).' },
    cron: { type: ['string', 'null'] },
    every: { type: ['integer', 'null'], description: 'Milliseconds.' },
    task: { type: ['string', 'null'], description: 'module:export, for a task target.' },
    function: { type: ['string', 'null'], description: 'The function name, for a function target.' },
    args: { type: 'array' },
    options: { type: 'object' },
    state: { type: 'string', enum: ['active', 'paused'] },
    error: {
      type: ['string', 'null'],
      description: 'Why an active schedule cannot fire now (its task failed to load at start), else null.',
    },
    nextRunAt: { type: ['integer', 'null'], description: 'Epoch ms of the next tick; null when paused.' },
    lastRunAt: { type: ['integer', 'null'], description: 'Epoch ms of the last tick that made a job.' },
    createdAt: { type: 'integer', description: 'Epoch ms.' },
    updatedAt: { type: 'integer', description: 'Epoch ms of the last create, pause or resume.' },
  },
} as const;

const SCHEDULE_RUN_VIEW = {
  type: 'object',
  properties: {
    jobId: { type: 'string' },
    tickAt: { type: 'integer', description: 'Epoch ms of the tick the job was made for.' },
    firedAt: { type: 'integer', description: 'Epoch ms when the job was stored.' },
    state: {
      type: ['string', 'null'],
      description: 'The job state now; null when the job store no longer has the job.',
    },
  },
} as const;

export const SCHEDULE_DETAIL_VIEW = {
  type: 'object',
  properties: {
    ...SCHEDULE_VIEW.properties,
    history: { type: 'array', items: SCHEDULE_RUN_VIEW, description: 'Newest first.' },
  },
} as const;

// --- Wire types -------------------------------------------------------------------------------------

/** Job options of a schedule's firings: those of POST /api/jobs without the idempotency key. */
export type ScheduleJobOptions = Omit<SubmitJobOptions, 'idempotencyKey'>;

/** The body of POST /api/schedules: one of cron and every, one of module + export and function. */
export interface ScheduleRequest {
  readonly name: string;
  readonly cron?: string;
  readonly every?: number;
  readonly module?: string;
  readonly export?: string;
  readonly function?: string;
  readonly args?: readonly unknown[];
  readonly options?: ScheduleJobOptions;
  readonly paused?: boolean;
}

export type ScheduleState = 'active' | 'paused';

export interface ScheduleView {
  readonly name: string;
  /** The tenant the schedule belongs to: names are per tenant. */
  readonly tenant: string;
  readonly cron: string | null;
  readonly every: number | null;
  /** `module:export` of a task target. */
  readonly task: string | null;
  /** The name of a function target. */
  readonly function: string | null;
  readonly args: readonly unknown[];
  readonly options: ScheduleJobOptions;
  readonly state: ScheduleState;
  /** Why an active schedule cannot fire now, else null. */
  readonly error: string | null;
  readonly nextRunAt: number | null;
  readonly lastRunAt: number | null;
  readonly createdAt: number;
  readonly updatedAt: number;
}

/** A job a schedule made. */
export interface ScheduleRunView {
  readonly jobId: string;
  readonly tickAt: number;
  readonly firedAt: number;
  /** Null when the job store no longer has the job. */
  readonly state: JobState | null;
}

export interface ScheduleDetailView extends ScheduleView {
  /** Newest first. */
  readonly history: readonly ScheduleRunView[];
}

/** One schedule event of GET /api/events (the data of an SSE `event: schedule`). */
export interface ScheduleEventView {
  readonly type: 'created' | 'fired' | 'paused' | 'resumed' | 'removed';
  readonly schedule: string;
  /** The job made, for `fired`. */
  readonly jobId: string | null;
  /** The tick fired, for `fired` (epoch ms). */
  readonly tickAt: number | null;
  readonly at: number;
}
