// The two ways a value travels: a typed array as its own bytes (the buffer path, no serialization),
// anything else through skein/codec. The frame's dtype says which, so the receiver rebuilds the same.
// A value is encoded into one reused scratch buffer (Packed.transient): the engine and the transports
// copy those bytes out during the send call, or copy them once when they must keep them (a queued
// frame, a rendezvous), so a small value costs no allocation on the sending side.

import { decode, Encoder, encode } from '../codec/index.ts';
import type { Received } from './engine.ts';
import { bytesOf, dtypeOf, isTypedArray, typedFromBytes } from './typed.ts';

export interface Packed {
  readonly bytes: Uint8Array;
  readonly dtype: number;
  /** `bytes` is the shared scratch encoding, valid until the next pack: copy it to keep it. */
  readonly transient: boolean;
}

const scratch = new Encoder();
/** Set while the scratch encoder runs: a getter of the value that sends again gets a fresh encoding. */
let encoding = false;

export function pack(value: unknown): Packed {
  if (isTypedArray(value)) return { bytes: bytesOf(value), dtype: dtypeOf(value), transient: false };
  if (encoding) return { bytes: encode(value), dtype: 0, transient: false };
  encoding = true;
  try {
    return { bytes: scratch.encode(value), dtype: 0, transient: true };
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
