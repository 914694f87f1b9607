// Options of the SQLite broker: one frozen table of defaults and a resolver that validates every field
// by name. Invariant: what resolveSqliteBrokerOptions returns is complete and frozen, so the broker
// never reads raw user input again.

import { InvalidArgumentError } from '../../errors.ts';

/** How hard SQLite pushes each commit to the disk (PRAGMA synchronous under WAL). */
export type SqliteSynchronous = 'normal' | 'full';

export interface SqliteBrokerOptions {
  /**
   * The database file; its directory is created when missing. Several processes on one machine may
   * open the same file. `':memory:'` gives a private in-memory store (one broker instance only).
   * @defaultValue '.skein/tasks.db'
   */
  readonly path?: string;
  /**
   * Milliseconds a state change waits for another connection's write lock before it fails with
   * SKEIN_TASKS_STORAGE (PRAGMA busy_timeout). @defaultValue 5000
   */
  readonly busyTimeout?: number;
  /**
   * 'normal': a commit survives a crash of the process, but the last commits may be lost when the
   * machine loses power. 'full': every commit is on disk before the call returns (slower).
   * @defaultValue 'normal'
   */
  readonly synchronous?: SqliteSynchronous;
  /**
   * Milliseconds between two reads of the event log by `events()` and `waitUntilFinished()`: the
   * latency of a change made by another process. Changes made in this process are seen at once.
   * @defaultValue 50
   */
  readonly pollInterval?: number;
  /** Milliseconds an event is kept before `purgeExpired` deletes it. @defaultValue 3600000 */
  readonly eventRetention?: number;
}

/** The defaults of SqliteBrokerOptions. Plain data, frozen. */
export const SQLITE_BROKER_DEFAULTS = Object.freeze({
  path: '.skein/tasks.db',
  /** Milliseconds. */
  busyTimeout: 5000,
  synchronous: 'normal' as SqliteSynchronous,
  /** Milliseconds. */
  pollInterval: 50,
  /** Milliseconds: one hour. */
  eventRetention: 60 * 60 * 1000,
});

export type ResolvedSqliteBrokerOptions = Readonly<Required<SqliteBrokerOptions>>;

/** The largest timer delay Node accepts, in ms. */
const MAX_DELAY_MS = 0x7fff_ffff;
const SYNCHRONOUS_MODES: readonly SqliteSynchronous[] = ['normal', 'full'];

function show(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'object' && value !== null) return value.constructor?.name ?? 'an object';
  return String(value);
}

function invalid(message: string): InvalidArgumentError {
  return new InvalidArgumentError('SKEIN_TASKS_INVALID_OPTION', message);
}

function integerIn(name: string, value: unknown, min: number, max: number, wayOut: string): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw invalid(`${name} must be an integer from ${min} to ${max} (got ${show(value)}); ${wayOut}`);
  }
  return value;
}

/** Merges SqliteBrokerOptions over SQLITE_BROKER_DEFAULTS, validates each field by name and freezes. */
export function resolveSqliteBrokerOptions(options?: SqliteBrokerOptions): ResolvedSqliteBrokerOptions {
  if (options !== undefined && (typeof options !== 'object' || options === null || Array.isArray(options))) {
    throw invalid(
      `options must be an object (got ${show(options)}); omit it to use the SQLite broker defaults`,
    );
  }
  const raw = (options ?? {}) as Record<string, unknown>;
  const d = SQLITE_BROKER_DEFAULTS;
  const { path = d.path, synchronous = d.synchronous } = raw;
  if (typeof path !== 'string' || path.length === 0 || path.includes('\0')) {
    throw invalid(`path must be a non-empty file path (got ${show(path)}); omit it for '${d.path}'`);
  }
  if (typeof synchronous !== 'string' || !SYNCHRONOUS_MODES.includes(synchronous as SqliteSynchronous)) {
    throw invalid(
      `synchronous must be 'normal' or 'full' (got ${show(synchronous)}); omit it for '${d.synchronous}'`,
    );
  }
  return Object.freeze({
    path,
    synchronous: synchronous as SqliteSynchronous,
    busyTimeout: integerIn(
      'busyTimeout',
      raw.busyTimeout === undefined ? d.busyTimeout : raw.busyTimeout,
      0,
      MAX_DELAY_MS,
      `omit it to wait ${d.busyTimeout} ms for a locked database`,
    ),
    pollInterval: integerIn(
      'pollInterval',
      raw.pollInterval === undefined ? d.pollInterval : raw.pollInterval,
      1,
      MAX_DELAY_MS,
      `omit it to read the event log every ${d.pollInterval} ms`,
    ),
    eventRetention: integerIn(
      'eventRetention',
      raw.eventRetention === undefined ? d.eventRetention : raw.eventRetention,
      0,
      Number.MAX_SAFE_INTEGER,
      `omit it to keep events for ${d.eventRetention} ms`,
    ),
  });
}
