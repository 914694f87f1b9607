// concurrent.futures parity for promises: as_completed and wait. Neither rejects because an awaited
// promise rejected; both can time out or be aborted, and stop listening when they do.

import { addAbortListener } from 'node:events';
import { abortErrorFrom, InvalidArgumentError, TimeoutError } from '../errors.ts';
import { describe } from '../task.ts';
import type { ReturnWhen } from './executor.ts';
import { checkDuration } from './options.ts';

export interface AsCompletedOptions {
  /** Milliseconds until the iterator throws TimeoutError for the promises still pending. */
  readonly timeout?: number;
  readonly signal?: AbortSignal;
}

export interface WaitOptions extends AsCompletedOptions {
  /** @defaultValue 'allCompleted' */
  readonly returnWhen?: ReturnWhen;
}

export interface WaitResult<T> {
  readonly done: Set<Promise<T>>;
  readonly notDone: Set<Promise<T>>;
}

function toArray<T>(promises: Iterable<Promise<T>>, caller: string): Promise<T>[] {
  if (
    promises === null ||
    typeof (promises as Partial<Iterable<unknown>>)?.[Symbol.iterator] !== 'function'
  ) {
    throw new InvalidArgumentError(
      'SKEIN_POOL_INVALID_OPTION',
      `${caller} needs an iterable of promises (got ${describe(promises)})`,
    );
  }
  return [...new Set(promises)].map((p) => (p instanceof Promise ? p : Promise.resolve(p)));
}

/** Waits for the first of: a settlement reported through `arm`, the deadline, the signal. */
function settleWithin(
  options: AsCompletedOptions,
  caller: string,
): { stop: Promise<Error>; dispose(): void } {
  const timeout =
    options.timeout === undefined
      ? Number.POSITIVE_INFINITY
      : checkDuration(`${caller} timeout`, options.timeout, 'omit it to wait forever');
  const { promise, resolve } = Promise.withResolvers<Error>();
  let timer: NodeJS.Timeout | undefined;
  if (Number.isFinite(timeout)) {
    timer = setTimeout(() => resolve(new TimeoutError(`${caller} timed out after ${timeout} ms`)), timeout);
  }
  const listener =
    options.signal === undefined
      ? undefined
      : addAbortListener(options.signal, () => resolve(abortErrorFrom(options.signal!)));
  return {
    stop: promise,
    dispose() {
      clearTimeout(timer);
      listener?.[Symbol.dispose]();
    },
  };
}

/**
 * Yields the given promises as they settle, each already settled (await it for its value or error).
 * An async generator would await each yielded promise, so this is a hand-written iterator.
 * @throws SKEIN_TIMEOUT when `timeout` passes first; SKEIN_ABORTED when `signal` aborts.
 * @example
 * for await (const done of asCompleted(urls.map((u) => pool.run(fetchTask, u)))) console.log(await done);
 */
export function asCompleted<T>(
  promises: Iterable<Promise<T>>,
  options: AsCompletedOptions = {},
): AsyncIterableIterator<Promise<T>> {
  const pending = toArray(promises, 'asCompleted');
  const aborted = options.signal?.aborted === true ? abortErrorFrom(options.signal) : undefined;
  const guard = aborted === undefined ? settleWithin(options, 'asCompleted') : undefined;
  const settled: Promise<T>[] = [];
  let wake: (() => void) | undefined;
  let yielded = 0;
  let finished = aborted !== undefined;
  for (const promise of pending) {
    const mark = () => {
      settled.push(promise);
      wake?.();
    };
    promise.then(mark, mark);
  }
  const finish = (): IteratorReturnResult<undefined> => {
    finished = true;
    guard?.dispose();
    return { done: true, value: undefined };
  };
  const iterator: AsyncIterableIterator<Promise<T>> = {
    async next(): Promise<IteratorResult<Promise<T>>> {
      if (aborted !== undefined && yielded === 0) {
        yielded = -1;
        throw aborted;
      }
      if (finished || yielded >= pending.length) return finish();
      while (settled.length === 0) {
        const arrived = new Promise<void>((resolve) => {
          wake = resolve;
        });
        const stop = await Promise.race([arrived.then(() => undefined), guard!.stop]);
        if (stop !== undefined) {
          finish();
          throw stop;
        }
      }
      yielded++;
      if (yielded >= pending.length) guard?.dispose();
      return { done: false, value: settled.shift()! };
    },
    async return(): Promise<IteratorResult<Promise<T>>> {
      return finish();
    },
    [Symbol.asyncIterator]() {
      return iterator;
    },
  };
  return iterator;
}

/**
 * Waits until the condition in `returnWhen` holds (or the timeout/abort), then partitions the promises.
 * Never rejects because a promise rejected; a timeout simply returns what is done by then.
 * @throws SKEIN_ABORTED when `signal` aborts.
 */
export async function wait<T>(
  promises: Iterable<Promise<T>>,
  options: WaitOptions = {},
): Promise<WaitResult<T>> {
  const all = toArray(promises, 'wait');
  const returnWhen = options.returnWhen ?? 'allCompleted';
  if (returnWhen !== 'allCompleted' && returnWhen !== 'firstCompleted' && returnWhen !== 'firstException') {
    throw new InvalidArgumentError(
      'SKEIN_POOL_INVALID_OPTION',
      `wait returnWhen must be 'allCompleted', 'firstCompleted' or 'firstException' (got ${describe(returnWhen)}); omit it for 'allCompleted'`,
    );
  }
  if (options.signal?.aborted) throw abortErrorFrom(options.signal);
  const done = new Set<Promise<T>>();
  const guard = settleWithin(options, 'wait');
  const { promise: condition, resolve } = Promise.withResolvers<undefined>();
  const check = (failed: boolean) => {
    if (
      returnWhen === 'firstCompleted' ||
      (returnWhen === 'firstException' && failed) ||
      done.size === all.length
    )
      resolve(undefined);
  };
  for (const promise of all) {
    promise.then(
      () => {
        done.add(promise);
        check(false);
      },
      () => {
        done.add(promise);
        check(true);
      },
    );
  }
  if (all.length === 0) resolve(undefined);
  try {
    const stop = await Promise.race([condition, guard.stop]);
    if (stop !== undefined && stop.name !== 'TimeoutError') throw stop;
  } finally {
    guard.dispose();
  }
  const snapshot = new Set(done);
  return { done: snapshot, notDone: new Set(all.filter((p) => !snapshot.has(p))) };
}
