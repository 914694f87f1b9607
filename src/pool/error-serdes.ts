// Errors crossing a thread or process boundary keep their class name, message, stack, cause chain and
// own properties; Skein's own errors come back as their classes. Structured clone alone drops the class
// and own properties, so errors travel as plain records and are rebuilt here.

import { ERROR_CODES, errorFromCode, normalizeThrown } from '../errors.ts';

const SERIALIZED = '__skeinError';
const MAX_CAUSE_DEPTH = 8;

export interface SerializedError {
  readonly [SERIALIZED]: true;
  readonly name: string;
  readonly message: string;
  readonly stack: string | undefined;
  readonly code: string | undefined;
  /** A serialized error, or { value } for a non-Error cause. */
  readonly cause: SerializedError | { readonly value: unknown } | undefined;
  readonly props: Record<string, unknown>;
  readonly skein: boolean;
}

const SKIPPED_PROPS = new Set(['name', 'message', 'stack', 'cause']);

function cloneable(value: unknown): boolean {
  try {
    structuredClone(value);
    return true;
  } catch {
    return false;
  }
}

/** Turns any thrown value into a record that structured clone and the V8 serializer carry intact. */
export function serializeError(thrown: unknown, depth = 0): SerializedError {
  const error = normalizeThrown(thrown);
  const props: Record<string, unknown> = {};
  for (const key of Object.keys(error)) {
    if (SKIPPED_PROPS.has(key)) continue;
    const value = (error as unknown as Record<string, unknown>)[key];
    props[key] = cloneable(value) ? value : String(value);
  }
  let cause: SerializedError['cause'];
  if ('cause' in error && depth < MAX_CAUSE_DEPTH) {
    const raw = error.cause;
    if (raw instanceof Error) cause = serializeError(raw, depth + 1);
    else cause = { value: cloneable(raw) ? raw : String(raw) };
  }
  const code = (error as { code?: unknown }).code;
  return {
    [SERIALIZED]: true,
    name: error.name,
    message: error.message,
    stack: error.stack,
    code: typeof code === 'string' ? code : undefined,
    cause,
    props,
    skein: typeof code === 'string' && Object.hasOwn(ERROR_CODES, code) && error.constructor !== Error,
  };
}

export function isSerializedError(value: unknown): value is SerializedError {
  return (
    typeof value === 'object' && value !== null && (value as Record<string, unknown>)[SERIALIZED] === true
  );
}

const BUILTIN: Record<string, ErrorConstructor> = {
  Error,
  TypeError,
  RangeError,
  SyntaxError,
  ReferenceError,
  EvalError,
  URIError,
};
const namedClasses = new Map<string, ErrorConstructor>();

// A class per foreign name so err.name, err.constructor.name and the stack header all read e.g.
// "ValidationError" although the class itself lives only in the worker.
function classNamed(name: string): ErrorConstructor {
  const builtin = BUILTIN[name];
  if (builtin !== undefined) return builtin;
  let Class = namedClasses.get(name);
  if (Class === undefined) {
    Class = { [name]: class extends Error {} }[name] as unknown as ErrorConstructor;
    Object.defineProperty(Class.prototype, 'name', { value: name, writable: true, configurable: true });
    namedClasses.set(name, Class);
  }
  return Class;
}

/** Rebuilds an Error from its record. */
export function deserializeError(record: SerializedError): Error {
  const cause =
    record.cause === undefined
      ? undefined
      : isSerializedError(record.cause)
        ? deserializeError(record.cause)
        : (record.cause as { value: unknown }).value;
  let error: Error;
  if (record.skein && record.code !== undefined) {
    error = errorFromCode(record.code, record.message, {
      ...record.props,
      ...(record.cause === undefined ? {} : { cause }),
    });
  } else {
    const Class = classNamed(record.name);
    error = record.cause === undefined ? new Class(record.message) : new Class(record.message, { cause });
    if (record.name !== Class.name) {
      Object.defineProperty(error, 'name', { value: record.name, writable: true, configurable: true });
    }
    for (const [key, value] of Object.entries(record.props)) {
      Object.defineProperty(error, key, { value, writable: true, enumerable: true, configurable: true });
    }
  }
  if (record.stack !== undefined) {
    Object.defineProperty(error, 'stack', { value: record.stack, writable: true, configurable: true });
  }
  return error;
}
