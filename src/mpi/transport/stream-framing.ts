// Frames on a byte stream (Unix socket, TCP): a 32-byte little-endian header, then `size` payload
// bytes. The parser copies the payload straight into the memory the sink chooses (the receive buffer
// for a matched large message), across however many chunks the stream delivers.

import { type FrameHeader, FrameKind, HEADER_BYTES } from '../frame.ts';

const EMPTY = new Uint8Array(0);

export function encodeHeader(header: FrameHeader, source: number): Buffer {
  const out = Buffer.allocUnsafe(HEADER_BYTES);
  out.writeInt32LE(header.kind, 0);
  out.writeInt32LE(header.context, 4);
  out.writeInt32LE(header.tag, 8);
  out.writeInt32LE(header.id, 12);
  out.writeInt32LE(header.size, 16);
  out.writeInt32LE(header.dtype, 20);
  out.writeInt32LE(source, 24);
  out.writeInt32LE(0, 28);
  return out;
}

function decodeHeader(bytes: Buffer): FrameHeader {
  return {
    kind: bytes.readInt32LE(0),
    context: bytes.readInt32LE(4),
    tag: bytes.readInt32LE(8),
    id: bytes.readInt32LE(12),
    size: bytes.readInt32LE(16),
    dtype: bytes.readInt32LE(20),
    source: bytes.readInt32LE(24),
  };
}

export interface FrameHandler {
  target(header: FrameHeader): Uint8Array;
  deliver(header: FrameHeader, payload: Uint8Array): void;
}

/** Turns the chunks of one peer's stream into frames. */
export class FrameParser {
  readonly #handler: FrameHandler;
  readonly #head = Buffer.allocUnsafe(HEADER_BYTES);
  #headFilled = 0;
  #header: FrameHeader | null = null;
  #target: Uint8Array = EMPTY;
  #filled = 0;

  constructor(handler: FrameHandler) {
    this.#handler = handler;
  }

  push(chunk: Uint8Array): void {
    let at = 0;
    while (at < chunk.length) {
      if (this.#header === null) {
        const take = Math.min(HEADER_BYTES - this.#headFilled, chunk.length - at);
        this.#head.set(chunk.subarray(at, at + take), this.#headFilled);
        this.#headFilled += take;
        at += take;
        if (this.#headFilled < HEADER_BYTES) return;
        this.#headFilled = 0;
        const header = decodeHeader(this.#head);
        if (header.size === 0 || header.kind === FrameKind.RTS) {
          this.#handler.deliver(header, EMPTY);
          continue;
        }
        this.#header = header;
        this.#target = this.#handler.target(header);
        this.#filled = 0;
        continue;
      }
      const take = Math.min(this.#header.size - this.#filled, chunk.length - at);
      this.#target.set(chunk.subarray(at, at + take), this.#filled);
      this.#filled += take;
      at += take;
      if (this.#filled === this.#header.size) {
        const header = this.#header;
        const payload = this.#target;
        this.#header = null;
        this.#target = EMPTY;
        this.#handler.deliver(header, payload);
      }
    }
  }
}
