// The hub's state machine for ProcessSemaphore and ProcessBoundedSemaphore: a count of permits, a FIFO
// of waiting acquires, and how many permits each session holds. Invariant (bounded): value plus the
// permits held equals the initial value, because a release first gives back the releaser's own permits
// and then those of other holders (any thread may release, as in Python).
// Owner death: the permits a dead session held come back, and the next acquirer is told with
// OwnerDiedError (without a permit; it may retry), like the thread Semaphore.

import { OwnerDiedError, SkeinError } from '../../errors.ts';
import { InsertionOrderSet } from '../../insertion-order-map.ts';
import { type Call, registerServerKind, type ServerObject, type Session } from './server-object.ts';
import { unknownOp } from './state-kit.ts';

/** Ops: acquire → true; release [n] → undefined; value → number. */
export class SemaphoreState implements ServerObject {
  readonly #kind: string;
  /** The initial value of a bounded semaphore; null when unbounded. */
  readonly #bound: number | null;
  #value: number;
  readonly #waiters = new InsertionOrderSet<Call>();
  readonly #held = new Map<Session, number>();
  #diedHolding: Session | null = null;

  constructor(kind: string, value: number, bounded: boolean) {
    this.#kind = kind;
    this.#value = value;
    this.#bound = bounded ? value : null;
  }

  start(call: Call): void {
    switch (call.op) {
      case 'acquire':
        this.#acquire(call);
        return;
      case 'release':
        this.#release(call, call.args[0] as number);
        return;
      case 'value':
        call.resolve(this.#value);
        return;
      default:
        throw unknownOp(this.#kind, call.op);
    }
  }

  #acquire(call: Call): void {
    if (this.#diedHolding !== null) {
      const dead = this.#diedHolding;
      this.#diedHolding = null;
      throw this.#ownerDied(dead);
    }
    if (this.#value > 0 && this.#waiters.size === 0) this.#grant(call);
    else this.#waiters.add(call);
  }

  #release(call: Call, n: number): void {
    if (this.#bound !== null && this.#value + n > this.#bound) {
      throw new SkeinError(
        'SKEIN_SYNC_OVER_RELEASE',
        `${this.#kind}.release(${n}) would raise its value to ${this.#value + n}, above its initial ${this.#bound}; release only permits that were acquired`,
      );
    }
    this.#value += n;
    this.#unhold(call.session, n);
    call.resolve(undefined);
    this.#serve();
  }

  #grant(call: Call): void {
    this.#value--;
    this.#held.set(call.session, (this.#held.get(call.session) ?? 0) + 1);
    call.resolve(true);
  }

  #serve(): void {
    while (this.#value > 0) {
      const next = this.#waiters.deleteOldest();
      if (next === undefined) return;
      this.#grant(next);
    }
  }

  /** Takes `n` permits off the books: the releaser's own first, then other holders' in order. */
  #unhold(session: Session, n: number): void {
    let left = n;
    const own = this.#held.get(session) ?? 0;
    if (own > 0) left = this.#take(session, own, left);
    for (const [other, count] of this.#held) {
      if (left === 0) return;
      left = this.#take(other, count, left);
    }
  }

  #take(session: Session, count: number, wanted: number): number {
    const taken = Math.min(count, wanted);
    if (taken === count) this.#held.delete(session);
    else this.#held.set(session, count - taken);
    return wanted - taken;
  }

  stop(call: Call): boolean {
    this.#waiters.delete(call);
    return false;
  }

  sessionEnded(session: Session): void {
    const held = this.#held.get(session);
    if (held === undefined) return;
    this.#held.delete(session);
    this.#value += held;
    const told = this.#waiters.deleteOldest();
    if (told === undefined) {
      this.#diedHolding = session;
      return;
    }
    told.reject(this.#ownerDied(session));
    this.#serve();
  }

  describeWait(): string {
    return ` (value ${this.#value}, ${this.#waiters.size} waiting)`;
  }

  #ownerDied(dead: Session): OwnerDiedError {
    return new OwnerDiedError(
      `A permit of the ${this.#kind} was held by ${dead.label}, which exited (or lost its connection) without releasing it; the permit is available again, but the state it guarded may be half-updated: check it, then acquire again`,
    );
  }
}

registerServerKind(
  'ProcessSemaphore',
  (params) => new SemaphoreState('ProcessSemaphore', params[0] as number, false),
);
registerServerKind(
  'ProcessBoundedSemaphore',
  (params) => new SemaphoreState('ProcessBoundedSemaphore', params[0] as number, true),
);
