// The OpenAPI 3.1 document of the API, built from the route table (routes.ts) so it always matches what
// the server validates. Served at GET /api/openapi.json.

import { version } from '../../version.ts';
import type { RouteSpec } from './routes.ts';

interface ObjectSchema {
  readonly properties?: Readonly<Record<string, object>>;
  readonly required?: readonly string[];
}

function parameters(where: 'path' | 'query', schema: object | undefined): object[] {
  const { properties = {}, required = [] } = (schema ?? {}) as ObjectSchema;
  return Object.entries(properties).map(([name, property]) => ({
    name,
    in: where,
    required: where === 'path' || required.includes(name),
    schema: property,
  }));
}

/** The OpenAPI document for these routes (plus the document's own route). */
export function openApiDocument(routes: readonly RouteSpec[]): object {
  const paths: Record<string, Record<string, object>> = {};
  for (const route of routes) {
    const path = route.url.replace(/:([A-Za-z]+)/g, '{$1}');
    const operation: Record<string, unknown> = {
      summary: route.summary,
      // An operator token passes every route; admin every route but the agent-only ones.
      'x-skein-scopes': route.scopes.every((scope) => scope === 'agent')
        ? ['operator', ...route.scopes]
        : ['admin', ...route.scopes],
      parameters: [
        ...parameters('path', route.schema.params),
        ...parameters('query', route.schema.querystring),
      ],
      responses: Object.fromEntries(
        Object.entries(route.responses).map(([status, response]) => [
          status,
          response.schema === undefined
            ? { description: response.description }
            : {
                description: response.description,
                content: { 'application/json': { schema: response.schema } },
              },
        ]),
      ),
    };
    if (route.schema.body !== undefined) {
      operation.requestBody = {
        required: true,
        content: { 'application/json': { schema: route.schema.body } },
      };
    }
    paths[path] ??= {};
    paths[path][route.method.toLowerCase()] = operation;
  }
  paths['/api/openapi.json'] = {
    get: {
      summary: 'This document.',
      'x-skein-scopes': ['admin', 'deploy', 'invoke', 'read'],
      responses: { 200: { description: 'The OpenAPI document.' } },
    },
  };
  return {
    openapi: '3.1.0',
    info: {
      title: 'Skein cloud API',
      version,
      description:
        "Every call needs `Authorization: Bearer <token>`; `x-skein-scopes` lists the scopes that may call a route (an `operator` token may call every route). A token reaches only its tenant's jobs, functions and schedules (another tenant's answer 404) unless it is an operator's. Errors are `{ statusCode, code, error, message }` with a stable code of docs/errors.md.",
    },
    components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
    security: [{ bearer: [] }],
    paths,
  };
}
