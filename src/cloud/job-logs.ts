// What jobs printed, kept per job in the server's `.skein/logs.db`: one row per line with the job id,
// the attempt, the stream and the time it arrived, in arrival order (`seq`, the cursor readers page
// with). Each job keeps at most JOB_LOG_DEFAULTS.maxLines lines and maxBytes bytes, oldest dropped
// first (counted, so a reader is told); a job's lines go once nothing was written to them for `ttl`.
// A file of its own, not a table of cloud.db: every commit of another connection to cloud.db empties
// the token and function caches there (PRAGMA data_version), and jobs print all the time.

import { EventEmitter } from 'node:events';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { DatabaseSync, type StatementSync } from 'node:sqlite';

export type LogStream = 'stdout' | 'stderr';

/** One stored line. */
export interface LogLine {
  /** Position in the store: increasing, the cursor `after` of the next read. */
  readonly seq: number;
  readonly attempt: number;
  readonly stream: LogStream;
  /** When the server received it, epoch ms. */
  readonly at: number;
  /** The line without its newline (a write that did not end one is a line of its own). */
  readonly text: string;
}

export interface LogPage {
  readonly lines: readonly LogLine[];
  /** The cursor for the next read: the last line's seq, or `after` when there was none. */
  readonly next: number;
  /** Lines of this job dropped so far to keep it under the per-job cap (oldest first). */
  readonly dropped: number;
}

export const JOB_LOG_DEFAULTS = Object.freeze({
  maxLines: 10_000, // lines kept per job
  maxBytes: 1024 * 1024, // bytes (UTF-8 text) kept per job
  ttl: 86_400_000, // ms: a job's lines go one day after the last was written, as a job's result does
  pruneInterval: 600_000, // ms between sweeps for expired logs
});

export interface JobLogOptions {
  readonly maxLines?: number;
  readonly maxBytes?: number;
  readonly ttl?: number;
  readonly pruneInterval?: number;
}

/** Longest line kept, in characters; a longer one is split. Keeps a row, and a page, bounded. */
const MAX_LINE_CHARS = 64 * 1024;

const SCHEMA = `
CREATE TABLE IF NOT EXISTS job_logs (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  job_id TEXT NOT NULL,
  attempt INTEGER NOT NULL,
  stream TEXT NOT NULL,
  at INTEGER NOT NULL,
  text TEXT NOT NULL
) STRICT;
CREATE INDEX IF NOT EXISTS job_logs_by_job ON job_logs (job_id, seq);
CREATE TABLE IF NOT EXISTS job_log_totals (
  job_id TEXT PRIMARY KEY,
  lines INTEGER NOT NULL,
  bytes INTEGER NOT NULL,
  dropped INTEGER NOT NULL,
  updated_at INTEGER NOT NULL
) STRICT;
CREATE INDEX IF NOT EXISTS job_log_totals_by_time ON job_log_totals (updated_at);
`;

export interface JobLogEvents {
  /** Lines of `jobId` were stored, the last with `seq`. */
  appended: [jobId: string, seq: number];
}

/** The job log store. Synchronous: each call is one transaction on the local file. */
export class JobLogs extends EventEmitter<JobLogEvents> {
  readonly #db: DatabaseSync;
  readonly #statements = new Map<string, StatementSync>();
  readonly #options: Required<JobLogOptions>;
  readonly #pruneTimer: NodeJS.Timeout;
  #closed = false;

  constructor(path: string, options: JobLogOptions = {}) {
    super();
    // Any number of follow streams may wait on one job.
    this.setMaxListeners(0);
    this.#options = { ...JOB_LOG_DEFAULTS, ...options };
    mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
    this.#db = new DatabaseSync(path);
    this.#db.exec('PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA busy_timeout = 5000;');
    this.#db.exec(SCHEMA);
    this.prune(Date.now());
    this.#pruneTimer = setInterval(() => {
      try {
        this.prune(Date.now());
      } catch {
        // The next sweep tries again; a busy file costs nothing but a delay.
      }
    }, this.#options.pruneInterval).unref();
  }

  /**
   * Stores what one attempt of a job printed on one stream: split into lines, a text not ending in a
   * newline kept as a line too. Drops the job's oldest lines beyond the caps. Returns the lines stored.
   */
  append(jobId: string, attempt: number, stream: LogStream, text: string, at: number): number {
    if (this.#closed || text.length === 0) return 0;
    const parts = text.split('\n');
    if (parts.at(-1) === '') parts.pop();
    const lines: string[] = [];
    for (const part of parts) {
      const line = part.endsWith('\r') ? part.slice(0, -1) : part;
      for (let i = 0; i < line.length || i === 0; i += MAX_LINE_CHARS)
        lines.push(line.slice(i, i + MAX_LINE_CHARS));
    }
    if (lines.length === 0) return 0;
    const insert = this.#prepared(
      'INSERT INTO job_logs (job_id, attempt, stream, at, text) VALUES (?, ?, ?, ?, ?)',
    );
    let bytes = 0;
    let last = 0;
    this.#db.exec('BEGIN IMMEDIATE');
    try {
      for (const line of lines) {
        last = Number(insert.run(jobId, attempt, stream, at, line).lastInsertRowid);
        bytes += Buffer.byteLength(line);
      }
      this.#prepared(
        `INSERT INTO job_log_totals (job_id, lines, bytes, dropped, updated_at) VALUES (?, ?, ?, 0, ?)
         ON CONFLICT (job_id) DO UPDATE SET lines = lines + excluded.lines, bytes = bytes + excluded.bytes,
         updated_at = excluded.updated_at`,
      ).run(jobId, lines.length, bytes, at);
      this.#trim(jobId);
      this.#db.exec('COMMIT');
    } catch (error) {
      this.#db.exec('ROLLBACK');
      throw error;
    }
    this.emit('appended', jobId, last);
    return lines.length;
  }

  /** Drops the oldest lines of a job while it is over a cap (inside append's transaction). */
  #trim(jobId: string): void {
    const totals = this.#prepared('SELECT lines, bytes FROM job_log_totals WHERE job_id = ?').get(jobId) as
      | { lines: number; bytes: number }
      | undefined;
    if (totals === undefined) return;
    let overLines = totals.lines - this.#options.maxLines;
    let overBytes = totals.bytes - this.#options.maxBytes;
    if (overLines <= 0 && overBytes <= 0) return;
    const oldest = this.#prepared(
      'SELECT seq, text FROM job_logs WHERE job_id = ? ORDER BY seq LIMIT ?',
    ).iterate(jobId, Math.max(overLines, 0) + 1024) as Iterable<{ seq: number; text: string }>;
    let upTo = -1;
    let lines = 0;
    let bytes = 0;
    for (const row of oldest) {
      if (overLines <= 0 && overBytes <= 0) break;
      const size = Buffer.byteLength(row.text);
      upTo = row.seq;
      lines++;
      bytes += size;
      overLines--;
      overBytes -= size;
    }
    if (upTo < 0) return;
    this.#prepared('DELETE FROM job_logs WHERE job_id = ? AND seq <= ?').run(jobId, upTo);
    this.#prepared(
      'UPDATE job_log_totals SET lines = lines - ?, bytes = bytes - ?, dropped = dropped + ? WHERE job_id = ?',
    ).run(lines, bytes, lines, jobId);
    // A cap smaller than one batch of old lines: go on until under it.
    if (overLines > 0 || overBytes > 0) this.#trim(jobId);
  }

  /** Lines of a job after the cursor `after` (0: from the first kept), at most `limit`. */
  read(jobId: string, after: number, limit: number): LogPage {
    const rows = this.#prepared(
      'SELECT seq, attempt, stream, at, text FROM job_logs WHERE job_id = ? AND seq > ? ORDER BY seq LIMIT ?',
    ).all(jobId, after, limit) as unknown as LogLine[];
    const totals = this.#prepared('SELECT dropped FROM job_log_totals WHERE job_id = ?').get(jobId) as
      | { dropped: number }
      | undefined;
    return {
      lines: rows.map((row) => ({ ...row })),
      next: rows.length === 0 ? after : rows[rows.length - 1]!.seq,
      dropped: totals?.dropped ?? 0,
    };
  }

  /** Deletes the lines of jobs nothing was written to for `ttl` ms. */
  prune(now: number): void {
    if (this.#closed) return;
    const before = now - this.#options.ttl;
    this.#db.exec('BEGIN IMMEDIATE');
    try {
      this.#prepared(
        'DELETE FROM job_logs WHERE job_id IN (SELECT job_id FROM job_log_totals WHERE updated_at < ?)',
      ).run(before);
      this.#prepared('DELETE FROM job_log_totals WHERE updated_at < ?').run(before);
      this.#db.exec('COMMIT');
    } catch (error) {
      this.#db.exec('ROLLBACK');
      throw error;
    }
  }

  #prepared(sql: string): StatementSync {
    let statement = this.#statements.get(sql);
    if (statement === undefined) {
      statement = this.#db.prepare(sql);
      this.#statements.set(sql, statement);
    }
    return statement;
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    clearInterval(this.#pruneTimer);
    this.#db.close();
  }
}
