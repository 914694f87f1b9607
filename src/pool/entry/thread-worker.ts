// Entry of a ThreadPool worker thread. Idle, it parks in Atomics.wait on the pool's doorbell and takes
// messages with receiveMessageOnPort, which wakes faster than the event loop; after PARK_MS without
// work it returns to the event loop so timers and I/O left by tasks run.

import { availableParallelism } from 'node:os';
import { performance } from 'node:perf_hooks';
import { type MessagePort, parentPort, receiveMessageOnPort, workerData } from 'node:worker_threads';
import {
  CONTROL_CANCEL,
  CONTROL_DOORBELL,
  CONTROL_LAST_STARTED,
  CONTROL_RESULTS,
  CONTROL_RUNNING,
  type MainToWorker,
} from '../protocol.ts';
import { WorkerRuntime } from './runtime.ts';

/** How long an idle worker blocks waiting for work before yielding to its event loop. */
const PARK_MS = 2;
/**
 * Before blocking, spin this long on the doorbell: waking a thread blocked on another CPU costs tens of
 * µs on virtual machines (29 µs measured here), a spinning one notices in well under 1 µs. Never when
 * this process may use only one CPU (taskset): there the spinner would only delay the pool.
 */
const SPIN_MS = availableParallelism() > 1 ? 0.02 : 0;

const port = parentPort!;
const data = workerData as { control: SharedArrayBuffer; results: MessagePort };
const control = new Int32Array(data.control);
const results = data.results;

let drainedAt = 0;

// The pool bumps the doorbell after each message, so an unchanged doorbell means nothing new and the
// (comparatively costly) receiveMessageOnPort call is skipped.
function drain(): boolean {
  const bell = Atomics.load(control, CONTROL_DOORBELL);
  if (bell === drainedAt) return false;
  drainedAt = bell;
  let any = false;
  for (let entry = receiveMessageOnPort(port); entry !== undefined; entry = receiveMessageOnPort(port)) {
    any = true;
    runtime.receive(entry.message as MainToWorker);
  }
  return any;
}

const runtime = new WorkerRuntime({
  post(message, transfer) {
    results.postMessage(message, transfer);
    Atomics.add(control, CONTROL_RESULTS, 1);
    Atomics.notify(control, CONTROL_RESULTS, 1);
  },
  markRunning(id) {
    if (id >= 0) Atomics.store(control, CONTROL_LAST_STARTED, id + 1);
    Atomics.store(control, CONTROL_RUNNING, id + 1);
  },
  cancelRequested: (id) => Atomics.load(control, CONTROL_CANCEL) === id + 1,
  drain,
  close() {
    port.close();
  },
  poll: drain,
  park(spin) {
    // drainedAt can lag the doorbell when messages came through the event loop instead; a drain that
    // finds nothing then just refreshes it, and the wait goes on until work arrives or PARK_MS passes.
    const start = performance.now();
    const spinUntil = spin ? start + SPIN_MS : start;
    const deadline = start + PARK_MS;
    for (;;) {
      if (Atomics.load(control, CONTROL_DOORBELL) !== drainedAt && drain()) return true;
      const now = performance.now();
      if (now >= deadline) return false;
      if (now >= spinUntil) Atomics.wait(control, CONTROL_DOORBELL, drainedAt, deadline - now);
    }
  },
});

port.on('message', (message: MainToWorker) => runtime.receive(message));
