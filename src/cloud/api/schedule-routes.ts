// The schedule routes: create, list, read (with the jobs a schedule made), pause, resume and remove
// periodic jobs. Reading needs read (or invoke, deploy); changing needs deploy, since a schedule runs
// its target again and again with no caller present. A schedule names a task on disk or a deployed
// function, and its arguments are JSON data: nothing in a request is code.

import { isOperator } from '../tenants.ts';
import type { ApiContext, RouteSpec } from './route-spec.ts';
import {
  MAX_HISTORY_SHOWN,
  SCHEDULE_CREATE_BODY,
  SCHEDULE_DETAIL_VIEW,
  SCHEDULE_GET_QUERY,
  SCHEDULE_NAME_PARAMS,
  SCHEDULE_VIEW,
  type ScheduleRequest,
} from './schedule-schemas.ts';
import { ERROR_RESPONSE, NO_QUERY } from './schemas.ts';

const READERS = ['read', 'invoke', 'deploy'] as const;
const CHANGERS = ['deploy'] as const;
const DEFAULT_HISTORY = 20;

const error = (description: string) => ({ description, schema: ERROR_RESPONSE });
const AUTH_ERRORS = {
  401: error('No token, or an unknown or revoked one (SKEIN_CLOUD_UNAUTHORIZED).'),
  403: error('The token lacks the scope (SKEIN_CLOUD_FORBIDDEN).'),
  429: error('Too many failed authentications (SKEIN_CLOUD_RATE_LIMITED).'),
};
const NOT_FOUND = { 404: error('No schedule of that name (SKEIN_CLOUD_SCHEDULE_NOT_FOUND).') };
const BAD_REQUEST = { 400: error('The request fails validation (SKEIN_CLOUD_INVALID_REQUEST).') };

export function scheduleRoutes(ctx: ApiContext): RouteSpec[] {
  const { schedules } = ctx;
  return [
    {
      method: 'POST',
      url: '/api/schedules',
      summary:
        'Create a schedule: a cron expression (UTC) or an interval, and a target (a task: module + export, or a deployed function) with JSON arguments; each tick stores one job.',
      scopes: CHANGERS,
      schema: { body: SCHEDULE_CREATE_BODY, querystring: NO_QUERY },
      responses: {
        201: { description: 'Created (and started, unless paused).', schema: SCHEDULE_VIEW },
        400: error(
          'The body fails validation (SKEIN_CLOUD_INVALID_REQUEST), the cron expression is bad (SKEIN_TASKS_INVALID_CRON), the module path is refused (SKEIN_CLOUD_MODULE_REFUSED) or the job options are (SKEIN_TASKS_INVALID_OPTION).',
        ),
        ...AUTH_ERRORS,
        404: error('No such task (SKEIN_CLOUD_TASK_NOT_FOUND) or function (SKEIN_CLOUD_FUNCTION_NOT_FOUND).'),
        409: error('A schedule of that name exists (SKEIN_CLOUD_SCHEDULE_EXISTS).'),
      },
      async handler(request, reply) {
        const view = await schedules.create(request.body as ScheduleRequest, ctx.tokenOf(request).tenant);
        reply.code(201);
        return view;
      },
    },
    {
      method: 'GET',
      url: '/api/schedules',
      summary:
        "List the caller's tenant's schedules (every tenant's for an operator) by name, with their state and next run.",
      scopes: READERS,
      schema: { querystring: NO_QUERY },
      responses: {
        200: {
          description: 'Every schedule.',
          schema: { type: 'object', properties: { schedules: { type: 'array', items: SCHEDULE_VIEW } } },
        },
        ...BAD_REQUEST,
        ...AUTH_ERRORS,
      },
      async handler(request) {
        const token = ctx.tokenOf(request);
        return { schedules: schedules.list(isOperator(token) ? undefined : token.tenant) };
      },
    },
    {
      method: 'GET',
      url: '/api/schedules/:name',
      summary: 'One schedule and the jobs it made, newest first, with their states.',
      scopes: READERS,
      schema: { params: SCHEDULE_NAME_PARAMS, querystring: SCHEDULE_GET_QUERY },
      responses: {
        200: { description: 'The schedule.', schema: SCHEDULE_DETAIL_VIEW },
        ...BAD_REQUEST,
        ...AUTH_ERRORS,
        ...NOT_FOUND,
      },
      async handler(request) {
        const { name } = request.params as { name: string };
        const text = (request.query as { history?: string }).history;
        const history = Math.min(text === undefined ? DEFAULT_HISTORY : Number(text), MAX_HISTORY_SHOWN);
        return schedules.get(ctx.tokenOf(request).tenant, name, history);
      },
    },
    {
      method: 'POST',
      url: '/api/schedules/:name/pause',
      summary: 'Pause a schedule: it fires no more until resumed (ticks in between are not fired later).',
      scopes: CHANGERS,
      schema: { params: SCHEDULE_NAME_PARAMS, querystring: NO_QUERY },
      responses: {
        200: { description: 'The schedule, paused.', schema: SCHEDULE_VIEW },
        ...BAD_REQUEST,
        ...AUTH_ERRORS,
        ...NOT_FOUND,
      },
      async handler(request) {
        return schedules.pause(ctx.tokenOf(request).tenant, (request.params as { name: string }).name);
      },
    },
    {
      method: 'POST',
      url: '/api/schedules/:name/resume',
      summary: 'Resume a schedule from its next tick, loading its target again.',
      scopes: CHANGERS,
      schema: { params: SCHEDULE_NAME_PARAMS, querystring: NO_QUERY },
      responses: {
        200: { description: 'The schedule, active.', schema: SCHEDULE_VIEW },
        ...BAD_REQUEST,
        ...AUTH_ERRORS,
        404: error(
          'No schedule of that name (SKEIN_CLOUD_SCHEDULE_NOT_FOUND), or its task or function is gone (SKEIN_CLOUD_TASK_NOT_FOUND, SKEIN_CLOUD_FUNCTION_NOT_FOUND).',
        ),
      },
      async handler(request) {
        return schedules.resume(ctx.tokenOf(request).tenant, (request.params as { name: string }).name);
      },
    },
    {
      method: 'DELETE',
      url: '/api/schedules/:name',
      summary: 'Remove a schedule and its history; the jobs it made stay.',
      scopes: CHANGERS,
      schema: { params: SCHEDULE_NAME_PARAMS, querystring: NO_QUERY },
      responses: {
        200: { description: 'The removed schedule.', schema: SCHEDULE_VIEW },
        ...BAD_REQUEST,
        ...AUTH_ERRORS,
        ...NOT_FOUND,
      },
      async handler(request) {
        return schedules.remove(ctx.tokenOf(request).tenant, (request.params as { name: string }).name);
      },
    },
  ];
}
