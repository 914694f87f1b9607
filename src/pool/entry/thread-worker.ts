// Entry of a ThreadPool worker thread. Idle, it parks in Atomics.wait on the pool's doorbell and takes
// messages with receiveMessageOnPort, which wakes faster than the event loop; after PARK_MS without
// work it returns to the event loop so timers and I/O left by tasks run.

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
  park() {
    Atomics.wait(control, CONTROL_DOORBELL, drainedAt, PARK_MS);
    return drain();
  },
});

port.on('message', (message: MainToWorker) => runtime.receive(message));
