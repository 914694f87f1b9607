// The function routes: deploy a bundle with its function settings (deploy scope), list functions and
// roll one back, and call a function at POST /fn/<name> (invoke scope) — synchronously on the warm pool
// of its bundle and isolation, or with ?async=1 as a job of the task queue, run by an agent with the
// function's timeout, isolation and memory limit (the job's address carries the last two). Only stored bundles ever run: a request
// names a function, which points at a bundle file the server wrote; nothing in a request is code.

import type { FunctionRecord } from '../cloud-store.ts';
import { functionNotFound } from '../deployments.ts';
import type { FunctionRunner } from '../function-runner.ts';
import { isOperator, splitTenantKey, tenantKey } from '../tenants.ts';
import { toJsonValue } from './job-view.ts';
import type { ApiContext, RouteSpec } from './route-spec.ts';
import {
  DEPLOY_BODY,
  DEPLOYMENT_VIEW,
  type DeployRequestBody,
  ERROR_RESPONSE,
  FUNCTION_NAME_PARAMS,
  FUNCTION_VIEW,
  type FunctionView,
  INVOKE_BODY,
  INVOKE_QUERY,
  MAX_BUNDLE_BYTES,
  NO_QUERY,
  ROLLBACK_BODY,
} from './schemas.ts';

const error = (description: string) => ({ description, schema: ERROR_RESPONSE });
const AUTH_ERRORS = {
  401: error('No token, or an unknown or revoked one (SKEIN_CLOUD_UNAUTHORIZED).'),
  403: error('The token lacks the scope (SKEIN_CLOUD_FORBIDDEN).'),
};

/** A function as the API shows it: its bare name and its tenant (fn.name is the stored key). */
export function functionView(fn: FunctionRecord, runner: FunctionRunner): FunctionView {
  const { tenant, name } = splitTenantKey(fn.name);
  return {
    name,
    tenant,
    version: fn.current.version,
    hash: fn.current.hash,
    export: fn.current.exportName,
    warm: runner.isWarm(fn.current.hash),
    ...runner.load(fn.name),
    updatedAt: fn.updatedAt,
    settings: runner.effective(fn.current.settings),
    versions: fn.versions.map((v) => ({
      version: v.version,
      hash: v.hash,
      export: v.exportName,
      deployedAt: v.deployedAt,
      settings: v.settings,
    })),
  };
}

export function functionRoutes(ctx: ApiContext): RouteSpec[] {
  const { deployments, runner } = ctx.functions;
  return [
    {
      method: 'POST',
      url: '/api/deployments',
      summary:
        "Deploy a bundle (skein deploy): stored once by its SHA-256, loaded in a worker thread to find its task exports, each of which becomes a function, and its config export (function settings); the body's settings win over the module's.",
      scopes: ['deploy'],
      schema: { body: DEPLOY_BODY, querystring: NO_QUERY },
      bodyLimit: MAX_BUNDLE_BYTES + 1024 * 1024,
      responses: {
        201: { description: 'Deployed.', schema: DEPLOYMENT_VIEW },
        400: error(
          'The body fails validation, the bundle is refused (SKEIN_CLOUD_BUNDLE_INVALID), or a setting is not valid (SKEIN_CLOUD_FUNCTION_SETTINGS_INVALID).',
        ),
        ...AUTH_ERRORS,
        413: error('The bundle is too large (SKEIN_CLOUD_PAYLOAD_TOO_LARGE).'),
      },
      async handler(request, reply) {
        const body = request.body as DeployRequestBody;
        const result = await deployments.deploy({
          tenant: ctx.tokenOf(request).tenant,
          hash: body.hash,
          bundle: body.bundle,
          ...(body.name === undefined ? {} : { prefix: body.name }),
          ...(body.settings === undefined ? {} : { settings: body.settings }),
        });
        reply.code(201);
        return result;
      },
    },
    {
      method: 'GET',
      url: '/api/functions',
      summary:
        "List the caller's tenant's functions (every tenant's for an operator): the version each runs now and every version it had.",
      scopes: ['read', 'invoke', 'deploy'],
      schema: { querystring: NO_QUERY },
      responses: {
        200: {
          description: 'Every function, by name.',
          schema: { type: 'object', properties: { functions: { type: 'array', items: FUNCTION_VIEW } } },
        },
        ...AUTH_ERRORS,
      },
      async handler(request) {
        const token = ctx.tokenOf(request);
        const all = isOperator(token);
        return {
          functions: ctx.store
            .functions()
            .map((fn) => functionView(fn, runner))
            .filter((view) => all || view.tenant === token.tenant),
        };
      },
    },
    {
      method: 'POST',
      url: '/api/functions/:name/rollback',
      summary: 'Point a function at a bundle hash it had before.',
      scopes: ['deploy'],
      schema: { params: FUNCTION_NAME_PARAMS, body: ROLLBACK_BODY, querystring: NO_QUERY },
      responses: {
        200: { description: 'The function, now at that version.', schema: FUNCTION_VIEW },
        400: error('The request fails validation (SKEIN_CLOUD_INVALID_REQUEST).'),
        ...AUTH_ERRORS,
        404: error('No such function, or it never had that hash (SKEIN_CLOUD_FUNCTION_NOT_FOUND).'),
      },
      async handler(request) {
        const { name } = request.params as { name: string };
        const { hash } = request.body as { hash: string };
        const fn = deployments.rollback(ctx.tokenOf(request).tenant, name, hash);
        return functionView(fn, runner);
      },
    },
    {
      method: 'POST',
      url: '/fn/:name',
      summary:
        'Call a function with JSON arguments: the answer is its result (JSON); with ?async=1, 202 and a job id.',
      scopes: ['invoke'],
      schema: { params: FUNCTION_NAME_PARAMS, body: INVOKE_BODY, querystring: INVOKE_QUERY },
      responses: {
        200: { description: "The function's result, as JSON." },
        202: {
          description: 'With ?async=1: the job that runs the call.',
          schema: {
            type: 'object',
            properties: { id: { type: 'string' }, function: { type: 'string' }, hash: { type: 'string' } },
          },
        },
        400: error('The request fails validation (SKEIN_CLOUD_INVALID_REQUEST).'),
        ...AUTH_ERRORS,
        404: error('No function of that name (SKEIN_CLOUD_FUNCTION_NOT_FOUND).'),
        429: error(
          'The function runs its maximum of concurrent calls and its queue is full (SKEIN_CLOUD_FUNCTION_BUSY, with Retry-After), or too many failed authentications.',
        ),
        502: error(
          "The function threw or its worker died (SKEIN_CLOUD_FUNCTION_FAILED, the function's error in cause), or it ran out of its memory limit (SKEIN_CLOUD_FUNCTION_OUT_OF_MEMORY).",
        ),
        503: error(
          'The server runs no function code (--no-local-agent) and no agent is live to run the call (SKEIN_CLOUD_NO_AGENT, with Retry-After), or the server is shutting down (SKEIN_CLOUD_CLOSED).',
        ),
        504: error(
          'The call ran past its timeout (counted from its start, not its wait); its worker was terminated (SKEIN_CLOUD_FUNCTION_TIMEOUT).',
        ),
      },
      async handler(request, reply) {
        const { name } = request.params as { name: string };
        const args = [...((request.body as { args?: unknown[] } | undefined)?.args ?? [])];
        // A name is looked up among the caller's tenant's functions only: another tenant's is not found.
        const { tenant } = ctx.tokenOf(request);
        const fn = ctx.store.fn(tenantKey(tenant, name));
        if (fn === undefined) throw functionNotFound(name);
        const url = deployments.urlOf(fn.current.hash);
        const mode = (request.query as { async?: string }).async;
        if (mode === '1' || mode === 'true') {
          // Its address carries the function's isolation and memory limit: the agent runs it with them.
          const reference = runner.jobTaskOf(url, fn.current.exportName, fn.current.settings);
          await ctx.agent?.serve([], [reference]);
          // The queue's default attempts: a call whose server died mid-run runs again (at least once).
          const job = await ctx.queue.submit(reference, args, {
            timeLimit: runner.effective(fn.current.settings).timeout,
          });
          ctx.store.recordJobTenants([{ jobId: job.id, tenant, createdAt: Date.now() }]);
          reply.code(202);
          return { id: job.id, function: name, hash: fn.current.hash };
        }
        const gone = new AbortController();
        const onClose = (): void => {
          if (!reply.raw.writableEnded) gone.abort();
        };
        reply.raw.once('close', onClose);
        try {
          const result = await runner.invoke(
            {
              // The stored key: two tenants' functions of one name have their own limits and queues.
              name: fn.name,
              hash: fn.current.hash,
              exportName: fn.current.exportName,
              url,
              settings: fn.current.settings,
              tenant,
            },
            args,
            gone.signal,
          );
          reply.type('application/json; charset=utf-8');
          return JSON.stringify(toJsonValue(result ?? null));
        } catch (thrown) {
          const retryAfter = (thrown as { retryAfter?: unknown }).retryAfter;
          if (typeof retryAfter === 'number') reply.header('retry-after', String(retryAfter));
          throw thrown;
        } finally {
          reply.raw.off('close', onClose);
        }
      },
    },
  ];
}
