// Tenants: every token belongs to one, and everything a token reaches through the API (jobs, functions,
// schedules, events, tokens) is its tenant's. One rule, kept here for every route: another tenant's
// object answers exactly as a missing one does (404, same code and message), so a caller cannot learn
// that it exists. Only a token with the `operator` scope reaches across tenants.

import { SkeinError } from '../errors.ts';
import { type Broker, DEFAULT_QUEUE, JOB_STATES } from '../tasks/index.ts';
import { TENANT_PATTERN } from './api/schemas.ts';
import type { CloudStore, TokenRecord } from './cloud-store.ts';

/** The tenant of tokens, jobs, functions and schedules made before tenants existed, and of `skein up`'s token. */
export const DEFAULT_TENANT = 'default';

const TENANT_REGEXP = new RegExp(TENANT_PATTERN);

/** Jobs read per step when the store is backfilled. */
const BACKFILL_PAGE = 1000;

/** True for a valid tenant name. */
export function isTenantName(value: string): boolean {
  return TENANT_REGEXP.test(value);
}

/** True when the token may act on every tenant's jobs, functions, schedules and tokens. */
export function isOperator(token: Pick<TokenRecord, 'scopes'>): boolean {
  return token.scopes.includes('operator');
}

/**
 * The key a per-tenant name (a function, a schedule) is stored under: the bare name for the default
 * tenant (so rows from before tenants keep their keys), `<tenant>/<name>` for others. Neither function
 * nor schedule names may contain `/`, so keys never collide.
 */
export function tenantKey(tenant: string, name: string): string {
  return tenant === DEFAULT_TENANT ? name : `${tenant}/${name}`;
}

/** The tenant and bare name of a stored key (the inverse of tenantKey). */
export function splitTenantKey(key: string): { readonly tenant: string; readonly name: string } {
  const slash = key.indexOf('/');
  return slash < 0
    ? { tenant: DEFAULT_TENANT, name: key }
    : { tenant: key.slice(0, slash), name: key.slice(slash + 1) };
}

/** The answer for a job that is not there, or is another tenant's: the task queue's own. */
export function jobNotFound(id: string): SkeinError {
  return new SkeinError(
    'SKEIN_TASKS_JOB_NOT_FOUND',
    `job ${id} is not stored: it was never enqueued, or it finished and was purged after its resultTtl`,
  );
}

/**
 * The authorization check of every route that names a job by id (read, wait, cancel, retry, logs):
 * passes for an operator and for the job's own tenant; throws the same 404 as a missing job otherwise
 * (also for a job no tenant owns: one stored by a server killed before it recorded the owner).
 * @throws SKEIN_TASKS_JOB_NOT_FOUND
 */
export function assertTenantOwns(store: CloudStore, token: TokenRecord, jobId: string): void {
  if (isOperator(token)) return;
  if (store.jobTenant(jobId) !== token.tenant) throw jobNotFound(jobId);
}

/**
 * Gives every job already in the job store to the default tenant, once per cloud.db: a store from
 * before tenants keeps its jobs visible to its (default-tenant) tokens. Runs at start, before the server
 * listens or runs jobs; a start interrupted half-way backfills again (INSERT OR IGNORE).
 */
export async function backfillJobTenants(store: CloudStore, broker: Broker): Promise<void> {
  if (store.meta('job-tenants') !== undefined) return;
  for (const state of JOB_STATES) {
    for (let offset = 0; ; offset += BACKFILL_PAGE) {
      const page = await broker.list(DEFAULT_QUEUE, state, BACKFILL_PAGE, offset);
      store.recordJobTenants(
        page.map((job) => ({ jobId: job.id, tenant: DEFAULT_TENANT, createdAt: job.createdAt })),
      );
      if (page.length < BACKFILL_PAGE) break;
    }
  }
  store.setMeta('job-tenants', String(Date.now()));
}
