// The control plane on a stream (a process rank's socket to its launcher): each message is a 4-byte
// little-endian length and the codec bytes of the message.

import type { Socket } from 'node:net';
import { decode } from '../codec/index.ts';

export function writeControl(socket: Socket, bytes: Uint8Array): void {
  const head = Buffer.allocUnsafe(4);
  head.writeUInt32LE(bytes.length, 0);
  socket.write(Buffer.concat([head, bytes]));
}

/** Calls `onMessage` with each decoded message the socket carries. */
export function readControl(socket: Socket, onMessage: (message: unknown) => void): void {
  let pending: Buffer = Buffer.alloc(0);
  socket.on('data', (chunk: Buffer) => {
    pending = pending.length === 0 ? chunk : Buffer.concat([pending, chunk]);
    while (pending.length >= 4) {
      const length = pending.readUInt32LE(0);
      if (pending.length < 4 + length) break;
      const body = pending.subarray(4, 4 + length);
      pending = pending.subarray(4 + length);
      let message: unknown;
      try {
        message = decode(body);
      } catch {
        // Not our peer (or a broken one): drop the connection rather than act on garbage.
        socket.destroy();
        return;
      }
      onMessage(message);
    }
  });
}
