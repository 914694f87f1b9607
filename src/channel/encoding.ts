// How values enter and leave a channel in this thread: one Encoder and one read scratch buffer per
// thread (module state, never shared), and the size check that names the option to raise.
// Invariant: a view returned here is valid only until the next call of the same function in this
// thread, so callers that wait (async puts) copy it first.

import { decode, Encoder } from '../codec/index.ts';
import { InvalidArgumentError } from '../errors.ts';

const encoder = new Encoder();

/** The read scratch starts this large and grows to the largest message read: 1 KiB. */
const INITIAL_SCRATCH_BYTES = 1024;
let scratch = new Uint8Array(INITIAL_SCRATCH_BYTES);
/** The last view handed out: steady traffic of one message size allocates no view per read. */
let lastView = scratch.subarray(0, 0);

/** A view of exactly `length` bytes of this thread's read scratch, overwritten by the next read. */
export function readScratch(length: number): Uint8Array {
  if (lastView.length === length) return lastView;
  if (scratch.length < length) scratch = new Uint8Array(Math.max(length, scratch.length * 2));
  lastView = scratch.subarray(0, length);
  return lastView;
}

/**
 * Encodes `value` into the thread's scratch; throws SKEIN_CHANNEL_MESSAGE_TOO_LARGE when the encoding is
 * longer than `maxPayloadBytes`, and the codec's SKEIN_CODEC_UNSUPPORTED for values it cannot carry.
 */
export function encodeMessage(value: unknown, limits: MessageLimits): Uint8Array {
  const bytes = encoder.encode(value);
  if (bytes.length > limits.maxPayloadBytes) throw messageTooLarge(bytes.length, limits);
  return bytes;
}

/** What bounds a channel's messages, for the size check and its message. */
export interface MessageLimits {
  readonly channel: string;
  readonly bufferBytes: number;
  readonly maxPayloadBytes: number;
}

export function decodeMessage(bytes: Uint8Array): unknown {
  return decode(bytes);
}

function messageTooLarge(length: number, limits: MessageLimits): InvalidArgumentError {
  const { channel, bufferBytes, maxPayloadBytes } = limits;
  // Record overhead is the same for every length, so this is the smallest bufferBytes that fits it.
  const needed = Math.ceil((length + bufferBytes - maxPayloadBytes) / 8) * 8;
  return new InvalidArgumentError(
    'SKEIN_CHANNEL_MESSAGE_TOO_LARGE',
    `A message of ${length} bytes (encoded) can never fit this ${channel}, whose bufferBytes of ${bufferBytes} hold at most ${maxPayloadBytes} bytes per message; create it with bufferBytes >= ${needed}, or send a smaller value`,
  );
}
