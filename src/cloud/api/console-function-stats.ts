// Latency and error rate of synchronous function calls (POST /fn/<name>) for the console's Functions
// page: the server's onResponse hook records each call's status and time here, per tenant and name, in
// a ring of the latest CALLS_KEPT calls per function. Async calls are jobs: the job list shows them.

import type { FastifyReply, FastifyRequest } from 'fastify';
import { InsertionOrderMap } from '../../insertion-order-map.ts';
import { isOperator, splitTenantKey, tenantKey } from '../tenants.ts';
import { percentileOf } from './console-activity.ts';
import type { ApiContext } from './route-spec.ts';

/** Calls kept per function. */
const CALLS_KEPT = 500;
/** Functions tracked at most (the least recently called forgotten first). */
const FUNCTIONS_KEPT = 1000;
/** The window the stats are over, in ms. */
export const FUNCTION_STATS_WINDOW_MS = 15 * 60_000;

interface Call {
  readonly at: number;
  readonly ms: number;
  readonly status: number;
}

/** One function's recent synchronous calls (GET /api/console/functions/stats). */
export interface FunctionStatsView {
  readonly name: string;
  readonly tenant: string;
  readonly calls: number;
  /** Calls answered 5xx: the function threw (SKEIN_CLOUD_FUNCTION_FAILED, 502), timed out or crashed. */
  readonly errors: number;
  /** Calls refused for load (429). */
  readonly rejected: number;
  readonly p50Ms: number | null;
  readonly p95Ms: number | null;
  readonly lastCallAt: number | null;
}

export class FunctionCallStats {
  readonly #calls = new InsertionOrderMap<string, Call[]>();

  record(key: string, call: Call): void {
    let list = this.#calls.get(key);
    if (list === undefined) {
      list = [];
      if (this.#calls.size >= FUNCTIONS_KEPT) this.#calls.deleteOldest();
    } else this.#calls.delete(key);
    // Re-inserted: Map order is least recently called first.
    this.#calls.set(key, list);
    list.push(call);
    if (list.length > CALLS_KEPT) list.splice(0, list.length - CALLS_KEPT);
  }

  /** Stats over the window; `tenant` undefined: every tenant's. */
  view(tenant: string | undefined, now: number): FunctionStatsView[] {
    const out: FunctionStatsView[] = [];
    for (const [key, list] of this.#calls) {
      const split = splitTenantKey(key);
      if (tenant !== undefined && split.tenant !== tenant) continue;
      const recent = list.filter((call) => call.at >= now - FUNCTION_STATS_WINDOW_MS);
      const done = recent.filter((call) => call.status !== 429);
      const times = done.map((call) => call.ms).sort((a, b) => a - b);
      out.push({
        name: split.name,
        tenant: split.tenant,
        calls: recent.length,
        errors: done.filter((call) => call.status >= 500).length,
        rejected: recent.length - done.length,
        p50Ms: percentileOf(times, 0.5),
        p95Ms: percentileOf(times, 0.95),
        lastCallAt: list.at(-1)?.at ?? null,
      });
    }
    const order = (view: FunctionStatsView) => `${view.tenant}/${view.name}`;
    return out.sort((a, b) => (order(a) < order(b) ? -1 : order(a) > order(b) ? 1 : 0));
  }

  /** The view as a route answers it for this request's token. */
  viewFor(ctx: ApiContext, request: FastifyRequest): FunctionStatsView[] {
    const token = ctx.tokenOf(request);
    return this.view(isOperator(token) ? undefined : token.tenant, Date.now());
  }
}

const STATS = new WeakMap<ApiContext, FunctionCallStats>();

/** The stats of one server (its ApiContext). */
export function functionCallStatsOf(ctx: ApiContext): FunctionCallStats {
  let stats = STATS.get(ctx);
  if (stats === undefined) {
    stats = new FunctionCallStats();
    STATS.set(ctx, stats);
  }
  return stats;
}

/** The server's onResponse hook: records a synchronous call of a function (other requests pass). */
export async function recordFunctionCall(
  ctx: ApiContext,
  request: FastifyRequest,
  reply: FastifyReply,
): Promise<void> {
  if (request.routeOptions.url !== '/fn/:name' || request.method !== 'POST') return;
  const async = (request.query as { async?: string } | undefined)?.async;
  if (async === '1' || async === 'true') return;
  let tenant: string;
  try {
    tenant = ctx.tokenOf(request).tenant;
  } catch {
    return; // Refused before authentication: not a call.
  }
  const name = (request.params as { name?: string }).name;
  if (name === undefined || reply.statusCode === 401 || reply.statusCode === 403 || reply.statusCode === 404)
    return;
  functionCallStatsOf(ctx).record(tenantKey(tenant, name), {
    at: Date.now(),
    ms: reply.elapsedTime,
    status: reply.statusCode,
  });
}
