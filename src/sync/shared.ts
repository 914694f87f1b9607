// How a sync or channel object travels to another thread or process: it turns itself into a handle
// (plain, cloneable data: SharedArrayBuffers for the thread variants, a socket path and id for the
// process variants) and the receiver revives an object of the same kind over the same state.
// Invariant: a handle names the module that defines its kind, so any thread can revive it after one import.

import { InvalidArgumentError, SkeinError } from '../errors.ts';

/** The method a shareable object implements to describe itself as a handle. */
export const TO_HANDLE: unique symbol = Symbol.for('skein.toHandle') as never;

/** The key that marks a plain object as a handle; its value is the kind name. */
export const HANDLE_KIND = 'skein.shared';

/** Where a handle's state lives, which decides where it may travel. */
export type HandleScope = 'thread' | 'process';

/** A shareable object's description: plain data that survives structured clone and JSON (process scope). */
export interface SharedHandle {
  readonly [HANDLE_KIND]: string;
  /** The module that defines the kind: importing it registers the reviver. */
  readonly module: string;
  readonly scope: HandleScope;
  readonly [field: string]: unknown;
}

/** An object that can be handed to other threads (or processes) as a handle. */
export interface Shareable {
  [TO_HANDLE](): SharedHandle;
}

type Reviver = (handle: SharedHandle) => unknown;
const revivers = new Map<string, Reviver>();

/** Registers how to rebuild objects of `kind`; each kind's module calls this once when it loads. */
export function registerKind(kind: string, revive: Reviver): void {
  revivers.set(kind, revive);
}

export function isShareable(value: unknown): value is Shareable {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as Partial<Shareable>)[TO_HANDLE] === 'function'
  );
}

export function isHandle(value: unknown): value is SharedHandle {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as Record<string, unknown>)[HANDLE_KIND] === 'string'
  );
}

/**
 * The handle of a shareable object, to pass by hand (workerData, postMessage, a child's IPC).
 * @example
 * new Worker(file, { workerData: { lock: toHandle(lock) } }); // in the worker: fromHandle(workerData.lock)
 * @throws InvalidArgumentError SKEIN_SYNC_INVALID_ARGUMENT when the value is not a Skein sync or channel object.
 */
export function toHandle(object: Shareable): SharedHandle {
  if (!isShareable(object)) {
    throw new InvalidArgumentError(
      'SKEIN_SYNC_INVALID_ARGUMENT',
      `toHandle() takes a Skein sync or channel object such as a Lock or Queue (got ${describe(object)})`,
    );
  }
  return object[TO_HANDLE]();
}

/**
 * Revives an object from its handle, in this thread or process. The kind's module must have been loaded
 * in this thread (importing skein/sync or skein/channel does it); use `fromHandleAsync` to import it.
 * @throws InvalidArgumentError SKEIN_SYNC_INVALID_ARGUMENT for anything that is not a handle.
 */
export function fromHandle<T = unknown>(handle: SharedHandle): T {
  const revive = reviverOf(handle);
  if (revive === undefined) {
    throw new InvalidArgumentError(
      'SKEIN_SYNC_INVALID_ARGUMENT',
      `No ${handle[HANDLE_KIND]} is known in this thread yet; import ${handle.module} first, or use fromHandleAsync()`,
    );
  }
  return revive(handle) as T;
}

/** Like fromHandle, importing the kind's module first when this thread has not loaded it yet. */
export async function fromHandleAsync<T = unknown>(handle: SharedHandle): Promise<T> {
  if (reviverOf(handle) === undefined) await import(handle.module);
  return fromHandle<T>(handle);
}

function reviverOf(handle: SharedHandle): Reviver | undefined {
  if (!isHandle(handle) || typeof handle.module !== 'string') {
    throw new InvalidArgumentError(
      'SKEIN_SYNC_INVALID_ARGUMENT',
      `fromHandle() takes what toHandle() returned (got ${describe(handle)})`,
    );
  }
  return revivers.get(handle[HANDLE_KIND]);
}

const MAX_PACK_DEPTH = 8;

/**
 * Replaces every shareable object inside `value` (itself, or nested in plain arrays and objects up to
 * MAX_PACK_DEPTH) by its handle. Returns `value` itself when there is none, so the common case copies
 * nothing. `crossProcess` refuses thread-scoped handles, whose shared memory cannot reach a process.
 */
export function packShared(value: unknown, crossProcess: boolean): unknown {
  return pack(value, crossProcess, 0);
}

function pack(value: unknown, crossProcess: boolean, depth: number): unknown {
  if (typeof value !== 'object' || value === null || depth > MAX_PACK_DEPTH) return value;
  if (isShareable(value)) {
    const handle = value[TO_HANDLE]();
    if (crossProcess && handle.scope === 'thread') {
      throw new SkeinError(
        'SKEIN_SYNC_FOREIGN_HANDLE',
        `A ${handle[HANDLE_KIND]} lives in this process's shared memory, which a child process cannot reach; create a Process${handle[HANDLE_KIND]} (skein/sync or skein/channel) to share it with processes`,
      );
    }
    return handle;
  }
  if (Array.isArray(value)) {
    let copy: unknown[] | undefined;
    for (let i = 0; i < value.length; i++) {
      const item: unknown = value[i];
      const packed = pack(item, crossProcess, depth + 1);
      if (packed !== item) {
        copy ??= value.slice();
        copy[i] = packed;
      }
    }
    return copy ?? value;
  }
  const proto: unknown = Object.getPrototypeOf(value);
  if (proto !== Object.prototype && proto !== null) return value;
  let copy: Record<string, unknown> | undefined;
  for (const key of Object.keys(value)) {
    const item = (value as Record<string, unknown>)[key];
    const packed = pack(item, crossProcess, depth + 1);
    if (packed !== item) {
      copy ??= { ...(value as Record<string, unknown>) };
      copy[key] = packed;
    }
  }
  return copy ?? value;
}

/** Whether packShared replaced anything in `value`: the receiver then has handles to revive. */
export function containsHandle(value: unknown, depth = 0): boolean {
  if (typeof value !== 'object' || value === null || depth > MAX_PACK_DEPTH) return false;
  if (isHandle(value)) return true;
  if (Array.isArray(value)) return value.some((item) => containsHandle(item, depth + 1));
  const proto: unknown = Object.getPrototypeOf(value);
  if (proto !== Object.prototype && proto !== null) return false;
  return Object.values(value).some((item) => containsHandle(item, depth + 1));
}

/** The inverse of packShared on the receiving side, importing kinds this thread has not loaded yet. */
export async function unpackShared(value: unknown): Promise<unknown> {
  for (const module of modulesToLoad(value)) await import(module);
  return unpack(value, 0);
}

/** The modules defining handle kinds inside `value` that this thread has not loaded yet. */
export function modulesToLoad(value: unknown): string[] {
  const modules = new Set<string>();
  collectUnknownModules(value, modules, 0);
  return [...modules];
}

/**
 * The inverse of packShared when every kind inside is loaded (see modulesToLoad): revives handles in
 * place in plain arrays and objects, which the receiver owns (they were just copied to it).
 */
export function unpackSharedLoaded(value: unknown): unknown {
  return unpack(value, 0);
}

function collectUnknownModules(value: unknown, into: Set<string>, depth: number): void {
  if (typeof value !== 'object' || value === null || depth > MAX_PACK_DEPTH) return;
  if (isHandle(value)) {
    if (!revivers.has(value[HANDLE_KIND])) into.add(value.module);
    return;
  }
  const proto: unknown = Object.getPrototypeOf(value);
  if (!Array.isArray(value) && proto !== Object.prototype && proto !== null) return;
  for (const item of Object.values(value)) collectUnknownModules(item, into, depth + 1);
}

function unpack(value: unknown, depth: number): unknown {
  if (typeof value !== 'object' || value === null || depth > MAX_PACK_DEPTH) return value;
  if (isHandle(value)) return fromHandle(value);
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) value[i] = unpack(value[i], depth + 1);
    return value;
  }
  const proto: unknown = Object.getPrototypeOf(value);
  if (proto !== Object.prototype && proto !== null) return value;
  const record = value as Record<string, unknown>;
  for (const key of Object.keys(record)) record[key] = unpack(record[key], depth + 1);
  return value;
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (typeof value === 'object') return (value as object).constructor?.name ?? 'an object';
  return typeof value === 'function' ? 'a function' : `${typeof value} ${String(value)}`;
}

/**
 * The Int32 cells of a thread-scoped handle, checked: a handle that crossed into another process (its
 * SharedArrayBuffer lost on the way) is refused with SKEIN_SYNC_FOREIGN_HANDLE rather than misread.
 */
export function sharedCells(handle: SharedHandle, cellCount: number): Int32Array {
  const buffer = handle.buffer;
  if (!(buffer instanceof SharedArrayBuffer)) {
    throw new SkeinError(
      'SKEIN_SYNC_FOREIGN_HANDLE',
      `This ${handle[HANDLE_KIND]} handle carries no shared memory (it was sent through a channel that copies, such as another process's IPC); thread variants work only within one process — use the Process${handle[HANDLE_KIND]} variant between processes`,
    );
  }
  if (buffer.byteLength < cellCount * 4) {
    throw new InvalidArgumentError(
      'SKEIN_SYNC_INVALID_ARGUMENT',
      `This ${handle[HANDLE_KIND]} handle's buffer holds ${buffer.byteLength} bytes, fewer than the ${cellCount * 4} it needs; pass what toHandle() returned, unchanged`,
    );
  }
  return new Int32Array(buffer);
}
