// A byte ring of length-prefixed records in shared memory: the FIFO store of Queue and each direction
// of a Pipe. Head and tail are byte positions in [0, 2 * size) so a full ring (tail - head = size) and
// an empty one (tail = head) differ without a spare byte; a record may straddle the end of the data
// region and is then copied in two parts, so no byte is wasted on wrap markers.
// Invariant: only the producer moves tail and only the consumer moves head (a Queue holds its lock for
// either), and each publishes with one Atomics.store after its plain byte copies.

/** A record is a 4-byte length, then the payload padded to a multiple of 4 bytes. */
export const RECORD_HEADER_BYTES = 4;

/** Bytes a payload of `length` bytes occupies in a ring, header and padding included. */
export function ringRecordBytes(length: number): number {
  return RECORD_HEADER_BYTES + ((length + 3) & ~3);
}

/** Byte copies shorter than this are done by a loop: cheaper than creating a subarray view for set(). */
const SHORT_COPY_BYTES = 32;

export class ByteRing {
  readonly #cells: Int32Array;
  readonly #bytes: Uint8Array;
  readonly #headCell: number;
  readonly #tailCell: number;
  /** Byte offset of the data region in the buffer; a multiple of 4. */
  readonly #data: number;
  readonly #size: number;

  /**
   * @param cells Int32 view of the whole buffer; `headCell` and `tailCell` index it.
   * @param dataOffset where the `size` bytes of records start (a multiple of 4; size a multiple of 4).
   */
  constructor(cells: Int32Array, headCell: number, tailCell: number, dataOffset: number, size: number) {
    this.#cells = cells;
    this.#bytes = new Uint8Array(cells.buffer);
    this.#headCell = headCell;
    this.#tailCell = tailCell;
    this.#data = dataOffset;
    this.#size = size;
  }

  /** The largest payload that fits an empty ring. */
  get maxPayloadBytes(): number {
    return this.#size - RECORD_HEADER_BYTES;
  }

  get headCell(): number {
    return this.#headCell;
  }

  get tailCell(): number {
    return this.#tailCell;
  }

  /** Bytes held by records now (a snapshot when called without the producer's or consumer's role). */
  usedBytes(): number {
    const used = Atomics.load(this.#cells, this.#tailCell) - Atomics.load(this.#cells, this.#headCell);
    return used < 0 ? used + 2 * this.#size : used;
  }

  freeBytes(): number {
    return this.#size - this.usedBytes();
  }

  isEmpty(): boolean {
    return Atomics.load(this.#cells, this.#tailCell) === Atomics.load(this.#cells, this.#headCell);
  }

  /** Appends one record if it fits now; the producer's side. Returns false, changing nothing, if not. */
  tryWrite(payload: Uint8Array): boolean {
    const size = this.#size;
    const length = payload.length;
    const record = ringRecordBytes(length);
    const head = Atomics.load(this.#cells, this.#headCell);
    const tail = Atomics.load(this.#cells, this.#tailCell);
    const used = tail - head < 0 ? tail - head + 2 * size : tail - head;
    if (record > size - used) return false;
    const at = tail >= size ? tail - size : tail;
    // The header never straddles: positions and size are multiples of 4.
    this.#cells[(this.#data + at) >> 2] = length;
    const bodyAt = at + RECORD_HEADER_BYTES === size ? 0 : at + RECORD_HEADER_BYTES;
    this.#copyIn(payload, bodyAt);
    const next = tail + record;
    // The release point: a consumer that loads this tail sees every byte copied above.
    Atomics.store(this.#cells, this.#tailCell, next >= 2 * size ? next - 2 * size : next);
    return true;
  }

  /**
   * The payload of the oldest record without consuming it, or undefined when the ring is empty; the
   * consumer's side. A record lying in one piece comes back as a view of the shared memory, valid until
   * consume(); one that straddles the end is copied into `scratch` (grown by the callback as needed).
   */
  peek(scratch: (length: number) => Uint8Array): Uint8Array | undefined {
    const head = Atomics.load(this.#cells, this.#headCell);
    // The acquire point: the record's bytes were written before the producer stored this tail.
    if (head === Atomics.load(this.#cells, this.#tailCell)) return undefined;
    const size = this.#size;
    const at = head >= size ? head - size : head;
    const length = this.#cells[(this.#data + at) >> 2]!;
    const bodyAt = at + RECORD_HEADER_BYTES === size ? 0 : at + RECORD_HEADER_BYTES;
    const start = this.#data + bodyAt;
    if (bodyAt + length <= size) return this.#bytes.subarray(start, start + length);
    const into = scratch(length);
    const first = size - bodyAt;
    into.set(this.#bytes.subarray(start, start + first));
    into.set(this.#bytes.subarray(this.#data, this.#data + length - first), first);
    return into.subarray(0, length);
  }

  /**
   * Copies the oldest record's payload into `scratch` and consumes it; undefined when empty. Used under
   * a Queue's lock, so the bytes are out of the ring before the lock is released.
   */
  readCopy(scratch: (length: number) => Uint8Array): Uint8Array | undefined {
    const head = Atomics.load(this.#cells, this.#headCell);
    if (head === Atomics.load(this.#cells, this.#tailCell)) return undefined;
    const size = this.#size;
    const at = head >= size ? head - size : head;
    const length = this.#cells[(this.#data + at) >> 2]!;
    const bodyAt = at + RECORD_HEADER_BYTES === size ? 0 : at + RECORD_HEADER_BYTES;
    const into = scratch(length);
    const first = Math.min(length, size - bodyAt);
    copyOut(this.#bytes, this.#data + bodyAt, into, 0, first);
    if (first < length) copyOut(this.#bytes, this.#data, into, first, length - first);
    this.#advance(head, length);
    return length === into.length ? into : into.subarray(0, length);
  }

  /** Consumes the record peek() returned. */
  consume(): void {
    const head = Atomics.load(this.#cells, this.#headCell);
    const at = head >= this.#size ? head - this.#size : head;
    this.#advance(head, this.#cells[(this.#data + at) >> 2]!);
  }

  #advance(head: number, length: number): void {
    const next = head + ringRecordBytes(length);
    // Publishing the new head hands the record's bytes back to the producer: nothing reads them after.
    Atomics.store(this.#cells, this.#headCell, next >= 2 * this.#size ? next - 2 * this.#size : next);
  }

  #copyIn(payload: Uint8Array, bodyAt: number): void {
    const length = payload.length;
    const first = Math.min(length, this.#size - bodyAt);
    const bytes = this.#bytes;
    const start = this.#data + bodyAt;
    if (length < SHORT_COPY_BYTES) {
      for (let i = 0; i < first; i++) bytes[start + i] = payload[i]!;
      for (let i = first; i < length; i++) bytes[this.#data + i - first] = payload[i]!;
      return;
    }
    bytes.set(first === length ? payload : payload.subarray(0, first), start);
    if (first < length) bytes.set(payload.subarray(first), this.#data);
  }
}

/** Copies `length` bytes from `from` at `start` into `into` at `at`. */
export function copyOut(from: Uint8Array, start: number, into: Uint8Array, at: number, length: number): void {
  if (length < SHORT_COPY_BYTES) {
    for (let i = 0; i < length; i++) into[at + i] = from[start + i]!;
  } else {
    into.set(from.subarray(start, start + length), at);
  }
}
