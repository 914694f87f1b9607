// The job log routes: GET /api/jobs/:id/logs reads what a job printed, a page at a time from a cursor,
// or follows it as Server-Sent Events until the job finishes. Who may read a job's logs is decided in
// one place (readableJob): the token's tenant's jobs only (tenants.ts).

import type { FastifyReply, FastifyRequest } from 'fastify';
import type { JobInfo, JobState } from '../../tasks/index.ts';
import type { TokenScope } from '../cloud-store.ts';
import { assertTenantOwns } from '../tenants.ts';
import {
  DEFAULT_LOG_PAGE,
  JOB_LOGS_QUERY,
  LOG_PAGE_VIEW,
  type LogEndView,
  type LogPageView,
  MAX_LOG_PAGE,
} from './log-schemas.ts';
import { type ApiContext, integerQuery, openEventStream, type RouteSpec } from './route-spec.ts';
import { ERROR_RESPONSE, JOB_ID_PARAMS } from './schemas.ts';

const READERS: readonly TokenScope[] = ['read', 'invoke', 'deploy'];
const FINISHED: ReadonlySet<JobState> = new Set(['succeeded', 'failed', 'dead', 'cancelled']);
/** Lines per read of the store while a follow stream catches up. */
const FOLLOW_BATCH = 500;
/** A follow stream looks at the store at least this often, in ms, even when told of nothing. */
const FOLLOW_POLL_MS = 1000;

const LOG_ERRORS = Object.fromEntries(
  [
    [400, 'The request fails validation (SKEIN_CLOUD_INVALID_REQUEST).'],
    [401, 'No token, or an unknown or revoked one (SKEIN_CLOUD_UNAUTHORIZED).'],
    [403, 'The token lacks the scope (SKEIN_CLOUD_FORBIDDEN).'],
    [404, 'No such job (SKEIN_TASKS_JOB_NOT_FOUND).'],
    [429, 'Too many failed authentications (SKEIN_CLOUD_RATE_LIMITED).'],
  ].map(([status, description]) => [status, { description, schema: ERROR_RESPONSE }]),
);

/** The log routes, bound to one server's parts. */
export function logRoutes(ctx: ApiContext): RouteSpec[] {
  /**
   * The job whose logs the request may read: one of the token's tenant's (any, for an operator);
   * another tenant's is not found, as for every job route.
   * @throws SKEIN_TASKS_JOB_NOT_FOUND
   */
  async function readableJob(request: FastifyRequest, id: string): Promise<JobInfo> {
    assertTenantOwns(ctx.store, ctx.tokenOf(request), id);
    return ctx.queue.job(id).info();
  }

  return [
    {
      method: 'GET',
      url: '/api/jobs/:id/logs',
      summary:
        'What a job printed on stdout and stderr, line by line with its attempt, from a cursor; `follow=1` streams new lines (Server-Sent Events) until the job finishes.',
      scopes: READERS,
      schema: { params: JOB_ID_PARAMS, querystring: JOB_LOGS_QUERY },
      responses: {
        200: {
          description:
            'A page of lines (LogPageView); with follow=1, text/event-stream: `event: log` per line, then `event: end`.',
          schema: LOG_PAGE_VIEW,
        },
        ...LOG_ERRORS,
      },
      async handler(request, reply) {
        const { id } = request.params as { id: string };
        const query = request.query as { after?: string; limit?: string; follow?: string };
        const after = integerQuery(query.after, 0, 0, Number.MAX_SAFE_INTEGER, 'after');
        const limit = integerQuery(query.limit, DEFAULT_LOG_PAGE, 1, MAX_LOG_PAGE, 'limit');
        const info = await readableJob(request, id);
        if (query.follow !== '1') {
          const page = ctx.logs.read(id, after, limit);
          const answer: LogPageView = { jobId: id, state: info.state, ...page };
          return answer;
        }
        await follow(id, info.state, after, reply);
        return undefined;
      },
    },
  ];

  async function follow(id: string, state: JobState, after: number, reply: FastifyReply): Promise<void> {
    const stop = new AbortController();
    const signal = AbortSignal.any([stop.signal, ctx.closing]);
    let done = FINISHED.has(state);
    let notify: () => void = () => {};
    const onAppended = (jobId: string): void => {
      if (jobId === id) notify();
    };
    ctx.logs.on('appended', onAppended);
    const finished = done
      ? Promise.resolve()
      : ctx.broker.waitUntilFinished(id, signal).then(
          () => {
            done = true;
          },
          () => {
            // The job is gone (purged) rather than finished: end the stream too, unless it was left.
            if (!signal.aborted) done = true;
          },
        );
    const aborted = new Promise<void>((resolve) =>
      signal.addEventListener('abort', () => resolve(), { once: true }),
    );
    const stream = openEventStream(ctx, reply, stop);
    const raw = stream.raw;
    let cursor = after;
    try {
      for (;;) {
        // Read after `done` was seen: every line stored before the job finished is in this read.
        const wasDone = done;
        const { promise: woken, resolve } = Promise.withResolvers<void>();
        notify = resolve;
        for (;;) {
          if (signal.aborted || raw.destroyed) return;
          const page = ctx.logs.read(id, cursor, FOLLOW_BATCH);
          for (const line of page.lines) stream.write('log', line, line.seq);
          cursor = page.next;
          if (page.lines.length < FOLLOW_BATCH) break;
        }
        if (wasDone) {
          const last = await ctx.queue
            .job(id)
            .info()
            .then((info) => info.state)
            .catch(() => state);
          const end: LogEndView = { jobId: id, state: last, next: cursor };
          stream.write('end', end);
          return;
        }
        const poll = new Promise<void>((wake) => setTimeout(wake, FOLLOW_POLL_MS).unref());
        await Promise.race([woken, finished, aborted, poll]);
      }
    } catch (error) {
      if (!signal.aborted) ctx.warn('a log stream ended on an error of the store', error);
    } finally {
      ctx.logs.off('appended', onAppended);
      stop.abort();
      stream.end();
    }
  }
}
