// A worker thread behind the WorkerHandle interface. Shares an Int32Array with the thread: a doorbell
// the parked thread waits on, a results doorbell the pool can block on, the running task's id, and a
// cancellation flag. Messages take the lanes in shared memory (lane.ts) when they can, else a port:
// the worker's own for tasks, a dedicated one for results, so results can be taken synchronously.

import { performance } from 'node:perf_hooks';
import { MessageChannel, type TransferListItem, Worker } from 'node:worker_threads';
import { createLaneBuffer, LaneReceiver, LaneSender, toMainLane, toWorkerLane } from './lane.ts';
import { messageFitsLane } from './lane-fit.ts';
import { createLoneSlot, LoneSlotCaller } from './lone-slot.ts';
import {
  CONTROL_ASYNC_WAITING,
  CONTROL_CANCEL,
  CONTROL_DOORBELL,
  CONTROL_LAST_STARTED,
  CONTROL_LONE_CALLS,
  CONTROL_POOL_BLOCKED,
  CONTROL_RESULTS,
  CONTROL_RESULTS_WAITERS,
  CONTROL_RUNNING,
  CONTROL_SLOTS,
  type MainToWorker,
  type WorkerToMain,
} from './protocol.ts';
import { ONE_CPU, SPIN_MS, SpinBackoff } from './spinning.ts';
import type { WorkerHandle, WorkerHooks, WorkerSpawnOptions } from './worker-handle.ts';

const ENTRY = new URL('./entry/thread-worker.ts', import.meta.url);
/**
 * On one CPU, the pool's thread sleeps for a lone result up to this long instead of blockingWaitTimeout.
 * A kernel sleep whose timeout fell before the scheduler's next tick (4 ms here) ended ~14 µs late in
 * one lone call of five on the development VM (pinned round trips: p90 19 against 6.5 µs, p50 5.0
 * against 4.85); 4 ms and longer, never. The wait still ends early: at the answer, at any other message
 * of the worker, and when the task turns to the worker's event loop (CONTROL_ASYNC_WAITING). Only a
 * task that computes for longer than that keeps this thread asleep past blockingWaitTimeout, and on one
 * CPU this thread would get little of it while such a task runs.
 */
const ONE_CPU_RESULT_WAIT_MS = 5;

export class ThreadWorkerHandle implements WorkerHandle {
  readonly #worker: Worker;
  readonly #control: Int32Array;
  readonly #exited: Promise<void>;
  readonly #sender: LaneSender;
  readonly #receiver: LaneReceiver;
  readonly #lone: LoneSlotCaller;
  readonly #hooks: WorkerHooks;
  /** The results doorbell as of the last synchronous drain. */
  #resultsSeen = 0;
  /** Whether waits for results spin first (spinning.ts). */
  readonly #spins = new SpinBackoff();
  #bellArmed = false;
  #gone = false;

  constructor(options: WorkerSpawnOptions, hooks: WorkerHooks) {
    const control = new SharedArrayBuffer(CONTROL_SLOTS * Int32Array.BYTES_PER_ELEMENT);
    this.#control = new Int32Array(control);
    const lanes = createLaneBuffer();
    const lone = createLoneSlot();
    this.#lone = new LoneSlotCaller(lone);
    this.#hooks = hooks;
    const { port1, port2 } = new MessageChannel();
    this.#receiver = new LaneReceiver(toMainLane(lanes), port1, (message) =>
      hooks.message(message as WorkerToMain),
    );
    this.#worker = new Worker(ENTRY, {
      workerData: { control, results: port2, lanes, lone },
      transferList: [port2],
      name: `${options.name}-${options.workerId}`,
      env: options.env ?? process.env,
      execArgv: [...options.execArgv],
      resourceLimits: options.resourceLimits,
    });
    this.#sender = new LaneSender(toWorkerLane(lanes), (message, transfer) =>
      this.#worker.postMessage(message, transfer),
    );
    port1.on('message', (message: unknown) => {
      this.#resultsSeen = Atomics.load(this.#control, CONTROL_RESULTS);
      this.#takeLone();
      this.#receiver.arrived(message);
    });
    // The worker's own ref state decides whether the process stays alive, not this port.
    port1.unref();
    let error: Error | undefined;
    this.#worker.on('error', (thrown: Error) => {
      error = thrown;
    });
    this.#exited = new Promise((resolve) => {
      this.#worker.once('exit', (exitCode: number) => {
        // Everything the worker posted before dying is handled before its exit.
        this.#resultsSeen = Atomics.load(this.#control, CONTROL_RESULTS);
        this.#takeLone();
        this.#receiver.takeAll();
        this.#gone = true;
        // Settles the pending Atomics.waitAsync, whose handler then stops.
        Atomics.notify(this.#control, CONTROL_RESULTS);
        port1.close();
        hooks.exit({ exitCode, signal: null, error });
        resolve();
      });
    });
    this.#armBell();
  }

  // One bump of the results doorbell since the last drain, and a lone call's answer in its slot: the
  // lanes are not looked at (the worker's drain says why that is safe).
  #drain(bell = Atomics.load(this.#control, CONTROL_RESULTS)): boolean {
    const single = bell === this.#resultsSeen + 1;
    this.#resultsSeen = bell;
    const took = this.#takeLone();
    if (took && single) return true;
    return this.#receiver.take() || took;
  }

  // The answer to a lone call, before the lane's messages (lone-slot.ts says why that order is right).
  #takeLone(): boolean {
    return this.#lone.take(this.#hooks);
  }

  // Results written to the lane while this thread is in its event loop wake it through this.
  #armBell(): void {
    if (this.#bellArmed || this.#gone) return;
    this.#bellArmed = true;
    // Said before the wait looks at the doorbell: a worker that rings it after that look sees this.
    Atomics.store(this.#control, CONTROL_RESULTS_WAITERS, 1);
    const wait = Atomics.waitAsync(this.#control, CONTROL_RESULTS, this.#resultsSeen);
    if (wait.async) void wait.value.then(this.#onBell);
    else queueMicrotask(this.#onBell);
  }

  readonly #onBell = (): void => {
    this.#bellArmed = false;
    if (this.#gone) return;
    if (Atomics.load(this.#control, CONTROL_RESULTS) !== this.#resultsSeen) this.#drain();
    this.#armBell();
  };

  get pid(): number | undefined {
    return undefined;
  }

  readonly canWaitForResults = true;

  /** Blocks this thread until since + timeoutMs for the worker's next message, then handles what arrived. */
  waitForResults(timeoutMs: number, since: number, spin: boolean): void {
    // An answer already there (a worker sharing this CPU ran while the task was handed over) costs no
    // clock read: at ~100 ns each here, the reads were a fair part of a lone call's own cost.
    let bell = Atomics.load(this.#control, CONTROL_RESULTS);
    if (bell !== this.#resultsSeen && this.#drain(bell)) return;
    if (ONE_CPU) {
      this.#sleepForResult(timeoutMs);
      return;
    }
    const spinMs = spin && this.#spins.maySpin() ? SPIN_MS : 0;
    if (spinMs === 0) {
      // No spin (one CPU, or backing off): the first sleep needs no clock either. It may end a few µs
      // past since + timeoutMs (since is when the call was sent, just before this); the clock is read
      // only if it ends without an answer (a timeout, or a message that was not one).
      Atomics.store(this.#control, CONTROL_RESULTS_WAITERS, 1);
      Atomics.wait(this.#control, CONTROL_RESULTS, this.#resultsSeen, timeoutMs);
      bell = Atomics.load(this.#control, CONTROL_RESULTS);
      if (bell !== this.#resultsSeen && this.#drain(bell)) return;
    }
    // #resultsSeen lags when results came through the event loop; a drain that finds nothing
    // refreshes it and the wait goes on until the deadline.
    const start = performance.now();
    const spinUntil = start + Math.min(spinMs, timeoutMs);
    const deadline = since + timeoutMs;
    let now = start;
    for (;;) {
      if (now >= deadline) return;
      const spinning = now < spinUntil;
      if (!spinning) {
        Atomics.store(this.#control, CONTROL_RESULTS_WAITERS, 1);
        Atomics.wait(this.#control, CONTROL_RESULTS, this.#resultsSeen, deadline - now);
      }
      bell = Atomics.load(this.#control, CONTROL_RESULTS);
      const answered = bell !== this.#resultsSeen && this.#drain(bell);
      if (answered) {
        if (spinning) this.#spins.paid();
        else if (spinMs > 0) this.#spins.ranOut(performance.now() - spinUntil);
        return;
      }
      now = performance.now();
    }
  }

  /**
   * One CPU: sleeps until the worker's next message (or its task turns to its event loop), up to
   * ONE_CPU_RESULT_WAIT_MS, and handles what came; never sleeps again (see ONE_CPU_RESULT_WAIT_MS).
   */
  #sleepForResult(timeoutMs: number): void {
    const control = this.#control;
    // Sequentially consistent, in this order: either the worker's flag store is seen here, or its load
    // of ours sees this one (and it rings).
    Atomics.store(control, CONTROL_POOL_BLOCKED, 1);
    if (Atomics.load(control, CONTROL_ASYNC_WAITING) === 0) {
      Atomics.store(control, CONTROL_RESULTS_WAITERS, 1);
      Atomics.wait(control, CONTROL_RESULTS, this.#resultsSeen, Math.max(timeoutMs, ONE_CPU_RESULT_WAIT_MS));
    }
    Atomics.store(control, CONTROL_POOL_BLOCKED, 0);
    const bell = Atomics.load(control, CONTROL_RESULTS);
    if (bell !== this.#resultsSeen) this.#drain(bell);
  }

  takeResults(): void {
    // #resultsSeen stays: a message left in line (not results) is then still taken by the event loop.
    if (Atomics.load(this.#control, CONTROL_RESULTS) !== this.#resultsSeen) {
      this.#takeLone();
      this.#receiver.takeResults();
    }
  }

  send(message: MainToWorker, transfer: readonly TransferListItem[]): void {
    this.#sender.send(message, transfer, messageFitsLane(message));
    Atomics.add(this.#control, CONTROL_DOORBELL, 1);
    // Every waiter: the thread parked in Atomics.wait, or its event loop's Atomics.waitAsync.
    Atomics.notify(this.#control, CONTROL_DOORBELL);
  }

  sendLone(id: number, key: number, args: unknown): boolean {
    if (!this.#lone.write(id, key, args)) return false;
    Atomics.add(this.#control, CONTROL_DOORBELL, 1);
    Atomics.notify(this.#control, CONTROL_DOORBELL);
    return true;
  }

  setLoneCalls(on: boolean): void {
    Atomics.store(this.#control, CONTROL_LONE_CALLS, on ? 1 : 0);
    if (on) return;
    // A worker asleep in lone mode has no timeout: the doorbell sends it back to its event loop.
    Atomics.add(this.#control, CONTROL_DOORBELL, 1);
    Atomics.notify(this.#control, CONTROL_DOORBELL);
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

  stop(graceMs: number): Promise<void> {
    this.#worker.ref();
    this.send({ t: 'stop' }, []);
    const timer = setTimeout(() => void this.#worker.terminate(), graceMs);
    void this.#exited.then(() => clearTimeout(timer));
    return this.#exited;
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
