// Entry of a ProcessPool child. Messages from the pool arrive over the IPC channel; messages to the pool
// are written synchronously to fd 3 as frames, so whatever the child wrote before dying (even by
// SIGKILL) reaches the pool, and a start mark per task tells the pool which task was running.

import { openSync, readSync, writeSync } from 'node:fs';
import { serialize } from 'node:v8';
import { serializeError } from '../error-serdes.ts';
import type { MainToWorker } from '../protocol.ts';
import { WorkerRuntime } from './runtime.ts';

/** Frame tags on fd 3: a 5-byte start mark ('S' + int32 id + 1, 0 = none) or 'M' + uint32 length + V8 payload. */
const OUT_FD = 3;
const FRAME_START = 0x53;
const FRAME_MESSAGE = 0x4d;

// Piped stdout/stderr are asynchronous in Node, so output still queued when a task calls
// process.exit() would be lost; blocking writes make every line reach the pipe before the child ends.
for (const stream of [process.stdout, process.stderr]) {
  (stream as unknown as { _handle?: { setBlocking?: (blocking: boolean) => void } })._handle?.setBlocking?.(
    true,
  );
}

const header = Buffer.alloc(5);
// The pool's control file (see process-worker-handle.ts): int32 at 0 = id + 1 of the cancelled task.
const control = openSync(process.argv[2]!, 'r');
const controlBuffer = Buffer.alloc(4);

function writeAll(buffer: Uint8Array): void {
  let offset = 0;
  while (offset < buffer.length) offset += writeSync(OUT_FD, buffer, offset, buffer.length - offset);
}

const runtime = new WorkerRuntime({
  post(message) {
    const payload = serialize(message);
    header[0] = FRAME_MESSAGE;
    header.writeUInt32LE(payload.length, 1);
    writeAll(header);
    writeAll(payload);
  },
  markRunning(id) {
    // Only starts are marked: the last started task without a result is the one that was running, so
    // an end mark would cost a system call per task and tell the pool nothing more.
    if (id < 0) return;
    header[0] = FRAME_START;
    header.writeInt32LE(id + 1, 1);
    writeAll(header);
  },
  cancelRequested(id) {
    readSync(control, controlBuffer, 0, 4, 0);
    return controlBuffer.readInt32LE(0) === id + 1;
  },
  drain: () => false,
  poll: () => {},
  close: () => process.disconnect?.(),
  park: () => false,
});

process.on('uncaughtExceptionMonitor', (error) => runtime.post({ t: 'fatal', error: serializeError(error) }));
process.on('message', (message: MainToWorker) => runtime.receive(message));
// The pool closing the channel means it is done with us: exit once the event loop empties (so
// pending output and I/O finish), or at once if the pool itself is gone.
process.on('disconnect', () => {
  if (process.ppid === 1) process.exit(0);
});
