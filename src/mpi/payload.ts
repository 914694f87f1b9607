// The two ways a value travels: a typed array as its own bytes (the buffer path, no serialization),
// anything else through skein/codec. The frame's dtype says which, so the receiver rebuilds the same.

import { decode, encode } from '../codec/index.ts';
import type { Received } from './engine.ts';
import { bytesOf, dtypeOf, isTypedArray, typedFromBytes } from './typed.ts';

export interface Packed {
  readonly bytes: Uint8Array;
  readonly dtype: number;
}

export function pack(value: unknown): Packed {
  if (isTypedArray(value)) return { bytes: bytesOf(value), dtype: dtypeOf(value) };
  return { bytes: encode(value), dtype: 0 };
}

export function unpack(message: Received): unknown {
  return message.dtype === 0 ? decode(message.payload) : typedFromBytes(message.dtype, message.payload);
}
