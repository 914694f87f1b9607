// Test-side helpers for the process-shared suites (sync and channel): fork a fixture module as a real
// child process, exchange IPC messages with bounded waits (handshakes, never sleeps), and make sure no
// child outlives its test.

import { type ChildProcess, fork } from 'node:child_process';
import { within } from '../conformance/helpers.ts';

/** Generous bound for anything that should happen "soon": the 2-core test hosts stall at times. */
export const SOON_MS = 15_000;

export interface Child {
  readonly process: ChildProcess;
  readonly pid: number;
  /** The next message the child sent (buffered), within SOON_MS. */
  next<T = unknown>(what: string): Promise<T>;
  send(message: unknown): void;
  /** Resolves with the exit code and signal once the child has exited. */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Waits for a clean exit (code 0) within SOON_MS. */
  finished(what: string): Promise<void>;
}

/**
 * Forks test/fixtures/<name> with the running Node (process.execPath), killed at the end of the test
 * if it is still alive.
 */
export function forkFixture(t: { after(fn: () => unknown): void }, name: string): Child {
  const child = fork(new URL(`../fixtures/${name}`, import.meta.url), [], {
    execPath: process.execPath,
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const inbox: unknown[] = [];
  const readers: ((message: unknown) => void)[] = [];
  child.on('message', (message) => {
    const reader = readers.shift();
    if (reader === undefined) inbox.push(message);
    else reader(message);
  });
  child.on('error', () => {}); // a send to a child that just died; the test sees it through `exited`
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.once('exit', (code, signal) => resolve({ code, signal }));
  });
  t.after(async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await exited;
  });
  return {
    process: child,
    pid: child.pid as number,
    next<T>(what: string): Promise<T> {
      if (inbox.length > 0) return Promise.resolve(inbox.shift() as T);
      const { promise, resolve } = Promise.withResolvers<unknown>();
      readers.push(resolve);
      const failed = exited.then(({ code, signal }) => {
        throw new Error(`${name} exited (code ${code}, signal ${signal}) before sending ${what}`);
      });
      return within(Promise.race([promise, failed]), SOON_MS, `${name}: ${what}`) as Promise<T>;
    },
    send(message: unknown): void {
      child.send(message as never);
    },
    exited,
    async finished(what: string): Promise<void> {
      const { code, signal } = await within(exited, SOON_MS, `${name}: ${what}`);
      if (code !== 0) throw new Error(`${name} exited with code ${code} (signal ${signal}) instead of 0`);
    },
  };
}
