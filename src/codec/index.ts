// skein/codec: a fast binary codec for structured data, for channels in shared memory and messages
// between threads and processes of one machine. The wire format is in docs/codec.md.

export { decode } from './decoder.ts';
export { Encoder, encode } from './encoder.ts';
export { CODEC_LIMITS } from './limits.ts';
