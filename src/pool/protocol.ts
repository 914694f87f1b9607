// The wire protocol between a pool and its workers, shared by threads and processes. Tasks travel in
// batches of flat arrays (one message carries many tasks) because a message, not a task, is what costs.
// Every task a worker takes is answered exactly once: by a result, an error, or a skip.

/** What a task entry asks the worker to do. */
export const KIND_CALL = 0; // key names a function; args is the argument list
export const KIND_CHUNK = 1; // args is a list of items; the function is called once per item
export const KIND_STAR_CHUNK = 2; // args is a list of argument lists
export const KIND_ACTOR_NEW = 3; // key names a class; extra is the new actor's id
export const KIND_ACTOR_CALL = 4; // extra is [actorId, method]
export const KIND_ACTOR_FREE = 5; // extra is the actor's id

/** Flags on a task entry. */
export const FLAG_REPORT_START = 1; // flush results and say 'started' before running (timeouts, terminate-cancel)
export const FLAG_SHARED_ARGS = 2; // args hold handles of sync/channel objects to revive before running
export const FLAG_CAPTURE_OUTPUT = 4; // send what the task writes to stdout/stderr as 'output' messages

/** A task entry occupies this many slots of a batch: id, kind, key, args, extra, flags. */
export const TASK_STRIDE = 6;
/**
 * A result entry occupies this many slots: id, status, value, start (ns after the message's base), run
 * (ns). Whole nanoseconds stay small integers, which travel and land unboxed (milliseconds would not).
 */
export const RESULT_STRIDE = 5;

export const STATUS_OK = 0;
export const STATUS_ERROR = 1;
/** The task was cancelled or taken back before it started; it never ran. */
export const STATUS_SKIPPED = 2;

/** Slots of the Int32Array a thread worker shares with the pool. */
export const CONTROL_DOORBELL = 0; // bumped by the pool after each message; the parked worker waits on it
export const CONTROL_RUNNING = 1; // id + 1 of the task running now, 0 when none (written by the worker)
export const CONTROL_CANCEL = 2; // id + 1 of the last task whose cancellation was requested
export const CONTROL_LAST_STARTED = 3; // id + 1 of the last task started, kept after it ends
export const CONTROL_RESULTS = 4; // bumped by the worker after each message it posts to the pool
// 1 while the worker holds a lone task (a caller awaiting each call): idle, it spins and then sleeps
// until the next message, with no timeout; set back to 0 (with a doorbell) to send it to its event loop
export const CONTROL_LONE_CALLS = 5;
// 1 when the pool may be waiting on CONTROL_RESULTS (set before each Atomics.wait or waitAsync on it);
// the worker notifies only then, and clears it when it does (a notify wakes every waiter there is)
export const CONTROL_RESULTS_WAITERS = 6;
// 1 while the pool's thread is blocked for a lone result in its long sleep (a process on one CPU:
// thread-worker-handle.ts); a worker whose task turns to its event loop meanwhile rings the results
// doorbell so the pool stops waiting
export const CONTROL_POOL_BLOCKED = 7;
// 1 while a task of the worker waits on its event loop (it went async and was still pending when the
// loop came round), set before the worker looks at CONTROL_POOL_BLOCKED: of the two threads, either
// the pool sees this and does not sleep, or the worker sees the pool blocked and rings
export const CONTROL_ASYNC_WAITING = 8;
export const CONTROL_SLOTS = 9;

/** How a worker finds a function: by module and export, or by compiling a self-contained source. */
export type FunctionSpec =
  | { readonly type: 'export'; readonly moduleUrl: string; readonly exportName: string }
  | { readonly type: 'inline'; readonly source: string };

export interface InitMessage {
  readonly t: 'init';
  readonly workerId: number;
  readonly initializer: { readonly spec: FunctionSpec; readonly args: readonly unknown[] } | undefined;
  readonly reportHeap: boolean;
}

/** A batch of tasks; defs introduces keys the worker has not seen yet as [key, spec, key, spec, …]. */
export interface RunMessage {
  readonly t: 'run';
  readonly defs: unknown[] | undefined;
  readonly tasks: unknown[];
}

export interface CancelMessage {
  readonly t: 'cancel';
  readonly id: number;
  readonly reason: unknown;
}

/** Asks for unstarted tasks back (to run on an idle worker); each one taken back is answered 'skipped'. */
export interface StealMessage {
  readonly t: 'steal';
  readonly ids: readonly number[];
}

export interface StopMessage {
  readonly t: 'stop';
}

export type MainToWorker = InitMessage | RunMessage | CancelMessage | StealMessage | StopMessage;

export interface ReadyMessage {
  readonly t: 'ready';
  /** Set when the initializer failed: the serialized error. */
  readonly error?: unknown;
}

export interface ResultsMessage {
  readonly t: 'results';
  readonly results: unknown[];
  /** Epoch ms the start times in results count from; undefined when no entry ran. */
  readonly base?: number | undefined;
  /** heapUsed in bytes, when the pool recycles on heap size. */
  readonly heap?: number | undefined;
  /** Set when this flush precedes a task that asked to report its start. */
  readonly started?: number | undefined;
  readonly startedAt?: number | undefined;
}

export interface ProgressMessage {
  readonly t: 'progress';
  readonly id: number;
  readonly value: unknown;
}

/** Text a task that captures its output wrote to one stream (output-capture.ts), sent before its result. */
export interface OutputMessage {
  readonly t: 'output';
  readonly id: number;
  readonly stream: 'stdout' | 'stderr';
  readonly text: string;
}

/** A process child about to die of an uncaught error says which (threads report it as 'error'). */
export interface FatalMessage {
  readonly t: 'fatal';
  readonly error: unknown;
}

export type WorkerToMain = ReadyMessage | ResultsMessage | ProgressMessage | OutputMessage | FatalMessage;
