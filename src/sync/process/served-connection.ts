// The hub's side of one client connection: frames in, calls to the hub, answers out. It remembers the
// calls still waiting and the values sent but not yet acknowledged, so that when the connection closes
// (its thread or process died) the waits are withdrawn and the values go back where they came from.
// Invariant: a value sent with RESULT_NEEDS_ACK stays the hub's until the client's ACK arrives.

import type { Socket } from 'node:net';
import { AbortError, InvalidArgumentError, type SkeinError } from '../../errors.ts';
import { type Answerer, type HubEntry, RemoteCall } from './calls.ts';
import { decodeBody, encodeFrame, type Frame, FrameReader, FrameType, type Hello } from './frames.ts';
import type { Delivery, Session } from './server-object.ts';

/** What a connection needs from the hub that accepted it. */
export interface CallDriver {
  entry(id: number): HubEntry | undefined;
  run(call: RemoteCall): void;
  cancel(call: RemoteCall, error: SkeinError): void;
  drop(call: RemoteCall): void;
  sessionOpened(hello: Hello): Session;
  sessionClosed(session: Session): void;
}

export class ServedConnection implements Answerer {
  readonly #driver: CallDriver;
  readonly #socket: Socket;
  readonly #reader = new FrameReader();
  readonly #waiting = new Map<number, RemoteCall>();
  readonly #unacknowledged = new Map<number, Delivery>();
  #session: Session | undefined;
  #closed = false;

  constructor(driver: CallDriver, socket: Socket) {
    this.#driver = driver;
    this.#socket = socket;
    // A connected client never keeps the hub's process alive by itself: the hub lives as long as the
    // process that made it has work of its own (see docs/sync-processes.md, "Lifetime").
    socket.unref();
    socket.on('data', (chunk: Buffer) => this.#receive(chunk));
    socket.on('error', () => {}); // 'close' follows and does the cleanup
    socket.on('close', () => this.#close());
  }

  #receive(chunk: Buffer): void {
    let frames: Frame[];
    try {
      frames = this.#reader.push(chunk);
    } catch {
      this.#socket.destroy();
      return;
    }
    for (const frame of frames) {
      if (this.#closed) return;
      try {
        this.#handle(frame);
      } catch {
        // A frame that does not decode is a client that does not speak the protocol: hang up on it.
        this.#socket.destroy();
        return;
      }
    }
  }

  #handle(frame: Frame): void {
    switch (frame.type) {
      case FrameType.HELLO:
        if (this.#session === undefined) this.#session = this.#driver.sessionOpened(decodeBody<Hello>(frame));
        return;
      case FrameType.REQUEST:
        this.#request(frame);
        return;
      case FrameType.CANCEL: {
        const call = this.#waiting.get(frame.id);
        if (call !== undefined) this.#driver.cancel(call, new AbortError('The caller aborted the call'));
        return;
      }
      case FrameType.ACK:
      case FrameType.NACK: {
        const delivery = this.#unacknowledged.get(frame.id);
        if (delivery === undefined) return;
        this.#unacknowledged.delete(frame.id);
        if (frame.type === FrameType.ACK) delivery.delivered();
        else delivery.givenBack();
        return;
      }
      default:
        throw new RangeError(`unexpected frame type ${frame.type}`);
    }
  }

  #request(frame: Frame): void {
    const session = this.#session;
    if (session === undefined) throw new RangeError('request before hello');
    const [op, args, timeout] = decodeBody<[string, unknown[], number]>(frame);
    const entry = this.#driver.entry(frame.object);
    if (entry === undefined) {
      if (frame.id !== 0) {
        const error = invalidObject(frame.object);
        this.#write(
          encodeFrame(FrameType.FAILURE, frame.id, 0, { code: error.code, message: error.message }),
        );
      }
      return;
    }
    const call = new RemoteCall(this, frame.id, entry, op, args, session, timeout < 0 ? Infinity : timeout);
    this.#driver.run(call);
  }

  answer(call: RemoteCall, value: unknown, delivery: Delivery | undefined): void {
    if (this.#closed || call.id === 0) {
      // Nobody will read it: take it back at once (after the state machine finished its current step).
      if (delivery !== undefined) queueMicrotask(() => delivery.givenBack());
      return;
    }
    if (delivery === undefined) {
      this.#write(encodeFrame(FrameType.RESULT, call.id, 0, value));
      return;
    }
    this.#unacknowledged.set(call.id, delivery);
    this.#write(encodeFrame(FrameType.RESULT_NEEDS_ACK, call.id, 0, value));
  }

  answerError(call: RemoteCall, error: SkeinError): void {
    if (this.#closed) return;
    if (call.id === 0) {
      // The client wanted no answer, and checks locally what could fail (ownership), so this is a bug.
      process.emitWarning(`${call.entry.kind}.${call.op} sent without reply failed: ${error.message}`, {
        code: error.code,
      });
      return;
    }
    this.#write(encodeFrame(FrameType.FAILURE, call.id, 0, { code: error.code, message: error.message }));
  }

  kept(call: RemoteCall): void {
    this.#waiting.set(call.id, call);
  }

  released(call: RemoteCall): void {
    this.#waiting.delete(call.id);
  }

  #write(frame: Buffer): void {
    this.#socket.write(frame);
  }

  #close(): void {
    if (this.#closed) return;
    this.#closed = true;
    // Order matters: withdraw this connection's waits first, so the values given back next cannot be
    // handed to them; then return the values; then release what the session held.
    for (const call of [...this.#waiting.values()]) this.#driver.drop(call);
    this.#waiting.clear();
    const unacknowledged = [...this.#unacknowledged.values()];
    this.#unacknowledged.clear();
    for (const delivery of unacknowledged) delivery.givenBack();
    if (this.#session !== undefined) this.#driver.sessionClosed(this.#session);
  }
}

function invalidObject(id: number): InvalidArgumentError {
  return new InvalidArgumentError(
    'SKEIN_SYNC_INVALID_ARGUMENT',
    `This hub has no object ${id}; pass a handle that toHandle() returned for an object of this hub`,
  );
}
