// The two ways a value travels: a typed array as its own bytes (the buffer path, no serialization),
// anything else through skein/codec. The frame's dtype says which, so the receiver rebuilds the same.
// A value is encoded into a reused scratch encoder (Packed.scratch): the transports copy those bytes
// out during the send call (or copy them once when they must keep them, a queued frame), and a
// rendezvous holds the scratch until its DATA left, so sending a value allocates nothing once warm.

import { decode, Encoder, encode } from '../codec/index.ts';
import { bytesOf, dtypeOf, isTypedArray, typedFromBytes } from './typed.ts';

/** A message as the receiver sees it: envelope (world source) and payload. */
export interface Received {
  readonly source: number;
  readonly tag: number;
  readonly dtype: number;
  /** Payload bytes as sent. */
  readonly size: number;
  /** The payload; empty when `decoded`. */
  readonly payload: Uint8Array;
  /** A value message decoded as it arrived: from the ring (deliverView) or the source's value scratch. */
  readonly decoded: boolean;
  /** The decoded value when `decoded`. */
  readonly value: unknown;
}

/** Reused memory a payload lies in (a scratch encoding): held while a rendezvous sends from it. */
export interface Lease {
  hold(): void;
  readonly release: () => void;
}

export interface Packed {
  readonly bytes: Uint8Array;
  readonly dtype: number;
  /**
   * Set when `bytes` is a scratch encoding: valid until the next pack, unless held (Lease.hold) until
   * released. Null: the bytes are the caller's (a typed array) or a fresh copy.
   */
  readonly scratch: Lease | null;
}

/** A reused encoder, held while a rendezvous still sends from its bytes. */
class Scratch implements Lease {
  readonly encoder = new Encoder();
  held = false;
  hold(): void {
    this.held = true;
  }
  readonly release = (): void => {
    this.held = false;
  };
}

/** Scratch encoders; a pack takes the first one not held. */
const scratches: Scratch[] = [new Scratch()];
/** Rendezvous sends in flight at once beyond which values are encoded into fresh buffers instead. */
const MAX_SCRATCHES = 8;
/** Set while a scratch encoder runs: a getter of the value that sends again gets a fresh encoding. */
let encoding = false;

export function pack(value: unknown): Packed {
  if (isTypedArray(value)) return { bytes: bytesOf(value), dtype: dtypeOf(value), scratch: null };
  if (encoding) return { bytes: encode(value), dtype: 0, scratch: null };
  let scratch: Scratch | undefined;
  for (let i = 0; i < scratches.length; i++) {
    if (!scratches[i]!.held) {
      scratch = scratches[i];
      break;
    }
  }
  if (scratch === undefined) {
    if (scratches.length >= MAX_SCRATCHES) return { bytes: encode(value), dtype: 0, scratch: null };
    scratches.push((scratch = new Scratch()));
  }
  encoding = true;
  try {
    return { bytes: scratch.encoder.encode(value), dtype: 0, scratch };
  } finally {
    encoding = false;
  }
}

export function unpack(message: Received): unknown {
  if (message.decoded) return message.value;
  return message.dtype === 0 ? decode(message.payload) : typedFromBytes(message.dtype, message.payload);
}

/** The value a codec payload carries; `bytes` may be shared memory valid only during the call. */
export function decodeValue(bytes: Uint8Array): unknown {
  return decode(bytes);
}
