// The database layout and its migrations, versioned by PRAGMA user_version. Invariant: a file is at
// exactly one version; each migration runs in one BEGIN IMMEDIATE transaction together with the bump
// of user_version, so two processes opening a new file at once migrate it once.

import type { DatabaseSync } from 'node:sqlite';
import { SkeinError } from '../../errors.ts';

/**
 * Each entry moves the file one version up; entry i takes version i to i + 1. Never edit a released
 * entry: add a new one.
 */
const MIGRATIONS: readonly (readonly string[])[] = [
  [
    // seq keeps the insertion order (children in enqueue order, listings oldest first) and stays
    // stable across VACUUM, which may renumber an implicit rowid.
    `CREATE TABLE jobs (
      seq INTEGER PRIMARY KEY,
      id TEXT NOT NULL UNIQUE,
      queue TEXT NOT NULL,
      task TEXT NOT NULL,
      payload BLOB NOT NULL,
      priority INTEGER NOT NULL,
      run_at INTEGER NOT NULL,
      max_attempts INTEGER NOT NULL,
      time_limit_ms INTEGER,
      idempotency_key TEXT,
      grp TEXT,
      result_ttl_ms INTEGER NOT NULL,
      dead_letter INTEGER NOT NULL,
      parent_id TEXT,
      canvas BLOB,
      state TEXT NOT NULL,
      attempt INTEGER NOT NULL DEFAULT 0,
      created_at INTEGER NOT NULL,
      started_at INTEGER,
      finished_at INTEGER,
      worker_id TEXT,
      lease_until INTEGER,
      result BLOB,
      error TEXT,
      progress BLOB,
      cancel_requested INTEGER NOT NULL DEFAULT 0,
      expires_at INTEGER
    )`,
    // Partial indexes stay small: each holds only the rows of the state its statements look at, and a
    // state change touches only the indexes of the states it leaves and enters. Every index costs each
    // commit a page write (measured: dropping two took end-to-end throughput from 7,400 to 10,500
    // jobs/s), so running jobs share one index for caps and lease recovery, and counts and listings
    // read the per-state indexes instead of keeping a (queue, state) index of their own.
    `CREATE INDEX jobs_queued ON jobs (queue, priority, run_at, id) WHERE state = 'queued'`,
    `CREATE INDEX jobs_scheduled ON jobs (queue, run_at) WHERE state = 'scheduled'`,
    `CREATE INDEX jobs_running ON jobs (queue, task, lease_until) WHERE state = 'running'`,
    `CREATE INDEX jobs_finished ON jobs (queue, state, finished_at) WHERE finished_at IS NOT NULL`,
    `CREATE INDEX jobs_expiry ON jobs (expires_at) WHERE expires_at IS NOT NULL`,
    `CREATE INDEX jobs_children ON jobs (parent_id, seq) WHERE parent_id IS NOT NULL`,
    `CREATE UNIQUE INDEX jobs_idempotency ON jobs (queue, idempotency_key) WHERE idempotency_key IS NOT NULL`,
    // Ids are max(id) + 1 and pruning always keeps the newest event, so an id is never reused and a
    // tail that remembers the last id it saw never skips a new event. (AUTOINCREMENT would give the
    // same at the cost of a sqlite_sequence write in every commit.)
    `CREATE TABLE events (
      id INTEGER PRIMARY KEY,
      type TEXT NOT NULL,
      job_id TEXT,
      queue TEXT NOT NULL,
      worker_id TEXT,
      at INTEGER NOT NULL
    )`,
    `CREATE TABLE rate_events (queue TEXT NOT NULL, key TEXT NOT NULL, at INTEGER NOT NULL)`,
    `CREATE INDEX rate_events_window ON rate_events (queue, key, at)`,
    `CREATE TABLE ticks (
      schedule_id TEXT NOT NULL,
      tick_at INTEGER NOT NULL,
      scheduler_id TEXT NOT NULL,
      claimed_at INTEGER NOT NULL,
      PRIMARY KEY (schedule_id, tick_at)
    ) WITHOUT ROWID`,
    `CREATE TABLE workers (
      worker_id TEXT PRIMARY KEY,
      queue TEXT NOT NULL,
      info TEXT NOT NULL,
      last_seen INTEGER NOT NULL
    )`,
  ],
  [
    // Join counters (broker.ts Join): completions counted so far per key, kept until the latest counted
    // job's result expires; a key's row goes when its count reaches the join's size.
    `CREATE TABLE joins (
      key TEXT PRIMARY KEY,
      count INTEGER NOT NULL,
      expires_at INTEGER NOT NULL
    ) WITHOUT ROWID`,
    `CREATE INDEX joins_expiry ON joins (expires_at)`,
  ],
];

/** WAL pages between two automatic checkpoints (4 KiB pages: about 40 MiB). */
const WAL_CHECKPOINT_PAGES = 10_000;
/** Bytes a WAL file is truncated to after a checkpoint. */
const WAL_SIZE_LIMIT_BYTES = 64 * 1024 * 1024;

/** The version this code writes and reads. */
export const SCHEMA_VERSION = MIGRATIONS.length;

/** Sets the connection up (WAL, synchronous mode, busy timeout) and brings the file to SCHEMA_VERSION. */
export function openSchema(
  db: DatabaseSync,
  settings: { readonly busyTimeout: number; readonly synchronous: 'normal' | 'full'; readonly path: string },
): void {
  // busy_timeout first: switching to WAL and migrating both wait for other openers' locks.
  db.exec(`PRAGMA busy_timeout = ${settings.busyTimeout}`);
  db.exec('PRAGMA journal_mode = WAL');
  db.exec(`PRAGMA synchronous = ${settings.synchronous === 'full' ? 'FULL' : 'NORMAL'}`);
  // A checkpoint (copying the WAL into the file, with an fsync) every WAL_CHECKPOINT_PAGES instead of
  // SQLite's 1,000: one complete() commit went from 96 to 57 µs (measured, synchronous = NORMAL). The
  // WAL then grows to about 40 MiB between checkpoints; journal_size_limit truncates it back after.
  db.exec(`PRAGMA wal_autocheckpoint = ${WAL_CHECKPOINT_PAGES}`);
  db.exec(`PRAGMA journal_size_limit = ${WAL_SIZE_LIMIT_BYTES}`);
  db.exec('BEGIN IMMEDIATE');
  try {
    const row = db.prepare('PRAGMA user_version').get() as { user_version: number } | undefined;
    const version = row?.user_version ?? 0;
    if (version > SCHEMA_VERSION) {
      throw new SkeinError(
        'SKEIN_TASKS_STORAGE',
        `${settings.path} is at schema version ${version}, newer than this Skein reads (${SCHEMA_VERSION}); upgrade Skein or point path at another file`,
      );
    }
    for (let v = version; v < SCHEMA_VERSION; v++) {
      for (const statement of MIGRATIONS[v] ?? []) db.exec(statement);
    }
    if (version !== SCHEMA_VERSION) db.exec(`PRAGMA user_version = ${SCHEMA_VERSION}`);
    db.exec('COMMIT');
  } catch (error) {
    if (db.isTransaction) db.exec('ROLLBACK');
    throw error;
  }
}
