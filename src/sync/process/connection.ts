// A client's connection to one hub: requests out, answers matched back by id. Used by every thread that
// reaches a hub it does not run, and by the blocking helper thread. Invariant: each request settles
// exactly once (answer, abort, client-side deadline, or SKEIN_SYNC_DISCONNECTED when the socket closes),
// and a value the hub sent for a request given up on is handed back (NACK, or the give-back request).

import { addAbortListener } from 'node:events';
import { createConnection, type Socket } from 'node:net';
import { abortErrorFrom, errorFromCode, SkeinError, TimeoutError } from '../../errors.ts';
import {
  decodeBody,
  encodeBareFrame,
  encodeFrame,
  type Frame,
  FrameReader,
  FrameType,
  type Hello,
  type WireError,
} from './frames.ts';

/** How long past its timeout a call waits for the hub's own answer before giving up on the hub. */
export const HUB_GRACE_MS = 2000;
const MAX_REQUEST_ID = 0xffff_ffff;

/** What undoes a grant that arrived for a request this side had already given up on. */
export interface GiveBack {
  readonly op: string;
  readonly args: readonly unknown[];
}

export interface RequestOptions {
  readonly signal?: AbortSignal | undefined;
  /** Sent (without waiting) when a grant arrives after an abort, e.g. { op: 'release' } for a lock. */
  readonly giveBack?: GiveBack | undefined;
  /**
   * On abort, wait for the hub to say whether the call was withdrawn in time (AbortError) or had
   * already taken effect (its value): for effects nobody can take back, such as a put.
   */
  readonly settleOnHub?: boolean | undefined;
}

interface Pending {
  readonly object: number;
  readonly resolve: (value: unknown) => void;
  readonly reject: (error: Error) => void;
  readonly giveBack: GiveBack | undefined;
  /** The answer is no longer wanted; only its side effects are undone. */
  abandoned: boolean;
  /** Set when aborted with settleOnHub: the error to report if the hub confirms the withdrawal. */
  abortError: Error | undefined;
  disposeListener: (() => void) | undefined;
  guard: NodeJS.Timeout | undefined;
}

export class HubConnection {
  readonly path: string;
  readonly #socket: Socket;
  readonly #reader = new FrameReader();
  readonly #pending = new Map<number, Pending>();
  readonly #onLost: (() => void)[] = [];
  #nextId = 1;
  #connected = false;
  /** Requests whose answer someone awaits: while any, the socket keeps the thread alive. */
  #awaited = 0;
  #lostError: string | undefined;
  #cause: Error | undefined;

  constructor(path: string, hello: Hello) {
    this.path = path;
    this.#socket = createConnection(path);
    this.#socket.unref();
    this.#socket.on('connect', () => {
      this.#connected = true;
    });
    this.#socket.on('data', (chunk: Buffer) => this.#receive(chunk));
    this.#socket.on('error', (error) => {
      this.#cause ??= error;
    });
    this.#socket.on('close', () => this.#lose());
    this.#socket.write(encodeFrame(FrameType.HELLO, 0, 0, hello));
  }

  /** Connected and not lost: a write now goes out before anything this thread writes later. */
  get ready(): boolean {
    return this.#connected && this.#lostError === undefined;
  }

  get lost(): boolean {
    return this.#lostError !== undefined;
  }

  /** Throws SKEIN_SYNC_DISCONNECTED once the connection is lost. */
  checkConnected(): void {
    if (this.#lostError !== undefined) throw this.#disconnected();
  }

  /** Runs `listener` once when the connection is lost (the hub's process died or closed it). */
  onLost(listener: () => void): void {
    this.#onLost.push(listener);
  }

  /** Sends a request and resolves with the hub's answer. `timeout` in ms (Infinity: none). */
  request(
    object: number,
    op: string,
    args: readonly unknown[],
    timeout: number,
    options: RequestOptions = {},
  ): Promise<unknown> {
    if (this.#lostError !== undefined) return Promise.reject(this.#disconnected());
    const id = this.#takeId();
    const { promise, resolve, reject } = Promise.withResolvers<unknown>();
    const pending: Pending = {
      object,
      resolve,
      reject,
      giveBack: options.giveBack,
      abandoned: false,
      abortError: undefined,
      disposeListener: undefined,
      guard: undefined,
    };
    this.#pending.set(id, pending);
    this.#await(1);
    this.#socket.write(
      encodeFrame(FrameType.REQUEST, id, object, [op, args, timeout === Infinity ? -1 : timeout]),
    );
    const signal = options.signal;
    if (signal !== undefined) {
      const listener = addAbortListener(signal, () =>
        this.#abort(id, abortErrorFrom(signal), options.settleOnHub === true),
      );
      pending.disposeListener = () => listener[Symbol.dispose]();
    }
    if (timeout !== Infinity) {
      // The hub answers timeouts itself; this guard only fires when the hub stopped answering at all.
      pending.guard = setTimeout(() => {
        pending.guard = undefined;
        this.#abort(
          id,
          new TimeoutError(
            `${op} got no answer from the hub at ${this.path} within ${timeout + HUB_GRACE_MS} ms`,
          ),
          false,
        );
      }, timeout + HUB_GRACE_MS);
      pending.guard.unref();
    }
    return promise;
  }

  /** Sends a request whose answer nobody waits for (a release). */
  post(object: number, op: string, args: readonly unknown[]): void {
    if (this.#lostError !== undefined) throw this.#disconnected();
    this.#socket.write(encodeFrame(FrameType.REQUEST, 0, object, [op, args, 0]));
  }

  /** Stops waiting for request `id`, rejecting with `error` now, or once the hub confirms (settleOnHub). */
  #abort(id: number, error: Error, settleOnHub: boolean): void {
    const pending = this.#pending.get(id);
    if (pending === undefined || pending.abandoned || pending.abortError !== undefined) return;
    this.#socket.write(encodeBareFrame(FrameType.CANCEL, id, pending.object));
    if (settleOnHub) {
      pending.abortError = error;
      return;
    }
    pending.abandoned = true;
    this.#finish(pending);
    pending.reject(error);
  }

  #receive(chunk: Buffer): void {
    let frames: Frame[];
    try {
      frames = this.#reader.push(chunk);
    } catch (error) {
      this.#cause ??= error as Error;
      this.#socket.destroy();
      return;
    }
    for (const frame of frames) this.#answer(frame);
  }

  #answer(frame: Frame): void {
    const pending = this.#pending.get(frame.id);
    if (pending === undefined) return;
    this.#pending.delete(frame.id);
    const needsAck = frame.type === FrameType.RESULT_NEEDS_ACK;
    if (pending.abandoned) {
      if (needsAck) this.#socket.write(encodeBareFrame(FrameType.NACK, frame.id, pending.object));
      else if (frame.type === FrameType.RESULT && pending.giveBack !== undefined) {
        this.post(pending.object, pending.giveBack.op, pending.giveBack.args);
      }
      return;
    }
    // Acknowledge before the caller sees the value: from here on it is this process's, not the hub's.
    if (needsAck) this.#socket.write(encodeBareFrame(FrameType.ACK, frame.id, pending.object));
    this.#finish(pending);
    if (frame.type === FrameType.FAILURE) {
      const wire = decodeBody<WireError>(frame);
      pending.reject(
        wire.code === 'SKEIN_ABORTED' && pending.abortError !== undefined
          ? pending.abortError
          : errorFromCode(wire.code, wire.message),
      );
    } else {
      pending.resolve(decodeBody<unknown>(frame));
    }
  }

  #finish(pending: Pending): void {
    pending.disposeListener?.();
    pending.disposeListener = undefined;
    if (pending.guard !== undefined) clearTimeout(pending.guard);
    pending.guard = undefined;
    this.#await(-1);
  }

  #await(delta: number): void {
    this.#awaited += delta;
    if (this.#awaited === 0) this.#socket.unref();
    else if (delta > 0 && this.#awaited === 1) this.#socket.ref();
  }

  #takeId(): number {
    const id = this.#nextId;
    this.#nextId = id === MAX_REQUEST_ID ? 1 : id + 1;
    return id;
  }

  #lose(): void {
    if (this.#lostError !== undefined) return;
    const cause = this.#cause === undefined ? '' : ` (${this.#cause.message})`;
    this.#lostError = `Lost the connection to the hub at ${this.path}${cause}: the process that created the object exited or was killed, and its process-shared objects went with it`;
    const pending = [...this.#pending.values()];
    this.#pending.clear();
    for (const entry of pending) {
      if (entry.abandoned) continue;
      this.#finish(entry);
      entry.reject(this.#disconnected());
    }
    this.#awaited = 0;
    for (const listener of this.#onLost.splice(0)) listener();
  }

  #disconnected(): SkeinError {
    return new SkeinError('SKEIN_SYNC_DISCONNECTED', this.#lostError ?? 'Not connected to the hub');
  }
}
