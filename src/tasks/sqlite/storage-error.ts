// Turns what node:sqlite throws into Skein errors: a storage fault (full disk, read-only file, I/O error,
// a lock held past busyTimeout, a file that is no database) becomes SKEIN_TASKS_STORAGE naming the file
// and the way out; anything else (a constraint or SQL error) is an invariant break and says so.

import { internalError, SkeinError } from '../../errors.ts';

// Primary SQLite result codes (https://www.sqlite.org/rescode.html); node:sqlite reports extended
// codes in `errcode`, whose low byte is the primary code.
const SQLITE_PERM = 3;
const SQLITE_BUSY = 5;
const SQLITE_LOCKED = 6;
const SQLITE_NOMEM = 7;
const SQLITE_READONLY = 8;
const SQLITE_IOERR = 10;
const SQLITE_CORRUPT = 11;
const SQLITE_FULL = 13;
const SQLITE_CANTOPEN = 14;
const SQLITE_PROTOCOL = 15;
const SQLITE_NOTADB = 26;

const WAY_OUT = new Map<number, string>([
  [SQLITE_BUSY, 'another connection held the write lock longer than busyTimeout; raise busyTimeout'],
  [SQLITE_LOCKED, 'another connection held the write lock longer than busyTimeout; raise busyTimeout'],
  [SQLITE_FULL, 'free disk space (or raise the file size limit) and try again'],
  [SQLITE_IOERR, 'check the disk and the file system, then try again'],
  [SQLITE_READONLY, 'make the file, its directory and its -wal and -shm files writable'],
  [SQLITE_PERM, 'make the file, its directory and its -wal and -shm files writable'],
  [SQLITE_CANTOPEN, 'check that the directory exists and is writable'],
  [SQLITE_CORRUPT, 'the file is damaged; restore it from a copy or start with a new file'],
  [SQLITE_NOTADB, 'the file is not a SQLite database; point path at another file'],
  [SQLITE_NOMEM, 'SQLite ran out of memory'],
  [SQLITE_PROTOCOL, 'the WAL locking protocol failed; check the file is on a local file system'],
]);

/** The primary SQLite result code of a node:sqlite error, or undefined for any other value. */
export function sqliteCode(error: unknown): number | undefined {
  if (typeof error !== 'object' || error === null) return undefined;
  const { code, errcode } = error as { code?: unknown; errcode?: unknown };
  if (code !== 'ERR_SQLITE_ERROR' || typeof errcode !== 'number') return undefined;
  return errcode & 0xff;
}

/** Errors from the file system (mkdir of the directory) that mean the same as a storage fault. */
function isFileSystemError(error: unknown): boolean {
  if (typeof error !== 'object' || error === null) return false;
  const { code } = error as { code?: unknown };
  return typeof code === 'string' && /^E[A-Z]+$/.test(code) && 'syscall' in error;
}

/**
 * Maps an error thrown while `what` ran against the database at `path`: storage faults become
 * SKEIN_TASKS_STORAGE (cause: the original), Skein errors pass through, anything else is a bug.
 */
export function storageError(error: unknown, path: string, what: string): Error {
  if (error instanceof SkeinError) return error;
  const code = sqliteCode(error);
  const wayOut = code === undefined ? undefined : WAY_OUT.get(code);
  const reason = error instanceof Error ? error.message : String(error);
  if (wayOut !== undefined) {
    return new SkeinError('SKEIN_TASKS_STORAGE', `${what} failed on ${path}: ${reason}; ${wayOut}`, {
      cause: error,
    });
  }
  if (isFileSystemError(error)) {
    return new SkeinError(
      'SKEIN_TASKS_STORAGE',
      `${what} failed on ${path}: ${reason}; check that path names a file in a writable directory`,
      { cause: error },
    );
  }
  const bug = internalError(`${what} failed on ${path}: ${reason}`);
  Object.defineProperty(bug, 'cause', { value: error, configurable: true, writable: true });
  return bug;
}
