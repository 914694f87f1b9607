// Which parts of an Error travel, and how the decoder rebuilds one: name, message, stack, cause and
// own enumerable properties (plus `code` and AggregateError's `errors` where they are not enumerable;
// an own enumerable `name`, as a class field makes, stays an own enumerable property).
// A rebuilt error is of the built-in class its name names, else an Error with that name; a SkeinError
// comes back as its own class through errorFromCode.

import { ERROR_CODES, errorFromCode } from '../errors.ts';

const SKIPPED_KEYS = new Set(['message', 'stack', 'cause']);

const BUILTIN_ERRORS: Readonly<Record<string, ErrorConstructor | undefined>> = Object.assign(
  Object.create(null) as Record<string, ErrorConstructor | undefined>,
  { Error, TypeError, RangeError, SyntaxError, ReferenceError, EvalError, URIError },
);

const isErrorCheck = (Error as { isError?: (value: unknown) => boolean }).isError;

/** True for an Error of any realm (Error.isError where the runtime has it). */
export function isError(value: object): value is Error {
  return isErrorCheck === undefined ? value instanceof Error : isErrorCheck(value);
}

/** The own properties that travel with an error besides its message, stack and cause. */
export function errorPropKeys(error: Error): string[] {
  const keys = Object.keys(error).filter((key) => !SKIPPED_KEYS.has(key));
  const extra = error as unknown as { code?: unknown; errors?: unknown };
  if (!keys.includes('code') && (typeof extra.code === 'string' || typeof extra.code === 'number'))
    keys.push('code');
  if (!keys.includes('errors') && error instanceof AggregateError && Array.isArray(extra.errors))
    keys.push('errors');
  return keys;
}

/** The name an error reports, as a string. */
export function errorName(error: Error): string {
  const name: unknown = error.name;
  return typeof name === 'string' ? name : String(name);
}

export interface ErrorParts {
  readonly name: string;
  readonly message: string;
  readonly stack: string | undefined;
  readonly hasCause: boolean;
  readonly cause: unknown;
  readonly props: Record<string, unknown> | undefined;
  readonly skein: boolean;
}

function define(target: object, key: string, value: unknown, enumerable: boolean): void {
  Object.defineProperty(target, key, { value, writable: true, enumerable, configurable: true });
}

/** Rebuilds an error from its decoded parts. */
export function buildError(parts: ErrorParts): Error {
  const { name, message, props } = parts;
  const code = props?.code;
  let error: Error;
  if (parts.skein && typeof code === 'string' && Object.hasOwn(ERROR_CODES, code)) {
    error = errorFromCode(code, message, parts.hasCause ? { ...props, cause: parts.cause } : { ...props });
  } else {
    const options = parts.hasCause ? { cause: parts.cause } : undefined;
    if (name === 'AggregateError') {
      const errors = props?.errors;
      error = new AggregateError(Array.isArray(errors) ? errors : [], message, options);
    } else {
      const Class = BUILTIN_ERRORS[name] ?? Error;
      error = new Class(message, options);
      if (Class === Error && name !== 'Error') define(error, 'name', name, false);
    }
    if (props !== undefined) {
      for (const key of Object.keys(props)) {
        define(error, key, props[key], !(key === 'errors' && error instanceof AggregateError));
      }
    }
  }
  if (parts.stack === undefined) delete error.stack;
  else define(error, 'stack', parts.stack, false);
  return error;
}
