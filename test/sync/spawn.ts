// Starts a worker fixture (a plain worker_threads script, not a pool task) with workerData, and settles
// with the last message it posted once it exits with code 0; rejects on an error or another exit code.

import { Worker } from 'node:worker_threads';

export interface Spawned<T> {
  readonly worker: Worker;
  /** The last message the worker posted, once it has exited cleanly. */
  readonly done: Promise<T>;
}

export function spawn<T = unknown>(fixture: string, workerData: unknown): Spawned<T> {
  const worker = new Worker(new URL(`../fixtures/${fixture}`, import.meta.url), { workerData });
  const done = new Promise<T>((resolve, reject) => {
    let last: T | undefined;
    let failure: unknown;
    worker.on('message', (message: T) => {
      last = message;
    });
    worker.on('error', (error) => {
      failure = error;
    });
    worker.on('exit', (code) => {
      if (failure !== undefined) reject(failure);
      else if (code !== 0) reject(new Error(`${fixture} exited with code ${code}`));
      else resolve(last as T);
    });
  });
  // Callers that only care about the worker's death (terminate tests) need not await `done`.
  done.catch(() => {});
  return { worker, done };
}
