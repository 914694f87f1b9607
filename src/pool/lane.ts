// A thread worker's message lanes: two byte rings in one SharedArrayBuffer, pool → worker and worker →
// pool, carrying protocol messages encoded by skein/codec. A postMessage costs a structured-clone pass,
// a lock and an event-loop wake-up (an eventfd write) on every message, even when the receiver takes
// it synchronously; a lane write costs an encode and a copy. The lanes carry only messages whose
// values come out exactly as structured clone would give them (see fitsLane below); anything else,
// and anything with a transfer list, goes by postMessage as before.
//
// Order across the two paths: every message carries a sequence number, and the receiver takes whichever
// of the two oldest (lane's, port's) has the lower one. A message sent earlier on the other path is
// always there to compare with: a lane record is visible once written and a port message once posted,
// both before the sender's next send. Which messages may take a lane: lane-fit.ts.

import { type MessagePort, receiveMessageOnPort, type TransferListItem } from 'node:worker_threads';
import { ByteRing } from '../channel/ring.ts';
import { decodeFrame, encodeFrame, type LaneMessage } from './lane-codec.ts';

/** Bytes of records each lane holds; a message larger than this goes by postMessage. */
const LANE_BYTES = 256 * 1024;
/** Int32 cells: each side's positions in a cache line of its own, so the two cores do not share one. */
const CELLS_BYTES = 256;
const TO_WORKER_PRODUCER = 0;
const TO_WORKER_CONSUMER = 16;
const TO_MAIN_PRODUCER = 32;
const TO_MAIN_CONSUMER = 48;

export function createLaneBuffer(): SharedArrayBuffer {
  return new SharedArrayBuffer(CELLS_BYTES + 2 * LANE_BYTES);
}

function ring(buffer: SharedArrayBuffer, producer: number, consumer: number, data: number): ByteRing {
  const cells = new Int32Array(buffer);
  return new ByteRing(
    cells,
    { tail: producer, headSeen: producer + 1, head: consumer, tailSeen: consumer + 1 },
    data,
    LANE_BYTES,
  );
}

/** One direction: its ring, and a count of the messages its sender posted by port instead. */
export interface Lane {
  readonly ring: ByteRing;
  readonly cells: Int32Array;
  readonly portPostedCell: number;
}

function lane(buffer: SharedArrayBuffer, producer: number, consumer: number, data: number): Lane {
  // The count sits in the producer's cache line, beside the ring's tail (cells producer, producer + 1).
  return {
    ring: ring(buffer, producer, consumer, data),
    cells: new Int32Array(buffer),
    portPostedCell: producer + 2,
  };
}

export function toWorkerLane(buffer: SharedArrayBuffer): Lane {
  return lane(buffer, TO_WORKER_PRODUCER, TO_WORKER_CONSUMER, CELLS_BYTES);
}

export function toMainLane(buffer: SharedArrayBuffer): Lane {
  return lane(buffer, TO_MAIN_PRODUCER, TO_MAIN_CONSUMER, CELLS_BYTES + LANE_BYTES);
}

/** A record that wraps around the end of a ring is copied here to be decoded in one piece. */
let scratch = new Uint8Array(4096);
let scratchView = new DataView(scratch.buffer);
let scratchBuffer = Buffer.from(scratch.buffer);

function readScratch(length: number): Uint8Array {
  if (scratch.length < length) {
    scratch = new Uint8Array(Math.max(length, scratch.length * 2));
    scratchView = new DataView(scratch.buffer);
    scratchBuffer = Buffer.from(scratch.buffer);
  }
  return scratch.subarray(0, length);
}

/** A message with its place in the sender's order. */
type Sequenced = [sequence: number, message: LaneMessage];

/** One side's sending half: a message goes on the lane when it may and fits, else by postMessage. */
export class LaneSender {
  readonly #lane: Lane;
  readonly #post: (message: Sequenced, transfer: readonly TransferListItem[]) => void;
  #sequence = 0;

  constructor(lane: Lane, post: (message: Sequenced, transfer: readonly TransferListItem[]) => void) {
    this.#lane = lane;
    this.#post = post;
  }

  /** Throws, sending nothing, when postMessage cannot copy the message. */
  send(message: LaneMessage, transfer: readonly TransferListItem[], fitsLane: boolean): void {
    const sequence = this.#sequence;
    if (!fitsLane || transfer.length > 0 || !this.#tryLane(sequence, message)) {
      this.#post([sequence, message], transfer);
      // After the post: a receiver that sees the count finds the message on its port.
      Atomics.add(this.#lane.cells, this.#lane.portPostedCell, 1);
    }
    this.#sequence = sequence + 1;
  }

  #tryLane(sequence: number, message: LaneMessage): boolean {
    let bytes: Uint8Array | undefined;
    try {
      bytes = encodeFrame(sequence, message);
    } catch {
      // A getter in the message that throws: postMessage gets its own try.
      return false;
    }
    return bytes !== undefined && this.#lane.ring.tryWrite(bytes);
  }
}

/** One side's receiving half: hands messages from the lane and the port to `deliver` in send order. */
export class LaneReceiver {
  readonly #lane: ByteRing;
  readonly #cells: Int32Array;
  readonly #portPostedCell: number;
  /** Port messages taken (by receiveMessageOnPort or the listener): when equal to the sender's count, none waits. */
  #portTaken = 0;
  readonly #laneView: DataView<ArrayBufferLike>;
  readonly #laneBuffer: Buffer<ArrayBufferLike>;
  readonly #port: MessagePort;
  readonly #deliver: (message: LaneMessage) => void;
  /** Port messages taken off the port (or delivered by its listener) and not yet handed on. */
  readonly #fromPort: Sequenced[] = [];
  #fromLane: Sequenced | undefined;

  constructor(lane: Lane, port: MessagePort, deliver: (message: LaneMessage) => void) {
    this.#lane = lane.ring;
    this.#cells = lane.cells;
    this.#portPostedCell = lane.portPostedCell;
    this.#laneView = new DataView(lane.ring.buffer);
    this.#laneBuffer = Buffer.from(lane.ring.buffer);
    this.#port = port;
    this.#deliver = deliver;
  }

  /** For the port's 'message' listener: queues the message, then hands on all that is there. */
  arrived(message: unknown): void {
    this.#portTaken++;
    this.#fromPort.push(message as Sequenced);
    this.take();
  }

  /**
   * Hands on every message waiting; true if there was any. Re-entrant: `deliver` may call take()
   * again, which goes on from where this one stands.
   */
  take(): boolean {
    return this.#take(false);
  }

  /**
   * take(), looking at the port even when the sender's count says nothing waits: for a sender that
   * died between posting a message and counting it.
   */
  takeAll(): boolean {
    return this.#take(true);
  }

  /**
   * take(), stopping before the first message that is not a batch of results (it stays first in line
   * for the next take): for a caller that may settle promises but must not run callbacks now.
   */
  takeResults(): boolean {
    return this.#take(false, true);
  }

  #take(always: boolean, onlyResults = false): boolean {
    let any = false;
    for (;;) {
      if (this.#fromLane === undefined) {
        const bytes = this.#lane.peek(readScratch);
        if (bytes !== undefined) {
          this.#fromLane =
            bytes.buffer === scratch.buffer
              ? decodeFrame(bytes, scratchView, scratchBuffer)
              : decodeFrame(bytes, this.#laneView, this.#laneBuffer);
          this.#lane.consume();
        }
      }
      if (
        this.#fromPort.length === 0 &&
        (always || Atomics.load(this.#cells, this.#portPostedCell) !== this.#portTaken)
      ) {
        const entry = receiveMessageOnPort(this.#port);
        if (entry !== undefined) {
          this.#portTaken++;
          this.#fromPort.push(entry.message as Sequenced);
        }
      }
      const fromLane = this.#fromLane;
      const fromPort = this.#fromPort[0];
      let message: LaneMessage;
      if (fromLane !== undefined && (fromPort === undefined || fromLane[0] < fromPort[0])) {
        message = fromLane[1];
        if (onlyResults && message.t !== 'results') return any;
        this.#fromLane = undefined;
      } else if (fromPort !== undefined) {
        message = fromPort[1];
        if (onlyResults && message.t !== 'results') return any;
        this.#fromPort.shift();
      } else return any;
      any = true;
      this.#deliver(message);
    }
  }
}
