// The HTTP API's shapes: JSON schemas the server validates every request against (and publishes as
// OpenAPI), and the TypeScript types of what goes over the wire, which the CLI and the web console
// import. Request schemas refuse unknown fields, so a typo is a 400, never silently ignored.

import type { JobState } from '../../tasks/index.ts';
import type { TokenScope } from '../cloud-store.ts';

/** A tenant name: 1 to 32 characters of [a-z0-9-], starting and ending with a letter or digit. */
export const TENANT_PATTERN = '^[a-z0-9](?:[a-z0-9-]{0,30}[a-z0-9])?$';

/** Largest page of a job listing. */
export const MAX_PAGE_SIZE = 500;
/** Longest wait a GET of a job may ask for, in ms. */
export const MAX_WAIT_MS = 60_000;

const INTEGER_STRING = (max: number) => ({ type: 'string', pattern: `^[0-9]{1,${String(max).length}}$` });

/** Longest delay or backoff a request may ask for, in ms: ten years. */
export const MAX_DELAY_MS = 10 * 365 * 24 * 3600 * 1000;
/** Longest time limit, in ms: the largest delay a Node timer keeps (about 24.8 days). */
export const MAX_TIME_LIMIT_MS = 2 ** 31 - 1;

/** The query string of a route that takes none: any parameter is a 400. */
export const NO_QUERY = { type: 'object', additionalProperties: false, properties: {} } as const;

export const JOB_ID_PARAMS = {
  type: 'object',
  additionalProperties: false,
  required: ['id'],
  properties: { id: { type: 'string', pattern: '^[A-Za-z0-9-]{1,64}$', description: 'The job id.' } },
} as const;

export const TOKEN_ID_PARAMS = {
  type: 'object',
  additionalProperties: false,
  required: ['id'],
  properties: { id: { type: 'string', pattern: '^[A-Za-z0-9]{1,64}$', description: 'The token id.' } },
} as const;

const BACKOFF_SCHEMA = {
  type: 'object',
  additionalProperties: false,
  properties: {
    type: { type: 'string', enum: ['fixed', 'exponential'] },
    delay: { type: 'integer', minimum: 0, maximum: MAX_DELAY_MS, description: 'Milliseconds.' },
    maxDelay: { type: 'integer', minimum: 0, maximum: MAX_DELAY_MS, description: 'Milliseconds.' },
    jitter: { type: 'string', enum: ['none', 'full', 'equal'] },
  },
} as const;

export const SUBMIT_BODY = {
  type: 'object',
  additionalProperties: false,
  required: ['module', 'export'],
  properties: {
    module: {
      type: 'string',
      minLength: 1,
      maxLength: 1024,
      description: 'The task module, relative to the project directory of the server (tasks.ts).',
    },
    export: {
      type: 'string',
      minLength: 1,
      maxLength: 128,
      description: 'The export name of the task in that module.',
    },
    args: { type: 'array', maxItems: 100_000, description: 'The arguments, as JSON. Default [].' },
    options: {
      type: 'object',
      additionalProperties: false,
      description: 'Task-queue job options (docs/tasks.md).',
      properties: {
        delay: {
          type: 'integer',
          minimum: 0,
          maximum: MAX_DELAY_MS,
          description: 'Milliseconds before the job may run.',
        },
        priority: { type: 'integer', description: 'Higher runs first; within ±1,000,000.' },
        attempts: { type: 'integer', minimum: 1, description: 'Attempts before the job ends dead.' },
        backoff: BACKOFF_SCHEMA,
        timeLimit: {
          type: 'integer',
          minimum: 1,
          maximum: MAX_TIME_LIMIT_MS,
          description: 'Milliseconds per attempt.',
        },
        idempotencyKey: { type: 'string', minLength: 1, maxLength: 256 },
      },
    },
  },
} as const;

export const JOB_GET_QUERY = {
  type: 'object',
  additionalProperties: false,
  properties: {
    wait: {
      ...INTEGER_STRING(MAX_WAIT_MS),
      description: `Milliseconds to wait for the job to finish before answering (at most ${MAX_WAIT_MS}).`,
    },
  },
} as const;

export const JOB_LIST_QUERY = {
  type: 'object',
  additionalProperties: false,
  properties: {
    state: {
      type: 'string',
      enum: ['scheduled', 'queued', 'running', 'succeeded', 'failed', 'dead', 'cancelled'],
      description: 'Only jobs in this state; all states when absent.',
    },
    limit: { ...INTEGER_STRING(MAX_PAGE_SIZE), description: `Page size, 1 to ${MAX_PAGE_SIZE}. Default 50.` },
    offset: { ...INTEGER_STRING(10_000), description: 'Jobs to skip, at most 10000. Default 0.' },
  },
} as const;

/** The longest lifetime a token may be given (expiresIn), in seconds: ten years. */
export const MAX_TOKEN_LIFETIME_S = 10 * 365 * 86_400;

export const TOKEN_CREATE_BODY = {
  type: 'object',
  additionalProperties: false,
  required: ['name', 'scopes'],
  properties: {
    name: { type: 'string', minLength: 1, maxLength: 100, pattern: '^[\\x20-\\x7e]+$' },
    scopes: {
      type: 'array',
      minItems: 1,
      maxItems: 6,
      uniqueItems: true,
      items: { type: 'string', enum: ['admin', 'deploy', 'invoke', 'read', 'agent', 'operator'] },
    },
    tenant: {
      type: 'string',
      pattern: TENANT_PATTERN,
      description:
        "The token's tenant (1 to 32 of [a-z0-9-]); absent: the caller's. Another tenant, and the operator and agent scopes, need an operator token.",
    },
    expiresIn: {
      type: 'integer',
      minimum: 1,
      maximum: MAX_TOKEN_LIFETIME_S,
      description: 'Seconds from now until the token is refused (401); absent: valid until revoked.',
    },
  },
} as const;

const ERROR_VIEW_SCHEMA = {
  type: ['object', 'null'],
  properties: { name: { type: 'string' }, message: { type: 'string' }, code: { type: ['string', 'null'] } },
} as const;

export const JOB_VIEW = {
  type: 'object',
  properties: {
    id: { type: 'string' },
    task: { type: 'string', description: 'module:export, relative to the project directory.' },
    state: { type: 'string' },
    args: { description: 'The arguments as JSON (null when they cannot be decoded).' },
    result: { description: 'The result as JSON, once succeeded.' },
    error: ERROR_VIEW_SCHEMA,
    progress: {},
    attempt: { type: 'integer' },
    maxAttempts: { type: 'integer' },
    priority: { type: 'integer' },
    runAt: { type: 'integer', description: 'Epoch ms.' },
    createdAt: { type: 'integer', description: 'Epoch ms.' },
    startedAt: { type: ['integer', 'null'], description: 'Epoch ms.' },
    finishedAt: { type: ['integer', 'null'], description: 'Epoch ms.' },
    cancelRequested: { type: 'boolean' },
    tenant: { type: ['string', 'null'], description: "The job's tenant (null: none recorded)." },
  },
} as const;

export const ERROR_RESPONSE = {
  type: 'object',
  required: ['statusCode', 'code', 'message'],
  properties: {
    statusCode: { type: 'integer' },
    code: { type: 'string', description: 'A stable code of docs/errors.md.' },
    error: { type: 'string' },
    message: { type: 'string' },
    cause: { ...ERROR_VIEW_SCHEMA, description: "SKEIN_CLOUD_FUNCTION_FAILED only: the function's error." },
  },
} as const;

export const TOKEN_VIEW = {
  type: 'object',
  properties: {
    id: { type: 'string' },
    name: { type: 'string' },
    scopes: { type: 'array', items: { type: 'string' } },
    tenant: { type: 'string' },
    createdAt: { type: 'integer' },
    revokedAt: { type: ['integer', 'null'] },
    expiresAt: { type: ['integer', 'null'] },
  },
} as const;

// --- Wire types -------------------------------------------------------------------------------------

/** Job options of POST /api/jobs (and, without the idempotency key, of a schedule's firings). */
export interface SubmitJobOptions {
  readonly delay?: number;
  readonly priority?: number;
  readonly attempts?: number;
  readonly backoff?: {
    readonly type?: 'fixed' | 'exponential';
    readonly delay?: number;
    readonly maxDelay?: number;
    readonly jitter?: 'none' | 'full' | 'equal';
  };
  readonly timeLimit?: number;
  readonly idempotencyKey?: string;
}

export interface SubmitRequest {
  readonly module: string;
  readonly export: string;
  readonly args?: readonly unknown[];
  readonly options?: SubmitJobOptions;
}

export interface ErrorView {
  readonly name: string;
  readonly message: string;
  readonly code: string | null;
}

export interface JobView {
  readonly id: string;
  readonly task: string;
  readonly state: JobState;
  readonly args: unknown;
  readonly result: unknown;
  readonly error: ErrorView | null;
  readonly progress: unknown;
  readonly attempt: number;
  readonly maxAttempts: number;
  readonly priority: number;
  readonly runAt: number;
  readonly createdAt: number;
  readonly startedAt: number | null;
  readonly finishedAt: number | null;
  readonly cancelRequested: boolean;
  /** The job's tenant; null for a job no tenant owns (seen by operators only). */
  readonly tenant?: string | null;
}

export interface JobListView {
  readonly jobs: readonly JobView[];
  readonly limit: number;
  readonly offset: number;
}

export interface CancelView {
  readonly id: string;
  readonly outcome: 'cancelled' | 'requested' | 'finished';
}

export interface TokenView {
  readonly id: string;
  readonly name: string;
  readonly scopes: readonly TokenScope[];
  readonly tenant: string;
  readonly createdAt: number;
  readonly revokedAt: number | null;
  /** When it stops being accepted (epoch ms), or null for never. */
  readonly expiresAt: number | null;
}

export interface CreatedTokenView extends TokenView {
  /** The token text, shown once. */
  readonly token: string;
}

export interface ErrorResponse {
  readonly statusCode: number;
  readonly code: string;
  readonly error: string;
  readonly message: string;
  /** SKEIN_CLOUD_FUNCTION_FAILED only: the function's own error, as data. */
  readonly cause?: ErrorView;
}

/** One job event of GET /api/events (the data of an SSE `event: job`). */
export interface JobEventView {
  readonly type: string;
  readonly jobId: string | null;
  readonly queue: string;
  readonly workerId: string | null;
  readonly at: number;
}

// --- Functions --------------------------------------------------------------------------------------

/** A function name: an export name, or `<prefix>.<export>` when deployed with a prefix. */
export const FUNCTION_NAME = {
  type: 'string',
  pattern: '^([A-Za-z0-9_-]{1,64}\\.)?[A-Za-z_$][A-Za-z0-9_$]{0,127}$',
};
/** Largest bundle a deployment may upload, in bytes: 64 MiB. */
export const MAX_BUNDLE_BYTES = 64 * 1024 * 1024;

/**
 * Function settings as a deploy request sends them. The fields are described, not constrained, here:
 * the server checks them itself, so a bad value gets SKEIN_CLOUD_FUNCTION_SETTINGS_INVALID naming the
 * field, as a bad `config` export of the module does.
 */
const FUNCTION_SETTINGS_BODY = {
  type: 'object',
  description:
    "Settings for every function of the bundle; each field given wins over the module's config export.",
  properties: {
    isolation: { description: "'thread' (a worker thread of the server) or 'process' (a child process)." },
    memoryMb: { description: 'Heap limit of the thread or process running a call, in MiB (32 to 65536).' },
    timeout: { description: 'Wall-clock limit of a call from its start, in ms (1 to 2147483647).' },
    concurrency: { description: 'Calls running at once (1 to 10000).' },
    queue: { description: 'Calls waiting, FIFO, for a free slot before 429 (0 to 100000).' },
  },
} as const;

const FUNCTION_SETTINGS_VIEW = {
  type: 'object',
  properties: {
    isolation: { type: 'string', enum: ['thread', 'process'] },
    memoryMb: { type: ['integer', 'null'], description: 'MiB; null: no limit of its own.' },
    timeout: { type: 'integer', description: 'ms.' },
    concurrency: { type: 'integer' },
    queue: { type: 'integer' },
  },
} as const;

export const DEPLOY_BODY = {
  type: 'object',
  additionalProperties: false,
  required: ['hash', 'bundle'],
  properties: {
    hash: {
      type: 'string',
      pattern: '^[0-9a-f]{64}$',
      description: 'SHA-256 (hex) of the bundle text, UTF-8.',
    },
    bundle: { type: 'string', minLength: 1, description: 'The ESM bundle made by skein deploy (esbuild).' },
    name: {
      type: 'string',
      pattern: '^[A-Za-z0-9_-]{1,64}$',
      description: 'Prefix: functions are named <name>.<export> instead of <export>.',
    },
    settings: FUNCTION_SETTINGS_BODY,
  },
} as const;

export const FUNCTION_NAME_PARAMS = {
  type: 'object',
  additionalProperties: false,
  required: ['name'],
  properties: { name: { ...FUNCTION_NAME, description: 'The function name.' } },
} as const;

export const ROLLBACK_BODY = {
  type: 'object',
  additionalProperties: false,
  required: ['hash'],
  properties: {
    hash: {
      type: 'string',
      pattern: '^[0-9a-f]{7,64}$',
      description:
        'A bundle hash the function had, or a prefix of it (7 characters at least) that only one of its versions has.',
    },
  },
} as const;

export const INVOKE_BODY = {
  type: 'object',
  additionalProperties: false,
  properties: {
    args: { type: 'array', maxItems: 100_000, description: 'The arguments, as JSON. Default [].' },
  },
} as const;

export const INVOKE_QUERY = {
  type: 'object',
  additionalProperties: false,
  properties: {
    async: {
      type: 'string',
      enum: ['0', '1', 'true', 'false'],
      description: '1: answer 202 with a job id (GET /api/jobs/:id) instead of the result.',
    },
  },
} as const;

const FUNCTION_VERSION_VIEW = {
  type: 'object',
  properties: {
    version: { type: 'integer' },
    hash: { type: 'string' },
    export: { type: 'string' },
    deployedAt: { type: 'integer', description: 'Epoch ms.' },
    settings: {
      type: 'object',
      description:
        'The settings chosen for this version at deploy time (absent fields: the server defaults).',
    },
  },
} as const;

export const FUNCTION_VIEW = {
  type: 'object',
  properties: {
    name: { type: 'string' },
    tenant: { type: 'string', description: 'The tenant that deployed it (names are per tenant).' },
    version: { type: 'integer', description: 'The version the name points at now.' },
    hash: { type: 'string', description: 'Its bundle hash.' },
    export: { type: 'string' },
    warm: { type: 'boolean', description: 'Whether its bundle has a warm pool now.' },
    running: { type: 'integer', description: 'Synchronous calls running now.' },
    waiting: { type: 'integer', description: 'Synchronous calls waiting in its queue now.' },
    updatedAt: { type: 'integer', description: 'Epoch ms of the last deploy or rollback.' },
    settings: {
      ...FUNCTION_SETTINGS_VIEW,
      description: "What a call runs with now: the current version's settings over the server's defaults.",
    },
    versions: { type: 'array', items: FUNCTION_VERSION_VIEW },
  },
} as const;

export const DEPLOYMENT_VIEW = {
  type: 'object',
  properties: {
    hash: { type: 'string' },
    size: { type: 'integer', description: 'Bytes.' },
    stored: { type: 'boolean', description: 'False when this bundle was stored before.' },
    functions: {
      type: 'array',
      items: {
        type: 'object',
        properties: { name: { type: 'string' }, export: { type: 'string' }, settings: { type: 'object' } },
      },
    },
  },
} as const;

/** Function settings chosen at deploy time; an absent field takes the server's default. */
export interface FunctionSettingsView {
  readonly isolation?: 'thread' | 'process';
  /** MiB. */
  readonly memoryMb?: number;
  /** ms, from the start of a call. */
  readonly timeout?: number;
  readonly concurrency?: number;
  readonly queue?: number;
}

/** The settings a function's calls run with: every field resolved (memoryMb null: no limit of its own). */
export interface EffectiveFunctionSettings {
  readonly isolation: 'thread' | 'process';
  readonly memoryMb: number | null;
  readonly timeout: number;
  readonly concurrency: number;
  readonly queue: number;
}

export interface DeployRequestBody {
  readonly hash: string;
  readonly bundle: string;
  readonly name?: string;
  readonly settings?: FunctionSettingsView;
}

export interface DeploymentView {
  readonly hash: string;
  readonly size: number;
  readonly stored: boolean;
  readonly functions: readonly {
    readonly name: string;
    readonly export: string;
    readonly settings: FunctionSettingsView;
  }[];
}

export interface FunctionVersionView {
  readonly version: number;
  readonly hash: string;
  readonly export: string;
  readonly deployedAt: number;
  readonly settings: FunctionSettingsView;
}

export interface FunctionView {
  readonly name: string;
  /** The tenant that deployed it: names are per tenant. */
  readonly tenant: string;
  readonly version: number;
  readonly hash: string;
  readonly export: string;
  /** Whether its bundle has a warm pool now. */
  readonly warm: boolean;
  /** Synchronous calls running now. */
  readonly running: number;
  /** Synchronous calls waiting in its queue now. */
  readonly waiting: number;
  readonly updatedAt: number;
  readonly settings: EffectiveFunctionSettings;
  readonly versions: readonly FunctionVersionView[];
}

/** The answer of POST /fn/<name>?async=1. */
export interface AsyncInvokeView {
  readonly id: string;
  readonly function: string;
  readonly hash: string;
}
