// A worker thread behind the WorkerHandle interface. Shares an Int32Array with the thread: a doorbell
// the parked thread waits on, the running task's id, and a cancellation flag.

import { Worker, type TransferListItem } from 'node:worker_threads';
import {
  CONTROL_CANCEL,
  CONTROL_DOORBELL,
  CONTROL_LAST_STARTED,
  CONTROL_RUNNING,
  CONTROL_SLOTS,
  type MainToWorker,
  type WorkerToMain,
} from './protocol.ts';
import type { WorkerHandle, WorkerHooks, WorkerSpawnOptions } from './worker-handle.ts';

const ENTRY = new URL('./entry/thread-worker.ts', import.meta.url);

export class ThreadWorkerHandle implements WorkerHandle {
  readonly #worker: Worker;
  readonly #control: Int32Array;
  readonly #exited: Promise<void>;

  constructor(options: WorkerSpawnOptions, hooks: WorkerHooks) {
    const control = new SharedArrayBuffer(CONTROL_SLOTS * Int32Array.BYTES_PER_ELEMENT);
    this.#control = new Int32Array(control);
    this.#worker = new Worker(ENTRY, {
      workerData: { control },
      name: `${options.name}-${options.workerId}`,
      env: options.env ?? process.env,
      execArgv: [...options.execArgv],
      resourceLimits: options.resourceLimits,
    });
    let error: Error | undefined;
    this.#worker.on('message', (message: WorkerToMain) => hooks.message(message));
    this.#worker.on('error', (thrown: Error) => {
      error = thrown;
    });
    this.#exited = new Promise((resolve) => {
      this.#worker.once('exit', (exitCode: number) => {
        hooks.exit({ exitCode, signal: null, error });
        resolve();
      });
    });
  }

  get pid(): number | undefined {
    return undefined;
  }

  send(message: MainToWorker, transfer: readonly TransferListItem[]): void {
    this.#worker.postMessage(message, transfer);
    Atomics.add(this.#control, CONTROL_DOORBELL, 1);
    Atomics.notify(this.#control, CONTROL_DOORBELL, 1);
  }

  requestCancel(id: number): void {
    Atomics.store(this.#control, CONTROL_CANCEL, id + 1);
  }

  runningTask(): number {
    return Atomics.load(this.#control, CONTROL_RUNNING) - 1;
  }

  lastStartedTask(): number {
    return Atomics.load(this.#control, CONTROL_LAST_STARTED) - 1;
  }

  kill(): Promise<void> {
    this.#worker.ref();
    void this.#worker.terminate();
    return this.#exited;
  }

  ref(): void {
    this.#worker.ref();
  }

  unref(): void {
    this.#worker.unref();
  }
}
