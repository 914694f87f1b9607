// UTF-8 between strings and byte ranges of any Uint8Array, shared memory included, without allocating
// a view per call: Buffer's native utf8Write/utf8Slice take a plain Uint8Array as receiver. Invalid
// UTF-8 decodes to U+FFFD, never an exception, so corrupt input cannot crash the decoder here.

import { Buffer } from 'node:buffer';

interface NativeUtf8 {
  utf8Write(this: Uint8Array, string: string, offset: number, length: number): number;
  utf8Slice(this: Uint8Array, start: number, end: number): string;
}

const native = Buffer.prototype as unknown as NativeUtf8;
const nativeWrite = native.utf8Write;
const nativeSlice = native.utf8Slice;

/**
 * Writes `string` as UTF-8 into `target` at `offset`; `target` must have 3 × string.length bytes free
 * there. Returns the number of bytes written.
 */
export function writeUtf8(target: Uint8Array, string: string, offset: number): number {
  return nativeWrite.call(target, string, offset, target.length - offset);
}

/** Decodes bytes [start, end) of `source` as UTF-8. */
export function readUtf8(source: Uint8Array, start: number, end: number): string {
  return nativeSlice.call(source, start, end);
}
