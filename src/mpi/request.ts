// A non-blocking operation in flight (isend, irecv, their buffer forms): wait() for its result, test()
// to look without waiting, and waitAll / waitAny over several. A request settles once; later calls see
// the same outcome.

import { InvalidArgumentError } from '../errors.ts';
import type { Activity } from './activity.ts';
import type { Status } from './status.ts';
import { type WaitOptions, waitTracked } from './waiting.ts';

export type TestResult<T> = { readonly done: true; readonly value: T } | { readonly done: false };

export class Request<T> {
  readonly #promise: Promise<T>;
  readonly #activity: Activity;
  readonly #description: string;
  readonly #cancel: () => boolean;
  #settled: 'pending' | 'fulfilled' | 'rejected' = 'pending';
  #value: T | undefined;
  #error: unknown;
  /** The received message's status, once an irecv completed; undefined for sends. */
  status: Status | undefined;

  /** @internal made by Communicator */
  constructor(
    promise: Promise<T>,
    activity: Activity,
    description: string,
    cancel: () => boolean = () => false,
  ) {
    this.#activity = activity;
    this.#description = description;
    this.#cancel = cancel;
    this.#promise = promise.then(
      (value) => {
        this.#settled = 'fulfilled';
        this.#value = value;
        return value;
      },
      (error: unknown) => {
        this.#settled = 'rejected';
        this.#error = error;
        throw error;
      },
    );
    // A request nobody waits on must not crash the rank with an unhandled rejection; wait() rethrows.
    this.#promise.catch(() => {});
  }

  /** Waits for the operation: the received value for irecv, undefined for isend. */
  wait(options: WaitOptions = {}): Promise<T> {
    if (this.#settled === 'fulfilled') return Promise.resolve(this.#value as T);
    if (this.#settled === 'rejected') return Promise.reject(this.#error);
    return waitTracked(this.#activity, `wait(${this.#description})`, this.#promise, options);
  }

  /** Whether it completed, with its value; throws the operation's error if it failed. */
  test(): TestResult<T> {
    if (this.#settled === 'fulfilled') return { done: true, value: this.#value as T };
    if (this.#settled === 'rejected') throw this.#error;
    return { done: false };
  }

  /** Cancels a receive that no message matched yet; true when it was cancelled. */
  cancel(): boolean {
    return this.#cancel();
  }

  /** @internal */
  get promise(): Promise<T> {
    return this.#promise;
  }

  /** @internal */
  get description(): string {
    return this.#description;
  }

  /** @internal */
  get activity(): Activity {
    return this.#activity;
  }
}

function checkRequests(requests: readonly Request<unknown>[], what: string): void {
  if (!Array.isArray(requests) || requests.some((request) => !(request instanceof Request))) {
    throw new InvalidArgumentError(
      'SKEIN_MPI_INVALID_ARGUMENT',
      `${what} needs an array of requests from isend/irecv (got ${Object.prototype.toString.call(requests)})`,
    );
  }
}

/**
 * Waits for every request; resolves with their values in order, rejects with the first failure.
 * @example const [a, b] = await waitAll([comm.irecv(0), comm.irecv(1)]);
 * @throws SKEIN_MPI_INVALID_ARGUMENT when given something other than requests.
 */
export function waitAll<T>(requests: readonly Request<T>[], options: WaitOptions = {}): Promise<T[]> {
  checkRequests(requests, 'waitAll');
  if (requests.length === 0) return Promise.resolve([]);
  const activity = requests[0]!.activity;
  const description = `waitAll(${requests.map((request) => request.description).join(', ')})`;
  return waitTracked(activity, description, Promise.all(requests.map((request) => request.promise)), options);
}

/**
 * Waits for the first request to complete; resolves with its index and value.
 * @throws SKEIN_MPI_INVALID_ARGUMENT when given no requests or something other than requests.
 */
export function waitAny<T>(
  requests: readonly Request<T>[],
  options: WaitOptions = {},
): Promise<{ index: number; value: T }> {
  checkRequests(requests, 'waitAny');
  if (requests.length === 0) {
    throw new InvalidArgumentError(
      'SKEIN_MPI_INVALID_ARGUMENT',
      'waitAny needs at least one request (got none)',
    );
  }
  const activity = requests[0]!.activity;
  const description = `waitAny(${requests.map((request) => request.description).join(', ')})`;
  const first = Promise.race(
    requests.map((request, index) => request.promise.then((value) => ({ index, value }))),
  );
  return waitTracked(activity, description, first, options);
}
