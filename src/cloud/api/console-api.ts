// The routes the web console adds to the API (all under /api/console, read scope): a job search that
// pages newest first on the server with filters (states, task, agent, time, text), a job's page data
// (store fields, parent, children, recorded attempts), timeline spans and the overview's history.
// Tenants see their own jobs only; throughput and metrics count every tenant's jobs, so the activity
// route is an operator's, as metrics events are.

import type { FastifyRequest } from 'fastify';
import { SkeinError } from '../../errors.ts';
import type { JobInfo, JobState, QueueStats } from '../../tasks/index.ts';
import { JOB_STATES } from '../../tasks/index.ts';
import { version } from '../../version.ts';
import type { TokenScope } from '../cloud-store.ts';
import { assertTenantOwns, isOperator } from '../tenants.ts';
import { attemptViews, ConsoleActivity } from './console-activity.ts';
import { FUNCTION_STATS_WINDOW_MS, functionCallStatsOf } from './console-function-stats.ts';
import {
  CONSOLE_ACTIVITY_QUERY,
  CONSOLE_JOB_QUERY,
  CONSOLE_MAX_OFFSET,
  CONSOLE_MAX_PAGE,
  CONSOLE_MAX_SPANS,
  CONSOLE_SCAN_BUDGET,
  CONSOLE_SPAN_QUERY,
  type ConsoleJobDetail,
  type ConsoleJobPage,
  type ConsoleJobView,
  type SpanPage,
  type WhoAmIView,
} from './console-schemas.ts';
import { jobView, taskLabel } from './job-view.ts';
import { type ApiContext, integerQuery, type RouteSpec } from './route-spec.ts';
import { ERROR_RESPONSE, JOB_ID_PARAMS } from './schemas.ts';

const READERS: readonly TokenScope[] = ['read', 'invoke', 'deploy'];
const DEFAULT_PAGE = 50;
/** Jobs read from the store per step of a filtered search. */
const SCAN_STEP = 500;
/** Deepest offset + limit of an unfiltered search over several states (each state is read that deep). */
const MAX_MERGED_DEPTH = 10_000;
const DEFAULT_SPAN_WINDOW_MS = 5 * 60_000;
const DEFAULT_SPANS = 2000;
const MAX_CHILDREN = 500;
const MAX_EPOCH_MS = 10 ** 15;
/** How long counts by state are reused between searches, in ms. */
const COUNTS_TTL_MS = 250;
/** What a job id looks like (JOB_ID_PARAMS): a search for one is a direct read first. */
const JOB_ID = /^[A-Za-z0-9-]{8,64}$/;

const error = (description: string) => ({ description, schema: ERROR_RESPONSE });
const ERRORS = {
  400: error('The query fails validation (SKEIN_CLOUD_INVALID_REQUEST).'),
  401: error('No token, or an unknown or revoked one (SKEIN_CLOUD_UNAUTHORIZED).'),
  403: error('The token lacks the scope (SKEIN_CLOUD_FORBIDDEN).'),
};

interface JobQuery {
  readonly state?: string;
  readonly task?: string;
  readonly agent?: string;
  readonly q?: string;
  readonly from?: string;
  readonly to?: string;
  readonly limit?: string;
  readonly offset?: string;
}

/** The filters of a search, checked. */
export interface JobFilter {
  readonly states: readonly JobState[];
  readonly task: string | undefined;
  readonly agent: string | undefined;
  readonly text: string | undefined;
  readonly from: number | undefined;
  readonly to: number | undefined;
}

function newestFirst(a: JobInfo, b: JobInfo): number {
  return b.createdAt - a.createdAt || (a.id < b.id ? 1 : a.id > b.id ? -1 : 0);
}

/** Whether a job passes the filter's task, agent, text and time tests (not its states). */
export function matchesFilter(
  info: JobInfo,
  label: string,
  tenant: string | null,
  worker: string | undefined,
  filter: JobFilter,
): boolean {
  if (filter.from !== undefined && info.createdAt < filter.from) return false;
  if (filter.to !== undefined && info.createdAt >= filter.to) return false;
  if (filter.task !== undefined && !label.includes(filter.task)) return false;
  if (filter.agent !== undefined && !(worker ?? '').startsWith(filter.agent)) return false;
  if (filter.text !== undefined) {
    const text = filter.text.toLowerCase();
    const haystack = [info.id, label, tenant ?? '', info.error?.message ?? '', info.error?.name ?? ''];
    if (!haystack.some((field) => field.toLowerCase().includes(text))) return false;
  }
  return true;
}

/** The console's API routes; the activity recorder lives as long as the server's route table. */
export function consoleApiRoutes(ctx: ApiContext): RouteSpec[] {
  const projectDir = ctx.catalog.projectDir;
  const activity = new ConsoleActivity({
    broker: ctx.broker,
    feed: ctx.feed,
    closing: ctx.closing,
    warn: ctx.warn,
  });

  // Counts by state place a newest-first page; reading them costs a pass over the store's index
  // (and the last minute's latencies), so concurrent and quick successive searches share one read.
  let countsRead: { at: number; counts: Promise<QueueStats['counts']> } | undefined;
  function stateCounts(): Promise<QueueStats['counts']> {
    const now = Date.now();
    if (countsRead === undefined || now - countsRead.at > COUNTS_TTL_MS) {
      const counts = ctx.queue.stats().then((stats) => stats.counts);
      countsRead = { at: now, counts };
      counts.catch(() => {
        if (countsRead?.counts === counts) countsRead = undefined;
      });
    }
    return countsRead.counts;
  }

  function viewOf(info: JobInfo, tenant: string | null): ConsoleJobView {
    return {
      ...jobView(info, projectDir),
      tenant,
      queue: info.queue,
      workerId: info.workerId ?? activity.workerOf(info.id) ?? null,
      parentId: info.parentId,
      group: info.group,
      idempotencyKey: info.idempotencyKey,
      expiresAt: info.expiresAt,
      stack: info.error?.stack ?? null,
    };
  }

  async function infoOrUndefined(id: string): Promise<JobInfo | undefined> {
    try {
      return await ctx.queue.job(id).info();
    } catch (caught) {
      if ((caught as { code?: unknown } | null)?.code === 'SKEIN_TASKS_JOB_NOT_FOUND') return undefined;
      throw caught;
    }
  }

  /** Jobs of one state, newest first, skipping the newest `skip`: the store lists oldest first. */
  async function newest(state: JobState, count: number, skip: number, take: number): Promise<JobInfo[]> {
    const end = count - skip;
    if (end <= 0 || take <= 0) return [];
    const start = Math.max(0, end - take);
    const page = await ctx.queue.list(state, { limit: end - start, offset: start });
    return page.reverse();
  }

  function filterOf(query: JobQuery): JobFilter {
    const states = query.state === undefined ? [...JOB_STATES] : [...new Set(query.state.split(','))];
    const time = (value: string | undefined, name: string) =>
      value === undefined ? undefined : integerQuery(value, 0, 0, MAX_EPOCH_MS, name);
    const blank = (value: string | undefined) => (value === undefined || value === '' ? undefined : value);
    return {
      states: states as JobState[],
      task: blank(query.task),
      agent: blank(query.agent),
      text: blank(query.q),
      from: time(query.from, 'from'),
      to: time(query.to, 'to'),
    };
  }

  async function search(
    filter: JobFilter,
    tenant: string | undefined,
    limit: number,
    offset: number,
  ): Promise<ConsoleJobPage> {
    // A whole job id is found directly, however old the job is (a scan would stop at its budget).
    if (filter.text !== undefined && JOB_ID.test(filter.text) && offset === 0) {
      const info = await infoOrUndefined(filter.text);
      const owner = info === undefined ? null : (ctx.store.jobTenant(info.id) ?? null);
      if (
        info !== undefined &&
        info.id === filter.text &&
        filter.states.includes(info.state) &&
        (tenant === undefined || owner === tenant) &&
        matchesFilter(
          info,
          taskLabel(info.task, projectDir),
          owner,
          info.workerId ?? activity.workerOf(info.id),
          filter,
        )
      ) {
        return page([info], limit, offset, 1, 1, false);
      }
    }
    const counts = await stateCounts();
    const plain =
      tenant === undefined &&
      filter.task === undefined &&
      filter.agent === undefined &&
      filter.text === undefined &&
      filter.from === undefined &&
      filter.to === undefined;
    if (plain) {
      const total = filter.states.reduce((sum, state) => sum + counts[state], 0);
      if (filter.states.length === 1) {
        const state = filter.states[0]!;
        const jobs = await newest(state, counts[state], offset, limit);
        return page(jobs, limit, offset, total, jobs.length, false);
      }
      if (offset + limit > MAX_MERGED_DEPTH) {
        throw new SkeinError(
          'SKEIN_CLOUD_INVALID_REQUEST',
          `invalid request: offset + limit over several states must be at most ${MAX_MERGED_DEPTH} (got ${offset + limit}); pick one state to page deeper`,
        );
      }
      const lists = await Promise.all(
        filter.states.map((state) => newest(state, counts[state], 0, offset + limit)),
      );
      const merged = lists.flat().sort(newestFirst);
      return page(merged.slice(offset, offset + limit), limit, offset, total, merged.length, false);
    }
    // A scan, newest first, of each state's jobs, until enough match or the budget is spent.
    const wanted = offset + limit;
    const budget = Math.max(SCAN_STEP, Math.floor(CONSOLE_SCAN_BUDGET / filter.states.length));
    let scanned = 0;
    let truncated = false;
    const found: JobInfo[] = [];
    await Promise.all(
      filter.states.map(async (state) => {
        const count = counts[state];
        let matched = 0;
        for (let skip = 0; skip < count && matched < wanted; skip += SCAN_STEP) {
          if (skip >= budget) {
            truncated = true;
            return;
          }
          const chunk = await newest(state, count, skip, SCAN_STEP);
          scanned += chunk.length;
          const owners = ctx.store.jobTenants(chunk.map((info) => info.id));
          for (const info of chunk) {
            const owner = owners.get(info.id) ?? null;
            if (tenant !== undefined && owner !== tenant) continue;
            const label = taskLabel(info.task, projectDir);
            const worker = info.workerId ?? activity.workerOf(info.id);
            if (!matchesFilter(info, label, owner, worker, filter)) continue;
            found.push(info);
            matched++;
          }
          // Lists run in creation order: past `from`, every older job is older still.
          const oldest = chunk.at(-1);
          if (filter.from !== undefined && oldest !== undefined && oldest.createdAt < filter.from) return;
        }
      }),
    );
    found.sort(newestFirst);
    return page(found.slice(offset, offset + limit), limit, offset, null, scanned, truncated);
  }

  function page(
    jobs: readonly JobInfo[],
    limit: number,
    offset: number,
    total: number | null,
    scanned: number,
    truncated: boolean,
  ): ConsoleJobPage {
    const tenants = ctx.store.jobTenants(jobs.map((info) => info.id));
    return {
      jobs: jobs.map((info) => viewOf(info, tenants.get(info.id) ?? null)),
      limit,
      offset,
      total,
      scanned,
      truncated,
    };
  }

  const touch = (request: FastifyRequest) => {
    activity.touch();
    return ctx.tokenOf(request);
  };

  return [
    {
      method: 'GET',
      url: '/api/console/whoami',
      summary:
        "The calling token as the console shows it: id, name, scopes, tenant and whether it is an operator's (never the token's text), and the server's version and local agent threads. The console's login checks a token with it.",
      scopes: READERS,
      schema: { querystring: { type: 'object', additionalProperties: false } },
      responses: { 200: { description: 'The token (WhoAmIView).' }, ...ERRORS },
      async handler(request): Promise<WhoAmIView> {
        const token = ctx.tokenOf(request);
        return {
          id: token.id,
          name: token.name,
          scopes: [...token.scopes],
          tenant: token.tenant,
          operator: isOperator(token),
          server: { version, localAgentThreads: ctx.agent?.concurrency ?? 0 },
        };
      },
    },
    {
      method: 'GET',
      url: '/api/console/jobs',
      summary:
        "Search the token's tenant's jobs (every tenant's for an operator), newest first, a page at a time: by states, task, agent, creation time and text. Without filters but states the page is read directly and `total` is exact; with filters the jobs are scanned newest first, up to a budget (`truncated`).",
      scopes: READERS,
      schema: { querystring: CONSOLE_JOB_QUERY },
      responses: { 200: { description: 'A page of jobs (ConsoleJobPage).' }, ...ERRORS },
      async handler(request) {
        const token = touch(request);
        const query = request.query as JobQuery;
        const limit = integerQuery(query.limit, DEFAULT_PAGE, 1, CONSOLE_MAX_PAGE, 'limit');
        const offset = integerQuery(query.offset, 0, 0, CONSOLE_MAX_OFFSET, 'offset');
        return search(filterOf(query), isOperator(token) ? undefined : token.tenant, limit, offset);
      },
    },
    {
      method: 'GET',
      url: '/api/console/jobs/:id',
      summary:
        "One job for the console's job page: the job with its worker, parent, group and error stack; its parent and children; and the attempts recorded since the console started recording. Another tenant's job is a 404.",
      scopes: READERS,
      schema: { params: JOB_ID_PARAMS, querystring: { type: 'object', additionalProperties: false } },
      responses: {
        200: { description: 'The job page (ConsoleJobDetail).' },
        404: error('No such job (SKEIN_TASKS_JOB_NOT_FOUND).'),
        ...ERRORS,
      },
      async handler(request): Promise<ConsoleJobDetail> {
        const token = touch(request);
        const { id } = request.params as { id: string };
        assertTenantOwns(ctx.store, token, id);
        const info = await ctx.queue.job(id).info();
        const parentInfo = info.parentId === null ? undefined : await infoOrUndefined(info.parentId);
        const childIds = (await ctx.broker.children(id)).slice(0, MAX_CHILDREN).map((child) => child.id);
        const childInfos = (await Promise.all(childIds.map(infoOrUndefined))).filter(
          (child): child is JobInfo => child !== undefined,
        );
        const tenants = ctx.store.jobTenants([id, ...(parentInfo ? [parentInfo.id] : []), ...childIds]);
        const tenantOf = (jobId: string) => tenants.get(jobId) ?? null;
        return {
          job: viewOf(info, tenantOf(id)),
          parent: parentInfo === undefined ? null : viewOf(parentInfo, tenantOf(parentInfo.id)),
          children: childInfos.map((child) => viewOf(child, tenantOf(child.id))),
          attempts: attemptViews(activity.attemptsOf(id), info.attempt),
          recordingSince: activity.recordingSince,
        };
      },
    },
    {
      method: 'GET',
      url: '/api/console/spans',
      summary:
        "Timeline spans: each job attempt the console recorded (worker, start, end, outcome) that overlaps [from, to), the latest `limit`; a tenant's token sees its own jobs' only.",
      scopes: READERS,
      schema: { querystring: CONSOLE_SPAN_QUERY },
      responses: { 200: { description: 'The spans (SpanPage).' }, ...ERRORS },
      async handler(request): Promise<SpanPage> {
        const token = touch(request);
        const query = request.query as { from?: string; to?: string; limit?: string };
        const now = Date.now();
        const to = integerQuery(query.to, now, 0, MAX_EPOCH_MS, 'to');
        const from = integerQuery(query.from, to - DEFAULT_SPAN_WINDOW_MS, 0, MAX_EPOCH_MS, 'from');
        const limit = integerQuery(query.limit, DEFAULT_SPANS, 1, CONSOLE_MAX_SPANS, 'limit');
        if (from >= to) {
          throw new SkeinError(
            'SKEIN_CLOUD_INVALID_REQUEST',
            `invalid request: querystring/from must be before to (got from ${from}, to ${to})`,
          );
        }
        const found = activity.spans(from, to, limit);
        const ids = [...new Set(found.spans.map((span) => span.jobId))];
        const owners = ctx.store.jobTenants(ids);
        const everyTenant = isOperator(token);
        // A task label is looked up once per job and kept with its attempts: a timeline polled every
        // 2 s during a busy minute would otherwise read thousands of jobs each time.
        const unlabelled = [
          ...new Set(found.spans.filter((span) => span.task === undefined).map((span) => span.jobId)),
        ];
        await Promise.all(
          unlabelled.map(async (jobId) => {
            const info = await infoOrUndefined(jobId);
            const label = info === undefined ? '(purged)' : taskLabel(info.task, projectDir);
            for (const attempt of activity.attemptsOf(jobId)) attempt.task = label;
          }),
        );
        const spans = found.spans
          .filter((span) => everyTenant || owners.get(span.jobId) === token.tenant)
          .map((span) => {
            return {
              jobId: span.jobId,
              task: span.task ?? '(purged)',
              workerId: span.workerId,
              attempt: span.index,
              start: span.start,
              end: span.end,
              outcome: span.outcome,
            };
          });
        return { spans, from, to, truncated: found.truncated, recordingSince: activity.recordingSince };
      },
    },
    {
      method: 'GET',
      url: '/api/console/functions/stats',
      summary: `Latency and error rate of each function's synchronous calls (POST /fn/<name>) over the last ${FUNCTION_STATS_WINDOW_MS / 60_000} minutes, as this server answered them: the token's tenant's functions (every tenant's for an operator).`,
      scopes: READERS,
      schema: { querystring: { type: 'object', additionalProperties: false } },
      responses: { 200: { description: '{ functions: FunctionStatsView[], windowMs }' }, ...ERRORS },
      async handler(request) {
        return {
          functions: functionCallStatsOf(ctx).viewFor(ctx, request),
          windowMs: FUNCTION_STATS_WINDOW_MS,
        };
      },
    },
    {
      method: 'GET',
      url: '/api/console/activity',
      summary:
        "The overview's history (operators only, as metrics events): jobs started, succeeded and failed per second with run-time percentiles, recorded while the console is used, and the queue's metrics samples.",
      scopes: READERS,
      schema: { querystring: CONSOLE_ACTIVITY_QUERY },
      responses: { 200: { description: 'The history (ActivityView).' }, ...ERRORS },
      async handler(request) {
        const token = touch(request);
        if (!isOperator(token)) {
          throw new SkeinError(
            'SKEIN_CLOUD_FORBIDDEN',
            `token ${token.id} is tenant ${token.tenant}'s; throughput and metrics count every tenant's jobs, so only an operator token reads them`,
          );
        }
        const now = Date.now();
        const since = integerQuery(
          (request.query as { since?: string }).since,
          now - 3_600_000,
          0,
          MAX_EPOCH_MS,
          'since',
        );
        return activity.activity(since);
      },
    },
  ];
}
