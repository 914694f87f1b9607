// The hub's wire: length-prefixed binary frames over a Unix domain socket, one format both ways.
// Header: u32 length of what follows, u8 type, u32 request id, u32 object id; then a v8-serialized body.
// Invariant: a reader hands out only whole frames, in the order they were written.

import { deserialize, serialize } from 'node:v8';

/** Frame types. Client → hub: HELLO, REQUEST, CANCEL, ACK, NACK. Hub → client: RESULT*, FAILURE. */
export const FrameType = Object.freeze({
  /** First frame of a connection; body: Hello. */
  HELLO: 1,
  /** body: [op, args, timeout ms or -1]; request id 0 asks for no reply. */
  REQUEST: 2,
  /** Stop waiting for request `id`; the hub answers it (FAILURE SKEIN_ABORTED) unless it already did. */
  CANCEL: 3,
  /** The value of RESULT_NEEDS_ACK `id` reached the client: the hub forgets it. */
  ACK: 4,
  /** The value of RESULT_NEEDS_ACK `id` was not wanted after all (its call was abandoned): take it back. */
  NACK: 5,
  /** body: the value. */
  RESULT: 6,
  /** body: the value, which the hub takes back unless the client ACKs it before its connection closes. */
  RESULT_NEEDS_ACK: 7,
  /** body: WireError. */
  FAILURE: 8,
});

export type FrameTypeCode = (typeof FrameType)[keyof typeof FrameType];

/** Who is on the other end of a connection; every connection of one thread names the same session. */
export interface Hello {
  readonly session: string;
  readonly pid: number;
  readonly threadId: number;
}

/** An error as it crosses the wire: rebuilt with errorFromCode on the other side. */
export interface WireError {
  readonly code: string;
  readonly message: string;
}

export interface Frame {
  readonly type: FrameTypeCode;
  readonly id: number;
  readonly object: number;
  readonly body: Buffer;
}

const HEADER_BYTES = 13;
const LENGTH_BYTES = 4;
/** Frames larger than this are refused: a corrupt length must not make a reader allocate gigabytes. */
export const MAX_FRAME_BYTES = 1024 * 1024 * 1024;

const EMPTY = Buffer.alloc(0);

/** One frame as bytes, its body serialized (undefined included: a RESULT may carry it). */
export function encodeFrame(type: FrameTypeCode, id: number, object: number, body: unknown): Buffer {
  return frameOf(type, id, object, serialize(body));
}

/** A frame without a body: CANCEL, ACK, NACK. */
export function encodeBareFrame(type: FrameTypeCode, id: number, object: number): Buffer {
  return frameOf(type, id, object, EMPTY);
}

function frameOf(type: FrameTypeCode, id: number, object: number, payload: Buffer): Buffer {
  const frame = Buffer.allocUnsafe(HEADER_BYTES + payload.length);
  frame.writeUInt32LE(HEADER_BYTES - LENGTH_BYTES + payload.length, 0);
  frame.writeUInt8(type, 4);
  frame.writeUInt32LE(id, 5);
  frame.writeUInt32LE(object, 9);
  payload.copy(frame, HEADER_BYTES);
  return frame;
}

export function decodeBody<T>(frame: Frame): T {
  return deserialize(frame.body) as T;
}

/** Reassembles frames from socket chunks. `push` returns the whole frames completed by the chunk. */
export class FrameReader {
  #pending: Buffer = EMPTY;

  push(chunk: Buffer): Frame[] {
    let buffer = this.#pending.length === 0 ? chunk : Buffer.concat([this.#pending, chunk]);
    const frames: Frame[] = [];
    while (buffer.length >= LENGTH_BYTES) {
      const length = buffer.readUInt32LE(0);
      if (length < HEADER_BYTES - LENGTH_BYTES || length > MAX_FRAME_BYTES) {
        throw new RangeError(`corrupt frame length ${length}`);
      }
      const end = LENGTH_BYTES + length;
      if (buffer.length < end) break;
      frames.push({
        type: buffer.readUInt8(4) as FrameTypeCode,
        id: buffer.readUInt32LE(5),
        object: buffer.readUInt32LE(9),
        body: buffer.subarray(HEADER_BYTES, end),
      });
      buffer = buffer.subarray(end);
    }
    this.#pending = buffer.length === 0 ? EMPTY : buffer;
    return frames;
  }
}
