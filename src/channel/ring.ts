// A byte ring of length-prefixed records in shared memory: the FIFO store of Queue, each direction of a
// Pipe, and the MPI thread transport's link between two ranks. Head and tail are byte positions in
// [0, 2 * size) so a full ring (tail - head = size) and an empty one (tail = head) differ without a
// spare byte; a record may straddle the end of the data region and is then copied in two parts, so no
// byte is wasted on wrap markers.
// Invariant: only the producer side moves tail and only the consumer side moves head (one thread at a
// time on each side: a Pipe end's user, or a Queue's put or get lock holder); each publishes with one
// Atomics.store after its plain byte copies, and reads its own cell with a plain load (no other thread
// writes it; a Queue side's lock orders it between threads): Atomics.load is a builtin call in V8's
// optimized code (~8 ns each here), a plain load one instruction. Each side keeps the last position it
// read of the other side's cell ("seen") in its own cache line and reloads it only when that one says
// full or empty, so a ring that is neither moves no cache line between the two cores but the data's.
// Invariant: the word where the next record's header goes is 0 until that record is written (its
// writer clears it before storing the header word before it, its reader when it takes the record
// there), and a header word is never 0: a consumer may watch the header word at its head instead of the
// tail (peekReady), which tells it of a small record with the record's own cache line alone.

/**
 * A record is a 4-byte header word, then the payload padded to a multiple of 4 bytes. The header word is
 * the payload's length with RECORD_MARK set, so a written record's word is never 0; its top bit
 * (ALIGN_PAD_FLAG) says 4 pad bytes sit between it and the payload (writeAligned).
 */
export const RECORD_HEADER_BYTES = 4;
const ALIGN_PAD_FLAG = 0x80000000 | 0;
const RECORD_MARK = 0x40000000;
const LENGTH_MASK = 0x3fffffff;
const ALIGN_PAD_BYTES = 4;
/**
 * writeAligned pads payloads from this long: V8 copies between a SharedArrayBuffer and another buffer a
 * word at a time only where both addresses agree modulo 8, else byte by byte (1 MiB: ~125 against
 * ~470 µs here), and below this the pad's 4 bytes cost more than the copy saves.
 */
const ALIGN_MIN_BYTES = 256;

/** Bytes a payload of `length` bytes occupies in a ring, header and padding included. */
export function ringRecordBytes(length: number): number {
  return RECORD_HEADER_BYTES + ((length + 3) & ~3);
}

/** Byte copies shorter than this are done by a loop: cheaper than creating a subarray view for set(). */
const SHORT_COPY_BYTES = 32;

/** Int32 indexes of a ring's cells: tail and headSeen are the producer's, head and tailSeen the consumer's. */
export interface RingCells {
  readonly head: number;
  readonly tail: number;
  readonly headSeen: number;
  readonly tailSeen: number;
}

export class ByteRing {
  readonly #cells: Int32Array;
  readonly #bytes: Uint8Array;
  readonly #head: number;
  readonly #tail: number;
  readonly #headSeen: number;
  readonly #tailSeen: number;
  /** Byte offset of the data region in the buffer; a multiple of 4. */
  readonly #data: number;
  /** Where the next record goes while records written with `publish` false wait for publish(); else -1. */
  #unpublished = -1;
  /** The cell of the first unpublished record's header word, stored at publication (#seal); else -1. */
  #heldAt = -1;
  #heldHeader = 0;
  readonly #size: number;
  readonly #watched: boolean;
  /** The payload length of the record peekWhole() found last. */
  wholeLength = 0;

  /**
   * @param cells Int32 view of the whole buffer, which `at` indexes.
   * @param dataOffset where the `size` bytes of records start (a multiple of 4; size a multiple of 4).
   * @param watched whether the consumer watches header words (peekReady): both sides of a ring must agree.
   * The producer then stores each publication's first header word last and sequentially consistent,
   * and both sides keep the next record's word 0 (#seal, #advance), a few ns a record more.
   */
  constructor(cells: Int32Array, at: RingCells, dataOffset: number, size: number, watched = false) {
    this.#watched = watched;
    this.#cells = cells;
    this.#bytes = new Uint8Array(cells.buffer);
    this.#head = at.head;
    this.#tail = at.tail;
    this.#headSeen = at.headSeen;
    this.#tailSeen = at.tailSeen;
    this.#data = dataOffset;
    this.#size = size;
  }

  /** The shared memory the ring lives in. */
  get buffer(): ArrayBufferLike {
    return this.#cells.buffer;
  }

  /** The largest payload that fits an empty ring. */
  get maxPayloadBytes(): number {
    return this.#size - RECORD_HEADER_BYTES;
  }

  get tailCell(): number {
    return this.#tail;
  }

  get headCell(): number {
    return this.#head;
  }

  /** Bytes held by records now (a snapshot when called from neither side). */
  usedBytes(): number {
    return this.#used(Atomics.load(this.#cells, this.#head), Atomics.load(this.#cells, this.#tail));
  }

  /**
   * Bytes free now (a snapshot). Not a producer's check before write(): hasRoomFor and
   * hasRoomForRecords keep a cached head that is right only while every write follows one of them
   * (a write after a freeBytes() check alone let the cache fall a lap behind and records be overwritten).
   */
  freeBytes(): number {
    return this.#size - this.usedBytes();
  }

  isEmpty(): boolean {
    return Atomics.load(this.#cells, this.#tail) === Atomics.load(this.#cells, this.#head);
  }

  /** Whether a payload of `length` bytes fits now; the producer's side. */
  hasRoomFor(length: number): boolean {
    return this.hasRoomForRecords(ringRecordBytes(length));
  }

  /**
   * Whether records taking `recordBytes` in all (the sum of ringRecordBytes of each payload) fit now,
   * so that they may be written one after the other with no check between; the producer's side.
   */
  hasRoomForRecords(recordBytes: number): boolean {
    const cells = this.#cells;
    const tail = this.#writeTail();
    if (recordBytes <= this.#size - this.#used(cells[this.#headSeen]!, tail)) return true;
    const head = Atomics.load(cells, this.#head);
    cells[this.#headSeen] = head;
    return recordBytes <= this.#size - this.#used(head, tail);
  }

  /**
   * Appends one record; the caller checked hasRoomFor(payload.length) (or hasRoomForRecords for all the
   * records it writes before publishing). With `publish` false the consumer sees it only at the next
   * publish() or published write: records that belong together (a header and its payload) then appear
   * at once, so a consumer never finds the first without the rest.
   */
  write(payload: Uint8Array, publish = true): void {
    const size = this.#size;
    const length = payload.length;
    const tail = this.#writeTail();
    const at = tail >= size ? tail - size : tail;
    this.#copyIn(payload, at + RECORD_HEADER_BYTES === size ? 0 : at + RECORD_HEADER_BYTES);
    this.#commit(tail, at, length, publish);
  }

  /**
   * Ends a write of the `length`-byte record at `at` (tail position `tail`) whose payload is in place:
   * its header word (#seal), then the tail, unless it waits for publish().
   */
  #commit(tail: number, at: number, length: number, publish: boolean): void {
    let next = tail + ringRecordBytes(length);
    if (next >= 2 * this.#size) next -= 2 * this.#size;
    this.#seal(at, next, length | RECORD_MARK, publish);
    if (!publish) {
      this.#unpublished = next;
      return;
    }
    this.#unpublished = -1;
    // The release point: a consumer that loads this tail sees every byte copied above. Sequentially
    // consistent, so a load of the consumer's waiter count made after it cannot be ordered before it.
    Atomics.store(this.#cells, this.#tail, next);
  }

  /**
   * Stores the header word of the record at `at` (whose payload is in place), after clearing the word
   * at `next`, where the record after it will go: a consumer that watches the word at its head
   * (peekReady) then finds 0 there until that record is written, never a stale word of an earlier lap.
   * Not when the ring is full up to `next`: that word is then the oldest record's header, which its
   * consumer clears when it takes the record (#advance). The first header word of a publication (the
   * record, or the first of the records written unpublished before it) is stored last and sequentially
   * consistent: it publishes them all to peekReady at once (the tail publishes them to the rest); the
   * ones after it are plain stores before it. Until then the first one is held (#heldAt), its word 0.
   */
  #seal(at: number, next: number, header: number, publish: boolean): void {
    const cells = this.#cells;
    if (!this.#watched) {
      // Read only after the tail covers it: a plain store, published by the tail's.
      cells[(this.#data + at) >> 2] = header;
      return;
    }
    const size = this.#size;
    if (
      this.#used(cells[this.#headSeen]!, next) < size ||
      this.#used(Atomics.load(cells, this.#head), next) < size
    ) {
      cells[(this.#data + (next >= size ? next - size : next)) >> 2] = 0;
    }
    const word = (this.#data + at) >> 2;
    if (this.#heldAt < 0) {
      if (publish) Atomics.store(cells, word, header);
      else {
        this.#heldAt = word;
        this.#heldHeader = header;
      }
      return;
    }
    cells[word] = header;
    if (publish) this.#releaseHeld();
  }

  /** Stores the held first header word of a publication (#seal). */
  #releaseHeld(): void {
    if (this.#heldAt < 0) return;
    Atomics.store(this.#cells, this.#heldAt, this.#heldHeader);
    this.#heldAt = -1;
  }

  /**
   * write() for a payload of `length` bytes held in the first words of `words`: copied a word at a
   * time. A consumer polling the record's line (peekReady) takes it back to its cache between two
   * stores, so a store per word rather than per byte costs the writer a quarter of those transfers.
   */
  writeWords(words: Int32Array, length: number, publish = true): void {
    const size = this.#size;
    const tail = this.#writeTail();
    const at = tail >= size ? tail - size : tail;
    const cells = this.#cells;
    let word = (this.#data + (at + RECORD_HEADER_BYTES === size ? 0 : at + RECORD_HEADER_BYTES)) >> 2;
    const end = (this.#data + size) >> 2;
    for (let i = 0; i < (length + 3) >> 2; i++) {
      cells[word] = words[i]!;
      if (++word === end) word = this.#data >> 2;
    }
    this.#commit(tail, at, length, publish);
  }

  /** Where the next record goes: past the records written but not yet published, if any. */
  #writeTail(): number {
    return this.#unpublished >= 0 ? this.#unpublished : this.#cells[this.#tail]!;
  }

  /** Publishes the records written with `publish` false (write's release point). */
  publish(): void {
    if (this.#unpublished < 0) return;
    this.#releaseHeld();
    Atomics.store(this.#cells, this.#tail, this.#unpublished);
    this.#unpublished = -1;
  }

  /** Appends one record if it fits now; returns false, changing nothing, if not. */
  tryWrite(payload: Uint8Array): boolean {
    if (!this.hasRoomFor(payload.length)) return false;
    this.write(payload);
    return true;
  }

  /**
   * The pad writeAligned() puts before `payload` now (0 or 4 bytes): a payload of ALIGN_MIN_BYTES or more
   * is placed at the same address modulo 8 as it has in its own buffer (a fresh one: 0), so both copies,
   * into the ring and out of it into a fresh buffer, run word by word. No pad where it would make the record larger than
   * the ring: such a payload still fits, unaligned. The producer's side.
   */
  #alignPad(payload: Uint8Array): number {
    const length = payload.length;
    if (length < ALIGN_MIN_BYTES || ringRecordBytes(length) + ALIGN_PAD_BYTES > this.#size) return 0;
    const size = this.#size;
    const tail = this.#writeTail();
    const at = tail >= size ? tail - size : tail;
    const bodyAt = at + RECORD_HEADER_BYTES === size ? 0 : at + RECORD_HEADER_BYTES;
    // Records start at multiples of 4, so only a source at 0 or 4 modulo 8 can be matched; any other is
    // copied in byte by byte whatever we do, and its payload goes at 0 modulo 8 for the copy out.
    const phase = (payload.byteOffset & 3) === 0 ? payload.byteOffset & 7 : 0;
    return ((this.#data + bodyAt - phase) & 7) === 0 ? 0 : ALIGN_PAD_BYTES;
  }

  /** Whether writeAligned(payload) fits now; the producer's side. */
  hasRoomForAligned(payload: Uint8Array): boolean {
    return this.hasRoomForRecords(ringRecordBytes(payload.length) + this.#alignPad(payload));
  }

  /** Appends one record, its payload 8-byte aligned as #alignPad says; the caller checked hasRoomForAligned. */
  writeAligned(payload: Uint8Array): void {
    const pad = this.#alignPad(payload);
    if (pad === 0) {
      this.write(payload);
      return;
    }
    const size = this.#size;
    const length = payload.length;
    const tail = this.#writeTail();
    const at = tail >= size ? tail - size : tail;
    this.#copyIn(payload, this.#bodyAt(at, ALIGN_PAD_FLAG));
    let next = tail + ringRecordBytes(length) + pad;
    if (next >= 2 * size) next -= 2 * size;
    this.#seal(at, next, length | RECORD_MARK | ALIGN_PAD_FLAG, true);
    this.#unpublished = -1;
    // The release point, as in write().
    Atomics.store(this.#cells, this.#tail, next);
  }

  /** writeAligned if it fits now; returns false, changing nothing, if not. */
  tryWriteAligned(payload: Uint8Array): boolean {
    if (!this.hasRoomForAligned(payload)) return false;
    this.writeAligned(payload);
    return true;
  }

  /**
   * The payload of the oldest record without consuming it, or undefined when the ring is empty; the
   * consumer's side. A record lying in one piece comes back as a view of the shared memory, valid until
   * consume(); one that straddles the end is copied into `scratch(length)`, a buffer of that length.
   */
  peek(scratch: (length: number) => Uint8Array): Uint8Array | undefined {
    const head = this.#nextHead();
    if (head < 0) return undefined;
    const size = this.#size;
    const at = head >= size ? head - size : head;
    const header = this.#cells[(this.#data + at) >> 2]!;
    const length = header & LENGTH_MASK;
    const bodyAt = this.#bodyAt(at, header);
    const start = this.#data + bodyAt;
    if (bodyAt + length <= size) return this.#bytes.subarray(start, start + length);
    const into = scratch(length);
    const first = size - bodyAt;
    copyOut(this.#bytes, start, into, 0, first);
    copyOut(this.#bytes, this.#data, into, first, length - first);
    return into;
  }

  /**
   * Where the oldest record's payload starts in the shared buffer (a byte index, a multiple of 4) when
   * that record lies in one piece with no pad before its payload; its length is then `wholeLength`.
   * -1 when the ring is empty, -2 when the record is one to read with peek() or readCopy(). The
   * consumer's side: the bytes stay valid until consume(). Lets a reader look at a small record's words
   * in place, with no view made and no copy.
   */
  peekWhole(): number {
    const head = this.#nextHead();
    if (head < 0) return -1;
    const size = this.#size;
    const at = head >= size ? head - size : head;
    return this.#whole(at, this.#cells[(this.#data + at) >> 2]!);
  }

  /**
   * peekWhole by the oldest record's own header word rather than the tail, on a watched ring: a producer
   * stores that word after the payload (#seal), so a consumer polling it learns of a record without the
   * tail's cache line (one transfer between the cores less per message). -1 while no record is there
   * (the word is 0), else as peekWhole. The consumer's side; consume() frees the record. Records written
   * unpublished show once published, as through the tail; one taken here before its writer stored the
   * tail leaves the ring looking empty through the tail until it does.
   */
  peekReady(): number {
    if (!this.#watched)
      throw new Error('ByteRing.peekReady on a ring not built as watched; this is a bug in Skein');
    const size = this.#size;
    const head = this.#cells[this.#head]!;
    const at = head >= size ? head - size : head;
    const header = Atomics.load(this.#cells, (this.#data + at) >> 2);
    if (header === 0) return -1;
    return this.#whole(at, header);
  }

  /** peekWhole's answer for the record whose header word `header` is at `at`. */
  #whole(at: number, header: number): number {
    const bodyAt = at + RECORD_HEADER_BYTES;
    const length = header & LENGTH_MASK;
    // A negative header announces a pad; a payload reaching past the end straddles it.
    if (header < 0 || bodyAt + length > this.#size) return -2;
    this.wholeLength = length;
    return this.#data + bodyAt;
  }

  /** Consumes the record peek() returned. */
  consume(): void {
    const head = this.#cells[this.#head]!;
    const at = head >= this.#size ? head - this.#size : head;
    this.#advance(head, this.#cells[(this.#data + at) >> 2]!);
  }

  /** Where the payload of the record whose header is at `at` starts, past a pad the header announces. */
  #bodyAt(at: number, header: number): number {
    const size = this.#size;
    let bodyAt = at + (header < 0 ? RECORD_HEADER_BYTES + ALIGN_PAD_BYTES : RECORD_HEADER_BYTES);
    if (bodyAt >= size) bodyAt -= size;
    return bodyAt;
  }

  /** Copies the oldest record's payload into `scratch(length)` and consumes it; undefined when empty. */
  readCopy(scratch: (length: number) => Uint8Array): Uint8Array | undefined {
    const head = this.#nextHead();
    if (head < 0) return undefined;
    const size = this.#size;
    const at = head >= size ? head - size : head;
    const header = this.#cells[(this.#data + at) >> 2]!;
    const length = header & LENGTH_MASK;
    const bodyAt = this.#bodyAt(at, header);
    const into = scratch(length);
    const first = Math.min(length, size - bodyAt);
    copyOut(this.#bytes, this.#data + bodyAt, into, 0, first);
    if (first < length) copyOut(this.#bytes, this.#data, into, first, length - first);
    this.#advance(head, header);
    return into;
  }

  /** The head position when a record is there, else -1; reloads the producer's tail only when needed. */
  #nextHead(): number {
    const cells = this.#cells;
    const head = cells[this.#head]!;
    if (head !== cells[this.#tailSeen]) return head;
    // The acquire point: the record's bytes were written before the producer stored this tail.
    const tail = Atomics.load(cells, this.#tail);
    // Behind the head for a moment after peekReady took a record before its writer stored the tail.
    if (head === tail || this.#used(head, tail) > this.#size) return -1;
    cells[this.#tailSeen] = tail;
    return head;
  }

  /** Frees the record at `head`, whose header word is `header`. */
  #advance(head: number, header: number): void {
    const cells = this.#cells;
    const size = this.#size;
    let next = head + ringRecordBytes(header & LENGTH_MASK) + (header < 0 ? ALIGN_PAD_BYTES : 0);
    if (next >= 2 * size) next -= 2 * size;
    if (this.#watched) {
      // The header word cleared, so peekReady never takes it for a record of a later lap (#seal).
      cells[(this.#data + (head >= size ? head - size : head)) >> 2] = 0;
      // A record taken by peekReady ahead of the tail: the tail seen moves along, so #nextHead reloads it.
      if (cells[this.#tailSeen] === head) cells[this.#tailSeen] = next;
    }
    // Publishing the new head hands the record's bytes back to the producer: nothing reads them after.
    Atomics.store(cells, this.#head, next);
  }

  #used(head: number, tail: number): number {
    const used = tail - head;
    return used < 0 ? used + 2 * this.#size : used;
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
