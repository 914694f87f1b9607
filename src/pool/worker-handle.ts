// What a pool needs from one worker, whatever it is: send, read where it stands after a crash, stop.
// ThreadWorkerHandle and ProcessWorkerHandle implement it; the pool never touches Worker or
// ChildProcess directly.

import type { TransferListItem } from 'node:worker_threads';
import type { MainToWorker, WorkerToMain } from './protocol.ts';

export interface WorkerExit {
  readonly exitCode: number | null;
  readonly signal: string | null;
  /** The uncaught error that ended the worker, when known. */
  readonly error: Error | undefined;
}

export interface WorkerHooks {
  message(message: WorkerToMain): void;
  /**
   * The answer to a lone call (lone-slot.ts): what a results message of that one entry would say
   * (times in ns, the start after `base`, epoch ms or undefined), without building one.
   */
  loneAnswer(
    id: number,
    status: number,
    value: unknown,
    startNs: number,
    runNs: number,
    base: number | undefined,
  ): void;
  exit(exit: WorkerExit): void;
}

export interface WorkerHandle {
  readonly pid: number | undefined;
  /** Throws synchronously when something in the message cannot be copied. */
  send(message: MainToWorker, transfer: readonly TransferListItem[]): void;
  /** Flags the task as cancelled where the running task can read it without its event loop. */
  requestCancel(id: number): void;
  /** The task running at the moment the worker stopped, or -1. Valid after exit. */
  runningTask(): number;
  /** The last task the worker started (running or done), or -1. Valid after exit. */
  lastStartedTask(): number;
  /** True when waitForResults can block for the worker's answer (threads, through shared memory). */
  readonly canWaitForResults: boolean;
  /**
   * Blocks the calling thread until `since + timeoutMs` (performance.now() times; `since` is at or just
   * before the call, so the first sleep can take timeoutMs without reading the clock) for the worker's
   * next message and handles it. `spin`: the call came right after the one before (spinning.ts,
   * BACK_TO_BACK_MS), so spinning before the first sleep may pay.
   */
  waitForResults(timeoutMs: number, since: number, spin: boolean): void;
  /**
   * Handles the batches of results that have arrived, without waiting and without the event loop,
   * up to the first message of another kind (those wait for the event loop: they run callbacks).
   * Does nothing where messages arrive only through the event loop (processes).
   */
  takeResults(): void;
  /**
   * Sends one plain call (KIND_CALL, no flags) through the worker's lone-call slot (lone-slot.ts)
   * instead of a message: only when its hand is empty and it was sent the function before. False,
   * sending nothing, when the arguments do not fit the slot. Absent where there is no slot (processes).
   */
  sendLone?(id: number, key: number, args: unknown): boolean;
  /**
   * Tells the worker whether it serves lone calls (it holds a lone task, so a caller is likely awaiting
   * each call): then, idle, it spins for the next message and sleeps until it comes. Off (it holds a
   * batch, or lone calls stopped coming) it spins not at all and returns to its event loop after a
   * short park; turning it off wakes a worker sleeping in lone mode.
   */
  setLoneCalls(on: boolean): void;
  /** Asks the worker to finish and exit by itself; kills it if it has not after graceMs. */
  stop(graceMs: number): Promise<void>;
  /** Stops the worker at once; resolves when it has exited. */
  kill(): Promise<void>;
  ref(): void;
  unref(): void;
}

export interface WorkerSpawnOptions {
  readonly workerId: number;
  readonly name: string;
  readonly env: Readonly<Record<string, string>> | undefined;
  readonly execArgv: readonly string[];
  readonly resourceLimits: {
    readonly maxOldGenerationSizeMb?: number;
    readonly maxYoungGenerationSizeMb?: number;
    readonly codeRangeSizeMb?: number;
    readonly stackSizeMb?: number;
  };
}

export type WorkerFactory = (options: WorkerSpawnOptions, hooks: WorkerHooks) => WorkerHandle;
