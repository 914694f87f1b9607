// The two kinds of Call the hub hands to its state machines: a LocalCall, made by an object used on the
// hub's own thread (settles a promise, or is read back at once by a blocking form), and a RemoteCall,
// which arrived in a frame and is answered with one. Invariant: a call settles exactly once; settling
// clears its timer and takes it off the list of kept calls that keeps it reachable.

import { internalError, type SkeinError } from '../../errors.ts';
import type { Call, Delivery, ServerObject, Session } from './server-object.ts';

/** One object in the hub. */
export interface HubEntry {
  readonly id: number;
  readonly kind: string;
  readonly object: ServerObject;
}

export abstract class BaseCall implements Call {
  settled = false;
  /** Set while the hub keeps the call waiting for its deadline. */
  timer: NodeJS.Timeout | undefined;
  #kept = false;

  readonly entry: HubEntry;
  readonly op: string;
  readonly args: readonly unknown[];
  readonly session: Session;
  readonly timeout: number;

  constructor(entry: HubEntry, op: string, args: readonly unknown[], session: Session, timeout: number) {
    this.entry = entry;
    this.op = op;
    this.args = args;
    this.session = session;
    this.timeout = timeout;
  }

  resolve(value: unknown, delivery?: Delivery): void {
    this.#settle();
    this.deliver(value, delivery);
  }

  reject(error: SkeinError): void {
    this.#settle();
    this.fail(error);
  }

  /** The hub keeps the call waiting (it was not settled by start). */
  keep(): void {
    this.#kept = true;
    this.onKept();
  }

  /** Settles without an answer: the caller is gone, or a blocking form takes the call back. */
  abandon(): void {
    if (!this.settled) this.#settle();
  }

  #settle(): void {
    if (this.settled) throw internalError(`${this.entry.kind}.${this.op} was settled twice`);
    this.settled = true;
    if (this.timer !== undefined) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
    if (this.#kept) {
      this.#kept = false;
      this.onReleased();
    }
  }

  protected abstract deliver(value: unknown, delivery: Delivery | undefined): void;
  protected abstract fail(error: SkeinError): void;
  protected abstract onKept(): void;
  protected abstract onReleased(): void;
}

/** Counts the local calls that wait, so the hub keeps its thread alive while any does. */
export interface LocalWaits {
  localWaitStarted(): void;
  localWaitEnded(): void;
}

type Outcome = { readonly ok: true; readonly value: unknown } | { readonly ok: false; readonly error: Error };

/** A call from the hub's own thread: no socket, no copy; `outcome` is there at once when it did not wait. */
export class LocalCall extends BaseCall {
  readonly #waits: LocalWaits;
  #outcome: Outcome | undefined;
  #resolvers: PromiseWithResolvers<unknown> | undefined;
  /** What an abort of this call rejects with (it carries the signal's reason). */
  abortError: Error | undefined;

  constructor(
    waits: LocalWaits,
    entry: HubEntry,
    op: string,
    args: readonly unknown[],
    session: Session,
    timeout: number,
  ) {
    super(entry, op, args, session, timeout);
    this.#waits = waits;
  }

  get outcome(): Outcome | undefined {
    return this.#outcome;
  }

  /** Settles with the outcome, now or later. */
  get promise(): Promise<unknown> {
    const outcome = this.#outcome;
    if (outcome !== undefined)
      return outcome.ok ? Promise.resolve(outcome.value) : Promise.reject(outcome.error);
    this.#resolvers ??= Promise.withResolvers<unknown>();
    return this.#resolvers.promise;
  }

  protected deliver(value: unknown, delivery: Delivery | undefined): void {
    this.#outcome = { ok: true, value };
    this.#resolvers?.resolve(value);
    delivery?.delivered(); // no wire between here and the caller
  }

  protected fail(error: SkeinError): void {
    const reported =
      error.code === 'SKEIN_ABORTED' && this.abortError !== undefined ? this.abortError : error;
    this.#outcome = { ok: false, error: reported };
    this.#resolvers?.reject(reported);
  }

  protected onKept(): void {
    this.#waits.localWaitStarted();
  }

  protected onReleased(): void {
    this.#waits.localWaitEnded();
  }
}

/** Where a RemoteCall's answer goes: the connection it arrived on. */
export interface Answerer {
  answer(call: RemoteCall, value: unknown, delivery: Delivery | undefined): void;
  answerError(call: RemoteCall, error: SkeinError): void;
  kept(call: RemoteCall): void;
  released(call: RemoteCall): void;
}

/** A call that arrived in a REQUEST frame; `id` 0 means the client wants no answer. */
export class RemoteCall extends BaseCall {
  readonly #to: Answerer;
  readonly id: number;

  constructor(
    to: Answerer,
    id: number,
    entry: HubEntry,
    op: string,
    args: readonly unknown[],
    session: Session,
    timeout: number,
  ) {
    super(entry, op, args, session, timeout);
    this.#to = to;
    this.id = id;
  }

  protected deliver(value: unknown, delivery: Delivery | undefined): void {
    this.#to.answer(this, value, delivery);
  }

  protected fail(error: SkeinError): void {
    this.#to.answerError(this, error);
  }

  protected onKept(): void {
    this.#to.kept(this);
  }

  protected onReleased(): void {
    this.#to.released(this);
  }
}
