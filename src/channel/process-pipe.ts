// ProcessPipe: two connected ends shared between processes (multiprocessing.Pipe), kept by the hub of
// the thread that made them. Each end may be handed to a different process; values travel through the
// Skein codec and arrive in the order they were sent. The hub holds what was sent, so send never waits.

import { decode } from '../codec/decoder.ts';
import { encode } from '../codec/encoder.ts';
import { ChannelClosedError, InvalidArgumentError } from '../errors.ts';
import { createShared, type Endpoint, endpointOf, handleOf, NO_WAIT } from '../sync/process/endpoint.ts';
import { registerKind, type Shareable, type SharedHandle, TO_HANDLE } from '../sync/shared.ts';
import type { WaitOptions } from '../sync/wait.ts';
import { invalid, planChannelCall, show } from './process/arguments.ts';
import './process/pipe-state.ts';

const KIND = 'ProcessConnection';

export interface ProcessPipeOptions {
  /**
   * true: both ends send and receive. false: `[receiver, sender]`, the first end only receives and the
   * second only sends. @defaultValue true
   */
  readonly duplex?: boolean;
}

/** The defaults of ProcessPipeOptions. Plain data, frozen. */
export const PROCESS_PIPE_DEFAULTS = Object.freeze({ duplex: true });

let revived: { endpoint: Endpoint; end: number; duplex: boolean } | undefined;

/**
 * One end of a ProcessPipe (multiprocessing's Connection): `send` values of type S, `recv` values of
 * type R. Ends come from ProcessPipe(); each may be handed to another process on its own.
 */
export class ProcessConnection<S = unknown, R = unknown> implements Shareable, AsyncIterable<R> {
  readonly #endpoint: Endpoint;
  /** 0 or 1: which end of the pipe this is (one-way: 0 sends, 1 receives). */
  readonly #end: number;
  readonly #duplex: boolean;

  /** @internal Ends are made by ProcessPipe() or revived from a handle. */
  constructor() {
    const state = revived;
    revived = undefined;
    if (state === undefined) {
      throw new InvalidArgumentError(
        'SKEIN_CHANNEL_INVALID_ARGUMENT',
        'A ProcessConnection is made by ProcessPipe(), which returns both ends; call ProcessPipe() instead',
      );
    }
    this.#endpoint = state.endpoint;
    this.#end = state.end;
    this.#duplex = state.duplex;
  }

  /** Whether close() was called on this end (in any process). */
  get closed(): boolean {
    return this.#endpoint.callSync('closed', [this.#end], NO_WAIT, 'ProcessConnection.closed') as boolean;
  }

  /**
   * Sends a value to the other end (blocking this thread for one round trip to the hub).
   * @throws ChannelClosedError SKEIN_CHANNEL_CLOSED when either end is closed.
   * @throws InvalidArgumentError SKEIN_CHANNEL_INVALID_ARGUMENT on the receiving end of a one-way pipe;
   * SKEIN_CODEC_UNSUPPORTED for a value the codec cannot carry.
   */
  send(value: S, options?: WaitOptions): void {
    this.#checkSender('ProcessConnection.send');
    const plan = planChannelCall(options, 'ProcessConnection.send');
    this.#endpoint.callSync('send', [this.#end, encode(value)], plan, 'ProcessConnection.send');
  }

  /** Like send() without blocking the event loop. */
  async sendAsync(value: S, options?: WaitOptions): Promise<void> {
    this.#checkSender('ProcessConnection.sendAsync');
    const plan = planChannelCall(options, 'ProcessConnection.sendAsync');
    await this.#endpoint.call('send', [this.#end, encode(value)], plan, 'ProcessConnection.sendAsync', {
      settleOnHub: true,
    });
  }

  /**
   * Receives the next value, blocking this thread until one arrives.
   * @throws ChannelClosedError SKEIN_CHANNEL_CLOSED when this end is closed, or the other end is closed
   * and everything it sent was received. TimeoutError SKEIN_TIMEOUT after `timeout` ms.
   */
  recv(options?: WaitOptions): R {
    this.#checkReceiver('ProcessConnection.recv');
    const plan = planChannelCall(options, 'ProcessConnection.recv');
    return decode(
      this.#endpoint.callSync('recv', [this.#end], plan, 'ProcessConnection.recv') as Uint8Array,
    ) as R;
  }

  /**
   * Receives the next value without blocking the event loop. A value handed out just as the call was
   * aborted goes back to the front.
   * @throws ChannelClosedError SKEIN_CHANNEL_CLOSED; TimeoutError SKEIN_TIMEOUT; AbortError SKEIN_ABORTED.
   */
  async recvAsync(options?: WaitOptions): Promise<R> {
    this.#checkReceiver('ProcessConnection.recvAsync');
    const plan = planChannelCall(options, 'ProcessConnection.recvAsync');
    return decode(
      (await this.#endpoint.call('recv', [this.#end], plan, 'ProcessConnection.recvAsync')) as Uint8Array,
    ) as R;
  }

  /**
   * Whether recv() would return without waiting (a value is there, or the other end is closed), waiting
   * up to `timeout` ms for that (0: just look). Blocks this thread.
   */
  poll(timeout = 0): boolean {
    this.#checkReceiver('ProcessConnection.poll');
    const plan = planChannelCall({ timeout }, 'ProcessConnection.poll');
    return this.#endpoint.callSync('poll', [this.#end], plan, 'ProcessConnection.poll') as boolean;
  }

  /** Like poll() without blocking the event loop. */
  async pollAsync(timeout = 0): Promise<boolean> {
    this.#checkReceiver('ProcessConnection.pollAsync');
    const plan = planChannelCall({ timeout }, 'ProcessConnection.pollAsync');
    return (await this.#endpoint.call('poll', [this.#end], plan, 'ProcessConnection.pollAsync')) as boolean;
  }

  /**
   * Closes this end: its own send and recv throw from now on, the other end receives what was sent
   * before and then gets ChannelClosedError, and its send throws at once. Idempotent.
   */
  close(): void {
    this.#endpoint.callSync('close', [this.#end], NO_WAIT, 'ProcessConnection.close');
  }

  /** Receives until the other end is closed and everything it sent is received. */
  async *[Symbol.asyncIterator](): AsyncGenerator<R, void, undefined> {
    for (;;) {
      let value: R;
      try {
        value = await this.recvAsync();
      } catch (error) {
        if (error instanceof ChannelClosedError) return;
        throw error;
      }
      yield value;
    }
  }

  #checkSender(what: string): void {
    if (this.#duplex || this.#end === 0) return;
    throw invalid(
      `${what} on the receiving end of a one-way pipe; send on the other end (the second of ProcessPipe({ duplex: false }))`,
    );
  }

  #checkReceiver(what: string): void {
    if (this.#duplex || this.#end === 1) return;
    throw invalid(
      `${what} on the sending end of a one-way pipe; receive on the other end (the first of ProcessPipe({ duplex: false }))`,
    );
  }

  [TO_HANDLE](): SharedHandle {
    return handleOf(KIND, import.meta.url, this.#endpoint, { end: this.#end, duplex: this.#duplex });
  }

  get [Symbol.toStringTag](): string {
    return KIND;
  }
}

/**
 * Makes a pipe between processes and returns its two ends (multiprocessing.Pipe). Two-way by default:
 * what `a.send` sends `b.recv` receives, and the other way round. `ProcessPipe({ duplex: false })`
 * returns `[receiver, sender]`.
 * @example
 * const [mine, theirs] = ProcessPipe<string, number>();
 * child.send(toHandle(theirs));           // in the child: theirs.send((await theirs.recvAsync()).length)
 * await mine.sendAsync('hello');
 * await mine.recvAsync();                 // 5
 * @throws InvalidArgumentError SKEIN_CHANNEL_INVALID_ARGUMENT for bad options.
 */
export function ProcessPipe<A = unknown, B = A>(
  options?: ProcessPipeOptions & { readonly duplex?: true },
): [ProcessConnection<A, B>, ProcessConnection<B, A>];
export function ProcessPipe<T = unknown>(
  options: ProcessPipeOptions & { readonly duplex: false },
): [receiver: ProcessConnection<never, T>, sender: ProcessConnection<T, never>];
export function ProcessPipe(options?: ProcessPipeOptions): [ProcessConnection, ProcessConnection];
export function ProcessPipe(options?: ProcessPipeOptions): [ProcessConnection, ProcessConnection] {
  if (options !== undefined && (typeof options !== 'object' || options === null)) {
    throw invalid(`options must be an object (got ${show(options)}); omit it for a two-way pipe`);
  }
  const duplex = options?.duplex ?? PROCESS_PIPE_DEFAULTS.duplex;
  if (typeof duplex !== 'boolean') {
    throw invalid(`duplex must be a boolean (got ${show(duplex)}); omit it for a two-way pipe`);
  }
  const endpoint = createShared('ProcessPipe', [duplex]);
  revived = { endpoint, end: 0, duplex };
  const first = new ProcessConnection();
  revived = { endpoint, end: 1, duplex };
  const second = new ProcessConnection();
  return duplex ? [first, second] : [second, first];
}

registerKind(KIND, (handle) => {
  const end = handle.end;
  if (end !== 0 && end !== 1) {
    throw new InvalidArgumentError(
      'SKEIN_CHANNEL_INVALID_ARGUMENT',
      `A ProcessConnection handle names end 0 or 1 (got ${show(end)}); pass what toHandle() returned, unchanged`,
    );
  }
  revived = { endpoint: endpointOf(handle), end, duplex: handle.duplex === true };
  return new ProcessConnection();
});
