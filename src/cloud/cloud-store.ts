// The server's own state beside the job store: API tokens (hashed, never the secret), the task
// modules jobs were submitted for (so a restarted server serves the jobs it acknowledged), deployed
// bundles and the functions pointing into them, with every version each function had, schedules
// with the jobs they created, and the tenant of every job made through the API (tenants.ts). One
// SQLite file (`.skein/cloud.db`, WAL); every write is one statement or one transaction, so a crash
// leaves each row whole.

import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { DatabaseSync, type StatementSync } from 'node:sqlite';

/**
 * A permission a token carries. `admin` includes every other within the token's tenant but `agent`;
 * `operator` includes every scope and reaches every tenant. `agent` is for `skein worker` alone: it may
 * register an agent and run jobs through the agent routes, and read or change nothing else.
 */
export type TokenScope = 'admin' | 'deploy' | 'invoke' | 'read' | 'agent' | 'operator';

export const TOKEN_SCOPES: readonly TokenScope[] = Object.freeze([
  'admin',
  'deploy',
  'invoke',
  'read',
  'agent',
  'operator',
]);

/** A token as stored and shown: never its secret. */
export interface TokenRecord {
  readonly id: string;
  readonly name: string;
  readonly scopes: readonly TokenScope[];
  /** The tenant whose jobs, functions and schedules the token reaches (tenants.ts). */
  readonly tenant: string;
  readonly createdAt: number;
  readonly revokedAt: number | null;
  /** When the token stops being accepted (epoch ms), or null for never. */
  readonly expiresAt: number | null;
}

export interface StoredToken extends TokenRecord {
  /** SHA-256 of the whole token text. */
  readonly hash: Uint8Array;
}

/**
 * How a function runs, as chosen at deploy time (a module's `config` export, `skein deploy`'s flags);
 * an absent field takes the server's default when the function is called.
 */
export interface FunctionSettings {
  /** 'thread': a worker thread of the server process; 'process': a child process. */
  readonly isolation?: 'thread' | 'process';
  /** Limit of the V8 heap (old generation) of the thread or process running a call, in MiB. */
  readonly memoryMb?: number;
  /** Wall-clock limit of a call from its start, in ms. */
  readonly timeout?: number;
  /** Calls of the function running at once. */
  readonly concurrency?: number;
  /** Calls waiting for a free slot (FIFO) before more are refused with 429. */
  readonly queue?: number;
}

/** A bundle stored under .skein/deployments/<hash>.mjs and the task exports found in it. */
export interface DeploymentRecord {
  readonly hash: string;
  readonly exports: readonly string[];
  readonly size: number;
  readonly createdAt: number;
  /** Each export's settings from the module's own `config` export (absent: none chosen). */
  readonly settings?: Readonly<Record<string, FunctionSettings>>;
}

/** One version of a function: the bundle and export a name pointed at. Versions count from 1 per name. */
export interface FunctionVersion {
  readonly version: number;
  readonly hash: string;
  readonly exportName: string;
  readonly deployedAt: number;
  /** The settings chosen when it was deployed (last deploy of this bundle and export). */
  readonly settings: FunctionSettings;
}

/** A function: its name, the version it runs now, and every version it had. */
export interface FunctionRecord {
  readonly name: string;
  readonly current: FunctionVersion;
  readonly updatedAt: number;
  readonly versions: readonly FunctionVersion[];
}

/** A task module jobs were submitted for: relative path and export name, as the client named them. */
export interface RegisteredTask {
  readonly module: string;
  readonly exportName: string;
}

/** A job a schedule created: the tick it was for (epoch ms) and when it was stored. */
export interface ScheduleRun {
  readonly name: string;
  readonly tickAt: number;
  readonly jobId: string;
  readonly firedAt: number;
}

const SCHEMA = `
CREATE TABLE IF NOT EXISTS tokens (
  id TEXT PRIMARY KEY,
  hash BLOB NOT NULL,
  name TEXT NOT NULL,
  scopes TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  revoked_at INTEGER
) STRICT;
CREATE TABLE IF NOT EXISTS tasks (
  module TEXT NOT NULL,
  export_name TEXT NOT NULL,
  registered_at INTEGER NOT NULL,
  PRIMARY KEY (module, export_name)
) STRICT;
CREATE TABLE IF NOT EXISTS agents (
  id TEXT PRIMARY KEY,
  record TEXT NOT NULL
) STRICT;
CREATE TABLE IF NOT EXISTS deployments (
  hash TEXT PRIMARY KEY,
  exports TEXT NOT NULL,
  size INTEGER NOT NULL,
  created_at INTEGER NOT NULL
) STRICT;
CREATE TABLE IF NOT EXISTS function_versions (
  name TEXT NOT NULL,
  version INTEGER NOT NULL,
  hash TEXT NOT NULL,
  export_name TEXT NOT NULL,
  deployed_at INTEGER NOT NULL,
  PRIMARY KEY (name, version),
  UNIQUE (name, hash, export_name)
) STRICT;
CREATE TABLE IF NOT EXISTS functions (
  name TEXT PRIMARY KEY,
  version INTEGER NOT NULL,
  updated_at INTEGER NOT NULL
) STRICT;
CREATE TABLE IF NOT EXISTS schedules (
  name TEXT PRIMARY KEY,
  record TEXT NOT NULL
) STRICT;
CREATE TABLE IF NOT EXISTS job_tenants (
  job_id TEXT PRIMARY KEY,
  tenant TEXT NOT NULL,
  created_at INTEGER NOT NULL
) STRICT;
CREATE INDEX IF NOT EXISTS job_tenants_by_tenant ON job_tenants (tenant, created_at, job_id);
CREATE TABLE IF NOT EXISTS cloud_meta (
  key TEXT PRIMARY KEY,
  value TEXT NOT NULL
) STRICT;
CREATE TABLE IF NOT EXISTS schedule_runs (
  name TEXT NOT NULL,
  tick_at INTEGER NOT NULL,
  job_id TEXT NOT NULL,
  fired_at INTEGER NOT NULL,
  PRIMARY KEY (name, tick_at)
) STRICT;
`;

interface TokenRow {
  id: string;
  hash: Uint8Array;
  name: string;
  scopes: string;
  tenant: string;
  created_at: number;
  revoked_at: number | null;
  expires_at: number | null;
}

function tokenOf(row: TokenRow): StoredToken {
  return Object.freeze({
    id: row.id,
    hash: row.hash,
    name: row.name,
    scopes: Object.freeze(JSON.parse(row.scopes) as TokenScope[]),
    tenant: row.tenant,
    createdAt: row.created_at,
    revokedAt: row.revoked_at,
    expiresAt: row.expires_at,
  });
}

/** Entries a lookup cache holds at most; past it, it starts again empty. */
const CACHE_LIMIT = 10_000;
/** How often the caches ask SQLite whether another process wrote the file (PRAGMA data_version). */
const FRESHNESS_CHECK_MS = 100;

function remember<T>(cache: Map<string, T>, key: string, value: T): T {
  if (cache.size >= CACHE_LIMIT) cache.clear();
  cache.set(key, value);
  return value;
}

/**
 * Freezes a record and the arrays and objects in it: cached records are shared by every request.
 * Typed arrays (a token's hash) cannot be frozen; nothing writes to them.
 */
function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !ArrayBuffer.isView(value) && !Object.isFrozen(value)) {
    for (const member of Object.values(value)) deepFreeze(member);
    Object.freeze(value);
  }
  return value;
}

/** Tokens and registered tasks in `path`. Synchronous: each call is one indexed statement. */
export class CloudStore {
  readonly #db: DatabaseSync;
  /** Statements prepared once: compiling one on every request cost more than running it. */
  readonly #statements = new Map<string, StatementSync>();
  /**
   * Tokens and functions by id and name, read on every request: kept until this store writes them, or
   * until another connection (another process on the same file) commits anything (PRAGMA data_version,
   * looked at every FRESHNESS_CHECK_MS), so a revocation made through this server takes effect on the
   * next request, one made by another process within 100 ms. Only found rows are kept.
   */
  readonly #tokenCache = new Map<string, StoredToken>();
  /** When #checkFresh last ran its PRAGMA (performance.now() ms). */
  #freshCheckedAt = Number.NEGATIVE_INFINITY;
  readonly #fnCache = new Map<string, FunctionRecord>();
  #dataVersion = -1;
  #closed = false;

  constructor(path: string) {
    mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
    this.#db = new DatabaseSync(path);
    this.#db.exec('PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; PRAGMA busy_timeout = 5000;');
    this.#db.exec(SCHEMA);
    // Files made before function settings existed get the columns; '{}' means none chosen.
    for (const table of ['deployments', 'function_versions']) {
      const columns = this.#db.prepare(`PRAGMA table_info(${table})`).all() as { name: string }[];
      if (!columns.some((column) => column.name === 'settings'))
        this.#db.exec(`ALTER TABLE ${table} ADD COLUMN settings TEXT NOT NULL DEFAULT '{}'`);
    }
    // Files made before tenants: every token belongs to the default tenant.
    const tokenColumns = this.#db.prepare('PRAGMA table_info(tokens)').all() as { name: string }[];
    if (!tokenColumns.some((column) => column.name === 'tenant'))
      this.#db.exec(`ALTER TABLE tokens ADD COLUMN tenant TEXT NOT NULL DEFAULT 'default'`);
    // Files made before tokens could expire: every token is valid until revoked.
    if (!tokenColumns.some((column) => column.name === 'expires_at'))
      this.#db.exec('ALTER TABLE tokens ADD COLUMN expires_at INTEGER');
  }

  insertToken(token: StoredToken): void {
    this.#tokenCache.delete(token.id);
    this.#prepared(
      'INSERT INTO tokens (id, hash, name, scopes, tenant, created_at, revoked_at, expires_at) VALUES (?, ?, ?, ?, ?, ?, NULL, ?)',
    ).run(
      token.id,
      token.hash,
      token.name,
      JSON.stringify(token.scopes),
      token.tenant,
      token.createdAt,
      token.expiresAt,
    );
  }

  token(id: string): StoredToken | undefined {
    this.#checkFresh();
    const cached = this.#tokenCache.get(id);
    if (cached !== undefined) return cached;
    const row = this.#prepared('SELECT * FROM tokens WHERE id = ?').get(id) as TokenRow | undefined;
    if (row === undefined) return undefined;
    return remember(this.#tokenCache, id, deepFreeze(tokenOf(row)));
  }

  /** Every token, or a tenant's, oldest first. */
  tokens(tenant?: string): StoredToken[] {
    const rows = (tenant === undefined
      ? this.#prepared('SELECT * FROM tokens ORDER BY created_at, id').all()
      : this.#prepared('SELECT * FROM tokens WHERE tenant = ? ORDER BY created_at, id').all(
          tenant,
        )) as unknown as TokenRow[];
    return rows.map(tokenOf);
  }

  /** Records which tenant jobs belong to (a job recorded before keeps its tenant). */
  recordJobTenants(jobs: readonly { jobId: string; tenant: string; createdAt: number }[]): void {
    const insert = this.#prepared(
      'INSERT OR IGNORE INTO job_tenants (job_id, tenant, created_at) VALUES (?, ?, ?)',
    );
    if (jobs.length <= 1) {
      for (const job of jobs) insert.run(job.jobId, job.tenant, job.createdAt);
      return;
    }
    this.#db.exec('BEGIN IMMEDIATE');
    try {
      for (const job of jobs) insert.run(job.jobId, job.tenant, job.createdAt);
      this.#db.exec('COMMIT');
    } catch (error) {
      this.#db.exec('ROLLBACK');
      throw error;
    }
  }

  /** The tenant a job belongs to, or undefined when none was recorded. */
  jobTenant(jobId: string): string | undefined {
    const row = this.#prepared('SELECT tenant FROM job_tenants WHERE job_id = ?').get(jobId) as
      | { tenant: string }
      | undefined;
    return row?.tenant;
  }

  /** The tenants of these jobs (those recorded). */
  jobTenants(jobIds: readonly string[]): Map<string, string> {
    const rows = this.#prepared(
      'SELECT job_id, tenant FROM job_tenants WHERE job_id IN (SELECT value FROM json_each(?))',
    ).all(JSON.stringify(jobIds)) as unknown as { job_id: string; tenant: string }[];
    return new Map(rows.map((row) => [row.job_id, row.tenant]));
  }

  /** A page of a tenant's job ids, oldest first (an index range: cheap at any number of jobs). */
  tenantJobIds(tenant: string, limit: number, offset: number): string[] {
    const rows = this.#prepared(
      'SELECT job_id FROM job_tenants WHERE tenant = ? ORDER BY created_at, job_id LIMIT ? OFFSET ?',
    ).all(tenant, limit, offset) as unknown as { job_id: string }[];
    return rows.map((row) => row.job_id);
  }

  /** How many jobs a tenant has recorded. */
  tenantJobCount(tenant: string): number {
    const row = this.#prepared('SELECT count(*) AS n FROM job_tenants WHERE tenant = ?').get(tenant) as {
      n: number;
    };
    return row.n;
  }

  /** Forgets the tenant of jobs the job store no longer has (purged). */
  forgetJobTenants(jobIds: readonly string[]): void {
    if (jobIds.length === 0) return;
    this.#prepared('DELETE FROM job_tenants WHERE job_id IN (SELECT value FROM json_each(?))').run(
      JSON.stringify(jobIds),
    );
  }

  /** A setting of the store itself (e.g. when job tenants were backfilled), or undefined. */
  meta(key: string): string | undefined {
    const row = this.#prepared('SELECT value FROM cloud_meta WHERE key = ?').get(key) as
      | { value: string }
      | undefined;
    return row?.value;
  }

  /** Writes a setting of the store itself. */
  setMeta(key: string, value: string): void {
    this.#prepared('INSERT OR REPLACE INTO cloud_meta (key, value) VALUES (?, ?)').run(key, value);
  }

  /** Marks a token revoked; false when no token has that id. Revoking twice keeps the first time. */
  revokeToken(id: string, now: number): boolean {
    this.#tokenCache.delete(id);
    const result = this.#prepared('UPDATE tokens SET revoked_at = coalesce(revoked_at, ?) WHERE id = ?').run(
      now,
      id,
    );
    return Number(result.changes) > 0;
  }

  registerTask(task: RegisteredTask, now: number): void {
    this.#prepared('INSERT OR IGNORE INTO tasks (module, export_name, registered_at) VALUES (?, ?, ?)').run(
      task.module,
      task.exportName,
      now,
    );
  }

  registeredTasks(): RegisteredTask[] {
    const rows = this.#prepared(
      'SELECT module, export_name FROM tasks ORDER BY registered_at, module, export_name',
    ).all() as unknown as { module: string; export_name: string }[];
    return rows.map((row) => ({ module: row.module, exportName: row.export_name }));
  }

  /** Writes an agent's record (JSON) of the embedded agent registry, replacing the last one. */
  putAgent(id: string, record: string): void {
    this.#prepared('INSERT OR REPLACE INTO agents (id, record) VALUES (?, ?)').run(id, record);
  }

  agent(id: string): string | undefined {
    const row = this.#prepared('SELECT record FROM agents WHERE id = ?').get(id) as
      | { record: string }
      | undefined;
    return row?.record;
  }

  agents(): string[] {
    const rows = this.#prepared('SELECT record FROM agents ORDER BY id').all() as unknown as {
      record: string;
    }[];
    return rows.map((row) => row.record);
  }

  deployment(hash: string): DeploymentRecord | undefined {
    const row = this.#prepared('SELECT * FROM deployments WHERE hash = ?').get(hash) as
      | { hash: string; exports: string; size: number; created_at: number; settings: string }
      | undefined;
    if (row === undefined) return undefined;
    return {
      hash: row.hash,
      exports: JSON.parse(row.exports) as string[],
      size: row.size,
      createdAt: row.created_at,
      settings: JSON.parse(row.settings) as Record<string, FunctionSettings>,
    };
  }

  /**
   * Records a deployment and points each function at its (hash, export), all in one transaction: a
   * name deployed before with the same bundle and export goes back to that version (taking the
   * settings given now), else gets the next.
   */
  deploy(
    deployment: DeploymentRecord,
    functions: readonly { name: string; exportName: string; settings?: FunctionSettings }[],
  ): void {
    this.#fnCache.clear();
    const db = this.#db;
    db.exec('BEGIN IMMEDIATE');
    try {
      this.#prepared(
        'INSERT OR IGNORE INTO deployments (hash, exports, size, created_at, settings) VALUES (?, ?, ?, ?, ?)',
      ).run(
        deployment.hash,
        JSON.stringify(deployment.exports),
        deployment.size,
        deployment.createdAt,
        JSON.stringify(deployment.settings ?? {}),
      );
      for (const fn of functions) {
        const known = this.#prepared(
          'SELECT version FROM function_versions WHERE name = ? AND hash = ? AND export_name = ?',
        ).get(fn.name, deployment.hash, fn.exportName) as { version: number } | undefined;
        let version = known?.version;
        if (version !== undefined) {
          this.#prepared('UPDATE function_versions SET settings = ? WHERE name = ? AND version = ?').run(
            JSON.stringify(fn.settings ?? {}),
            fn.name,
            version,
          );
        } else {
          const last = this.#prepared('SELECT max(version) AS v FROM function_versions WHERE name = ?').get(
            fn.name,
          ) as { v: number | null };
          version = (last.v ?? 0) + 1;
          this.#prepared(
            'INSERT INTO function_versions (name, version, hash, export_name, deployed_at, settings) VALUES (?, ?, ?, ?, ?, ?)',
          ).run(
            fn.name,
            version,
            deployment.hash,
            fn.exportName,
            deployment.createdAt,
            JSON.stringify(fn.settings ?? {}),
          );
        }
        this.#prepared('INSERT OR REPLACE INTO functions (name, version, updated_at) VALUES (?, ?, ?)').run(
          fn.name,
          version,
          deployment.createdAt,
        );
      }
      db.exec('COMMIT');
    } catch (error) {
      db.exec('ROLLBACK');
      throw error;
    }
  }

  /** Points a function at one of its versions; false when it has no such version. */
  setFunctionVersion(name: string, version: number, now: number): boolean {
    this.#fnCache.delete(name);
    const result = this.#prepared(
      'UPDATE functions SET version = ?, updated_at = ? WHERE name = ? AND EXISTS (SELECT 1 FROM function_versions WHERE name = ? AND version = ?)',
    ).run(version, now, name, name, version);
    return Number(result.changes) > 0;
  }

  fn(name: string): FunctionRecord | undefined {
    this.#checkFresh();
    const cached = this.#fnCache.get(name);
    if (cached !== undefined) return cached;
    const row = this.#prepared('SELECT * FROM functions WHERE name = ?').get(name) as
      | { name: string; version: number; updated_at: number }
      | undefined;
    if (row === undefined) return undefined;
    return remember(this.#fnCache, name, deepFreeze(this.#functionOf(row)));
  }

  /**
   * Empties the caches when another connection has committed since the last look. Looked at most every
   * FRESHNESS_CHECK_MS: the PRAGMA is a statement run per call, tens of µs, on every authenticated
   * request. This server's own writes drop their cache entries at once; only a write by another
   * process on the same file (nothing Skein does) is seen up to that much later.
   */
  #checkFresh(): void {
    const now = performance.now();
    if (now - this.#freshCheckedAt < FRESHNESS_CHECK_MS) return;
    this.#freshCheckedAt = now;
    const { data_version: version } = this.#prepared('PRAGMA data_version').get() as { data_version: number };
    if (version === this.#dataVersion) return;
    this.#dataVersion = version;
    this.#tokenCache.clear();
    this.#fnCache.clear();
  }

  functions(): FunctionRecord[] {
    const rows = this.#prepared('SELECT * FROM functions ORDER BY name').all() as unknown as {
      name: string;
      version: number;
      updated_at: number;
    }[];
    return rows.map((row) => this.#functionOf(row));
  }

  #functionOf(row: { name: string; version: number; updated_at: number }): FunctionRecord {
    const versions = (
      this.#prepared('SELECT * FROM function_versions WHERE name = ? ORDER BY version').all(
        row.name,
      ) as unknown as {
        version: number;
        hash: string;
        export_name: string;
        deployed_at: number;
        settings: string;
      }[]
    ).map((v) => ({
      version: v.version,
      hash: v.hash,
      exportName: v.export_name,
      deployedAt: v.deployed_at,
      settings: JSON.parse(v.settings) as FunctionSettings,
    }));
    const current = versions.find((v) => v.version === row.version);
    if (current === undefined)
      throw new Error(`function ${row.name} points at a version it never had: this is a bug in Skein`);
    return { name: row.name, current, updatedAt: row.updated_at, versions };
  }

  /** Stores a new schedule's record (JSON); false when a schedule of that name exists. */
  insertSchedule(name: string, record: string): boolean {
    const result = this.#prepared('INSERT OR IGNORE INTO schedules (name, record) VALUES (?, ?)').run(
      name,
      record,
    );
    return Number(result.changes) > 0;
  }

  /** Replaces a schedule's record; false when there is no schedule of that name. */
  updateSchedule(name: string, record: string): boolean {
    const result = this.#prepared('UPDATE schedules SET record = ? WHERE name = ?').run(record, name);
    return Number(result.changes) > 0;
  }

  schedule(name: string): string | undefined {
    const row = this.#prepared('SELECT record FROM schedules WHERE name = ?').get(name) as
      | { record: string }
      | undefined;
    return row?.record;
  }

  schedules(): string[] {
    const rows = this.#prepared('SELECT record FROM schedules ORDER BY name').all() as unknown as {
      record: string;
    }[];
    return rows.map((row) => row.record);
  }

  /** Deletes a schedule and its history in one transaction; false when there was none. */
  deleteSchedule(name: string): boolean {
    this.#db.exec('BEGIN IMMEDIATE');
    try {
      this.#prepared('DELETE FROM schedule_runs WHERE name = ?').run(name);
      const result = this.#prepared('DELETE FROM schedules WHERE name = ?').run(name);
      this.#db.exec('COMMIT');
      return Number(result.changes) > 0;
    } catch (error) {
      this.#db.exec('ROLLBACK');
      throw error;
    }
  }

  /** Records a job a schedule created, keeping the `keep` latest of that schedule. */
  addScheduleRun(run: ScheduleRun, keep: number): void {
    this.#prepared(
      'INSERT OR IGNORE INTO schedule_runs (name, tick_at, job_id, fired_at) VALUES (?, ?, ?, ?)',
    ).run(run.name, run.tickAt, run.jobId, run.firedAt);
    this.#prepared(
      'DELETE FROM schedule_runs WHERE name = ? AND tick_at < (SELECT tick_at FROM schedule_runs WHERE name = ? ORDER BY tick_at DESC LIMIT 1 OFFSET ?)',
    ).run(run.name, run.name, keep - 1);
  }

  /** The latest `limit` jobs a schedule created, newest first. */
  scheduleRuns(name: string, limit: number): ScheduleRun[] {
    const rows = this.#prepared(
      'SELECT tick_at, job_id, fired_at FROM schedule_runs WHERE name = ? ORDER BY tick_at DESC LIMIT ?',
    ).all(name, limit) as unknown as { tick_at: number; job_id: string; fired_at: number }[];
    return rows.map((row) => ({ name, tickAt: row.tick_at, jobId: row.job_id, firedAt: row.fired_at }));
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
    this.#db.close();
  }
}
