// Every blocking MPI call goes through waitTracked: it lists the operation in the rank's activity while
// it waits (so a deadlock report can name it) and applies the caller's signal and timeout.

import { addAbortListener } from 'node:events';
import { abortErrorFrom, InvalidArgumentError, TimeoutError } from '../errors.ts';
import type { Activity } from './activity.ts';

export interface WaitOptions {
  /** Aborts the wait (a pending receive is withdrawn). */
  readonly signal?: AbortSignal;
  /** Milliseconds to wait before rejecting with SKEIN_TIMEOUT. */
  readonly timeout?: number;
}

export function checkWaitOptions(options: WaitOptions, what: string): void {
  if (typeof options !== 'object' || options === null) {
    throw new InvalidArgumentError('SKEIN_MPI_INVALID_ARGUMENT', `${what} options must be an object`);
  }
  const { timeout, signal } = options;
  if (
    timeout !== undefined &&
    (typeof timeout !== 'number' || !(timeout >= 0) || !Number.isFinite(timeout))
  ) {
    throw new InvalidArgumentError(
      'SKEIN_MPI_INVALID_ARGUMENT',
      `${what} option timeout must be a finite number of milliseconds >= 0 (got ${String(timeout)}); omit it to wait without limit`,
    );
  }
  if (signal !== undefined && !(signal instanceof AbortSignal)) {
    throw new InvalidArgumentError(
      'SKEIN_MPI_INVALID_ARGUMENT',
      `${what} option signal must be an AbortSignal`,
    );
  }
}

/**
 * Throws SKEIN_ABORTED when the call's signal is already aborted: called before a send, receive or
 * collective has any effect, so such a call neither sends nor takes a message.
 */
export function throwIfAborted(options: WaitOptions): void {
  if (options.signal?.aborted === true) throw abortErrorFrom(options.signal);
}

export function waitTracked<T>(
  activity: Activity,
  description: string,
  promise: Promise<T>,
  options: WaitOptions,
  cancel?: () => void,
): Promise<T> {
  checkWaitOptions(options, description);
  const { signal, timeout } = options;
  if (signal?.aborted) {
    cancel?.();
    return Promise.reject(abortErrorFrom(signal));
  }
  const id = activity.begin(description);
  if (signal === undefined && timeout === undefined) {
    return promise.finally(() => activity.end(id));
  }
  return new Promise<T>((resolve, reject) => {
    let timer: ReturnType<typeof setTimeout> | undefined;
    let listener: Disposable | undefined;
    const done = (): void => {
      activity.end(id);
      if (timer !== undefined) clearTimeout(timer);
      listener?.[Symbol.dispose]();
    };
    if (timeout !== undefined) {
      timer = setTimeout(() => {
        done();
        cancel?.();
        reject(new TimeoutError(`${description} did not complete within ${timeout} ms`));
      }, timeout);
    }
    if (signal !== undefined) {
      listener = addAbortListener(signal, () => {
        done();
        cancel?.();
        reject(abortErrorFrom(signal));
      });
    }
    promise.then(
      (value) => {
        done();
        resolve(value);
      },
      (error: unknown) => {
        done();
        reject(error);
      },
    );
  });
}
