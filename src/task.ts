// The task reference: a typed function defined once in a module, runnable in this thread, on a pool,
// and later on the queue and the cloud. Workers find it by module URL and export name; no code is
// ever shipped in a message. The reference's export name is found lazily, once, after the module loaded.

import { AsyncLocalStorage } from 'node:async_hooks';
import { InvalidArgumentError, SkeinError } from './errors.ts';

const TASK_BRAND = Symbol.for('skein.task');
const ACTOR_BRAND = Symbol.for('skein.actor');

/** What a running task can see of its call: cancellation and a progress channel to the caller. */
export interface TaskContext {
  /** Aborted when the caller cancels the call or its timeout expires. */
  readonly signal: AbortSignal;
  /**
   * True once cancellation was requested, also inside a synchronous loop that never yields to the
   * event loop (read from shared memory). Checking it aborts `signal` too.
   */
  readonly cancelled: boolean;
  /** Throws the cancellation reason if cancellation was requested. */
  throwIfCancelled(): void;
  /** Sends a progress value to the caller's `onProgress` (structured-clone data). */
  progress(value: unknown): void;
  /** The pool's id of the worker running the task; -1 when called directly in this thread. */
  readonly workerId: number;
}

export interface TaskOptions {
  /** The export name, when it cannot be found by identity (a re-exported or renamed reference). */
  readonly name?: string;
}

/** A reference to a function exported by a module: call it to run here, pass it to a pool to run there. */
export interface Task<A extends unknown[] = unknown[], R = unknown> {
  (...args: A): R;
  readonly moduleUrl: string;
  /** The export name, once known (given in options or found on first use). */
  readonly exportName: string | undefined;
  readonly fn: (...args: A) => R;
}

interface TaskInternals {
  [TASK_BRAND]: true;
  moduleUrl: string;
  exportName: string | undefined;
  fn: (...args: unknown[]) => unknown;
}

const LOCAL_CONTEXT: TaskContext = Object.freeze({
  signal: new AbortController().signal,
  cancelled: false,
  throwIfCancelled() {},
  progress() {},
  workerId: -1,
});

/** Worker runtimes set the context of the task they run; outside a pool the local context applies. */
export const taskContextStorage: AsyncLocalStorage<TaskContext> = new AsyncLocalStorage<TaskContext>();

/**
 * The context of the task running now: its cancellation signal and progress channel. Outside a pool
 * (a direct call), a context whose signal never aborts and whose progress goes nowhere.
 * @example
 * export const crunch = task(import.meta, (n: number) => {
 *   const ctx = taskContext();
 *   for (let i = 0; i < n; i++) { ctx.throwIfCancelled(); ctx.progress(i / n); }
 * });
 */
export function taskContext(): TaskContext {
  return taskContextStorage.getStore() ?? LOCAL_CONTEXT;
}

function checkMeta(meta: unknown, what: string): string {
  const url = (meta as { url?: unknown } | null)?.url;
  if (typeof url !== 'string' || url === '') {
    throw new InvalidArgumentError(
      'SKEIN_TASK_INVALID',
      `${what}(import.meta, …) needs the defining module's import.meta as its first argument (got ${describe(meta)})`,
    );
  }
  return url;
}

/**
 * Defines a task: a function exported from a module that pools, queues and the cloud can run by
 * reference. Calling the reference runs the function here.
 * @example
 * export const fib = task(import.meta, (n: number): number => (n < 2 ? n : fib.fn(n - 1) + fib.fn(n - 2)));
 * await pool.run(fib, 30);
 * @throws SKEIN_TASK_INVALID when the first argument is not import.meta or the second not a function.
 */
export function task<A extends unknown[], R>(
  meta: ImportMeta | { readonly url: string },
  fn: (...args: A) => R,
  options: TaskOptions = {},
): Task<A, R> {
  const moduleUrl = checkMeta(meta, 'task');
  if (typeof fn !== 'function') {
    throw new InvalidArgumentError(
      'SKEIN_TASK_INVALID',
      `task(import.meta, fn) needs a function as fn (got ${describe(fn)})`,
    );
  }
  if (options.name !== undefined && (typeof options.name !== 'string' || options.name === '')) {
    throw new InvalidArgumentError(
      'SKEIN_TASK_INVALID',
      `task option name must be a non-empty string (got ${describe(options.name)})`,
    );
  }
  const reference = ((...args: A): R => fn(...args)) as Task<A, R> & TaskInternals;
  Object.defineProperties(reference, {
    [TASK_BRAND]: { value: true },
    moduleUrl: { value: moduleUrl, enumerable: true },
    exportName: { value: options.name, writable: true, enumerable: true },
    fn: { value: fn },
    name: { value: options.name || fn.name || 'task' },
  });
  return reference;
}

/** Marks a class as an actor: an object that lives in one worker behind a typed proxy (pool.actor). */
export type ActorClass<T = object, A extends unknown[] = never[]> = (new (
  ...args: A
) => T) & {
  readonly [ACTOR_BRAND]?: ActorInfo;
};

interface ActorInfo {
  moduleUrl: string;
  exportName: string | undefined;
}

/**
 * Declares a class whose instances can live in a worker; export it from its module.
 * @example
 * export const Counter = actor(import.meta, class Counter { n = 0; add(k: number) { return (this.n += k); } });
 * await using counter = await pool.actor(Counter);
 * @throws SKEIN_TASK_INVALID when the first argument is not import.meta or the second not a class.
 */
export function actor<C extends new (...args: never[]) => object>(
  meta: ImportMeta | { readonly url: string },
  Class: C,
  options: TaskOptions = {},
): C {
  const moduleUrl = checkMeta(meta, 'actor');
  if (typeof Class !== 'function' || Class.prototype === undefined) {
    throw new InvalidArgumentError(
      'SKEIN_TASK_INVALID',
      `actor(import.meta, Class) needs a class as Class (got ${describe(Class)})`,
    );
  }
  const info: ActorInfo = { moduleUrl, exportName: options.name };
  Object.defineProperty(Class, ACTOR_BRAND, { value: info });
  return Class;
}

export function isTask(value: unknown): value is Task<unknown[], unknown> {
  return typeof value === 'function' && (value as Partial<TaskInternals>)[TASK_BRAND] === true;
}

export function actorInfo(value: unknown): ActorInfo | undefined {
  return typeof value === 'function' ? (value as { [ACTOR_BRAND]?: ActorInfo })[ACTOR_BRAND] : undefined;
}

/**
 * Finds the export name of a task or actor class by identity in its module's namespace, once.
 * @throws SKEIN_TASK_NOT_EXPORTED when the module does not export the reference.
 */
export async function resolveExportName(
  value: object,
  moduleUrl: string,
  known: string | undefined,
): Promise<string> {
  if (known !== undefined) return known;
  const namespace = (await import(moduleUrl)) as Record<string, unknown>;
  for (const key of Object.keys(namespace)) {
    if (namespace[key] === value) return key;
  }
  throw new SkeinError(
    'SKEIN_TASK_NOT_EXPORTED',
    `${moduleUrl} does not export this task or actor; export it (export const x = task(import.meta, …)) or pass { name }`,
  );
}

/** Remembers a found export name on the reference so later calls skip the lookup. */
export function rememberExportName(value: object, name: string): void {
  if (isTask(value)) (value as unknown as TaskInternals).exportName = name;
  else {
    const info = actorInfo(value);
    if (info !== undefined) info.exportName = name;
  }
}

export function describe(value: unknown): string {
  if (value === null) return 'null';
  if (typeof value === 'function') return `function ${value.name || '(anonymous)'}`;
  if (typeof value === 'object') return Object.prototype.toString.call(value);
  if (typeof value === 'string')
    return JSON.stringify(value.length > 60 ? `${value.slice(0, 57)}...` : value);
  return `${typeof value} ${String(value)}`;
}
