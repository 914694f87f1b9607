// The shapes of the job log routes: GET /api/jobs/:id/logs (a page, or with follow=1 Server-Sent
// Events until the job finishes) and the agent route that brings a remote agent's output. Wire types
// for the CLI and the console live here too.

import type { JobState } from '../../tasks/index.ts';

/** Most lines one page answers. */
export const MAX_LOG_PAGE = 5000;
/** Lines a page answers when `limit` is absent. */
export const DEFAULT_LOG_PAGE = 1000;
/** Most chunks of output one agent batch carries. */
export const MAX_LOG_BATCH = 512;
/** Longest chunk of text in an agent batch, in characters (the pool sends at most 16 Ki per message). */
export const MAX_LOG_CHUNK_CHARS = 64 * 1024;
/** Largest body of the agent log route, in bytes: a full batch of the longest chunks, as UTF-8, with room. */
export const AGENT_LOGS_BODY_LIMIT_BYTES = 8 * 1024 * 1024;

/** One line of a job's output as the API shows it. */
export interface LogLineView {
  /** The line's position: pass the last one seen as `after` to read on. */
  readonly seq: number;
  /** Which attempt of the job printed it (1 for the first). */
  readonly attempt: number;
  readonly stream: 'stdout' | 'stderr';
  /** When the server stored it, epoch ms. */
  readonly at: number;
  readonly text: string;
}

/** GET /api/jobs/:id/logs without follow. */
export interface LogPageView {
  readonly jobId: string;
  /** The job's state when read: a finished job gets no more lines. */
  readonly state: JobState;
  readonly lines: readonly LogLineView[];
  /** The cursor to read on from (`after`). */
  readonly next: number;
  /** Earlier lines of this job dropped by the per-job cap. */
  readonly dropped: number;
}

/** The last frame of a follow stream (`event: end`): the job finished and every line was sent. */
export interface LogEndView {
  readonly jobId: string;
  readonly state: JobState;
  readonly next: number;
}

/** One chunk of output a remote agent sends. */
export interface AgentLogChunk {
  readonly id: string;
  readonly attempt: number;
  readonly stream: 'stdout' | 'stderr';
  /** When the agent captured it, epoch ms (the server keeps its own time of arrival). */
  readonly at: number;
  readonly text: string;
}

export interface AgentLogsRequest {
  readonly workerId: string;
  readonly chunks: readonly AgentLogChunk[];
}

const INTEGER_STRING = (digits: number) => ({ type: 'string', pattern: `^[0-9]{1,${digits}}$` });

export const JOB_LOGS_QUERY = {
  type: 'object',
  additionalProperties: false,
  properties: {
    after: {
      ...INTEGER_STRING(15),
      description: 'Only lines after this cursor (a `seq`, or `next`). Default 0.',
    },
    limit: {
      ...INTEGER_STRING(String(MAX_LOG_PAGE).length),
      description: `Most lines, 1 to ${MAX_LOG_PAGE}. Default ${DEFAULT_LOG_PAGE}. Not used with follow.`,
    },
    follow: {
      type: 'string',
      enum: ['0', '1'],
      description:
        '1: Server-Sent Events: `event: log` per line (data = LogLineView, `id:` its seq), then `event: end` (data = LogEndView) once the job finished.',
    },
  },
} as const;

export const LOG_LINE_VIEW = {
  type: 'object',
  properties: {
    seq: { type: 'integer' },
    attempt: { type: 'integer' },
    stream: { type: 'string', enum: ['stdout', 'stderr'] },
    at: { type: 'integer', description: 'Epoch ms.' },
    text: { type: 'string' },
  },
} as const;

export const LOG_PAGE_VIEW = {
  type: 'object',
  properties: {
    jobId: { type: 'string' },
    state: { type: 'string' },
    lines: { type: 'array', items: LOG_LINE_VIEW },
    next: { type: 'integer' },
    dropped: { type: 'integer' },
  },
} as const;

export const AGENT_LOGS_BODY = {
  type: 'object',
  additionalProperties: false,
  required: ['workerId', 'chunks'],
  properties: {
    workerId: { type: 'string', pattern: '^[A-Za-z0-9._:-]{1,128}$' },
    chunks: {
      type: 'array',
      maxItems: MAX_LOG_BATCH,
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['id', 'attempt', 'stream', 'at', 'text'],
        properties: {
          id: { type: 'string', pattern: '^[A-Za-z0-9-]{1,64}$' },
          attempt: { type: 'integer', minimum: 1, maximum: 1_000_000 },
          stream: { type: 'string', enum: ['stdout', 'stderr'] },
          at: { type: 'integer', minimum: 0 },
          text: { type: 'string', maxLength: MAX_LOG_CHUNK_CHARS },
        },
      },
    },
  },
} as const;
