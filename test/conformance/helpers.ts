// Test-side helpers shared by the pool suites: a TCP gate that tasks block on until the test releases
// them (a handshake that works across threads and processes alike), bounded waits and settling.
// Every wait here is bounded so a bug fails the test fast instead of hanging the run.

import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** Generous bound for anything that should happen "soon": the 2-core test hosts stall at times. */
export const SOON_MS = 10_000;

/** Rejects with a named error when `promise` has not settled within `ms`. */
export async function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const expiry = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: not settled within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([promise, expiry]);
  } finally {
    clearTimeout(timer);
  }
}

export type Outcome<T> = { status: 'fulfilled'; value: T } | { status: 'rejected'; reason: unknown };

/** Settles a call that may throw synchronously or reject. */
export async function settle<T>(call: () => Promise<T> | T): Promise<Outcome<T>> {
  try {
    return { status: 'fulfilled', value: await call() };
  } catch (reason) {
    return { status: 'rejected', reason };
  }
}

/** The `code` of a thrown value, or undefined. */
export function codeOf(value: unknown): unknown {
  return typeof value === 'object' && value !== null ? (value as { code?: unknown }).code : undefined;
}

/**
 * A gate tasks block on: a task connects to `port` and waits for a byte. `connected(n)` resolves once
 * n tasks are waiting; `release()` lets every waiting task (and every later one) through.
 */
export interface Gate {
  readonly port: number;
  connected(count: number): Promise<void>;
  release(): void;
  close(): Promise<void>;
}

export async function openGate(): Promise<Gate> {
  const sockets: Socket[] = [];
  const waiters: { count: number; resolve: () => void }[] = [];
  let released = false;
  let total = 0;
  const server: Server = createServer((socket) => {
    socket.on('error', () => {});
    sockets.push(socket);
    total++;
    if (released) socket.end('go');
    for (const waiter of waiters.filter((w) => total >= w.count)) {
      waiters.splice(waiters.indexOf(waiter), 1);
      waiter.resolve();
    }
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('gate: no TCP address');
  return {
    port: address.port,
    connected(count) {
      if (total >= count) return Promise.resolve();
      const { promise, resolve } = Promise.withResolvers<void>();
      waiters.push({ count, resolve });
      return within(promise, SOON_MS, `gate: ${count} task(s) connected`);
    },
    release() {
      released = true;
      for (const socket of sockets) if (!socket.destroyed) socket.end('go');
    },
    async close() {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** A fresh temporary directory, removed by the returned disposer. */
export function tempDir(): { path: string; remove(): void } {
  const path = mkdtempSync(join(tmpdir(), 'skein-test-'));
  return { path, remove: () => rmSync(path, { recursive: true, force: true }) };
}

/** Resolves with the first value `onProgress` receives. */
export function firstProgress<T = unknown>(): { onProgress: (value: unknown) => void; next: Promise<T> } {
  const { promise, resolve } = Promise.withResolvers<T>();
  const next = within(promise, SOON_MS, 'first progress value');
  // Handled now so a test that fails before awaiting it does not leak an unhandled rejection.
  next.catch(() => {});
  return { onProgress: (value) => resolve(value as T), next };
}

/** What runCancellable returns: the call's outcome, the task's first progress value, its controller. */
export interface RunningCall<P, R> {
  readonly call: Promise<Outcome<R>>;
  readonly ready: P;
  readonly controller: AbortController;
}

/**
 * Submits a task that reports progress once running, with a fresh AbortController's signal and any
 * extra options, and resolves once the task said it runs: the handshake before a cancel.
 */
export async function runCancellable<P, R = unknown>(
  submit: (options: { signal: AbortSignal; onProgress: (value: unknown) => void }) => Promise<R>,
): Promise<RunningCall<P, R>> {
  const progress = firstProgress<P>();
  const controller = new AbortController();
  const call = settle(() => submit({ signal: controller.signal, onProgress: progress.onProgress }));
  return { call, ready: await progress.next, controller };
}

/** Destroys the pool when the test ends, pass or fail, so no worker outlives its test. */
export function destroyAfter<T extends { destroy(): Promise<void> }>(
  t: { after(fn: () => unknown): void },
  pool: T,
): T {
  t.after(() => pool.destroy());
  return pool;
}

/** True while a process with this pid exists (kill(pid, 0) succeeds). */
export function processExists(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    if (codeOf(error) === 'ESRCH') return false;
    throw error;
  }
}

/** Sorts numbers ascending into a new array (multiset comparisons). */
export function sortedNumbers(values: Iterable<number>): number[] {
  return [...values].sort((a, b) => a - b);
}

export function range(count: number, start = 0): number[] {
  return Array.from({ length: count }, (_, i) => start + i);
}
