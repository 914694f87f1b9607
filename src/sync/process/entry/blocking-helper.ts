// The helper thread behind blocking calls (see ../blocking-client.ts): it speaks to hubs for the thread
// that started it, under that thread's session, and wakes it through the shared mailbox after posting
// each answer. Invariant: the answer is on the port before the counter moves.

import { type MessagePort, parentPort, workerData } from 'node:worker_threads';
import { SkeinError } from '../../../errors.ts';
import {
  type FromHelper,
  HELPER_FAILED,
  HELPER_READY,
  HELPER_STATE,
  REPLIES,
  type ToHelper,
} from '../blocking-client.ts';
import { adoptSession, connectionTo } from '../client.ts';
import type { Hello } from '../frames.ts';

const { mailbox, replies, hello } = workerData as {
  mailbox: SharedArrayBuffer;
  replies: MessagePort;
  hello: Hello;
};
const cells = new Int32Array(mailbox);
const inFlight = new Map<number, AbortController>();

adoptSession(hello);

function answer(reply: FromHelper): void {
  inFlight.delete(reply.seq);
  replies.postMessage(reply);
  Atomics.add(cells, REPLIES, 1);
  Atomics.notify(cells, REPLIES);
}

function onMessage(message: ToHelper): void {
  switch (message.type) {
    case 'call': {
      const { seq, path, object, op, args, timeout, giveBack } = message;
      const controller = new AbortController();
      inFlight.set(seq, controller);
      connectionTo(path)
        .request(object, op, args, timeout, { signal: controller.signal, giveBack })
        .then(
          (value) => answer({ seq, ok: true, value }),
          (error: unknown) =>
            answer(
              error instanceof SkeinError
                ? { seq, ok: false, code: error.code, message: error.message }
                : { seq, ok: false, code: 'SKEIN_INTERNAL', message: String(error) },
            ),
        );
      return;
    }
    case 'cancel':
      inFlight.get(message.seq)?.abort();
      return;
  }
}

process.on('uncaughtException', (error) => {
  Atomics.store(cells, HELPER_STATE, HELPER_FAILED);
  Atomics.notify(cells, REPLIES);
  throw error;
});
parentPort?.on('message', onMessage);
Atomics.store(cells, HELPER_STATE, HELPER_READY);
