// Every error Skein throws: one base class, a few subclasses callers branch on, and the table of codes.
// Codes are the API and never change; messages are prose that name the bad value and the way out.
// instanceof works across two installed copies and after an error crossed a thread or process boundary.

const ERROR_BRAND = Symbol.for('skein.error');

/** Every stable error code Skein throws, with a one-line meaning. docs/errors.md lists the same table. */
export const ERROR_CODES = Object.freeze({
  SKEIN_ABORTED: 'The operation was aborted through its AbortSignal.',
  SKEIN_TIMEOUT: 'The operation did not finish within its timeout.',
  SKEIN_INTERNAL: 'An invariant broke: this is a bug in Skein.',
  SKEIN_NON_ERROR_THROWN: 'User code threw a value that is not an Error; the value is in `cause`.',
  SKEIN_TASK_INVALID:
    'task() or actor() was called with something other than import.meta and a function or class.',
  SKEIN_TASK_NOT_EXPORTED: 'A task or actor reference is not exported by the module it was defined in.',
  SKEIN_POOL_INVALID_OPTION: 'A pool or call option has a wrong type or value.',
  SKEIN_POOL_INVALID_TASK:
    'What was passed to run is neither a task reference nor a self-contained function.',
  SKEIN_POOL_TASK_NOT_FOUND: 'A worker could not import the task module or find the export in it.',
  SKEIN_POOL_NOT_CLONEABLE: 'An argument or result cannot be copied to or from a worker.',
  SKEIN_POOL_QUEUE_FULL: 'The pool queue holds maxQueue tasks already.',
  SKEIN_POOL_CLOSED: 'The pool is closing or closed and takes no new work.',
  SKEIN_POOL_DESTROYED: 'The pool was destroyed while the task was queued or running.',
  SKEIN_POOL_WORKER_CRASHED:
    'The worker running the task died (uncaught error, exit, out of memory, signal).',
  SKEIN_POOL_ACTOR_RELEASED: 'A method was called on an actor that was already released.',
  SKEIN_POOL_ACTOR_METHOD: 'The actor has no method of that name.',
  SKEIN_CODEC_UNSUPPORTED:
    'A value of a type the codec cannot carry (function, symbol, class instance, cycle).',
  SKEIN_CODEC_CORRUPT: 'The bytes handed to the decoder are not a valid encoding.',
  SKEIN_SYNC_INVALID_ARGUMENT: 'A sync primitive got an invalid count, timeout, signal or option.',
  SKEIN_SYNC_NOT_OWNER: 'A lock was released by a thread that does not hold it.',
  SKEIN_SYNC_WOULD_DEADLOCK:
    'A wait that could never end: re-acquiring a held non-reentrant lock, or blocking the thread that serves a process object.',
  SKEIN_SYNC_OVER_RELEASE: 'A bounded semaphore was released more times than it was acquired.',
  SKEIN_SYNC_OWNER_DIED:
    'The thread or process holding a lock or permit died; it was recovered and may guard inconsistent state.',
  SKEIN_SYNC_BROKEN_BARRIER: 'The barrier was broken (reset, aborted or a wait timed out) while waiting.',
  SKEIN_SYNC_FOREIGN_HANDLE:
    'A shared-memory object reached a process its memory cannot reach; use the process variant.',
  SKEIN_SYNC_DISCONNECTED: 'The connection to the process that owns a process-shared object was lost.',
  SKEIN_CHANNEL_INVALID_ARGUMENT: 'A channel got an invalid capacity, size, timeout, signal or option.',
  SKEIN_CHANNEL_CLOSED: 'The channel is closed: no more puts, and gets fail once it is drained.',
  SKEIN_CHANNEL_FULL: 'A non-blocking put found the queue full.',
  SKEIN_CHANNEL_EMPTY: 'A non-blocking get found the queue empty.',
  SKEIN_CHANNEL_MESSAGE_TOO_LARGE: 'An encoded message is larger than the channel buffer can ever hold.',
  SKEIN_MPI_INVALID_ARGUMENT:
    'An MPI call got an invalid rank, tag, count, buffer, operation, communicator or option.',
  SKEIN_MPI_NOT_IN_RANK: 'world() was called outside a rank started by mpirun or skein mpirun.',
  SKEIN_MPI_ABORTED:
    'The MPI job was aborted: a rank threw, exited early or called abort(); `rank` names it.',
  SKEIN_MPI_DEADLOCK:
    'Every live rank waited on an MPI operation with no progress for deadlockTimeout; `pending` lists them.',
  SKEIN_MPI_TRUNCATED: 'A received message is larger than the receive buffer given for it.',
  SKEIN_MPI_TYPE_MISMATCH: 'A buffer receive matched a value message, or a buffer of another element type.',
  SKEIN_MPI_TRANSPORT: 'A rank could not reach a peer, the launcher or an mpi-agent, or lost the connection.',
  SKEIN_GPU_NO_ADAPTER:
    'No WebGPU adapter matched: no GPU driver and no software Vulkan (lavapipe), or none with the name asked for.',
  SKEIN_GPU_INVALID_ARGUMENT: 'A gpu call got an invalid shape, size, dtype name, option or binding.',
  SKEIN_GPU_SHAPE_MISMATCH:
    'Arrays or host data handed to one gpu operation have shapes that do not fit together.',
  SKEIN_GPU_DTYPE_MISMATCH: 'An array or host data has another element type than the operation needs.',
  SKEIN_GPU_DESTROYED:
    'A GPU array, kernel or device was used after destroy() (or its device was destroyed or lost).',
  SKEIN_GPU_UNSUPPORTED:
    'The adapter lacks a feature the call needs (f16 arrays, subgroups, timestamp queries).',
  SKEIN_GPU_BUFFER_TOO_LARGE: 'An array needs more bytes than one storage binding of the adapter allows.',
  SKEIN_GPU_COMPILE:
    'WGSL failed to compile or a compute pipeline could not be built; the error names line and column.',
  SKEIN_GPU_VALIDATION:
    'The GPU refused submitted work (Dawn validation, e.g. a binding smaller than the kernel declares); it did not run.',
  SKEIN_TASKS_INVALID_TASK: 'What was passed to the queue or a worker is not a task reference.',
  SKEIN_TASKS_INVALID_CRON: 'A cron expression could not be parsed or never fires.',
  SKEIN_TASKS_NOT_ENCODABLE:
    'A job argument, result or progress value cannot be stored (function, symbol, class instance).',
  SKEIN_TASKS_UNKNOWN_TASK:
    'The worker that claimed the job has no task of that address; the job was dead-lettered.',
  SKEIN_TASKS_CORRUPT_PAYLOAD: 'A stored job payload could not be decoded; the job was dead-lettered.',
  SKEIN_TASKS_JOB_FAILED: 'The job ended failed or dead; `cause` is the error of its last attempt.',
  SKEIN_TASKS_JOB_CANCELLED: 'The job was cancelled before it finished.',
  SKEIN_TASKS_LEASE_EXPIRED: 'The worker lost the lease of a running job; another worker may run it.',
  SKEIN_TASKS_CLOSED: 'The task queue, worker or scheduler is closing or closed and takes no new work.',
  SKEIN_TASKS_INVALID_OPTION: 'A task queue, worker or broker option has a wrong type or value.',
  SKEIN_TASKS_BROKER_UNAVAILABLE:
    'The broker cannot reach its store (Redis down, restarting, read-only or out of memory) or was closed.',
  SKEIN_TASKS_JOB_NOT_FOUND: 'No job with that id exists (never enqueued, or purged after its result TTL).',
  SKEIN_TASKS_STORAGE:
    'The SQLite store failed: disk full, file read-only or damaged, or locked past busyTimeout.',
  SKEIN_CLOUD_INVALID_OPTION: 'A cloud server or client option has a wrong type or value.',
  SKEIN_CLOUD_INSECURE_BIND:
    'The server was asked to listen on a non-loopback address without the explicit flag that allows it.',
  SKEIN_CLOUD_UNAUTHORIZED:
    'The API call carried no bearer token, or one that is unknown or revoked (HTTP 401).',
  SKEIN_CLOUD_FORBIDDEN: "The API call's token lacks the scope the route requires (HTTP 403).",
  SKEIN_CLOUD_RATE_LIMITED:
    'Too many failed authentications from this client address; retry later (HTTP 429).',
  SKEIN_CLOUD_INVALID_REQUEST:
    'The request is malformed: bad JSON, wrong media type, or a body, query or path that fails the route schema (HTTP 400).',
  SKEIN_CLOUD_PAYLOAD_TOO_LARGE: 'The request body is larger than the server accepts (HTTP 413).',
  SKEIN_CLOUD_ROUTE_NOT_FOUND: 'No API route has that method and path (HTTP 404).',
  SKEIN_CLOUD_MODULE_REFUSED:
    'A task module path is absolute, a URL, outside the project directory, inside .skein/ or not a module file (HTTP 400).',
  SKEIN_CLOUD_TASK_NOT_FOUND:
    'The task module does not exist, fails to load, or has no exported task of that name (HTTP 404).',
  SKEIN_CLOUD_JOB_NOT_RETRYABLE: 'Only a dead or failed job can be retried (HTTP 409).',
  SKEIN_CLOUD_TOKEN_NOT_FOUND: 'No API token has that id (HTTP 404).',
  SKEIN_CLOUD_AGENT_NOT_FOUND:
    'No agent registered with this token has that id: it never registered, or another token did (HTTP 404).',
  SKEIN_CLOUD_BUNDLE_INVALID:
    'A module could not be bundled, or a deployed bundle does not match its hash, fails to load or exports no task (HTTP 400).',
  SKEIN_CLOUD_BUNDLE_NOT_FOUND:
    'No bundle with that SHA-256 was deployed to this server (HTTP 404 from GET /api/bundles/<hash>).',
  SKEIN_CLOUD_BUNDLE_MISMATCH:
    'A bundle an agent fetched (or found in its cache) does not hash to the SHA-256 that names it; the agent does not run it.',
  SKEIN_CLOUD_FUNCTION_NOT_FOUND:
    'No function has that name, or the function never had the bundle hash a rollback names (HTTP 404).',
  SKEIN_CLOUD_FUNCTION_BUSY:
    'The function runs as many calls as its concurrency limit allows and its queue is full; retry after Retry-After seconds (HTTP 429).',
  SKEIN_CLOUD_NO_AGENT:
    'A function call must run on an agent (the server runs no function code: --no-local-agent) and no agent is live; start `skein worker` and retry (HTTP 503).',
  SKEIN_CLOUD_FUNCTION_TIMEOUT:
    'The function ran past its wall-clock timeout and its worker thread was terminated or its process killed (HTTP 504).',
  SKEIN_CLOUD_FUNCTION_FAILED:
    "The function threw, or its worker died; the function's error is in `cause` (HTTP 502).",
  SKEIN_CLOUD_FUNCTION_OUT_OF_MEMORY:
    'The function used more memory than its memory limit; its worker thread or process was stopped and replaced (HTTP 502).',
  SKEIN_CLOUD_FUNCTION_SETTINGS_INVALID:
    "A function's settings (a module's `config` export or skein deploy's flags) are not valid (HTTP 400).",
  SKEIN_CLOUD_SCHEDULE_NOT_FOUND: 'No schedule has that name (HTTP 404).',
  SKEIN_CLOUD_SCHEDULE_EXISTS: 'A schedule of that name exists already (HTTP 409).',
  SKEIN_CLOUD_CLOSED: 'The cloud server is shutting down or closed and takes no new work (HTTP 503).',
  SKEIN_CLOUD_UNREACHABLE:
    'The client could not reach the server, or got an answer that is not the Skein API.',
  SKEIN_CLOUD_NO_CREDENTIALS:
    'The CLI found no server URL or token: no --server/--token, no SKEIN_SERVER/SKEIN_TOKEN, no .skein/credentials.json.',
});

export type ErrorCode = keyof typeof ERROR_CODES;

export interface SkeinErrorOptions {
  readonly cause?: unknown;
}

/**
 * Base class of every error Skein throws. Branch on `code`, never on the message.
 * @example
 * try { await pool.run(task) } catch (err) { if (err instanceof SkeinError && err.code === 'SKEIN_POOL_CLOSED') … }
 */
export class SkeinError extends Error {
  readonly code: ErrorCode;

  constructor(code: ErrorCode, message: string, options?: SkeinErrorOptions) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    Object.defineProperty(this, ERROR_BRAND, { value: code });
  }

  override get name(): string {
    return this.constructor.name;
  }

  // Two installed copies of Skein, or an error rebuilt after crossing a thread, still pass instanceof:
  // the check compares the brand (the code) against the codes the class stands for.
  static override [Symbol.hasInstance](value: unknown): boolean {
    if (typeof value !== 'object' || value === null) return false;
    const code = (value as Record<symbol, unknown>)[ERROR_BRAND];
    if (typeof code !== 'string') return false;
    // biome-ignore lint/complexity/noThisInStatic: `this` is the subclass being tested against, by design.
    const codes = (this as unknown as { codes?: readonly string[] }).codes;
    return codes === undefined || codes.includes(code);
  }
}

/** The operation was aborted; `cause` is the signal's reason. */
export class AbortError extends SkeinError {
  static readonly codes: readonly ErrorCode[] = ['SKEIN_ABORTED'];
  constructor(message = 'The operation was aborted', options?: SkeinErrorOptions) {
    super('SKEIN_ABORTED', message, options);
  }
}

/** The operation did not finish within its timeout. */
export class TimeoutError extends SkeinError {
  static readonly codes: readonly ErrorCode[] = ['SKEIN_TIMEOUT'];
  constructor(message: string, options?: SkeinErrorOptions) {
    super('SKEIN_TIMEOUT', message, options);
  }
}

/** Invalid input to a public API: an option, an argument, a task. */
export class InvalidArgumentError extends SkeinError {
  static readonly codes: readonly ErrorCode[] = [
    'SKEIN_TASK_INVALID',
    'SKEIN_POOL_INVALID_OPTION',
    'SKEIN_POOL_INVALID_TASK',
    'SKEIN_POOL_NOT_CLONEABLE',
    'SKEIN_CODEC_UNSUPPORTED',
    'SKEIN_SYNC_INVALID_ARGUMENT',
    'SKEIN_CHANNEL_INVALID_ARGUMENT',
    'SKEIN_CHANNEL_MESSAGE_TOO_LARGE',
    'SKEIN_MPI_INVALID_ARGUMENT',
    'SKEIN_GPU_INVALID_ARGUMENT',
    'SKEIN_GPU_SHAPE_MISMATCH',
    'SKEIN_GPU_DTYPE_MISMATCH',
    'SKEIN_TASKS_INVALID_TASK',
    'SKEIN_TASKS_INVALID_CRON',
    'SKEIN_TASKS_NOT_ENCODABLE',
    'SKEIN_TASKS_INVALID_OPTION',
    'SKEIN_CLOUD_INVALID_OPTION',
  ];
}

export interface WorkerCrashedErrorOptions extends SkeinErrorOptions {
  /** The worker's exit code, or null when it was killed by a signal. */
  readonly exitCode: number | null;
  /** The signal that killed a worker process, if any. */
  readonly signal?: string | null;
  /** The pool's id of the worker that died. */
  readonly workerId: number;
}

/** The worker running a task died before the task settled. The pool has already replaced it. */
export class WorkerCrashedError extends SkeinError {
  static readonly codes: readonly ErrorCode[] = ['SKEIN_POOL_WORKER_CRASHED'];
  readonly exitCode: number | null;
  readonly signal: string | null;
  readonly workerId: number;
  constructor(message: string, options: WorkerCrashedErrorOptions) {
    super('SKEIN_POOL_WORKER_CRASHED', message, options);
    this.exitCode = options.exitCode;
    this.signal = options.signal ?? null;
    this.workerId = options.workerId;
  }
}

/**
 * The thread or process that held a lock or semaphore permit died without releasing it. The acquirer
 * that noticed recovered the lock (it is free again, or for `acquire` returns held by the caller, see
 * each primitive); the state it guarded may be half-updated, so check it before trusting it.
 */
export class OwnerDiedError extends SkeinError {
  static readonly codes: readonly ErrorCode[] = ['SKEIN_SYNC_OWNER_DIED'];
  constructor(message: string, options?: SkeinErrorOptions) {
    super('SKEIN_SYNC_OWNER_DIED', message, options);
  }
}

/** A barrier was reset, aborted or timed out while (or before) this party waited on it. */
export class BrokenBarrierError extends SkeinError {
  static readonly codes: readonly ErrorCode[] = ['SKEIN_SYNC_BROKEN_BARRIER'];
  constructor(message: string, options?: SkeinErrorOptions) {
    super('SKEIN_SYNC_BROKEN_BARRIER', message, options);
  }
}

/** The channel is closed (Go's closed channel; a get fails only once everything put was taken). */
export class ChannelClosedError extends SkeinError {
  static readonly codes: readonly ErrorCode[] = ['SKEIN_CHANNEL_CLOSED'];
  constructor(message: string, options?: SkeinErrorOptions) {
    super('SKEIN_CHANNEL_CLOSED', message, options);
  }
}

/** A non-blocking put found the queue full (Python's queue.Full). */
export class QueueFullError extends SkeinError {
  static readonly codes: readonly ErrorCode[] = ['SKEIN_CHANNEL_FULL'];
  constructor(message: string, options?: SkeinErrorOptions) {
    super('SKEIN_CHANNEL_FULL', message, options);
  }
}

/** A non-blocking get found the queue empty (Python's queue.Empty). */
export class QueueEmptyError extends SkeinError {
  static readonly codes: readonly ErrorCode[] = ['SKEIN_CHANNEL_EMPTY'];
  constructor(message: string, options?: SkeinErrorOptions) {
    super('SKEIN_CHANNEL_EMPTY', message, options);
  }
}

/** A job ended failed or dead: `cause` is the error of its last attempt, rebuilt from the store. */
export class JobFailedError extends SkeinError {
  static readonly codes: readonly ErrorCode[] = ['SKEIN_TASKS_JOB_FAILED'];
  constructor(message: string, options?: SkeinErrorOptions) {
    super('SKEIN_TASKS_JOB_FAILED', message, options);
  }
}

/** A job was cancelled before it finished. */
export class JobCancelledError extends SkeinError {
  static readonly codes: readonly ErrorCode[] = ['SKEIN_TASKS_JOB_CANCELLED'];
  constructor(message: string, options?: SkeinErrorOptions) {
    super('SKEIN_TASKS_JOB_CANCELLED', message, options);
  }
}

export interface MpiAbortErrorOptions extends SkeinErrorOptions {
  /** The rank (in the world communicator) whose failure aborted the job. */
  readonly rank: number;
}

/** An MPI job was aborted because one rank threw, exited early or called abort(); `cause` is its error. */
export class MpiAbortError extends SkeinError {
  static readonly codes: readonly ErrorCode[] = ['SKEIN_MPI_ABORTED'];
  readonly rank: number;
  constructor(message: string, options: MpiAbortErrorOptions) {
    super('SKEIN_MPI_ABORTED', message, options);
    this.rank = options.rank;
  }
}

export interface DeadlockErrorOptions extends SkeinErrorOptions {
  /** Each blocked rank's pending operations, e.g. `{ rank: 0, operations: ['send(dest=1, tag=0, 1048576 B)'] }`. */
  readonly pending: readonly { readonly rank: number; readonly operations: readonly string[] }[];
}

/** Every live rank of an MPI job waited on an operation and none progressed for the deadlock timeout. */
export class DeadlockError extends SkeinError {
  static readonly codes: readonly ErrorCode[] = ['SKEIN_MPI_DEADLOCK'];
  readonly pending: DeadlockErrorOptions['pending'];
  constructor(message: string, options: DeadlockErrorOptions) {
    super('SKEIN_MPI_DEADLOCK', message, options);
    this.pending = options.pending;
  }
}

export interface KernelCompileErrorOptions extends SkeinErrorOptions {
  /** The kernel's name (for generated kernels, the generator and expression it came from). */
  readonly kernel?: string;
  /** 1-based line in the source the user wrote (the expression, for generated kernels); 0 if unknown. */
  readonly line?: number;
  /** 1-based column in that line; 0 if unknown. */
  readonly column?: number;
  /** The offending line of the user's source, shown with a caret in the message. */
  readonly sourceLine?: string;
}

/** WGSL failed to compile, or its compute pipeline could not be built. */
export class KernelCompileError extends SkeinError {
  static readonly codes: readonly ErrorCode[] = ['SKEIN_GPU_COMPILE'];
  readonly kernel: string;
  readonly line: number;
  readonly column: number;
  readonly sourceLine: string;
  constructor(message: string, options?: KernelCompileErrorOptions) {
    super('SKEIN_GPU_COMPILE', message, options);
    this.kernel = options?.kernel ?? '';
    this.line = options?.line ?? 0;
    this.column = options?.column ?? 0;
    this.sourceLine = options?.sourceLine ?? '';
  }
}

const CLASS_BY_CODE = new Map<string, new (message: string, options: never) => SkeinError>([
  ['SKEIN_ABORTED', AbortError as never],
  ['SKEIN_TIMEOUT', TimeoutError as never],
  ['SKEIN_POOL_WORKER_CRASHED', WorkerCrashedError as never],
  ['SKEIN_SYNC_OWNER_DIED', OwnerDiedError as never],
  ['SKEIN_SYNC_BROKEN_BARRIER', BrokenBarrierError as never],
  ['SKEIN_CHANNEL_CLOSED', ChannelClosedError as never],
  ['SKEIN_CHANNEL_FULL', QueueFullError as never],
  ['SKEIN_CHANNEL_EMPTY', QueueEmptyError as never],
  ['SKEIN_MPI_ABORTED', MpiAbortError as never],
  ['SKEIN_MPI_DEADLOCK', DeadlockError as never],
  ['SKEIN_TASKS_JOB_FAILED', JobFailedError as never],
  ['SKEIN_TASKS_JOB_CANCELLED', JobCancelledError as never],
  ['SKEIN_GPU_COMPILE', KernelCompileError as never],
]);

/**
 * Rebuilds a SkeinError of the right class from its code, message and extra fields: the one way
 * engines and workers turn codes into errors.
 */
export function errorFromCode(
  code: string,
  message: string,
  fields: Record<string, unknown> = {},
): SkeinError {
  if (!Object.hasOwn(ERROR_CODES, code)) {
    return new SkeinError('SKEIN_INTERNAL', `Unknown error code ${code}: ${message}; this is a bug in Skein`);
  }
  const Class = CLASS_BY_CODE.get(code);
  const error =
    Class === undefined
      ? InvalidArgumentError.codes.includes(code as ErrorCode)
        ? new InvalidArgumentError(code as ErrorCode, message, fields)
        : new SkeinError(code as ErrorCode, message, fields)
      : Class === WorkerCrashedError
        ? new WorkerCrashedError(message, fields as never)
        : new Class(message, fields as never);
  for (const [key, value] of Object.entries(fields)) {
    if (key !== 'cause' && !(key in error))
      Object.defineProperty(error, key, { value, enumerable: true, writable: true, configurable: true });
  }
  return error;
}

/** Wraps a thrown value that is not an Error so callers always get an Error; the value stays in `cause`. */
export function normalizeThrown(value: unknown): Error {
  if (value instanceof Error) return value;
  let shown: string;
  try {
    shown = typeof value === 'string' ? JSON.stringify(value) : String(value);
  } catch {
    shown = Object.prototype.toString.call(value);
  }
  return new SkeinError('SKEIN_NON_ERROR_THROWN', `Task threw a non-Error value: ${shown}`, { cause: value });
}

/** An AbortError carrying the signal's reason, or the reason itself when it already is a Skein timeout. */
export function abortErrorFrom(signal: AbortSignal): Error {
  const reason: unknown = signal.reason;
  if (reason instanceof SkeinError && (reason.code === 'SKEIN_TIMEOUT' || reason.code === 'SKEIN_ABORTED'))
    return reason;
  if (reason instanceof DOMException && reason.name === 'TimeoutError') {
    return new TimeoutError('The operation timed out through its AbortSignal', { cause: reason });
  }
  return new AbortError('The operation was aborted', { cause: reason });
}

/** An invariant broke. Never swallowed: callers rethrow it. */
export function internalError(what: string): SkeinError {
  return new SkeinError('SKEIN_INTERNAL', `${what}; this is a bug in Skein, please report it`);
}
