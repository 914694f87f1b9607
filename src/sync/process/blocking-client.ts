// Blocking calls to a hub from any thread: the caller hands the request to this thread's helper worker
// (entry/blocking-helper.ts), which owns a connection to the hub, and sleeps in Atomics.wait until the
// helper bumps the reply counter; the answer itself travels on a MessagePort read synchronously.
// Invariant: the caller reads the counter before it drains the port, so no reply is slept through.

import { MessageChannel, type MessagePort, receiveMessageOnPort, Worker } from 'node:worker_threads';
import { errorFromCode, SkeinError, TimeoutError } from '../../errors.ts';
import { sessionOfThisThread } from './client.ts';
import { type GiveBack, HUB_GRACE_MS } from './connection.ts';

const HELPER_ENTRY = new URL('./entry/blocking-helper.ts', import.meta.url);

/** Cells of the mailbox: how many replies the helper posted, and whether it runs. */
export const REPLIES = 0;
export const HELPER_STATE = 1;
export const HELPER_STARTING = 0;
export const HELPER_READY = 1;
export const HELPER_FAILED = 2;
const MAILBOX_CELLS = 2;
/** How long a helper may take to start (its module graph loads from disk) before the call fails. */
const HELPER_START_MS = 30_000;
/** How often a sleeping caller looks at the helper's state while it waits. */
const SLICE_MS = 250;

export type ToHelper =
  | {
      readonly type: 'call';
      readonly seq: number;
      readonly path: string;
      readonly object: number;
      readonly op: string;
      readonly args: readonly unknown[];
      readonly timeout: number;
      readonly giveBack: GiveBack | undefined;
    }
  | { readonly type: 'cancel'; readonly seq: number };

export type FromHelper =
  | { readonly seq: number; readonly ok: true; readonly value: unknown }
  | { readonly seq: number; readonly ok: false; readonly code: string; readonly message: string };

interface Helper {
  readonly worker: Worker;
  readonly replies: MessagePort;
  readonly cells: Int32Array;
  seq: number;
}

let helper: Helper | undefined;

function helperOfThisThread(): Helper {
  if (helper !== undefined) return helper;
  const cells = new Int32Array(new SharedArrayBuffer(MAILBOX_CELLS * 4));
  const { port1, port2 } = new MessageChannel();
  const worker = new Worker(HELPER_ENTRY, {
    workerData: { mailbox: cells.buffer, replies: port2, hello: sessionOfThisThread() },
    transferList: [port2],
    name: 'skein-hub-client',
  });
  // The helper lives only to serve this thread's blocking calls: it never keeps the process alive.
  worker.unref();
  worker.on('error', () => {
    Atomics.store(cells, HELPER_STATE, HELPER_FAILED);
  });
  helper = { worker, replies: port1, cells, seq: 0 };
  return helper;
}

/**
 * Sends a request through the helper and blocks this thread until the hub answers. `timeout` is what
 * the hub enforces; the caller gives up on its own only if the hub stays silent well past it.
 */
export function callBlocking(
  path: string,
  object: number,
  op: string,
  args: readonly unknown[],
  timeout: number,
  giveBack?: GiveBack,
): unknown {
  const h = helperOfThisThread();
  const seq = ++h.seq;
  h.worker.postMessage({ type: 'call', seq, path, object, op, args, timeout, giveBack } satisfies ToHelper);
  const started = performance.now();
  const limit = timeout === Infinity ? Infinity : started + timeout + 2 * HUB_GRACE_MS;
  for (;;) {
    const seen = Atomics.load(h.cells, REPLIES);
    for (let m = receiveMessageOnPort(h.replies); m !== undefined; m = receiveMessageOnPort(h.replies)) {
      const reply = m.message as FromHelper;
      if (reply.seq !== seq) continue; // the late answer of a call given up on below
      if (reply.ok) return reply.value;
      throw errorFromCode(reply.code, reply.message);
    }
    const state = Atomics.load(h.cells, HELPER_STATE);
    const now = performance.now();
    if (state === HELPER_FAILED || (state === HELPER_STARTING && now - started > HELPER_START_MS)) {
      helper = undefined;
      throw new SkeinError(
        'SKEIN_INTERNAL',
        `The helper thread for blocking ${op} calls failed to start or crashed; this is a bug in Skein, please report it (use the async form meanwhile)`,
      );
    }
    if (now >= limit) {
      h.worker.postMessage({ type: 'cancel', seq } satisfies ToHelper);
      throw new TimeoutError(
        `${op} got no answer from the hub at ${path} within ${Math.round(now - started)} ms`,
      );
    }
    Atomics.wait(h.cells, REPLIES, seen, Math.min(SLICE_MS, limit - now));
  }
}
