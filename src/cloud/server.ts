// The cloud server (`skein up`): the HTTP API (Fastify), the job store (SqliteBroker under .skein/, or a
// RedisBroker with `redis`), the token store, the agent registry and a local agent, in one process.
// Every /api call is authenticated before its body is read; close() stops the agent first, then the
// HTTP server, then the stores, so no acknowledged job is lost on the way down. A sweep sends jobs of
// dead agents (expired leases) back to the queue even when no local agent runs. Fastify loads when a
// server starts, not when skein/cloud is imported.

import { chmod, mkdir } from 'node:fs/promises';
import type { IncomingMessage } from 'node:http';
import { join } from 'node:path';
import type { FastifyInstance, FastifyReply } from 'fastify';
import { SkeinError } from '../errors.ts';
import { type Broker, DEFAULT_QUEUE, RedisBroker, SqliteBroker, TaskQueue } from '../tasks/index.ts';
import { AgentCalls } from './agent-calls.ts';
import { type AgentRegistry, RedisAgentRegistry, SqliteAgentRegistry } from './agent-registry.ts';
import { recordFunctionCall } from './api/console-function-stats.ts';
import { errorResponse, responseOf } from './api/http-errors.ts';
import { openApiDocument } from './api/openapi.ts';
import { type ApiContext, apiRoutes } from './api/routes.ts';
import { NO_QUERY } from './api/schemas.ts';
import { AuthFailureLimiter } from './auth-failure-limiter.ts';
import { CloudStore, type StoredToken, type TokenScope } from './cloud-store.ts';
import { isConsoleRequest, loadConsole, registerConsole } from './console-routes.ts';
import { readCredentials, writeCredentials } from './credentials.ts';
import { Deployments } from './deployments.ts';
import { FunctionRunner } from './function-runner.ts';
import { JobLogs } from './job-logs.ts';
import { LiveFeed } from './live-feed.ts';
import { LocalAgent } from './local-agent.ts';
import { NewsHub } from './news-hub.ts';
import {
  type CloudServerOptions,
  type ResolvedCloudServerOptions,
  resolveCloudServerOptions,
} from './options.ts';
import { ScheduleManager } from './schedules.ts';
import { TaskCatalog } from './task-catalog.ts';
import { backfillJobTenants, DEFAULT_TENANT } from './tenants.ts';
import { createToken, expiredAt, hasScope, verifyToken } from './tokens.ts';

export interface CloudServerHooks {
  /** Problems the server survives (a registered task module gone, a store error it retries). */
  readonly onWarning?: (message: string, error?: unknown) => void;
}

const BEARER = /^Bearer +(\S+)$/i;
const MAX_URL_SHOWN = 200;
/** Longest pause between two sweeps for expired leases and results, in ms (shorter when the lease is). */
const SWEEP_INTERVAL_MS = 5000;

/**
 * The embedded Skein cloud: API server, job store and local agent in one process.
 * @example
 * const server = await CloudServer.start({ projectDir: process.cwd() });
 * console.log(server.url, server.adminToken);
 * await server.close();
 * @throws SKEIN_CLOUD_INVALID_OPTION, SKEIN_CLOUD_INSECURE_BIND
 */
export class CloudServer {
  readonly options: ResolvedCloudServerOptions;
  /** The URL the API answers on (http://host:port), the real port when 0 was asked. */
  readonly url: string;
  /** The admin token: reused from .skein/credentials.json when still valid, else a new one. */
  readonly adminToken: string;
  /** Where the admin token and URL were saved. */
  readonly credentialsPath: string;
  readonly #app: FastifyInstance;
  readonly #agent: LocalAgent | undefined;
  readonly #runner: FunctionRunner;
  readonly #broker: Broker;
  readonly #store: CloudStore;
  readonly #logs: JobLogs;
  readonly #registry: AgentRegistry;
  readonly #schedules: ScheduleManager;
  readonly #sweep: NodeJS.Timeout;
  readonly #closing: AbortController;
  readonly #streams: Set<FastifyReply>;
  #closed: Promise<void> | undefined;

  private constructor(parts: {
    options: ResolvedCloudServerOptions;
    url: string;
    adminToken: string;
    credentialsPath: string;
    app: FastifyInstance;
    agent: LocalAgent | undefined;
    runner: FunctionRunner;
    broker: Broker;
    store: CloudStore;
    logs: JobLogs;
    registry: AgentRegistry;
    schedules: ScheduleManager;
    sweep: NodeJS.Timeout;
    closing: AbortController;
    streams: Set<FastifyReply>;
  }) {
    this.options = parts.options;
    this.url = parts.url;
    this.adminToken = parts.adminToken;
    this.credentialsPath = parts.credentialsPath;
    this.#app = parts.app;
    this.#agent = parts.agent;
    this.#runner = parts.runner;
    this.#broker = parts.broker;
    this.#store = parts.store;
    this.#logs = parts.logs;
    this.#registry = parts.registry;
    this.#schedules = parts.schedules;
    this.#sweep = parts.sweep;
    this.#closing = parts.closing;
    this.#streams = parts.streams;
  }

  /** Threads of the local agent (0 when it runs none). */
  get concurrency(): number {
    return this.#agent?.concurrency ?? 0;
  }

  /** Opens the stores, starts the agent on every task registered before, and listens. */
  static async start(options: CloudServerOptions = {}, hooks: CloudServerHooks = {}): Promise<CloudServer> {
    const resolved = resolveCloudServerOptions(options);
    const warn = hooks.onWarning ?? (() => {});
    await mkdir(resolved.dataDir, { recursive: true, mode: 0o700 });
    // The directory holds the token store and credentials.json: private to the user running the server.
    await chmod(resolved.dataDir, 0o700);
    const catalog = await TaskCatalog.open(resolved.projectDir);
    const store = new CloudStore(join(resolved.dataDir, 'cloud.db'));
    let logs: JobLogs;
    try {
      logs = new JobLogs(join(resolved.dataDir, 'logs.db'));
    } catch (error) {
      store.close();
      throw error;
    }
    let broker: Broker;
    let registry: AgentRegistry;
    try {
      if (resolved.redis === undefined) {
        broker = new SqliteBroker({ path: join(resolved.dataDir, 'tasks.db') });
        registry = new SqliteAgentRegistry(store);
      } else {
        broker = new RedisBroker({ url: resolved.redis, prefix: resolved.redisPrefix });
        registry = new RedisAgentRegistry(resolved.redis, resolved.redisPrefix);
      }
    } catch (error) {
      logs.close();
      store.close();
      throw error;
    }
    const agent = resolved.localAgent
      ? new LocalAgent({
          broker,
          concurrency: resolved.concurrency,
          leaseTimeout: resolved.leaseTimeout,
          closeTimeout: resolved.closeTimeout,
          onError: (error) => warn('the local agent could not reach the job store; it retries', error),
          // What a job prints is stored with the job (GET /api/jobs/:id/logs).
          onOutput: (job, stream, text) => logs.append(job.id, job.attempt, stream, text, Date.now()),
        })
      : undefined;
    const deployments = new Deployments(resolved.dataDir, store);
    // Made before anything reads the store: constructing it does no I/O.
    const queue = new TaskQueue({ broker });
    const runner = new FunctionRunner({
      timeout: resolved.functionTimeout,
      concurrency: resolved.functionConcurrency,
      queue: resolved.functionQueue,
      idleTimeout: resolved.functionIdleTimeout,
      maxWorkers: resolved.concurrency,
      local: resolved.localAgent,
      agents: new AgentCalls({
        queue,
        registry,
        agentTimeout: resolved.agentTimeout,
        recordTenant: (jobId, tenant) => store.recordJobTenants([{ jobId, tenant, createdAt: Date.now() }]),
        warn,
      }),
      agentStartTimeout: resolved.agentTimeout,
    });
    const tokens = new WeakMap<object, StoredToken>();
    let sweep: NodeJS.Timeout | undefined;
    const closing = new AbortController();
    const streams = new Set<FastifyReply>();
    let app: FastifyInstance | undefined;
    let schedules: ScheduleManager | undefined;
    try {
      const tasks = [];
      const functionTasks = [];
      for (const registered of store.registeredTasks()) {
        try {
          tasks.push((await catalog.find(registered.module, registered.exportName)).task);
        } catch (error) {
          warn(
            `task ${registered.module}:${registered.exportName} had jobs before but cannot be loaded now; its queued jobs wait until it can`,
            error,
          );
        }
      }
      // Async calls of functions are jobs: the agent serves every version of every function, so a job
      // acknowledged before a restart or a rollback still runs (references are built, never imported here).
      for (const fn of store.functions()) {
        for (const version of fn.versions) {
          functionTasks.push(...runner.versionTasks(deployments.urlOf(version.hash), version));
        }
      }
      // A Redis that cannot be reached stops the start here, with the broker's error, not at the first job.
      if (resolved.redis !== undefined) await broker.stats(DEFAULT_QUEUE);
      // A store from before tenants: its jobs become the default tenant's, once.
      await backfillJobTenants(store, broker);
      const feed = new LiveFeed({
        registry,
        agentTimeout: resolved.agentTimeout,
        stats: () => queue.stats(),
      });
      feed.on('error', (error) =>
        warn('the event stream could not read the agents or the queue stats', error),
      );
      schedules = new ScheduleManager({
        store,
        broker,
        queue,
        catalog,
        agent,
        functions: { deployments, runner },
        warn,
      });
      const context: ApiContext = {
        queue,
        broker,
        store,
        logs,
        catalog,
        agent,
        functions: { deployments, runner },
        registry,
        schedules,
        feed,
        news: new NewsHub(broker, DEFAULT_QUEUE, warn),
        timing: { leaseTimeout: resolved.leaseTimeout, agentTimeout: resolved.agentTimeout },
        tokenOf: (request) => {
          const token = tokens.get(request);
          if (token === undefined)
            throw new Error('a route ran without an authenticated token: this is a bug in Skein');
          return token;
        },
        closing: closing.signal,
        streams,
        warn,
      };
      app = await buildApp(resolved, context, warn, tokens);
      await app.listen({ host: resolved.host, port: resolved.port });
      // Only a server that got its port runs jobs: a second `skein up` on a taken port claims nothing.
      if (tasks.length + functionTasks.length > 0) await agent?.serve(tasks, functionTasks);
      // Stored schedules fire from their next tick on; ticks missed while no server ran are skipped.
      await schedules.start();
      // Jobs of an agent that died come back once their lease expired, whether or not a worker runs here.
      sweep = setInterval(
        () => {
          const now = Date.now();
          broker
            .recoverExpiredLeases(now)
            .then(() => broker.purgeExpired(now))
            .catch((error: unknown) => {
              if (!closing.signal.aborted)
                warn('the sweep for expired leases could not reach the job store', error);
            });
        },
        Math.min(SWEEP_INTERVAL_MS, resolved.leaseTimeout),
      );
      sweep.unref();
      const address = app.server.address();
      const port = typeof address === 'object' && address !== null ? address.port : resolved.port;
      const host =
        resolved.host.includes(':') && !resolved.host.startsWith('[') ? `[${resolved.host}]` : resolved.host;
      const url = `${resolved.tls === undefined ? 'http' : 'https'}://${host}:${port}`;
      // Made once the port is ours, so a start that fails leaves no admin token nobody was shown.
      const adminToken = await adminTokenFor(store, resolved.dataDir);
      const credentialsPath = await writeCredentials(resolved.dataDir, { server: url, token: adminToken });
      return new CloudServer({
        options: resolved,
        url,
        adminToken,
        credentialsPath,
        app,
        agent,
        runner,
        broker,
        store,
        logs,
        registry,
        schedules,
        sweep,
        closing,
        streams,
      });
    } catch (error) {
      closing.abort();
      clearInterval(sweep);
      await schedules?.close().catch(() => undefined);
      await app?.close().catch(() => undefined);
      await runner.close().catch(() => undefined);
      await agent?.close().catch(() => undefined);
      await broker.close().catch(() => undefined);
      await registry.close().catch(() => undefined);
      logs.close();
      store.close();
      throw error;
    }
  }

  /**
   * Stops taking requests (503), stops the agent (running jobs get closeTimeout ms to finish, the rest
   * go back to the queue), then the HTTP server, then the stores. Idempotent.
   */
  close(): Promise<void> {
    this.#closed ??= this.#close();
    return this.#closed;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  async #close(): Promise<void> {
    this.#closing.abort();
    for (const stream of this.#streams) stream.raw.end();
    clearInterval(this.#sweep);
    try {
      // No schedule fires into a store that is closing.
      await this.#schedules.close();
      // Synchronous calls have a caller waiting on this server: they end now with SKEIN_CLOUD_CLOSED.
      await this.#runner.close();
      await this.#agent?.close();
    } finally {
      await this.#app.close();
      await this.#broker.close();
      await this.#registry.close();
      this.#logs.close();
      this.#store.close();
    }
  }
}

/**
 * The token saved in credentials.json when it is still a valid operator token, else a new one: admin
 * of the default tenant and operator of every tenant. An admin token saved before tenants existed stays
 * valid (the default tenant's admin) but is replaced in credentials.json by an operator token.
 */
async function adminTokenFor(store: CloudStore, dataDir: string): Promise<string> {
  const saved = await readCredentials(dataDir);
  if (saved !== undefined) {
    const token = verifyToken(store, saved.token);
    if (token?.scopes.includes('operator') === true) return saved.token;
  }
  return createToken(store, 'operator (skein up)', ['admin', 'operator'], DEFAULT_TENANT).token;
}

async function buildApp(
  options: ResolvedCloudServerOptions,
  context: ApiContext,
  warn: (message: string, error?: unknown) => void,
  tokens: WeakMap<object, StoredToken>,
): Promise<FastifyInstance> {
  const { default: fastify } = await import('fastify');
  const app = fastify({
    ...(options.tls === undefined ? {} : { https: { cert: options.tls.cert, key: options.tls.key } }),
    logger: false,
    bodyLimit: options.bodyLimit,
    forceCloseConnections: true,
    return503OnClosing: false,
    ajv: {
      customOptions: { removeAdditional: false, coerceTypes: false, useDefaults: false, allErrors: false },
    },
  });
  // JSON only: a text/plain body is refused with 415 instead of reaching a schema as a string.
  app.removeContentTypeParser('text/plain');
  const limiter = new AuthFailureLimiter(options.authFailureLimit, options.authFailureWindow);

  // Runs before the body is read: a caller without a valid token never gets its body parsed.
  app.addHook('onRequest', async (request, reply) => {
    if (context.closing.aborted) {
      throw new SkeinError('SKEIN_CLOUD_CLOSED', 'the server is shutting down; retry once it is up again');
    }
    // The web console's files are public: the page asks for a token and sends it with each API call.
    if (isConsoleRequest(request)) return;
    const blockedMs = limiter.blockedFor(request.ip);
    if (blockedMs > 0) {
      const seconds = Math.ceil(blockedMs / 1000);
      reply.header('retry-after', String(seconds));
      throw new SkeinError(
        'SKEIN_CLOUD_RATE_LIMITED',
        `too many failed authentications from ${request.ip}; retry after ${seconds} s with a valid token`,
      );
    }
    const header = request.headers.authorization;
    const match = header === undefined ? null : BEARER.exec(header);
    const now = Date.now();
    const token = match === null ? undefined : verifyToken(context.store, match[1]!, now);
    if (token === undefined) {
      limiter.recordFailure(request.ip);
      reply.header('www-authenticate', 'Bearer realm="skein"');
      const expired = match === null ? undefined : expiredAt(context.store, match[1]!, now);
      throw new SkeinError(
        'SKEIN_CLOUD_UNAUTHORIZED',
        header === undefined
          ? 'this API needs a token: send Authorization: Bearer <token> (skein up printed one and saved it in .skein/credentials.json)'
          : expired !== undefined
            ? `the bearer token expired at ${new Date(expired).toISOString()}; ask an admin for a new one (skein token create)`
            : 'the bearer token is malformed, unknown or revoked; create one with skein token create',
      );
    }
    tokens.set(request, token);
    const scopes = (request.routeOptions.config as { scopes?: readonly TokenScope[] } | undefined)?.scopes;
    if (scopes !== undefined && !hasScope(token.scopes, scopes)) {
      throw new SkeinError(
        'SKEIN_CLOUD_FORBIDDEN',
        `token ${token.id} has scopes [${token.scopes.join(', ')}]; ${request.method} ${request.routeOptions.url} needs one of [${scopes.every((scope) => scope === 'agent') ? 'operator' : 'admin'}, ${scopes.join(', ')}]`,
      );
    }
  });

  // Latency and errors of function calls, for the console's Functions page.
  app.addHook('onResponse', (request, reply) => recordFunctionCall(context, request, reply));

  // A body over the limit is refused before it is read, and Fastify then closes the connection. Closing
  // with the client's upload still arriving makes the kernel reset the connection, and a reset can
  // destroy the 413 before the client reads it. So the rest of the body is read and dropped first
  // (a lingering close), within bounds: past LINGER_BYTES or LINGER_MS the connection is cut anyway.
  app.addHook('onSend', async (request, reply, payload) => {
    if (reply.statusCode === 413 && !request.raw.complete)
      lingerOn(request.raw, () => reply.removeHeader('connection'));
    return payload;
  });

  app.setErrorHandler((error, _request, reply) => {
    const { body, internal } = responseOf(error);
    if (internal) warn('an API call failed inside the server', error);
    void reply.code(body.statusCode).send(body);
  });
  app.setNotFoundHandler((request, reply) => {
    const shown =
      request.url.length > MAX_URL_SHOWN ? `${request.url.slice(0, MAX_URL_SHOWN)}…` : request.url;
    void reply
      .code(404)
      .send(
        errorResponse(
          404,
          'SKEIN_CLOUD_ROUTE_NOT_FOUND',
          `no API route ${request.method} ${JSON.stringify(shown)}; GET /api/openapi.json lists them`,
        ),
      );
  });

  const routes = apiRoutes(context);
  for (const route of routes) {
    app.route({
      method: route.method,
      url: route.url,
      schema: route.schema,
      config: { scopes: route.scopes },
      ...(route.bodyLimit === undefined ? {} : { bodyLimit: Math.max(route.bodyLimit, options.bodyLimit) }),
      handler: route.handler,
    });
  }
  const document = openApiDocument(routes);
  app.get(
    '/api/openapi.json',
    { schema: { querystring: NO_QUERY }, config: { scopes: ['read', 'invoke', 'deploy'] } },
    async () => document,
  );
  // The web console's files; whether they are missing or stale is said when the console is opened.
  registerConsole(app, await loadConsole(), warn, (url) =>
    errorResponse(
      404,
      'SKEIN_CLOUD_ROUTE_NOT_FOUND',
      `no API route GET ${JSON.stringify(url.length > MAX_URL_SHOWN ? `${url.slice(0, MAX_URL_SHOWN)}…` : url)}; GET /api/openapi.json lists them`,
    ),
  );
  return app;
}

/** Most of an over-limit body read and dropped after its 413, and for how long (see the onSend hook). */
const LINGER_BYTES = 16 * 1024 * 1024;
const LINGER_MS = 2000;

/** Keeps the connection open and reads the rest of the request's body into nothing, within bounds. */
function lingerOn(raw: IncomingMessage, keepOpen: () => void): void {
  keepOpen();
  const socket = raw.socket;
  let dropped = 0;
  const cut = setTimeout(() => socket.destroy(), LINGER_MS);
  cut.unref();
  raw.on('data', (chunk: Buffer) => {
    dropped += chunk.length;
    if (dropped > LINGER_BYTES) {
      clearTimeout(cut);
      socket.destroy();
    }
  });
  raw.on('end', () => clearTimeout(cut));
  raw.on('error', () => clearTimeout(cut));
  raw.resume();
}
