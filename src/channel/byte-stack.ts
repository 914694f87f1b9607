// A byte stack of records in shared memory: the store of a LIFO Queue. A record is the payload padded to
// a multiple of 4 bytes, then its 4-byte length, so the newest record is read from the top down.
// Invariant: the caller holds the Queue's lock; `top` is the byte length of the records below it.

import { copyOut } from './ring.ts';

const LENGTH_BYTES = 4;

export function stackRecordBytes(length: number): number {
  return ((length + 3) & ~3) + LENGTH_BYTES;
}

export class ByteStack {
  readonly #cells: Int32Array;
  readonly #bytes: Uint8Array;
  readonly #topCell: number;
  readonly #data: number;
  readonly #size: number;

  constructor(cells: Int32Array, topCell: number, dataOffset: number, size: number) {
    this.#cells = cells;
    this.#bytes = new Uint8Array(cells.buffer);
    this.#topCell = topCell;
    this.#data = dataOffset;
    this.#size = size;
  }

  get maxPayloadBytes(): number {
    return this.#size - LENGTH_BYTES;
  }

  freeBytes(): number {
    return this.#size - Atomics.load(this.#cells, this.#topCell);
  }

  tryPush(payload: Uint8Array): boolean {
    const top = this.#cells[this.#topCell]!;
    const record = stackRecordBytes(payload.length);
    if (top + record > this.#size) return false;
    copyOut(payload, 0, this.#bytes, this.#data + top, payload.length);
    this.#cells[(this.#data + top + record - LENGTH_BYTES) >> 2] = payload.length;
    // Plain: the Queue's unlock publishes it, and snapshots taken without the lock (freeBytes) read an
    // aligned Int32, which never tears.
    this.#cells[this.#topCell] = top + record;
    return true;
  }

  /** Copies the newest record's payload into scratch and pops it; undefined when empty. */
  popCopy(scratch: (length: number) => Uint8Array): Uint8Array | undefined {
    const top = this.#cells[this.#topCell]!;
    if (top === 0) return undefined;
    const length = this.#cells[(this.#data + top - LENGTH_BYTES) >> 2]!;
    const start = top - stackRecordBytes(length);
    const into = scratch(length);
    copyOut(this.#bytes, this.#data + start, into, 0, length);
    this.#cells[this.#topCell] = start;
    return into;
  }
}
