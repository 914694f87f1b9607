// The header every transport carries in front of a payload: eight int32 fields, 32 bytes, the same on
// shared-memory rings and on sockets (little-endian there). The payload follows as `size` raw bytes:
// codec bytes for a value message, the typed array's own bytes for a buffer message.
// Invariant: a header is fully described by these fields; transports never look inside a payload.

/** What a frame carries. */
export const FrameKind = Object.freeze({
  /** A whole message: envelope and payload. */
  EAGER: 1,
  /** Request to send a large message: envelope and size, no payload; answered by CLEAR. */
  RTS: 2,
  /** Clear to send: the receiver matched the RTS `id` and waits for its DATA. */
  CLEAR: 3,
  /** The payload of the RTS `id`. */
  DATA: 4,
});

export const HEADER_INTS = 8;
export const HEADER_BYTES = HEADER_INTS * 4;

/** A frame header. `source` is the world rank of the sender, set by the receiving transport. */
export interface FrameHeader {
  kind: number;
  context: number;
  tag: number;
  /** The sender's id of a rendezvous (RTS/CLEAR/DATA); 0 for eager frames. */
  id: number;
  /** Payload bytes (for RTS: the bytes DATA will carry). */
  size: number;
  /** 0 for a codec value, else the element type code of a buffer (see typed.ts). */
  dtype: number;
  source: number;
}

export function writeHeader(into: Int32Array, at: number, header: FrameHeader): void {
  into[at] = header.kind;
  into[at + 1] = header.context;
  into[at + 2] = header.tag;
  into[at + 3] = header.id;
  into[at + 4] = header.size;
  into[at + 5] = header.dtype;
  into[at + 6] = header.source;
  into[at + 7] = 0;
}

/** Reads a header into `into` (a header object reused for frames delivered at once); returns it. */
export function readHeaderInto(from: Int32Array, at: number, into: FrameHeader): FrameHeader {
  into.kind = from[at]!;
  into.context = from[at + 1]!;
  into.tag = from[at + 2]!;
  into.id = from[at + 3]!;
  into.size = from[at + 4]!;
  into.dtype = from[at + 5]!;
  into.source = from[at + 6]!;
  return into;
}

export function readHeader(from: Int32Array, at: number): FrameHeader {
  return {
    kind: from[at]!,
    context: from[at + 1]!,
    tag: from[at + 2]!,
    id: from[at + 3]!,
    size: from[at + 4]!,
    dtype: from[at + 5]!,
    source: from[at + 6]!,
  };
}
