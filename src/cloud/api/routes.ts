// Every route of the API in one table: method, path, the scopes that may call it, its JSON schemas and
// its handler. The server registers the table with Fastify (which validates requests against the
// schemas) and builds /api/openapi.json from the same table, so the document cannot drift from the code.

import type { FastifyRequest } from 'fastify';
import { SkeinError } from '../../errors.ts';
import type { Task } from '../../task.ts';
import type { BrokerEvent, JobInfo, JobOptions, JobState } from '../../tasks/index.ts';
import { JOB_STATES } from '../../tasks/index.ts';
import type { StoredToken, TokenScope } from '../cloud-store.ts';
import type { AgentEventView, MetricsEventView } from '../live-feed.ts';
import { assertTenantOwns, isOperator } from '../tenants.ts';
import { createToken, revokeToken, tokenView } from '../tokens.ts';
import { agentRoutes } from './agent-routes.ts';
import { checkArgsDepth } from './args-depth.ts';
import { consoleApiRoutes } from './console-api.ts';
import { functionRoutes } from './function-routes.ts';
import { logRoutes } from './log-routes.ts';
import { mpiRoutes } from './mpi-routes.ts';
import { scheduleRoutes } from './schedule-routes.ts';

export type { ApiContext, RouteSchema, RouteSpec } from './route-spec.ts';

import { jobView } from './job-view.ts';
import { type ApiContext, integerQuery, openEventStream, type RouteSpec } from './route-spec.ts';
import type { ScheduleEventView } from './schedule-schemas.ts';
import {
  ERROR_RESPONSE,
  JOB_GET_QUERY,
  JOB_ID_PARAMS,
  JOB_LIST_QUERY,
  JOB_VIEW,
  MAX_PAGE_SIZE,
  MAX_WAIT_MS,
  NO_QUERY,
  SUBMIT_BODY,
  type SubmitRequest,
  TOKEN_CREATE_BODY,
  TOKEN_ID_PARAMS,
  TOKEN_VIEW,
} from './schemas.ts';

const READERS: readonly TokenScope[] = ['read', 'invoke', 'deploy'];
const INVOKERS: readonly TokenScope[] = ['invoke'];
const ADMINS: readonly TokenScope[] = ['admin'];
const DEFAULT_PAGE_SIZE = 50;
/** Jobs read per step when a tenant's jobs in one state are looked for. */
const SCAN_PAGE = 500;
/**
 * How long an event stream waits for a job's tenant to be recorded, in ms: the route records it right
 * after the job store acknowledged the job, so the job's first event may come a moment before it.
 */
const OWNER_WAIT_MS = 1000;
const OWNER_POLL_MS = 10;

function byCreation(a: JobInfo, b: JobInfo): number {
  return a.createdAt - b.createdAt || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
}

function isJobNotFound(error: unknown): boolean {
  return (error as { code?: unknown } | null)?.code === 'SKEIN_TASKS_JOB_NOT_FOUND';
}

function errors(...statuses: number[]): Record<number, { description: string; schema: object }> {
  const descriptions: Record<number, string> = {
    400: 'The request fails validation (SKEIN_CLOUD_INVALID_REQUEST and others).',
    401: 'No token, or an unknown or revoked one (SKEIN_CLOUD_UNAUTHORIZED).',
    403: 'The token lacks the scope (SKEIN_CLOUD_FORBIDDEN).',
    404: 'Not found.',
    409: 'The job is not in a state that allows this.',
    413: 'The body is too large (SKEIN_CLOUD_PAYLOAD_TOO_LARGE).',
    429: 'Too many failed authentications (SKEIN_CLOUD_RATE_LIMITED).',
  };
  return Object.fromEntries(
    [401, 403, 429, ...statuses].map((status) => [
      status,
      { description: descriptions[status] ?? 'Error.', schema: ERROR_RESPONSE },
    ]),
  );
}

function jobOptionsOf(options: SubmitRequest['options']): JobOptions {
  if (options === undefined) return {};
  const out: { -readonly [K in keyof JobOptions]: JobOptions[K] } = {};
  if (options.delay !== undefined) out.delay = options.delay;
  if (options.priority !== undefined) out.priority = options.priority;
  if (options.attempts !== undefined) out.attempts = options.attempts;
  if (options.timeLimit !== undefined) out.timeLimit = options.timeLimit;
  if (options.idempotencyKey !== undefined) out.idempotencyKey = options.idempotencyKey;
  if (options.backoff !== undefined) out.backoff = { ...options.backoff };
  return out;
}

function isAbort(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return code === 'SKEIN_ABORTED' || code === 'SKEIN_TIMEOUT';
}

/** The route table, bound to one server's parts. */
export function apiRoutes(ctx: ApiContext): RouteSpec[] {
  const projectDir = ctx.catalog.projectDir;

  async function listJobs(state: JobState | undefined, limit: number, offset: number): Promise<JobInfo[]> {
    if (state !== undefined) return ctx.queue.list(state, { limit, offset });
    // All states: each state's oldest offset + limit, merged oldest first.
    const lists = await Promise.all(JOB_STATES.map((s) => ctx.queue.list(s, { limit: offset + limit })));
    return lists
      .flat()
      .sort(byCreation)
      .slice(offset, offset + limit);
  }

  /** The jobs of these ids the job store still has (undefined for a purged one), in order. */
  function infosOf(ids: readonly string[]): Promise<(JobInfo | undefined)[]> {
    return Promise.all(
      ids.map((id) =>
        ctx.queue
          .job(id)
          .info()
          .catch((error: unknown) => {
            if (isJobNotFound(error)) return undefined;
            throw error;
          }),
      ),
    );
  }

  /**
   * A page of one tenant's jobs, oldest first. All states: a range of the tenant's index in cloud.db,
   * then one read per job. One state: the cheaper walk of the two, the state's list in the job store
   * (keeping the tenant's) or the tenant's index (keeping the state's), whichever holds fewer jobs.
   */
  async function listTenantJobs(
    tenant: string,
    state: JobState | undefined,
    limit: number,
    offset: number,
  ): Promise<JobInfo[]> {
    if (state === undefined) {
      for (;;) {
        const ids = ctx.store.tenantJobIds(tenant, limit, offset);
        const infos = await infosOf(ids);
        const purged = ids.filter((_, i) => infos[i] === undefined);
        if (purged.length === 0) return infos as JobInfo[];
        // The job store purged them after their resultTtl: forget them and read the page again.
        ctx.store.forgetJobTenants(purged);
      }
    }
    const wanted = offset + limit;
    const found: JobInfo[] = [];
    const inState = (await ctx.queue.stats()).counts[state];
    if (inState <= ctx.store.tenantJobCount(tenant)) {
      for (let at = 0; found.length < wanted; at += SCAN_PAGE) {
        const page = await ctx.queue.list(state, { limit: SCAN_PAGE, offset: at });
        const owners = ctx.store.jobTenants(page.map((info) => info.id));
        for (const info of page) if (owners.get(info.id) === tenant) found.push(info);
        if (page.length < SCAN_PAGE) break;
      }
    } else {
      for (let at = 0; found.length < wanted; at += SCAN_PAGE) {
        const ids = ctx.store.tenantJobIds(tenant, SCAN_PAGE, at);
        for (const info of await infosOf(ids)) if (info?.state === state) found.push(info);
        if (ids.length < SCAN_PAGE) break;
      }
    }
    return found.sort(byCreation).slice(offset, offset + limit);
  }

  /** The job store's job as the API shows it, with its tenant (null: no tenant recorded). */
  function viewOf(info: JobInfo, tenant: string | null): ReturnType<typeof jobView> {
    return { ...jobView(info, projectDir), tenant };
  }

  /** The token of the request; a job it names must be its tenant's (404 otherwise). */
  function ownerCheck(request: FastifyRequest, id: string): StoredToken {
    const token = ctx.tokenOf(request);
    assertTenantOwns(ctx.store, token, id);
    return token;
  }

  /** The tenant of a job's event, waiting up to OWNER_WAIT_MS for one recorded a moment later. */
  async function ownerOfEvent(event: BrokerEvent, signal: AbortSignal): Promise<string | undefined> {
    const deadline = Date.now() + OWNER_WAIT_MS;
    for (;;) {
      const tenant = ctx.store.jobTenant(event.jobId!);
      if (tenant !== undefined || Date.now() >= deadline || signal.aborted) return tenant;
      await new Promise((resolve) => setTimeout(resolve, OWNER_POLL_MS));
    }
  }

  return [
    ...jobRoutes(),
    ...logRoutes(ctx),
    ...agentRoutes(ctx),
    ...mpiRoutes(ctx),
    ...functionRoutes(ctx),
    ...scheduleRoutes(ctx),
    ...consoleApiRoutes(ctx),
  ];

  function jobRoutes(): RouteSpec[] {
    return [
      {
        method: 'POST',
        url: '/api/jobs',
        summary:
          'Submit a job: an exported task of a module under the project directory, with JSON arguments.',
        scopes: INVOKERS,
        schema: { body: SUBMIT_BODY, querystring: NO_QUERY },
        responses: {
          202: {
            description: 'Stored (or, with an idempotencyKey already used, the first job).',
            schema: { type: 'object', properties: { id: { type: 'string' }, task: { type: 'string' } } },
          },
          ...errors(400, 404, 413),
        },
        async handler(request, reply) {
          const body = request.body as SubmitRequest;
          checkArgsDepth(body.args ?? []);
          const found = await ctx.catalog.find(body.module, body.export);
          // Registered before the job is stored: a server restarted after the acknowledgement knows the task.
          ctx.store.registerTask({ module: found.module, exportName: found.exportName }, Date.now());
          await ctx.agent?.serve([found.task]);
          const { tenant } = ctx.tokenOf(request);
          const options = jobOptionsOf(body.options);
          const key = options.idempotencyKey;
          const job = await ctx.queue.submit(
            found.task as unknown as Task<unknown[], unknown>,
            [...(body.args ?? [])],
            // Idempotency keys are per tenant (a tenant name has no ':'): two tenants' same key, two jobs.
            key === undefined ? options : { ...options, idempotencyKey: `${tenant}:${key}` },
          );
          // Recorded once the job is stored: a kill in between leaves a job of no tenant (operators see it).
          ctx.store.recordJobTenants([{ jobId: job.id, tenant, createdAt: Date.now() }]);
          reply.code(202);
          return { id: job.id, task: `${found.module}:${found.exportName}` };
        },
      },
      {
        method: 'GET',
        url: '/api/jobs',
        summary:
          "List the token's tenant's jobs (every tenant's for an operator), oldest first, optionally in one state, a page at a time.",
        scopes: READERS,
        schema: { querystring: JOB_LIST_QUERY },
        responses: {
          200: {
            description: 'A page of jobs.',
            schema: {
              type: 'object',
              properties: {
                jobs: { type: 'array', items: JOB_VIEW },
                limit: { type: 'integer' },
                offset: { type: 'integer' },
              },
            },
          },
          ...errors(400),
        },
        async handler(request) {
          const query = request.query as { state?: JobState; limit?: string; offset?: string };
          const limit = integerQuery(query.limit, DEFAULT_PAGE_SIZE, 1, MAX_PAGE_SIZE, 'limit');
          const offset = integerQuery(query.offset, 0, 0, 10_000, 'offset');
          const token = ctx.tokenOf(request);
          if (!isOperator(token)) {
            const jobs = await listTenantJobs(token.tenant, query.state, limit, offset);
            return { jobs: jobs.map((info) => viewOf(info, token.tenant)), limit, offset };
          }
          const jobs = await listJobs(query.state, limit, offset);
          const tenants = ctx.store.jobTenants(jobs.map((info) => info.id));
          return { jobs: jobs.map((info) => viewOf(info, tenants.get(info.id) ?? null)), limit, offset };
        },
      },
      {
        method: 'GET',
        url: '/api/jobs/:id',
        summary:
          "One job: state, result, error, attempts, timestamps; `wait` long-polls until it finishes. Another tenant's job is a 404, as a missing one.",
        scopes: READERS,
        schema: { params: JOB_ID_PARAMS, querystring: JOB_GET_QUERY },
        responses: { 200: { description: 'The job.', schema: JOB_VIEW }, ...errors(400, 404) },
        async handler(request, reply) {
          const { id } = request.params as { id: string };
          const wait = integerQuery((request.query as { wait?: string }).wait, 0, 0, MAX_WAIT_MS, 'wait');
          ownerCheck(request, id);
          const tenant = ctx.store.jobTenant(id) ?? null;
          const job = ctx.queue.job(id);
          const info = await job.info();
          if (wait === 0 || ['succeeded', 'failed', 'dead', 'cancelled'].includes(info.state)) {
            return viewOf(info, tenant);
          }
          const gone = new AbortController();
          const onClose = (): void => gone.abort();
          reply.raw.once('close', onClose);
          try {
            await ctx.broker.waitUntilFinished(
              id,
              AbortSignal.any([AbortSignal.timeout(wait), ctx.closing, gone.signal]),
            );
          } catch (error) {
            if (!isAbort(error)) throw error;
          } finally {
            reply.raw.off('close', onClose);
          }
          return viewOf(await job.info(), tenant);
        },
      },
      {
        method: 'POST',
        url: '/api/jobs/:id/cancel',
        summary:
          'Cancel a job: a waiting one at once, a running one through its signal; a finished one is left as it is.',
        scopes: INVOKERS,
        schema: { params: JOB_ID_PARAMS, querystring: NO_QUERY },
        responses: {
          200: {
            description: 'What the cancel did.',
            schema: {
              type: 'object',
              properties: {
                id: { type: 'string' },
                outcome: { type: 'string', enum: ['cancelled', 'requested', 'finished'] },
              },
            },
          },
          ...errors(400, 404),
        },
        async handler(request) {
          const { id } = request.params as { id: string };
          ownerCheck(request, id);
          return { id, outcome: await ctx.queue.cancel(id) };
        },
      },
      {
        method: 'POST',
        url: '/api/jobs/:id/retry',
        summary: 'Send a dead or failed job back to the queue with a fresh attempt count.',
        scopes: INVOKERS,
        schema: { params: JOB_ID_PARAMS, querystring: NO_QUERY },
        responses: {
          200: {
            description: 'Queued again.',
            schema: { type: 'object', properties: { id: { type: 'string' }, retried: { type: 'boolean' } } },
          },
          ...errors(400, 404, 409),
        },
        async handler(request) {
          const { id } = request.params as { id: string };
          ownerCheck(request, id);
          if (!(await ctx.queue.retry(id))) {
            const state = await ctx.queue.job(id).state();
            throw new SkeinError(
              'SKEIN_CLOUD_JOB_NOT_RETRYABLE',
              `job ${id} is ${state}; only a dead or failed job can be retried — submit a new job instead`,
            );
          }
          return { id, retried: true };
        },
      },
      {
        method: 'GET',
        url: '/api/events',
        summary:
          "Live job and worker events as Server-Sent Events (`event: job`, data = JobEventView JSON), schedule events (`event: schedule`, data = ScheduleEventView JSON), agent state changes (`event: agent`, data = AgentEventView JSON: registered, ready, busy, lost, stopped) and, for operators, the queue's metrics every 2 s (`event: metrics`, data = MetricsEventView JSON: counts by state, jobs finished and latency over the last minute, agents by state), from the moment of the call: the token's tenant's jobs and schedules (every tenant's for an operator), and every worker and agent event.",
        scopes: READERS,
        schema: { querystring: NO_QUERY },
        responses: {
          200: { description: 'text/event-stream; a comment line `: ready` once subscribed.' },
          ...errors(),
        },
        async handler(request, reply) {
          const token = ctx.tokenOf(request);
          const everyTenant = isOperator(token);
          const stop = new AbortController();
          const signal = AbortSignal.any([stop.signal, ctx.closing]);
          // Subscribing is synchronous in the first next(): events from here on are delivered.
          const iterator = ctx.broker.events(signal)[Symbol.asyncIterator]();
          let next = iterator.next();
          const stream = openEventStream(ctx, reply, stop);
          const onSchedule = (event: ScheduleEventView, tenant: string): void => {
            // The server ends streams before it stops its schedules: nothing is written after the end.
            if (everyTenant || tenant === token.tenant) stream.write('schedule', event);
          };
          ctx.schedules.on('event', onSchedule);
          // Agents are shared by every tenant (GET /api/agents too); the queue's metrics count every
          // tenant's jobs, so only operators get them.
          const onAgent = (event: AgentEventView): void => stream.write('agent', event);
          const onMetrics = (event: MetricsEventView): void => stream.write('metrics', event);
          ctx.feed.on('agent', onAgent);
          if (everyTenant) ctx.feed.on('metrics', onMetrics);
          const unsubscribe = ctx.feed.subscribe();
          try {
            for (;;) {
              const item = await next;
              if (item.done === true || signal.aborted) break;
              const event = item.value;
              // A job's events go to its tenant's streams (and operators'); worker events to every stream.
              if (
                !everyTenant &&
                event.jobId !== null &&
                (await ownerOfEvent(event, signal)) !== token.tenant
              ) {
                next = iterator.next();
                continue;
              }
              const data = {
                type: event.type,
                jobId: event.jobId,
                queue: event.queue,
                workerId: event.workerId,
                at: event.at,
              };
              stream.write('job', data);
              next = iterator.next();
            }
          } catch (error) {
            if (!isAbort(error)) ctx.warn('an event stream ended on an error of the job store', error);
          } finally {
            ctx.feed.off('agent', onAgent);
            ctx.feed.off('metrics', onMetrics);
            unsubscribe();
            ctx.schedules.off('event', onSchedule);
            stop.abort();
            await iterator.return?.();
            stream.end();
          }
        },
      },
      {
        method: 'POST',
        url: '/api/tokens',
        summary:
          "Create an API token with scopes for a tenant (the caller's when absent; another tenant, or the operator and agent scopes, need an operator token); the token text is in this answer only.",
        scopes: ADMINS,
        schema: { body: TOKEN_CREATE_BODY, querystring: NO_QUERY },
        responses: {
          201: {
            description: 'The new token, with its text.',
            schema: { ...TOKEN_VIEW, properties: { ...TOKEN_VIEW.properties, token: { type: 'string' } } },
          },
          ...errors(400),
        },
        async handler(request, reply) {
          const body = request.body as {
            name: string;
            scopes: TokenScope[];
            tenant?: string;
            expiresIn?: number;
          };
          const caller = ctx.tokenOf(request);
          const tenant = body.tenant ?? caller.tenant;
          if (!isOperator(caller)) {
            if (tenant !== caller.tenant) {
              throw new SkeinError(
                'SKEIN_CLOUD_FORBIDDEN',
                `token ${caller.id} administers tenant ${caller.tenant} only; a token for tenant ${tenant} needs an operator token`,
              );
            }
            const reserved = body.scopes.filter((scope) => scope === 'operator' || scope === 'agent');
            if (reserved.length > 0) {
              throw new SkeinError(
                'SKEIN_CLOUD_FORBIDDEN',
                `only an operator token may create a token with scope ${reserved.join(', ')}: an agent runs every tenant's jobs, an operator reaches every tenant`,
              );
            }
          }
          reply.code(201);
          const now = Date.now();
          const expiresAt = body.expiresIn === undefined ? null : now + body.expiresIn * 1000;
          return createToken(ctx.store, body.name, body.scopes, tenant, now, expiresAt);
        },
      },
      {
        method: 'GET',
        url: '/api/tokens',
        summary:
          "List API tokens (never their text): the caller's tenant's, or every tenant's for an operator.",
        scopes: ADMINS,
        schema: { querystring: NO_QUERY },
        responses: {
          200: {
            description: 'Every token, revoked ones included.',
            schema: { type: 'object', properties: { tokens: { type: 'array', items: TOKEN_VIEW } } },
          },
          ...errors(),
        },
        async handler(request) {
          const caller = ctx.tokenOf(request);
          const tokens = isOperator(caller) ? ctx.store.tokens() : ctx.store.tokens(caller.tenant);
          return { tokens: tokens.map(tokenView) };
        },
      },
      {
        method: 'DELETE',
        url: '/api/tokens/:id',
        summary:
          "Revoke an API token: every later call with it gets 401. A tenant's admin revokes its own tenant's tokens (another tenant's is a 404), not an operator's.",
        scopes: ADMINS,
        schema: { params: TOKEN_ID_PARAMS, querystring: NO_QUERY },
        responses: { 200: { description: 'The revoked token.', schema: TOKEN_VIEW }, ...errors(400, 404) },
        async handler(request) {
          const { id } = request.params as { id: string };
          const caller = ctx.tokenOf(request);
          if (isOperator(caller)) return revokeToken(ctx.store, id);
          const target = ctx.store.token(id);
          if (target?.tenant === caller.tenant && isOperator(target)) {
            throw new SkeinError(
              'SKEIN_CLOUD_FORBIDDEN',
              `token ${id} is an operator token; only an operator token may revoke it`,
            );
          }
          return revokeToken(ctx.store, id, caller.tenant);
        },
      },
    ];
  }
}
