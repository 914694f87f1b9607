// Rows of the jobs table to JobRecords and back. Invariant: a row is decoded field by field with its
// type checked, so a damaged row yields a list of problems (and a salvaged record) instead of a throw
// in the middle of a claim; the broker quarantines such rows.

import { JOB_STATES, type JobRecord, type JobState, type StoredError } from '../broker.ts';

export type Row = Readonly<Record<string, unknown>>;

/** A decoded row: the record, and what was wrong with the row (empty when it was sound). */
export interface Decoded {
  readonly record: JobRecord;
  readonly problems: readonly string[];
}

/** The error a quarantined row carries: SKEIN_TASKS_STORAGE with every problem named. */
export function corruptRowError(problems: readonly string[]): StoredError {
  return {
    name: 'SkeinError',
    message: `The job's row was corrupt and was quarantined (${problems.join('; ')}); enqueue the job again if it is still wanted`,
    stack: undefined,
    code: 'SKEIN_TASKS_STORAGE',
  };
}

/** True when a decoded row already is a quarantined one (dead with the corrupt-row error). */
export function isQuarantined(record: JobRecord): boolean {
  return record.state === 'dead' && record.error?.code === 'SKEIN_TASKS_STORAGE';
}

export function encodeError(error: StoredError): string {
  return JSON.stringify({
    name: error.name,
    message: error.message,
    stack: error.stack ?? null,
    code: error.code ?? null,
  });
}

const EMPTY = new Uint8Array(0);

/** Decodes one row of `SELECT * FROM jobs`. */
export function decodeRow(row: Row): Decoded {
  const problems: string[] = [];
  const bad = (column: string, value: unknown): void => {
    problems.push(`column ${column} holds ${describe(value)}`);
  };
  const text = (column: string): string => {
    const value = row[column];
    if (typeof value === 'string') return value;
    bad(column, value);
    return '';
  };
  const textOrNull = (column: string): string | null => {
    const value = row[column];
    if (value === null || typeof value === 'string') return value;
    bad(column, value);
    return null;
  };
  const int = (column: string, fallback = 0): number => {
    const value = row[column];
    if (typeof value === 'number' && Number.isInteger(value)) return value;
    bad(column, value);
    return fallback;
  };
  const intOrNull = (column: string): number | null => {
    const value = row[column];
    if (value === null || (typeof value === 'number' && Number.isInteger(value))) return value;
    bad(column, value);
    return null;
  };
  const flag = (column: string): boolean => {
    const value = row[column];
    if (value === 0 || value === 1) return value === 1;
    bad(column, value);
    return false;
  };
  const blob = (column: string): Uint8Array => {
    const value = row[column];
    if (value instanceof Uint8Array) return value;
    bad(column, value);
    return EMPTY;
  };
  const blobOrNull = (column: string): Uint8Array | null => {
    const value = row[column];
    if (value === null || value instanceof Uint8Array) return value;
    bad(column, value);
    return null;
  };
  const stateOf = (): JobState => {
    const value = row.state;
    if (typeof value === 'string' && (JOB_STATES as readonly string[]).includes(value))
      return value as JobState;
    bad('state', value);
    return 'dead';
  };
  const errorOf = (): StoredError | null => {
    const value = row.error;
    if (value === null) return null;
    const parsed = typeof value === 'string' ? parseError(value) : undefined;
    if (parsed !== undefined) return parsed;
    bad('error', value);
    return null;
  };
  const record: JobRecord = {
    id: text('id'),
    queue: text('queue'),
    task: text('task'),
    payload: blob('payload'),
    priority: int('priority'),
    runAt: int('run_at'),
    maxAttempts: int('max_attempts', 1),
    timeLimitMs: intOrNull('time_limit_ms'),
    idempotencyKey: textOrNull('idempotency_key'),
    group: textOrNull('grp'),
    resultTtlMs: int('result_ttl_ms'),
    deadLetter: flag('dead_letter'),
    parentId: textOrNull('parent_id'),
    canvas: blobOrNull('canvas'),
    state: stateOf(),
    attempt: int('attempt'),
    createdAt: int('created_at'),
    startedAt: intOrNull('started_at'),
    finishedAt: intOrNull('finished_at'),
    workerId: textOrNull('worker_id'),
    leaseUntil: intOrNull('lease_until'),
    result: blobOrNull('result'),
    error: errorOf(),
    progress: blobOrNull('progress'),
    cancelRequested: flag('cancel_requested'),
    expiresAt: intOrNull('expires_at'),
  };
  return { record, problems };
}

function parseError(value: string): StoredError | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(value);
  } catch {
    return undefined;
  }
  if (typeof parsed !== 'object' || parsed === null) return undefined;
  const { name, message, stack, code } = parsed as Record<string, unknown>;
  if (typeof name !== 'string' || typeof message !== 'string') return undefined;
  if (!(stack === null || stack === undefined || typeof stack === 'string')) return undefined;
  if (!(code === null || code === undefined || typeof code === 'string')) return undefined;
  return { name, message, stack: stack ?? undefined, code: code ?? undefined };
}

function describe(value: unknown): string {
  if (value === null) return 'NULL';
  if (value instanceof Uint8Array) return `a ${value.byteLength}-byte blob`;
  if (typeof value === 'string')
    return `the text ${JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value)}`;
  return `${typeof value} ${String(value)}`;
}
