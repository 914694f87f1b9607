// How errors leave the API: every answer that is not 2xx is `{ statusCode, code, error, message }` with a
// stable code of docs/errors.md (plus `cause`, the function's error as data, for
// SKEIN_CLOUD_FUNCTION_FAILED). Bad input is a 4xx with its code; only a fault of the server is a 500,
// and its message says nothing of the server's internals.

import { STATUS_CODES } from 'node:http';
import { SkeinError } from '../../errors.ts';
import { errorView } from './job-view.ts';
import type { ErrorResponse } from './schemas.ts';

/** The HTTP status of each code an API call can end with. */
const STATUS_BY_CODE: Readonly<Record<string, number>> = Object.freeze({
  SKEIN_CLOUD_UNAUTHORIZED: 401,
  SKEIN_CLOUD_FORBIDDEN: 403,
  SKEIN_CLOUD_RATE_LIMITED: 429,
  SKEIN_CLOUD_INVALID_REQUEST: 400,
  SKEIN_CLOUD_PAYLOAD_TOO_LARGE: 413,
  SKEIN_CLOUD_ROUTE_NOT_FOUND: 404,
  SKEIN_CLOUD_MODULE_REFUSED: 400,
  SKEIN_CLOUD_TASK_NOT_FOUND: 404,
  SKEIN_CLOUD_JOB_NOT_RETRYABLE: 409,
  SKEIN_CLOUD_TOKEN_NOT_FOUND: 404,
  SKEIN_CLOUD_AGENT_NOT_FOUND: 404,
  SKEIN_CLOUD_BUNDLE_INVALID: 400,
  SKEIN_CLOUD_BUNDLE_NOT_FOUND: 404,
  SKEIN_CLOUD_FUNCTION_NOT_FOUND: 404,
  SKEIN_CLOUD_FUNCTION_BUSY: 429,
  SKEIN_CLOUD_NO_AGENT: 503,
  SKEIN_CLOUD_FUNCTION_TIMEOUT: 504,
  SKEIN_CLOUD_FUNCTION_FAILED: 502,
  SKEIN_CLOUD_FUNCTION_OUT_OF_MEMORY: 502,
  SKEIN_CLOUD_FUNCTION_SETTINGS_INVALID: 400,
  SKEIN_CLOUD_CLOSED: 503,
  SKEIN_CLOUD_SCHEDULE_NOT_FOUND: 404,
  SKEIN_CLOUD_SCHEDULE_EXISTS: 409,
  SKEIN_TASKS_INVALID_CRON: 400,
  SKEIN_TASKS_INVALID_OPTION: 400,
  SKEIN_TASKS_NOT_ENCODABLE: 400,
  SKEIN_TASKS_JOB_NOT_FOUND: 404,
  SKEIN_TASKS_CLOSED: 503,
  SKEIN_TASKS_BROKER_UNAVAILABLE: 503,
  SKEIN_TASKS_STORAGE: 503,
});

export function errorResponse(statusCode: number, code: string, message: string): ErrorResponse {
  return { statusCode, code, error: STATUS_CODES[statusCode] ?? 'Error', message };
}

/** The answer for a thrown value; `internal` is true when it is a fault of the server (log it). */
export function responseOf(error: unknown): { body: ErrorResponse; internal: boolean } {
  if (error instanceof SkeinError && Object.hasOwn(STATUS_BY_CODE, error.code)) {
    const body = errorResponse(STATUS_BY_CODE[error.code]!, error.code, error.message);
    // A function's own error travels as data ({ name, message, code }), never as a class to rebuild.
    if (error.code === 'SKEIN_CLOUD_FUNCTION_FAILED' && error.cause instanceof Error) {
      return { body: { ...body, cause: errorView(error.cause) }, internal: false };
    }
    return { body, internal: false };
  }
  const fastify = error as {
    validation?: unknown;
    validationContext?: string;
    statusCode?: number;
    message?: string;
  };
  if (fastify !== null && typeof fastify === 'object') {
    if (fastify.validation !== undefined) {
      return {
        body: errorResponse(400, 'SKEIN_CLOUD_INVALID_REQUEST', `invalid request: ${fastify.message ?? ''}`),
        internal: false,
      };
    }
    const status = fastify.statusCode;
    if (status === 413) {
      return {
        body: errorResponse(
          413,
          'SKEIN_CLOUD_PAYLOAD_TOO_LARGE',
          `request body too large: ${fastify.message ?? ''}`,
        ),
        internal: false,
      };
    }
    // Fastify's own 4xx: body not JSON, empty JSON body, unsupported media type, bad URL encoding.
    if (typeof status === 'number' && status >= 400 && status < 500 && !(error instanceof SkeinError)) {
      return {
        body: errorResponse(
          status,
          'SKEIN_CLOUD_INVALID_REQUEST',
          `invalid request: ${fastify.message ?? ''}`,
        ),
        internal: false,
      };
    }
  }
  return {
    body: errorResponse(
      500,
      'SKEIN_INTERNAL',
      'the server failed to handle this request; its log has the details',
    ),
    internal: true,
  };
}
