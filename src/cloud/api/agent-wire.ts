// What the agent routes carry: jobs and settle outcomes as JSON (bytes as base64), and task addresses
// relative to the project directory. A task address is `<module file URL>#<export>`, and a module sits
// at a different absolute path on each machine, so the server sends `tasks.ts#add` and each side turns
// it into its own file URL; the two conversions are exact inverses for every file under the project.
// A deployed function's address names its bundle by content hash instead (`bundle:<sha256>#<export>`):
// the server's bundle is under .skein/deployments/, an agent's copy in its own cache directory. An
// async call of a function with process isolation or a memory limit is a job whose bundle URL carries
// them as a query (`bundle:<sha256>?isolation=process&memoryMb=256#<export>`, functionUrl), so each
// job says where it must run and the agent picks its pool by it; a job without one runs as before.

import { basename, dirname, isAbsolute, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { HeldStatus, JobRecord, SettleOutcome, StoredError } from '../../tasks/index.ts';
import type { AgentState } from '../agent-registry.ts';

/** A bundle's content hash: the SHA-256 of its bytes, 64 lowercase hex characters. */
export const BUNDLE_HASH = /^[0-9a-f]{64}$/;
const BUNDLE_FILE = /^([0-9a-f]{64})\.mjs$/;
const BUNDLE_ADDRESS = /^bundle:([0-9a-f]{64})(\?[A-Za-z0-9=&]+)?(#.+)$/;

/** Where an async call of a function runs: its isolation and heap limit (MiB, null: Node's default). */
export interface FunctionLimits {
  readonly isolation: 'thread' | 'process';
  readonly memoryMb: number | null;
}

/** A job without limits in its address runs as a plain thread of the agent's function pool. */
export const NO_FUNCTION_LIMITS: FunctionLimits = Object.freeze({ isolation: 'thread', memoryMb: null });

/**
 * The bundle URL an async call's task reference has: `url` with the limits as a query in one fixed
 * form (`?isolation=process&memoryMb=256`, each only when it is not the default), so equal limits give
 * equal addresses; no limits: `url` as it is.
 */
export function functionUrl(url: string, limits: FunctionLimits): string {
  const at = url.indexOf('?');
  const bare = at < 0 ? url : url.slice(0, at);
  const query = [
    ...(limits.isolation === 'process' ? ['isolation=process'] : []),
    ...(limits.memoryMb === null ? [] : [`memoryMb=${limits.memoryMb}`]),
  ].join('&');
  return query === '' ? bare : `${bare}?${query}`;
}

/** The limits a function URL carries (functionUrl); a URL without them: NO_FUNCTION_LIMITS. */
export function functionLimitsOf(url: string): FunctionLimits {
  const at = url.indexOf('?');
  if (at < 0) return NO_FUNCTION_LIMITS;
  const query = new URLSearchParams(url.slice(at + 1));
  const memory = Number(query.get('memoryMb'));
  return {
    isolation: query.get('isolation') === 'process' ? 'process' : 'thread',
    memoryMb: query.has('memoryMb') && Number.isSafeInteger(memory) && memory > 0 ? memory : null,
  };
}

/** Where one machine keeps what task addresses name: its project directory and its bundle files. */
export interface AddressBase {
  /** Task modules are at the same paths relative to this directory on every machine. */
  readonly projectDir: string;
  /** Bundles are `<sha256>.mjs` files here (the server's deployments, an agent's cache). */
  readonly bundleDir: string;
}

/**
 * `file:///srv/app/tasks.ts#add` → `tasks.ts#add` under `projectDir`; a bundle file of `bundleDir` →
 * `bundle:<sha256>#add` (its limits query kept); any other address is returned as it is.
 */
export function relativeAddress(address: string, base: AddressBase): string {
  const hash = address.lastIndexOf('#');
  if (hash < 0 || !address.startsWith('file:')) return address;
  const path = fileURLToPath(address.slice(0, hash));
  const bundle = BUNDLE_FILE.exec(basename(path));
  if (bundle !== null && dirname(path) === base.bundleDir) {
    const query = address.indexOf('?');
    const search = query < 0 || query > hash ? '' : address.slice(query, hash);
    return `bundle:${bundle[1]}${search}${address.slice(hash)}`;
  }
  const rel = relative(base.projectDir, path);
  if (rel === '' || rel.startsWith(`..${sep}`) || isAbsolute(rel)) return address;
  return `${rel.split(sep).join('/')}${address.slice(hash)}`;
}

/**
 * `tasks.ts#add` → the file URL of tasks.ts under `projectDir`, `#add`; `bundle:<sha256>#add` → the
 * file URL of that bundle in `bundleDir` (with its limits query, if any); any other absolute address
 * is returned as it is.
 */
export function absoluteAddress(address: string, base: AddressBase): string {
  const bundle = BUNDLE_ADDRESS.exec(address);
  if (bundle !== null) {
    const url = pathToFileURL(join(base.bundleDir, `${bundle[1]}.mjs`)).href;
    return `${url}${bundle[2] ?? ''}${bundle[3]}`;
  }
  const hash = address.lastIndexOf('#');
  if (hash < 0 || /^[A-Za-z][A-Za-z0-9+.-]*:/.test(address)) return address;
  return `${pathToFileURL(resolve(base.projectDir, address.slice(0, hash))).href}${address.slice(hash)}`;
}

/** The bundle hash a wire address names (`bundle:<sha256>#<export>`), or undefined. */
export function bundleOfAddress(address: string): string | undefined {
  return BUNDLE_ADDRESS.exec(address)?.[1];
}

function base64(bytes: Uint8Array | null): string | null {
  return bytes === null
    ? null
    : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64');
}

function bytesOf(text: string | null): Uint8Array | null {
  return text === null ? null : Buffer.from(text, 'base64');
}

/** A job as the agent routes carry it: the JobRecord, its bytes as base64 text (kept in step by type). */
export type JobWire = Omit<JobRecord, 'payload' | 'canvas' | 'result' | 'progress' | 'error'> & {
  readonly payload: string;
  readonly canvas: string | null;
  readonly result: string | null;
  readonly progress: string | null;
  readonly error: StoredErrorWire | null;
};

export interface StoredErrorWire {
  readonly name: string;
  readonly message: string;
  readonly stack?: string;
  readonly code?: string;
}

function errorToWire(error: StoredError): StoredErrorWire {
  return {
    name: error.name,
    message: error.message,
    ...(error.stack === undefined ? {} : { stack: error.stack }),
    ...(error.code === undefined ? {} : { code: error.code }),
  };
}

function errorFromWire(error: StoredErrorWire): StoredError {
  return { name: error.name, message: error.message, stack: error.stack, code: error.code };
}

export function jobToWire(job: JobRecord, base: AddressBase): JobWire {
  return {
    ...job,
    task: relativeAddress(job.task, base),
    payload: base64(job.payload)!,
    canvas: base64(job.canvas),
    result: base64(job.result),
    progress: base64(job.progress),
    error: job.error === null ? null : errorToWire(job.error),
  };
}

export function jobFromWire(job: JobWire, base: AddressBase): JobRecord {
  return {
    ...job,
    task: absoluteAddress(job.task, base),
    payload: bytesOf(job.payload)!,
    canvas: bytesOf(job.canvas),
    result: bytesOf(job.result),
    progress: bytesOf(job.progress),
    error: job.error === null ? null : errorFromWire(job.error),
  };
}

/** A settle outcome as the agent routes carry it (chord joins are not carried: see docs/cloud.md). */
export type OutcomeWire =
  | { readonly id: string; readonly kind: 'complete'; readonly result: string }
  | {
      readonly id: string;
      readonly kind: 'fail';
      readonly error: StoredErrorWire;
      readonly outcome: { readonly retryAt: number } | { readonly final: true };
    };

export function outcomeToWire(outcome: SettleOutcome): OutcomeWire {
  return outcome.kind === 'complete'
    ? { id: outcome.id, kind: 'complete', result: base64(outcome.result)! }
    : { id: outcome.id, kind: 'fail', error: errorToWire(outcome.error), outcome: outcome.outcome };
}

export function outcomeFromWire(outcome: OutcomeWire): SettleOutcome {
  return outcome.kind === 'complete'
    ? { id: outcome.id, kind: 'complete', result: bytesOf(outcome.result)! }
    : { id: outcome.id, kind: 'fail', error: errorFromWire(outcome.error), outcome: outcome.outcome };
}

// --- Requests and answers of the agent routes ----------------------------------------------------

export interface AgentRegisterRequest {
  readonly name: string;
  readonly host: string;
  readonly cores: number;
  readonly memory: number;
  readonly gpus: readonly string[];
  readonly labels: Readonly<Record<string, string>>;
  readonly concurrency: number;
  /** The agent's MPI rank host (skein worker --mpi-listen): where launchers reach it, and its token. */
  readonly mpi?: AgentMpi;
}

/** An agent's MPI rank host: an mpi-agent inside skein worker. */
export interface AgentMpi {
  /** "host:port" that launchers and the other ranks reach. */
  readonly address: string;
  /** The token launchers present; given out only by POST /api/mpi/placements. */
  readonly token: string;
}

/** What registration answers: the agent's id and the timing the server holds it to. */
export interface AgentRegistration {
  readonly id: string;
  readonly queue: string;
  /** The lease of every job the agent claims, in ms (the server's --lease-timeout). */
  readonly leaseTimeout: number;
  /** How often the agent must heartbeat, in ms (a third of the agent timeout). */
  readonly heartbeatInterval: number;
  /** No heartbeat for this long and the agent is lost, in ms. */
  readonly agentTimeout: number;
  /** The tasks jobs were submitted for so far, by project-relative module and export. */
  readonly tasks: readonly { readonly module: string; readonly export: string }[];
  /**
   * Every version of every deployed function, by bundle hash and export: their jobs' addresses are
   * `bundle:<hash>#<export>`, and the agent fetches a bundle (GET /api/bundles/<hash>) when it claims
   * its first job of it.
   */
  readonly functions: readonly AgentFunction[];
}

/**
 * A deployed function version an agent may serve: the bundle's SHA-256 and the export, and, for a
 * version with process isolation or a memory limit, those: its async calls' jobs are
 * `bundle:<hash>?isolation=process&memoryMb=<n>#<export>` (functionUrl), run on a pool with them. Such
 * a version is listed twice, with and without them (the second for jobs stored before they travelled).
 */
export interface AgentFunction {
  readonly hash: string;
  readonly export: string;
  readonly isolation?: 'process';
  readonly memoryMb?: number;
}

export interface AgentHeartbeatRequest {
  /** Jobs the agent holds now. */
  readonly running: readonly string[];
}

export interface AgentHeartbeatAnswer {
  readonly tasks: AgentRegistration['tasks'];
  readonly functions: AgentRegistration['functions'];
}

export interface AgentClaimRequest {
  readonly workerId: string;
  readonly outcomes: readonly OutcomeWire[];
  readonly claim: {
    readonly queue: string;
    readonly max: number;
    readonly tasks: readonly string[];
    readonly concurrency?: Readonly<Record<string, number>>;
  } | null;
}

export interface AgentClaimAnswer {
  readonly settled: readonly boolean[];
  readonly claimed: readonly JobWire[];
}

export interface AgentHeldAnswer {
  readonly statuses: readonly HeldStatus[];
}

/** One agent as GET /api/agents shows it. */
export interface AgentView {
  readonly id: string;
  readonly name: string;
  readonly state: AgentState;
  readonly host: string;
  readonly cores: number;
  readonly memory: number;
  readonly gpus: readonly string[];
  readonly labels: Readonly<Record<string, string>>;
  readonly concurrency: number;
  readonly runningJobs: readonly string[];
  readonly registeredAt: number;
  readonly lastHeartbeat: number;
  /** The address of its MPI rank host, when it has one (never its token). */
  readonly mpi?: string;
}

/** POST /api/mpi/placements: hosts for an MPI job of `ranks` ranks. */
export interface MpiPlacementRequest {
  readonly ranks: number;
}

/** One host of a placement: an agent's MPI rank host and the ranks it has room for. */
export interface MpiPlacementHost {
  readonly agent: string;
  readonly name: string;
  readonly address: string;
  readonly token: string;
  /** Free slots: the agent's concurrency less the jobs it runs. */
  readonly slots: number;
}

export interface MpiPlacement {
  /** Live agents with an MPI rank host, most free slots first. */
  readonly hosts: readonly MpiPlacementHost[];
}

// --- Schemas -------------------------------------------------------------------------------------

const ID = { type: 'string', pattern: '^[A-Za-z0-9._:-]{1,128}$' } as const;
const JOB_ID = { type: 'string', pattern: '^[A-Za-z0-9-]{1,64}$' } as const;
const BASE64 = { type: 'string', maxLength: 64 * 1024 * 1024, pattern: '^[A-Za-z0-9+/]*={0,2}$' } as const;
const ADDRESS = { type: 'string', minLength: 1, maxLength: 2048 } as const;

export const BUNDLE_HASH_PARAMS = {
  type: 'object',
  additionalProperties: false,
  required: ['hash'],
  properties: {
    hash: { type: 'string', pattern: BUNDLE_HASH.source, description: "The bundle's SHA-256 (64 hex)." },
  },
} as const;

export const AGENT_ID_PARAMS = {
  type: 'object',
  additionalProperties: false,
  required: ['id'],
  properties: { id: { type: 'string', pattern: '^agent-[a-f0-9]{16}$', description: 'The agent id.' } },
} as const;

export const AGENT_REGISTER_BODY = {
  type: 'object',
  additionalProperties: false,
  required: ['name', 'host', 'cores', 'memory', 'gpus', 'labels', 'concurrency'],
  properties: {
    name: { type: 'string', minLength: 1, maxLength: 100, pattern: '^[\\x20-\\x7e]+$' },
    host: { type: 'string', minLength: 1, maxLength: 255, pattern: '^[\\x20-\\x7e]+$' },
    cores: { type: 'integer', minimum: 1, maximum: 65_536 },
    memory: { type: 'integer', minimum: 0, maximum: Number.MAX_SAFE_INTEGER },
    gpus: {
      type: 'array',
      maxItems: 64,
      items: { type: 'string', maxLength: 200, pattern: '^[\\x20-\\x7e]*$' },
    },
    labels: {
      type: 'object',
      maxProperties: 32,
      propertyNames: { pattern: '^[A-Za-z0-9_.-]{1,63}$' },
      additionalProperties: { type: 'string', maxLength: 200, pattern: '^[\\x20-\\x7e]*$' },
    },
    concurrency: { type: 'integer', minimum: 1, maximum: 1024 },
    mpi: {
      type: 'object',
      additionalProperties: false,
      required: ['address', 'token'],
      properties: {
        address: { type: 'string', maxLength: 300, pattern: '^(\\[[0-9a-fA-F:.]+\\]|[^:\\s]+):[0-9]{1,5}$' },
        token: { type: 'string', minLength: 8, maxLength: 200, pattern: '^[\\x21-\\x7e]+$' },
      },
    },
  },
} as const;

export const MPI_PLACEMENT_BODY = {
  type: 'object',
  additionalProperties: false,
  required: ['ranks'],
  properties: { ranks: { type: 'integer', minimum: 1, maximum: 4096 } },
} as const;

export const MPI_PLACEMENT = {
  type: 'object',
  properties: {
    hosts: {
      type: 'array',
      items: {
        type: 'object',
        properties: {
          agent: { type: 'string' },
          name: { type: 'string' },
          address: { type: 'string' },
          token: { type: 'string' },
          slots: { type: 'integer' },
        },
      },
    },
  },
} as const;

export const AGENT_HEARTBEAT_BODY = {
  type: 'object',
  additionalProperties: false,
  required: ['running'],
  properties: { running: { type: 'array', maxItems: 100_000, items: JOB_ID } },
} as const;

const STORED_ERROR = {
  type: 'object',
  additionalProperties: false,
  required: ['name', 'message'],
  properties: {
    name: { type: 'string', maxLength: 1000 },
    message: { type: 'string', maxLength: 1_000_000 },
    stack: { type: 'string', maxLength: 1_000_000 },
    code: { type: 'string', maxLength: 200 },
  },
} as const;

const OUTCOME = {
  oneOf: [
    {
      type: 'object',
      additionalProperties: false,
      required: ['id', 'kind', 'result'],
      properties: { id: JOB_ID, kind: { const: 'complete' }, result: BASE64 },
    },
    {
      type: 'object',
      additionalProperties: false,
      required: ['id', 'kind', 'error', 'outcome'],
      properties: {
        id: JOB_ID,
        kind: { const: 'fail' },
        error: STORED_ERROR,
        outcome: {
          oneOf: [
            {
              type: 'object',
              additionalProperties: false,
              required: ['retryAt'],
              properties: { retryAt: { type: 'integer', minimum: 0 } },
            },
            {
              type: 'object',
              additionalProperties: false,
              required: ['final'],
              properties: { final: { const: true } },
            },
          ],
        },
      },
    },
  ],
} as const;

export const AGENT_CLAIM_BODY = {
  type: 'object',
  additionalProperties: false,
  required: ['workerId', 'outcomes', 'claim'],
  properties: {
    workerId: ID,
    outcomes: { type: 'array', maxItems: 10_000, items: OUTCOME },
    claim: {
      oneOf: [
        { type: 'null' },
        {
          type: 'object',
          additionalProperties: false,
          required: ['queue', 'max', 'tasks'],
          properties: {
            queue: { type: 'string', minLength: 1, maxLength: 200 },
            max: { type: 'integer', minimum: 0, maximum: 10_000 },
            tasks: { type: 'array', maxItems: 10_000, items: ADDRESS },
            concurrency: {
              type: 'object',
              maxProperties: 10_000,
              additionalProperties: { type: 'integer', minimum: 1 },
            },
          },
        },
      ],
    },
  },
} as const;

export const AGENT_LEASES_BODY = {
  type: 'object',
  additionalProperties: false,
  required: ['workerId', 'ids'],
  properties: { workerId: ID, ids: { type: 'array', maxItems: 100_000, items: JOB_ID } },
} as const;

export const AGENT_HELD_BODY = {
  type: 'object',
  additionalProperties: false,
  required: ['workerId', 'attempts'],
  properties: {
    workerId: ID,
    attempts: {
      type: 'array',
      maxItems: 100_000,
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['id', 'attempt'],
        properties: { id: JOB_ID, attempt: { type: 'integer', minimum: 0 } },
      },
    },
  },
} as const;

export const AGENT_JOB_BODY = {
  type: 'object',
  additionalProperties: false,
  required: ['workerId', 'id', 'action'],
  properties: {
    workerId: ID,
    id: JOB_ID,
    action: { type: 'string', enum: ['release', 'cancelled', 'progress'] },
    progress: BASE64,
  },
} as const;

export const AGENT_VIEW = {
  type: 'object',
  properties: {
    id: { type: 'string' },
    name: { type: 'string' },
    state: { type: 'string', enum: ['ready', 'busy', 'lost', 'stopped'] },
    host: { type: 'string' },
    cores: { type: 'integer' },
    memory: { type: 'integer', description: 'Bytes.' },
    gpus: { type: 'array', items: { type: 'string' } },
    labels: { type: 'object', additionalProperties: { type: 'string' } },
    concurrency: { type: 'integer' },
    runningJobs: { type: 'array', items: { type: 'string' } },
    registeredAt: { type: 'integer', description: 'Epoch ms.' },
    lastHeartbeat: { type: 'integer', description: 'Epoch ms.' },
    mpi: { type: 'string', description: 'Its MPI rank host ("host:port"), when it has one.' },
  },
} as const;
