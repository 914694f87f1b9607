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
import { decode, Encoder } from '../codec/index.ts';

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

export function toWorkerRing(buffer: SharedArrayBuffer): ByteRing {
  return ring(buffer, TO_WORKER_PRODUCER, TO_WORKER_CONSUMER, CELLS_BYTES);
}

export function toMainRing(buffer: SharedArrayBuffer): ByteRing {
  return ring(buffer, TO_MAIN_PRODUCER, TO_MAIN_CONSUMER, CELLS_BYTES + LANE_BYTES);
}

const encoder = new Encoder(16 * 1024);

let scratch = new Uint8Array(1024);

function readScratch(length: number): Uint8Array {
  if (scratch.length < length) scratch = new Uint8Array(Math.max(length, scratch.length * 2));
  return scratch.subarray(0, length);
}

/** A message with its place in the sender's order. */
type Sequenced = [sequence: number, message: unknown];

/** One side's sending half: a message goes on the lane when it may and fits, else by postMessage. */
export class LaneSender {
  readonly #lane: ByteRing;
  readonly #post: (message: Sequenced, transfer: readonly TransferListItem[]) => void;
  #sequence = 0;

  constructor(lane: ByteRing, post: (message: Sequenced, transfer: readonly TransferListItem[]) => void) {
    this.#lane = lane;
    this.#post = post;
  }

  /** Throws, sending nothing, when postMessage cannot copy the message. */
  send(message: unknown, transfer: readonly TransferListItem[], fitsLane: boolean): void {
    const sequenced: Sequenced = [this.#sequence, message];
    if (!fitsLane || transfer.length > 0 || !this.#tryLane(sequenced)) this.#post(sequenced, transfer);
    this.#sequence++;
  }

  #tryLane(sequenced: Sequenced): boolean {
    let bytes: Uint8Array;
    try {
      bytes = encoder.encode(sequenced);
    } catch {
      // A getter in the message that throws or re-enters the encoder: postMessage gets its own try.
      return false;
    }
    return this.#lane.tryWrite(bytes);
  }
}

/** One side's receiving half: hands messages from the lane and the port to `deliver` in send order. */
export class LaneReceiver {
  readonly #lane: ByteRing;
  readonly #port: MessagePort;
  readonly #deliver: (message: unknown) => void;
  /** Port messages taken off the port (or delivered by its listener) and not yet handed on. */
  readonly #fromPort: Sequenced[] = [];
  #fromLane: Sequenced | undefined;

  constructor(lane: ByteRing, port: MessagePort, deliver: (message: unknown) => void) {
    this.#lane = lane;
    this.#port = port;
    this.#deliver = deliver;
  }

  /** For the port's 'message' listener: queues the message, then hands on all that is there. */
  arrived(message: unknown): void {
    this.#fromPort.push(message as Sequenced);
    this.take();
  }

  /**
   * Hands on every message waiting; true if there was any. Re-entrant: `deliver` may call take()
   * again, which goes on from where this one stands.
   */
  take(): boolean {
    let any = false;
    for (;;) {
      if (this.#fromLane === undefined) {
        const bytes = this.#lane.peek(readScratch);
        if (bytes !== undefined) {
          this.#fromLane = decode(bytes) as Sequenced;
          this.#lane.consume();
        }
      }
      if (this.#fromPort.length === 0) {
        const entry = receiveMessageOnPort(this.#port);
        if (entry !== undefined) this.#fromPort.push(entry.message as Sequenced);
      }
      const fromLane = this.#fromLane;
      const fromPort = this.#fromPort[0];
      let message: unknown;
      if (fromLane !== undefined && (fromPort === undefined || fromLane[0] < fromPort[0])) {
        this.#fromLane = undefined;
        message = fromLane[1];
      } else if (fromPort !== undefined) {
        this.#fromPort.shift();
        message = fromPort[1];
      } else return any;
      any = true;
      this.#deliver(message);
    }
  }
}
