// Thread identity and death notices, the basis of robust locks. A lock word holds its owner's token
// (threadId + 1, so 0 means "free"); when a worker exits, the thread that started it records the token in
// a process-wide table of recent exits, shared with every later worker through environment data.
// Invariant: a token is recorded only after its thread has exited, so "dead" is never a guess.

import { subscribe } from 'node:diagnostics_channel';
import { getEnvironmentData, setEnvironmentData, threadId, type Worker } from 'node:worker_threads';

const EXITED_TABLE_KEY = 'skein.sync.exitedThreads';
/** Exit notices kept: a token is forgotten only after this many later exits hash onto its slot. */
const EXITED_TABLE_SLOTS = 4096;

/** The largest token a lock word can hold: bit 30 is the waiters flag, bit 31 the sign. */
export const MAX_TOKEN = 0x3fff_ffff;

function exitedTable(): Int32Array {
  const inherited = getEnvironmentData(EXITED_TABLE_KEY);
  if (inherited instanceof SharedArrayBuffer) return new Int32Array(inherited);
  const buffer = new SharedArrayBuffer(EXITED_TABLE_SLOTS * Int32Array.BYTES_PER_ELEMENT);
  // Environment data is cloned into every worker started from here on; a cloned SharedArrayBuffer
  // shares its memory, so all threads of the process read and write one table.
  setEnvironmentData(EXITED_TABLE_KEY, buffer);
  return new Int32Array(buffer);
}

const exited = exitedTable();

/** This thread's token: what a lock word holds while this thread owns it. */
export const ownToken: number = threadId + 1;

/** The worker_threads threadId of a token's thread (0 is the main thread). */
export function threadIdOf(token: number): number {
  return token - 1;
}

/** Whether the thread owning `token` is known to have exited. */
export function isTokenDead(token: number): boolean {
  return token !== ownToken && Atomics.load(exited, token % EXITED_TABLE_SLOTS) === token;
}

/** Records that a worker thread exited; called from the thread that started it. */
export function recordThreadExit(exitedThreadId: number): void {
  const token = exitedThreadId + 1;
  if (token <= 0 || token > MAX_TOKEN) return;
  Atomics.store(exited, token % EXITED_TABLE_SLOTS, token);
}

// Node publishes every Worker created in this thread on this built-in channel; only the creating thread
// ever sees the worker's 'exit', so this is where a death becomes visible to lock waiters elsewhere.
// threadId reads -1 after exit, hence it is captured at creation.
subscribe('worker_threads', (message) => {
  const worker = (message as { worker: Worker }).worker;
  const id = worker.threadId;
  worker.once('exit', () => recordThreadExit(id));
});
