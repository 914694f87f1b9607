// The shape of a route of the API and what its handler works with: shared by the job routes
// (routes.ts), the agent routes (agent-routes.ts), the function routes (function-routes.ts), the server and the OpenAPI builder.

import type { ServerResponse } from 'node:http';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { SkeinError } from '../../errors.ts';
import type { Broker, TaskQueue } from '../../tasks/index.ts';
import type { AgentRegistry } from '../agent-registry.ts';
import type { CloudStore, StoredToken, TokenScope } from '../cloud-store.ts';
import type { Deployments } from '../deployments.ts';
import type { FunctionRunner } from '../function-runner.ts';
import type { JobLogs } from '../job-logs.ts';
import type { LiveFeed } from '../live-feed.ts';
import type { LocalAgent } from '../local-agent.ts';
import type { NewsHub } from '../news-hub.ts';
import type { ScheduleManager } from '../schedules.ts';
import type { TaskCatalog } from '../task-catalog.ts';

/** What the handlers work with; the server owns every part. */
export interface ApiContext {
  readonly queue: TaskQueue;
  readonly broker: Broker;
  readonly store: CloudStore;
  /** What jobs printed (log-routes.ts). */
  readonly logs: JobLogs;
  readonly catalog: TaskCatalog;
  /** The server's own agent, or undefined when it runs none (--no-local-agent). */
  readonly agent: LocalAgent | undefined;
  /** Deployed bundles and the warm pools that run their functions. */
  readonly functions: { readonly deployments: Deployments; readonly runner: FunctionRunner };
  /** Remote agents (skein worker). */
  readonly registry: AgentRegistry;
  /** Periodic jobs managed through the API (schedule-routes.ts). */
  readonly schedules: ScheduleManager;
  /** Agent state changes and queue metrics for the event stream (live-feed.ts). */
  readonly feed: LiveFeed;
  /** The job store's news for the cloud's queue, relayed to agents (GET /api/agents/:id/news). */
  readonly news: NewsHub;
  /** Lease length of every claim (ms) and how long an agent may go without a heartbeat (ms). */
  readonly timing: { readonly leaseTimeout: number; readonly agentTimeout: number };
  /** The token the request was authenticated with (the onRequest hook checked it). */
  readonly tokenOf: (request: FastifyRequest) => StoredToken;
  /** Aborted when the server starts to close: long polls and event streams end. */
  readonly closing: AbortSignal;
  /** Streams the events route is serving; the server ends them before it closes. */
  readonly streams: Set<FastifyReply>;
  /** Problems the server survives, for its log. */
  readonly warn: (message: string, error?: unknown) => void;
}

export interface RouteSchema {
  readonly body?: object;
  readonly querystring?: object;
  readonly params?: object;
}

export interface RouteSpec {
  readonly method: 'GET' | 'POST' | 'DELETE';
  readonly url: string;
  readonly summary: string;
  /** Scopes any one of which lets a token call the route (admin always may). */
  readonly scopes: readonly TokenScope[];
  readonly schema: RouteSchema;
  readonly responses: Readonly<Record<number, { readonly description: string; readonly schema?: object }>>;
  /** Largest body of this route in bytes, when it is not the server's bodyLimit. */
  readonly bodyLimit?: number;
  readonly handler: (request: FastifyRequest, reply: FastifyReply) => Promise<unknown>;
}

/** A comment line this often keeps proxies from closing an idle event stream. */
const SSE_KEEPALIVE_MS = 15_000;

/** An open Server-Sent Events stream (see openEventStream). */
export interface EventStream {
  readonly raw: ServerResponse;
  /** Writes one event, unless the stream has ended. */
  write(event: string, data: unknown, id?: number): void;
  /** Stops the keep-alive, forgets the stream and ends the response. */
  end(): void;
}

/**
 * Answers the request with an event stream: headers, a `: ready` comment, keep-alive comments, and
 * `stop` aborted when the client leaves. The server ends every stream in ctx.streams when it closes.
 */
export function openEventStream(ctx: ApiContext, reply: FastifyReply, stop: AbortController): EventStream {
  reply.hijack();
  const raw = reply.raw;
  raw.writeHead(200, {
    'content-type': 'text/event-stream; charset=utf-8',
    'cache-control': 'no-store',
    connection: 'keep-alive',
    'x-content-type-options': 'nosniff',
  });
  raw.write(': ready\n\n');
  ctx.streams.add(reply);
  const keepAlive = setInterval(() => raw.write(': keep-alive\n\n'), SSE_KEEPALIVE_MS);
  keepAlive.unref();
  raw.once('close', () => stop.abort());
  return {
    raw,
    write(event, data, id) {
      if (raw.writableEnded || raw.destroyed) return;
      raw.write(`event: ${event}\n${id === undefined ? '' : `id: ${id}\n`}data: ${JSON.stringify(data)}\n\n`);
    },
    end() {
      clearInterval(keepAlive);
      ctx.streams.delete(reply);
      raw.end();
    },
  };
}

/** A query-string integer in [min, max], or `fallback` when absent; SKEIN_CLOUD_INVALID_REQUEST otherwise. */
export function integerQuery(
  value: string | undefined,
  fallback: number,
  min: number,
  max: number,
  name: string,
): number {
  if (value === undefined) return fallback;
  const number = Number(value);
  if (!Number.isSafeInteger(number) || number < min || number > max) {
    throw new SkeinError(
      'SKEIN_CLOUD_INVALID_REQUEST',
      `invalid request: querystring/${name} must be an integer from ${min} to ${max} (got ${JSON.stringify(value)})`,
    );
  }
  return number;
}
