// Entry of a ThreadPool worker thread. Idle, it parks in Atomics.wait on the pool's doorbell and takes
// messages synchronously (from its lane and its port, see lane.ts), which wakes faster than the event
// loop; after PARK_MS without work it returns to the event loop so timers and I/O left by tasks run
// (serving lone calls, it parks until the pool sends work or turns lone calls off).
// There, an Atomics.waitAsync on the doorbell wakes it for lane messages, the port's listener for the
// others.

import { performance } from 'node:perf_hooks';
import { type MessagePort, parentPort, workerData } from 'node:worker_threads';
import { LaneReceiver, LaneSender, toMainLane, toWorkerLane } from '../lane.ts';
import { LoneSlotServer } from '../lone-slot.ts';
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
  KIND_CALL,
  type MainToWorker,
} from '../protocol.ts';
import { SPIN_MS, SpinBackoff } from '../spinning.ts';
import { WorkerRuntime } from './runtime.ts';

/** How long an idle worker blocks waiting for work before yielding to its event loop. */
const PARK_MS = 2;
/** Whether a worker serving lone calls spins for the next one first (spinning.ts). */
const spins = new SpinBackoff();

const port = parentPort!;
const data = workerData as {
  control: SharedArrayBuffer;
  results: MessagePort;
  lanes: SharedArrayBuffer;
  lone: SharedArrayBuffer;
};
const control = new Int32Array(data.control);
const results = data.results;
const lone = new LoneSlotServer(data.lone);
const receiver = new LaneReceiver(toWorkerLane(data.lanes), port, (message) =>
  runtime.receive(message as MainToWorker),
);
const sender = new LaneSender(toMainLane(data.lanes), (message, transfer) =>
  results.postMessage(message, transfer),
);

let drainedAt = 0;

// A lone call in its slot (lone-slot.ts) is a task entry like those of a batch; the slot comes before
// the lane and the port, whose messages were all sent after it.
function runLone(id: number, key: number, args: unknown[]): void {
  runtime.receiveTasks([id, KIND_CALL, key, args, undefined, 0]);
}

// The pool bumps the doorbell after each message, so an unchanged doorbell means nothing new and the
// (comparatively costly) receiveMessageOnPort call is skipped. One bump since the last drain, and a
// lone call in its slot: that bump was the call's (or one for a message sent before it, whose own
// bump comes next), so the lane and the port are not looked at (three atomic loads) until then.
function drain(bell = Atomics.load(control, CONTROL_DOORBELL)): boolean {
  if (bell === drainedAt) return false;
  const single = bell === drainedAt + 1;
  drainedAt = bell;
  const took = lone.take(runLone);
  if (took && single) return true;
  return receiver.take() || took;
}

let bellArmed = false;

// Back in the event loop, a lane message must still wake this thread: the pool's notify settles this.
function armBell(): void {
  if (bellArmed) return;
  bellArmed = true;
  const wait = Atomics.waitAsync(control, CONTROL_DOORBELL, drainedAt);
  if (wait.async) void wait.value.then(onBell);
  else queueMicrotask(onBell);
}

function onBell(): void {
  bellArmed = false;
  drain();
  armBell();
}

// Notifies only when the pool said it may be waiting (its flag is stored before each wait looks at the
// doorbell, and loaded here after the doorbell moved, so one of the two sees the other): a notify is a
// call into C++ and a global lock even with nobody waiting, and between lone calls the pool has usually
// not started waiting yet. Clearing the flag is safe since the notify wakes every waiter there is.
function ringResults(): void {
  Atomics.add(control, CONTROL_RESULTS, 1);
  if (Atomics.load(control, CONTROL_RESULTS_WAITERS) === 0) return;
  Atomics.store(control, CONTROL_RESULTS_WAITERS, 0);
  // Every waiter: the pool blocked in Atomics.wait, or its event loop's Atomics.waitAsync.
  Atomics.notify(control, CONTROL_RESULTS);
}

/** Tasks that went async and have not settled yet. */
let asyncPending = 0;
let asyncCheckScheduled = false;
/** Whether CONTROL_ASYNC_WAITING is 1 (set by signalAsyncWaiting, cleared once no task is pending). */
let asyncSignalled = false;

// Runs once the event loop comes round after a task went async (its microtasks have run): a task still
// pending now waits on I/O or timers, so a pool blocked for its answer (one CPU: that wait has no short
// timeout) is rung to stop waiting. The flag comes first, so a pool about to block sees it instead.
function signalAsyncWaiting(): void {
  asyncCheckScheduled = false;
  if (asyncPending === 0) return;
  if (!asyncSignalled) {
    asyncSignalled = true;
    Atomics.store(control, CONTROL_ASYNC_WAITING, 1);
  }
  if (Atomics.load(control, CONTROL_POOL_BLOCKED) === 1) {
    // A bump, not only a notify: a pool between its look at the flag and its wait then does not sleep.
    Atomics.add(control, CONTROL_RESULTS, 1);
    Atomics.notify(control, CONTROL_RESULTS);
  }
}

const runtime = new WorkerRuntime({
  post(message, transfer, fitsLane) {
    lone.noteMessage();
    sender.send(message, transfer, fitsLane);
    ringResults();
  },
  answerLone(entry, base) {
    if (!lone.answer(entry, base)) return false;
    ringResults();
    return true;
  },
  // Plain stores (an atomic one costs ~30 ns here, three per task): the pool reads these after the
  // thread has exited, which orders them, and lastStartedTask() while it runs only as a hint.
  markRunning(id) {
    if (id >= 0) control[CONTROL_LAST_STARTED] = id + 1;
    control[CONTROL_RUNNING] = id + 1;
  },
  cancelRequested: (id) => Atomics.load(control, CONTROL_CANCEL) === id + 1,
  wentAsync() {
    asyncPending++;
    if (asyncCheckScheduled) return;
    asyncCheckScheduled = true;
    setImmediate(signalAsyncWaiting);
  },
  asyncSettled() {
    if (--asyncPending > 0 || !asyncSignalled) return;
    asyncSignalled = false;
    Atomics.store(control, CONTROL_ASYNC_WAITING, 0);
  },
  drain,
  close() {
    port.close();
  },
  poll: drain,
  park(spin, backToBack) {
    // drainedAt can lag the doorbell when messages came through the event loop instead; a drain that
    // finds nothing then just refreshes it, and the wait goes on until work arrives or PARK_MS passes.
    // The clock is read only when needed: a sleep between lone calls on one CPU reads it not at all.
    let start = -1;
    // 1 while spinning for a lone call, 2 once that spin ran out, 3 when spinning was skipped.
    let spun = 0;
    for (;;) {
      const bell = Atomics.load(control, CONTROL_DOORBELL);
      if (bell !== drainedAt && drain(bell)) {
        if (spun === 1) spins.paid();
        else if (spun === 2) spins.ranOut(performance.now() - (start + SPIN_MS));
        return true;
      }
      // Serving lone calls, spin, then sleep with no timeout: the pool blocks for each result with
      // one, and when both sides of this ping-pong slept with timeouts, about one round trip in five
      // took some 25 µs longer here (pinned to one CPU: 35 against 12 µs at p90). The pool turns the
      // mode off, which rings the doorbell, once lone calls stop coming (pool-base.ts, LONE_HOLD_MS).
      if (spin && Atomics.load(control, CONTROL_LONE_CALLS) === 1) {
        if (SPIN_MS > 0 && spun < 2) {
          if (spun === 0 && (!backToBack || !spins.maySpin())) {
            spun = 3;
          } else {
            const now = performance.now();
            if (start < 0) start = now;
            if (now < start + SPIN_MS) {
              spun = 1;
              continue;
            }
            spun = 2;
          }
        }
        Atomics.wait(control, CONTROL_DOORBELL, drainedAt);
        continue;
      }
      const now = performance.now();
      if (start < 0) start = now;
      if (now >= start + PARK_MS) return false;
      Atomics.wait(control, CONTROL_DOORBELL, drainedAt, start + PARK_MS - now);
    }
  },
});

port.on('message', (message: unknown) => {
  lone.take(runLone);
  receiver.arrived(message);
});
armBell();
