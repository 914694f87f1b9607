// Helpers of the sync and channel conformance suites (lock.ts … pipe.ts): the other party — a pool of
// two workers shared by one test file's tests — the handshake that tells a task holds what it took, and
// checks of error codes. Every wait here is bounded, so a bug fails its test instead of hanging the run.

import assert from 'node:assert/strict';
import { after } from 'node:test';
import type { Executor, Runnable } from '../../src/pool/executor.ts';
import { codeOf, firstProgress, SOON_MS, settle, within } from './helpers.ts';

/** Per-test bound: a bug fails its test within this, not the whole run. */
export const T = { timeout: 20_000 };

/** The timeout of a wait that is meant to run out (ms): long enough to be waiting, short for the run. */
export const SHORT_MS = 30;

/** The timeout a task or a contender gives every wait that is meant to succeed (ms). */
export const WAIT_MS = SOON_MS;

/**
 * What a blocking form (acquire(), wait(), get(), recv()) does on the main thread when it would have to
 * wait: the thread variants block the thread until the timeout; the process variants throw
 * SKEIN_SYNC_WOULD_DEADLOCK, because the main thread runs their hub (docs/sync-processes.md, Limits).
 */
export type BlockingOnMain = 'waits' | 'would-deadlock';

/** The parties an implementation is shared with, and how its blocking forms behave on the main thread. */
export interface Parties {
  /** 'threads' or 'processes': what a pool worker is, for test names. */
  readonly workers: string;
  /** A pool of two workers of that kind, started on first use and destroyed after the test file. */
  readonly pool: () => Executor;
  readonly blockingOnMain: BlockingOnMain;
}

/**
 * A pool made on first use and destroyed once every test of the file ran: process workers take a while
 * to start on the 2-core hosts, so the file's tests share two of them.
 */
export function sharedPool(make: () => Executor): () => Executor {
  let pool: Executor | undefined;
  after(() => pool?.destroy());
  return () => {
    pool ??= make();
    return pool;
  };
}

/** A task running on a pool worker that has reported (as progress) that it reached its known point. */
export interface Started<R> {
  /** The task's first progress value. */
  readonly said: unknown;
  /** Settles with the task. */
  readonly done: Promise<Awaited<R>>;
}

/** Submits a task that reports progress at a known point, and resolves once it has. */
export async function startOn<A extends unknown[], R>(
  pool: Executor,
  task: Runnable<A, R>,
  ...args: A
): Promise<Started<R>> {
  const progress = firstProgress();
  const done = pool.submit(task, args, { onProgress: progress.onProgress });
  // Handled now so a test that fails before awaiting it leaks no unhandled rejection.
  done.catch(() => {});
  const said = await Promise.race([
    progress.next,
    done.then(() => assert.fail('task ended before its handshake')),
  ]);
  return { said, done: within(done, SOON_MS, 'task started by startOn') };
}

/** Asserts that `call` throws synchronously with `code`; returns the error. */
export function throwsCode(call: () => unknown, code: string, what = 'call'): unknown {
  try {
    call();
  } catch (error) {
    assert.equal(codeOf(error), code, `${what}: expected ${code}, got ${String(error)}`);
    return error;
  }
  assert.fail(`${what}: expected to throw ${code}, returned`);
}

/** Asserts that `call` (a promise, or a function that may throw or reject) fails with `code` soon. */
export async function rejectsCode(
  call: Promise<unknown> | (() => unknown),
  code: string,
  what = 'call',
): Promise<unknown> {
  const outcome = await within(
    settle(async () => (typeof call === 'function' ? call() : call)),
    SOON_MS,
    `${what} expected to fail with ${code}`,
  );
  assert.equal(outcome.status, 'rejected', `${what}: expected to fail with ${code}, it succeeded`);
  const reason = (outcome as { reason: unknown }).reason;
  assert.equal(codeOf(reason), code, `${what}: expected ${code}, got ${String(reason)}`);
  return reason;
}

/**
 * Checks the documented difference of a blocking form called on the main thread when it would wait:
 * `call` must pass a short timeout. Threads: it waits and throws SKEIN_TIMEOUT; processes: it refuses
 * with SKEIN_SYNC_WOULD_DEADLOCK.
 */
export function blockingOnMainFails(parties: Parties, call: () => unknown, what: string): unknown {
  const code = parties.blockingOnMain === 'waits' ? 'SKEIN_TIMEOUT' : 'SKEIN_SYNC_WOULD_DEADLOCK';
  return throwsCode(call, code, what);
}

/** Marks a promise as handled now (it is awaited later) and returns it unchanged. */
export function track<T>(promise: Promise<T>): Promise<T> {
  promise.catch(() => {});
  return promise;
}

/**
 * Resolves once `check()` holds, for state no cell or message reports (Barrier.nWaiting), looking again
 * every millisecond (the check decides, never the delay); bounded.
 */
export async function eventually(check: () => boolean, what: string, ms = SOON_MS): Promise<void> {
  const deadline = performance.now() + ms;
  while (!check()) {
    if (performance.now() > deadline) throw new Error(`${what}: still not true after ${ms} ms`);
    await new Promise((resolve) => setTimeout(resolve, 1));
  }
}
