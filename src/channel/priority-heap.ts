// The store of a priority Queue: records in a compacting arena plus a binary min-heap of their offsets,
// ordered by (priority, arrival sequence) so equal priorities come out FIFO. Records are appended at
// `bump`; a freed record is marked dead and its bytes come back when the arena is compacted, which
// happens only when an append would not fit and the live bytes leave room (O(arena) under the lock).
// Invariant: the caller holds the Queue's lock (its unlock publishes the plain stores made here);
// heap[record.heapIndex] === record's offset for every live record, and `live` counts their bytes.

import { copyOut } from './ring.ts';

/** Record header: length, heap index, sequence and live flag (Int32 each), then the priority (Float64). */
export const PRIORITY_RECORD_HEADER_BYTES = 24;
const LENGTH = 0;
const HEAP_INDEX = 1;
const SEQUENCE = 2;
const LIVE = 3;
const PRIORITY_BYTE = 16;

export function priorityRecordBytes(length: number): number {
  return PRIORITY_RECORD_HEADER_BYTES + ((length + 7) & ~7);
}

/** The most records an arena of `size` bytes can hold: each takes at least a header and 8 bytes. */
export function maxPriorityRecords(size: number): number {
  return Math.floor(size / priorityRecordBytes(1));
}

export class PriorityHeap {
  readonly #cells: Int32Array;
  readonly #floats: Float64Array;
  readonly #bytes: Uint8Array;
  readonly #bumpCell: number;
  readonly #liveCell: number;
  readonly #sequenceCell: number;
  /** Byte offset of the arena (a multiple of 8) and its size. */
  readonly #data: number;
  readonly #size: number;
  /** Int32 index of heap entry 0. */
  readonly #heap: number;

  constructor(cells: Int32Array, firstCell: number, dataOffset: number, size: number, heapOffset: number) {
    this.#cells = cells;
    this.#floats = new Float64Array(cells.buffer, 0, cells.buffer.byteLength >> 3);
    this.#bytes = new Uint8Array(cells.buffer);
    this.#bumpCell = firstCell;
    this.#liveCell = firstCell + 1;
    this.#sequenceCell = firstCell + 2;
    this.#data = dataOffset;
    this.#size = size;
    this.#heap = heapOffset >> 2;
  }

  get maxPayloadBytes(): number {
    return this.#size - PRIORITY_RECORD_HEADER_BYTES;
  }

  freeBytes(): number {
    return this.#size - Atomics.load(this.#cells, this.#liveCell);
  }

  /** Adds a record if the live bytes leave room, compacting first when needed. `count` is the heap size. */
  tryPush(payload: Uint8Array, priority: number, count: number): boolean {
    const cells = this.#cells;
    const record = priorityRecordBytes(payload.length);
    const live = cells[this.#liveCell]!;
    if (live + record > this.#size) return false;
    if (cells[this.#bumpCell]! + record > this.#size) this.#compact();
    const offset = cells[this.#bumpCell]!;
    const word = (this.#data + offset) >> 2;
    const sequence = cells[this.#sequenceCell]!;
    cells[word + LENGTH] = payload.length;
    cells[word + SEQUENCE] = sequence;
    cells[word + LIVE] = 1;
    this.#floats[(this.#data + offset + PRIORITY_BYTE) >> 3] = priority;
    copyOut(payload, 0, this.#bytes, this.#data + offset + PRIORITY_RECORD_HEADER_BYTES, payload.length);
    cells[this.#sequenceCell] = (sequence + 1) | 0;
    cells[this.#bumpCell] = offset + record;
    cells[this.#liveCell] = live + record;
    this.#place(count, offset);
    this.#siftUp(count);
    return true;
  }

  /** Copies the first record's payload into scratch and removes it. `count` (> 0) is the heap size. */
  popCopy(count: number, scratch: (length: number) => Uint8Array): Uint8Array {
    const cells = this.#cells;
    const offset = cells[this.#heap]!;
    const word = (this.#data + offset) >> 2;
    const length = cells[word + LENGTH]!;
    const into = scratch(length);
    copyOut(this.#bytes, this.#data + offset + PRIORITY_RECORD_HEADER_BYTES, into, 0, length);
    const last = count - 1;
    if (last > 0) {
      this.#place(0, cells[this.#heap + last]!);
      this.#siftDown(0, last);
    }
    cells[word + LIVE] = 0;
    const record = priorityRecordBytes(length);
    if (last === 0) {
      cells[this.#bumpCell] = 0;
      cells[this.#liveCell] = 0;
    } else {
      if (offset + record === cells[this.#bumpCell]) cells[this.#bumpCell] = offset;
      cells[this.#liveCell] = cells[this.#liveCell]! - record;
    }
    return into;
  }

  /** Moves live records down over dead ones, keeping their order, and repoints their heap entries. */
  #compact(): void {
    const cells = this.#cells;
    const bytes = this.#bytes;
    const end = cells[this.#bumpCell]!;
    let from = 0;
    let to = 0;
    while (from < end) {
      const word = (this.#data + from) >> 2;
      const record = priorityRecordBytes(cells[word + LENGTH]!);
      if (cells[word + LIVE] === 1) {
        if (from !== to) {
          bytes.copyWithin(this.#data + to, this.#data + from, this.#data + from + record);
          cells[this.#heap + cells[((this.#data + to) >> 2) + HEAP_INDEX]!] = to;
        }
        to += record;
      }
      from += record;
    }
    cells[this.#bumpCell] = to;
  }

  #place(index: number, offset: number): void {
    this.#cells[this.#heap + index] = offset;
    this.#cells[((this.#data + offset) >> 2) + HEAP_INDEX] = index;
  }

  /** Whether the record at offset a goes out before the one at b. */
  #before(a: number, b: number): boolean {
    const pa = this.#floats[(this.#data + a + PRIORITY_BYTE) >> 3]!;
    const pb = this.#floats[(this.#data + b + PRIORITY_BYTE) >> 3]!;
    if (pa !== pb) return pa < pb;
    // Sequences wrap at 2^32; the difference is right while fewer than 2^31 records are apart.
    const sa = this.#cells[((this.#data + a) >> 2) + SEQUENCE]!;
    const sb = this.#cells[((this.#data + b) >> 2) + SEQUENCE]!;
    return ((sa - sb) | 0) < 0;
  }

  #siftUp(index: number): void {
    const cells = this.#cells;
    const offset = cells[this.#heap + index]!;
    while (index > 0) {
      const parent = (index - 1) >> 1;
      const parentOffset = cells[this.#heap + parent]!;
      if (!this.#before(offset, parentOffset)) break;
      this.#place(index, parentOffset);
      index = parent;
    }
    this.#place(index, offset);
  }

  #siftDown(index: number, count: number): void {
    const cells = this.#cells;
    const offset = cells[this.#heap + index]!;
    for (;;) {
      let child = 2 * index + 1;
      if (child >= count) break;
      let childOffset = cells[this.#heap + child]!;
      if (child + 1 < count) {
        const rightOffset = cells[this.#heap + child + 1]!;
        if (this.#before(rightOffset, childOffset)) {
          child++;
          childOffset = rightOffset;
        }
      }
      if (!this.#before(childOffset, offset)) break;
      this.#place(index, childOffset);
      index = child;
    }
    this.#place(index, offset);
  }
}
