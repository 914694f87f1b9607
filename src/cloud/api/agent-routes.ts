// The routes of remote agents (`skein worker`): register, heartbeat, and the few broker operations a
// tasks Worker needs, applied by the server to its own store on the agent's behalf. An agent never
// holds store credentials; the server fixes what an agent may not choose: the lease length, the worker
// ids (its own agent id, then a dot), and the agent (only the token that registered it acts as it).
// Every operation stays one atomic broker call, and the broker's lease checks still decide who may
// settle a job, so an agent can only touch the jobs it holds. Agents fetch deployed bundles by content
// hash (GET /api/bundles/<sha256>), only files the server stored under its deployments directory.

import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { FastifyRequest } from 'fastify';
import { SkeinError } from '../../errors.ts';
import { DEFAULT_QUEUE } from '../../tasks/index.ts';
import { type AgentRecord, agentState } from '../agent-registry.ts';
import type { TokenScope } from '../cloud-store.ts';
import {
  type AddressBase,
  AGENT_CLAIM_BODY,
  AGENT_HEARTBEAT_BODY,
  AGENT_HELD_BODY,
  AGENT_ID_PARAMS,
  AGENT_JOB_BODY,
  AGENT_LEASES_BODY,
  AGENT_REGISTER_BODY,
  AGENT_VIEW,
  type AgentClaimRequest,
  type AgentHeartbeatRequest,
  type AgentRegisterRequest,
  type AgentRegistration,
  type AgentView,
  absoluteAddress,
  BUNDLE_HASH,
  BUNDLE_HASH_PARAMS,
  jobToWire,
  outcomeFromWire,
} from './agent-wire.ts';
import { AGENT_LOGS_BODY, AGENT_LOGS_BODY_LIMIT_BYTES, type AgentLogsRequest } from './log-schemas.ts';
import { type ApiContext, openEventStream, type RouteSpec } from './route-spec.ts';
import { ERROR_RESPONSE, NO_QUERY } from './schemas.ts';

const AGENTS: readonly TokenScope[] = ['agent'];
/**
 * Largest body of the routes that carry job results and progress, in bytes: a settlement batches the
 * results of many jobs (up to 128 per claim), so the server's bodyLimit for client requests would
 * refuse a batch of ordinary results. Only a valid agent token gets its body read at all.
 */
export const AGENT_BODY_LIMIT_BYTES = 64 * 1024 * 1024;
/**
 * Longest pause between two heartbeats of an agent, in ms. A heartbeat also brings the tasks to
 * serve, so a task submitted for the first time reaches idle agents within this time (a third of the
 * agent timeout would be 10 s by default); one registry write per agent per second is cheap.
 */
const MAX_HEARTBEAT_INTERVAL_MS = 1000;
const READERS: readonly TokenScope[] = ['read', 'invoke', 'deploy'];
/** Who may download a deployed bundle: agents (to run its jobs) and those who may deploy one. */
const BUNDLE_READERS: readonly TokenScope[] = ['agent', 'deploy'];

const AGENT_ERRORS = Object.fromEntries(
  [
    [400, 'The request fails validation (SKEIN_CLOUD_INVALID_REQUEST).'],
    [401, 'No token, or an unknown or revoked one (SKEIN_CLOUD_UNAUTHORIZED).'],
    [403, 'The token lacks the agent scope, or the worker id is not this agent’s (SKEIN_CLOUD_FORBIDDEN).'],
    [404, 'No agent of this token has that id (SKEIN_CLOUD_AGENT_NOT_FOUND).'],
    [429, 'Too many failed authentications (SKEIN_CLOUD_RATE_LIMITED).'],
  ].map(([status, description]) => [status, { description, schema: ERROR_RESPONSE }]),
);

function view(record: AgentRecord, agentTimeout: number, now: number): AgentView {
  return {
    id: record.id,
    name: record.name,
    state: agentState(record, agentTimeout, now),
    host: record.host,
    cores: record.cores,
    memory: record.memory,
    gpus: record.gpus,
    labels: record.labels,
    concurrency: record.concurrency,
    runningJobs: record.running,
    registeredAt: record.registeredAt,
    lastHeartbeat: record.lastHeartbeat,
    ...(record.mpi === undefined ? {} : { mpi: record.mpi.address }),
  };
}

/** The agent routes, bound to one server's parts. */
export function agentRoutes(ctx: ApiContext): RouteSpec[] {
  const { deployments } = ctx.functions;
  const base: AddressBase = { projectDir: ctx.catalog.projectDir, bundleDir: deployments.dir };
  const { leaseTimeout, agentTimeout } = ctx.timing;

  function registeredTasks(): AgentRegistration['tasks'] {
    return ctx.store.registeredTasks().map((task) => ({ module: task.module, export: task.exportName }));
  }

  /**
   * Every version of every function: a job acknowledged before a rollback still runs on an agent. A
   * version with process isolation or a memory limit is listed with them too (its async calls' jobs
   * carry them in their address), as well as without (for jobs stored before they did).
   */
  function deployedFunctions(): AgentRegistration['functions'] {
    const found = new Map<string, AgentRegistration['functions'][number]>();
    for (const fn of ctx.store.functions()) {
      for (const version of fn.versions) {
        found.set(`${version.hash}#${version.exportName}`, {
          hash: version.hash,
          export: version.exportName,
        });
        const { isolation, memoryMb } = ctx.functions.runner.effective(version.settings);
        if (isolation === 'thread' && memoryMb === null) continue;
        found.set(`${version.hash}#${version.exportName}/${isolation}/${memoryMb ?? ''}`, {
          hash: version.hash,
          export: version.exportName,
          ...(isolation === 'process' ? { isolation } : {}),
          ...(memoryMb === null ? {} : { memoryMb }),
        });
      }
    }
    return [...found.values()];
  }

  /** The agent `:id` of this request's token. @throws SKEIN_CLOUD_AGENT_NOT_FOUND */
  async function ownAgent(request: FastifyRequest): Promise<AgentRecord> {
    const { id } = request.params as { id: string };
    const record = await ctx.registry.get(id);
    // Another token's agent is answered as unknown: an agent token learns nothing of other agents.
    if (record === undefined || record.tokenId !== ctx.tokenOf(request).id) {
      throw new SkeinError(
        'SKEIN_CLOUD_AGENT_NOT_FOUND',
        `no agent ${id} registered with this token; skein worker registers again when it starts`,
      );
    }
    return record;
  }

  /** The agent of the request, checked to own `workerId` (its workers are `<agent id>.<n>`). */
  async function ownWorker(request: FastifyRequest, workerId: string): Promise<AgentRecord> {
    const record = await ownAgent(request);
    if (!workerId.startsWith(`${record.id}.`)) {
      throw new SkeinError(
        'SKEIN_CLOUD_FORBIDDEN',
        `worker id ${JSON.stringify(workerId)} is not one of agent ${record.id}'s (they start with "${record.id}.")`,
      );
    }
    return record;
  }

  return [
    {
      method: 'POST',
      url: '/api/agents',
      summary:
        'Register an agent (skein worker): its resources and labels; answers its id, the lease and heartbeat timing, and the tasks to serve.',
      scopes: AGENTS,
      schema: { body: AGENT_REGISTER_BODY, querystring: NO_QUERY },
      responses: { 201: { description: 'Registered.' }, ...AGENT_ERRORS },
      async handler(request, reply) {
        const body = request.body as AgentRegisterRequest;
        const now = Date.now();
        const record: AgentRecord = {
          id: `agent-${randomBytes(8).toString('hex')}`,
          name: body.name,
          tokenId: ctx.tokenOf(request).id,
          host: body.host,
          cores: body.cores,
          memory: body.memory,
          gpus: [...body.gpus],
          labels: { ...body.labels },
          concurrency: body.concurrency,
          registeredAt: now,
          lastHeartbeat: now,
          running: [],
          stopped: false,
          ...(body.mpi === undefined ? {} : { mpi: { address: body.mpi.address, token: body.mpi.token } }),
        };
        await ctx.registry.put(record);
        reply.code(201);
        const answer: AgentRegistration = {
          id: record.id,
          queue: DEFAULT_QUEUE,
          leaseTimeout,
          heartbeatInterval: Math.max(1, Math.min(MAX_HEARTBEAT_INTERVAL_MS, Math.floor(agentTimeout / 3))),
          agentTimeout,
          tasks: registeredTasks(),
          functions: deployedFunctions(),
        };
        return answer;
      },
    },
    {
      method: 'GET',
      url: '/api/agents',
      summary:
        'List agents: state (ready, busy, lost, stopped), resources, labels, running jobs, last heartbeat.',
      scopes: READERS,
      schema: { querystring: NO_QUERY },
      responses: {
        200: {
          description: 'Every agent that registered.',
          schema: { type: 'object', properties: { agents: { type: 'array', items: AGENT_VIEW } } },
        },
        ...AGENT_ERRORS,
      },
      async handler() {
        const now = Date.now();
        return { agents: (await ctx.registry.list()).map((record) => view(record, agentTimeout, now)) };
      },
    },
    {
      method: 'GET',
      url: '/api/agents/:id/news',
      summary:
        "Server-Sent Events of the job store's news for the agent's queue (`event: news`, data: { type, jobId, queue, workerId, at } for jobs enqueued, retried, cancelled or whose lease expired), so its worker claims at once instead of at its next poll.",
      scopes: AGENTS,
      schema: { params: AGENT_ID_PARAMS, querystring: NO_QUERY },
      responses: { 200: { description: 'text/event-stream of news events.' }, ...AGENT_ERRORS },
      async handler(request, reply) {
        await ownAgent(request);
        const stop = new AbortController();
        const stream = openEventStream(ctx, reply, stop);
        const unsubscribe = ctx.news.subscribe((event) => stream.write('news', event));
        const closing = (): void => stop.abort();
        ctx.closing.addEventListener('abort', closing, { once: true });
        await new Promise<void>((resolve) => {
          if (stop.signal.aborted) resolve();
          else stop.signal.addEventListener('abort', () => resolve(), { once: true });
        });
        ctx.closing.removeEventListener('abort', closing);
        unsubscribe();
        stream.end();
      },
    },
    {
      method: 'POST',
      url: '/api/agents/:id/heartbeat',
      summary: 'The agent is alive and holds these jobs; answers the tasks to serve.',
      scopes: AGENTS,
      schema: { params: AGENT_ID_PARAMS, body: AGENT_HEARTBEAT_BODY, querystring: NO_QUERY },
      responses: { 200: { description: 'Recorded.' }, ...AGENT_ERRORS },
      async handler(request) {
        const record = await ownAgent(request);
        const body = request.body as AgentHeartbeatRequest;
        const now = Date.now();
        await ctx.registry.put({ ...record, lastHeartbeat: now, running: [...body.running], stopped: false });
        await ctx.broker.heartbeat(record.id, DEFAULT_QUEUE, {
          host: record.host,
          running: body.running.length,
        });
        return { tasks: registeredTasks(), functions: deployedFunctions() };
      },
    },
    {
      method: 'DELETE',
      url: '/api/agents/:id',
      summary: 'The agent leaves (graceful stop): listed as stopped from now on.',
      scopes: AGENTS,
      schema: { params: AGENT_ID_PARAMS, querystring: NO_QUERY },
      responses: { 200: { description: 'Stopped.' }, ...AGENT_ERRORS },
      async handler(request) {
        const record = await ownAgent(request);
        await ctx.registry.put({ ...record, running: [], stopped: true, lastHeartbeat: Date.now() });
        return { id: record.id, state: 'stopped' };
      },
    },
    {
      method: 'POST',
      url: '/api/agents/:id/claim',
      summary:
        "Settle finished attempts and claim jobs, in one atomic step of the store (the tasks Worker's settleAndClaim), under leases of the server's length.",
      scopes: AGENTS,
      schema: { params: AGENT_ID_PARAMS, body: AGENT_CLAIM_BODY, querystring: NO_QUERY },
      bodyLimit: AGENT_BODY_LIMIT_BYTES,
      responses: { 200: { description: '{ settled, claimed }' }, ...AGENT_ERRORS },
      async handler(request) {
        const body = request.body as AgentClaimRequest;
        await ownWorker(request, body.workerId);
        const claim =
          body.claim === null
            ? null
            : {
                queue: body.claim.queue,
                workerId: body.workerId,
                max: body.claim.max,
                leaseMs: leaseTimeout,
                tasks: body.claim.tasks.map((task) => absoluteAddress(task, base)),
                ...(body.claim.concurrency === undefined
                  ? {}
                  : {
                      concurrency: Object.fromEntries(
                        Object.entries(body.claim.concurrency).map(([task, cap]) => [
                          absoluteAddress(task, base),
                          cap,
                        ]),
                      ),
                    }),
              };
        const settled = await ctx.broker.settleAndClaim(
          body.workerId,
          body.outcomes.map(outcomeFromWire),
          claim,
        );
        return {
          settled: settled.settled,
          claimed: settled.claimed.map((job) => jobToWire(job, base)),
        };
      },
    },
    {
      method: 'POST',
      url: '/api/agents/:id/leases',
      summary: "Extend the leases of jobs the agent's worker still holds (by the server's lease length).",
      scopes: AGENTS,
      schema: { params: AGENT_ID_PARAMS, body: AGENT_LEASES_BODY, querystring: NO_QUERY },
      responses: { 200: { description: '{ held }: the ids still held.' }, ...AGENT_ERRORS },
      async handler(request) {
        const body = request.body as { workerId: string; ids: string[] };
        await ownWorker(request, body.workerId);
        return { held: await ctx.broker.extendLeases(body.workerId, body.ids, leaseTimeout) };
      },
    },
    {
      method: 'POST',
      url: '/api/agents/:id/held',
      summary: "What became of the agent's attempts: held, cancel-requested or lost.",
      scopes: AGENTS,
      schema: { params: AGENT_ID_PARAMS, body: AGENT_HELD_BODY, querystring: NO_QUERY },
      responses: { 200: { description: '{ statuses }' }, ...AGENT_ERRORS },
      async handler(request) {
        const body = request.body as { workerId: string; attempts: { id: string; attempt: number }[] };
        await ownWorker(request, body.workerId);
        return { statuses: await ctx.broker.heldStatus(body.workerId, body.attempts) };
      },
    },
    {
      method: 'POST',
      url: '/api/agents/:id/job',
      summary: 'Release a held job unstarted, record that a cancelled one stopped, or store its progress.',
      scopes: AGENTS,
      schema: { params: AGENT_ID_PARAMS, body: AGENT_JOB_BODY, querystring: NO_QUERY },
      bodyLimit: AGENT_BODY_LIMIT_BYTES,
      responses: { 200: { description: '{ applied }' }, ...AGENT_ERRORS },
      async handler(request) {
        const body = request.body as {
          workerId: string;
          id: string;
          action: 'release' | 'cancelled' | 'progress';
          progress?: string;
        };
        await ownWorker(request, body.workerId);
        switch (body.action) {
          case 'release':
            return { applied: await ctx.broker.release(body.workerId, body.id) };
          case 'cancelled':
            return { applied: await ctx.broker.cancelled(body.workerId, body.id) };
          case 'progress':
            if (body.progress === undefined) {
              throw new SkeinError(
                'SKEIN_CLOUD_INVALID_REQUEST',
                'invalid request: body/progress is required',
              );
            }
            return {
              applied: await ctx.broker.reportProgress(
                body.workerId,
                body.id,
                Buffer.from(body.progress, 'base64'),
              ),
            };
        }
      },
    },
    {
      method: 'POST',
      url: '/api/agents/:id/logs',
      summary:
        "Store what the agent's jobs printed: chunks of text per job, attempt and stream, kept only for attempts this worker holds the lease of.",
      scopes: AGENTS,
      schema: { params: AGENT_ID_PARAMS, body: AGENT_LOGS_BODY, querystring: NO_QUERY },
      bodyLimit: AGENT_LOGS_BODY_LIMIT_BYTES,
      responses: {
        200: { description: '{ accepted }: chunks stored; chunks of attempts not held are dropped.' },
        ...AGENT_ERRORS,
      },
      async handler(request) {
        const body = request.body as AgentLogsRequest;
        await ownWorker(request, body.workerId);
        // The broker decides which attempts this worker holds, as it does for a settlement.
        const attempts = new Map<string, { id: string; attempt: number }>();
        for (const chunk of body.chunks)
          attempts.set(`${chunk.id}#${chunk.attempt}`, { id: chunk.id, attempt: chunk.attempt });
        const asked = [...attempts.values()];
        const statuses = asked.length === 0 ? [] : await ctx.broker.heldStatus(body.workerId, asked);
        const held = new Set(
          asked.filter((_, i) => statuses[i] !== 'lost').map(({ id, attempt }) => `${id}#${attempt}`),
        );
        const now = Date.now();
        let accepted = 0;
        for (const chunk of body.chunks) {
          if (!held.has(`${chunk.id}#${chunk.attempt}`)) continue;
          ctx.logs.append(chunk.id, chunk.attempt, chunk.stream, chunk.text, now);
          accepted++;
        }
        return { accepted };
      },
    },
    {
      method: 'GET',
      url: '/api/bundles/:hash',
      summary:
        'Download a deployed bundle by its SHA-256: the bytes stored under .skein/deployments/, which the agent checks against the hash before running them.',
      scopes: BUNDLE_READERS,
      schema: { params: BUNDLE_HASH_PARAMS, querystring: NO_QUERY },
      responses: {
        200: { description: 'The bundle (text/javascript); its SHA-256 is the hash in the path.' },
        400: {
          description: 'The hash is not 64 lowercase hex characters (SKEIN_CLOUD_INVALID_REQUEST).',
          schema: ERROR_RESPONSE,
        },
        401: AGENT_ERRORS[401]!,
        403: {
          description: 'The token has neither the agent nor the deploy scope (SKEIN_CLOUD_FORBIDDEN).',
          schema: ERROR_RESPONSE,
        },
        404: {
          description: 'No bundle with that hash was deployed (SKEIN_CLOUD_BUNDLE_NOT_FOUND).',
          schema: ERROR_RESPONSE,
        },
        429: AGENT_ERRORS[429]!,
      },
      async handler(request, reply) {
        const { hash } = request.params as { hash: string };
        // The schema checked it already; the path below is built from nothing but 64 hex characters.
        if (!BUNDLE_HASH.test(hash))
          throw new SkeinError(
            'SKEIN_CLOUD_INVALID_REQUEST',
            'invalid request: params/hash must be 64 lowercase hex characters',
          );
        let bytes: Buffer | undefined;
        if (ctx.store.deployment(hash) !== undefined) {
          try {
            bytes = await readFile(join(deployments.dir, `${hash}.mjs`));
          } catch (error) {
            if ((error as { code?: unknown }).code !== 'ENOENT') throw error;
          }
        }
        if (bytes === undefined) {
          throw new SkeinError(
            'SKEIN_CLOUD_BUNDLE_NOT_FOUND',
            `no bundle ${hash} was deployed to this server; skein fn list --json shows the hashes functions point at`,
          );
        }
        reply.type('text/javascript; charset=utf-8');
        // Content-addressed: the same hash names the same bytes forever.
        reply.header('cache-control', 'private, max-age=31536000, immutable');
        reply.header('etag', `"${hash}"`);
        return bytes;
      },
    },
  ];
}
