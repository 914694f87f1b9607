// The hub's state machine for ProcessLock and ProcessRLock: an owner session, a recursion count, and a
// FIFO of waiting acquires (a ProcessCondition queues its woken waiters here too, to take the lock back
// with their saved count). Release hands the lock straight to the oldest waiter, so nobody barges.
// Owner death (its session's last connection closed): the lock is free again and the next acquirer gets
// OwnerDiedError, as with the thread Lock (mutex.ts); waiters behind it are served as usual.

import { OwnerDiedError, SkeinError } from '../../errors.ts';
import { InsertionOrderSet } from '../../insertion-order-map.ts';
import { type Call, registerServerKind, type ServerObject, type Session } from './server-object.ts';
import { unknownOp } from './state-kit.ts';

/** Ops: acquire → true; release → undefined; locked → boolean; owner → OwnerInfo | null; mine → count. */
export interface OwnerInfo {
  readonly pid: number;
  readonly threadId: number;
}

/**
 * A queued acquisition: `granted` runs once the lock is the call's session's, with `count`; `refused`
 * when it is told instead that the previous owner died.
 */
interface Waiter {
  readonly call: Call;
  readonly count: number;
  readonly granted: () => void;
  readonly refused: (error: OwnerDiedError) => void;
}

export class LockState implements ServerObject {
  readonly #kind: string;
  readonly #reentrant: boolean;
  #owner: Session | null = null;
  #count = 0;
  readonly #waiters = new InsertionOrderSet<Waiter>();
  readonly #waiterOf = new Map<Call, Waiter>();
  /** Who died holding the lock, until an acquirer has been told. */
  #diedHolding: Session | null = null;

  constructor(kind: string, reentrant: boolean) {
    this.#kind = kind;
    this.#reentrant = reentrant;
  }

  start(call: Call): void {
    switch (call.op) {
      case 'acquire':
        this.#acquire(call);
        return;
      case 'release':
        this.#checkOwner(call.session, 'release()');
        if (--this.#count === 0) this.#free();
        call.resolve(undefined);
        return;
      case 'locked':
        call.resolve(this.#owner !== null);
        return;
      case 'owner':
        call.resolve(this.#owner === null ? null : { pid: this.#owner.pid, threadId: this.#owner.threadId });
        return;
      case 'mine':
        call.resolve(this.#owner === call.session ? this.#count : 0);
        return;
      default:
        throw unknownOp(this.#kind, call.op);
    }
  }

  #acquire(call: Call): void {
    if (this.#reentrant && this.#owner === call.session) {
      this.#count++;
      call.resolve(true);
      return;
    }
    // Another async caller of the owning thread waits its turn too (a Lock is not reentrant).
    this.enqueue(
      call,
      1,
      () => call.resolve(true),
      (error) => call.reject(error),
    );
  }

  /** Queues an acquisition by `call`'s session (granted at once when the lock is free and nobody waits). */
  enqueue(call: Call, count: number, granted: () => void, refused: (error: OwnerDiedError) => void): void {
    if (this.#diedHolding !== null) {
      const dead = this.#diedHolding;
      this.#diedHolding = null;
      refused(this.#ownerDied(dead));
      return;
    }
    const waiter: Waiter = { call, count, granted, refused };
    if (this.#owner === null && this.#waiters.size === 0) {
      this.#grant(waiter);
      return;
    }
    this.#waiters.add(waiter);
    this.#waiterOf.set(call, waiter);
  }

  /** Takes a queued acquisition out of the line; false when `call` was not waiting. */
  withdraw(call: Call): boolean {
    const waiter = this.#waiterOf.get(call);
    if (waiter === undefined) return false;
    this.#waiters.delete(waiter);
    this.#waiterOf.delete(call);
    return true;
  }

  /** Throws SKEIN_SYNC_NOT_OWNER unless `session` holds the lock; `what` names the call. */
  #checkOwner(session: Session, what: string): void {
    if (this.#owner === session) return;
    throw new SkeinError(
      'SKEIN_SYNC_NOT_OWNER',
      this.#owner === null
        ? `${what} of a ${this.#kind} that is not held; release only what this thread acquired (prefer \`using\`)`
        : `${what} of a ${this.#kind} held by ${this.#owner.label}, not by ${session.label}; only the owner may do it`,
    );
  }

  /** For a condition: checks `session` holds the lock, then releases it whatever its count; returns the count. */
  releaseFully(session: Session, what: string): number {
    this.#checkOwner(session, what);
    const count = this.#count;
    this.#free();
    return count;
  }

  /** For a condition: throws SKEIN_SYNC_NOT_OWNER unless `session` holds the lock. */
  checkOwner(session: Session, what: string): void {
    this.#checkOwner(session, what);
  }

  #free(): void {
    this.#owner = null;
    this.#count = 0;
    this.#handOff();
  }

  #grant(waiter: Waiter): void {
    this.#owner = waiter.call.session;
    this.#count = waiter.count;
    waiter.granted();
  }

  #handOff(): void {
    const next = this.#waiters.deleteOldest();
    if (next === undefined) return;
    this.#waiterOf.delete(next.call);
    this.#grant(next);
  }

  stop(call: Call): boolean {
    this.withdraw(call);
    return false;
  }

  sessionEnded(session: Session): void {
    if (this.#owner !== session) return;
    this.#owner = null;
    this.#count = 0;
    const told = this.#waiters.deleteOldest();
    if (told === undefined) {
      this.#diedHolding = session;
      return;
    }
    this.#waiterOf.delete(told.call);
    told.refused(this.#ownerDied(session));
    this.#handOff();
  }

  describeWait(): string {
    return this.#owner === null ? '' : ` (held by ${this.#owner.label})`;
  }

  #ownerDied(dead: Session): OwnerDiedError {
    return new OwnerDiedError(
      `The ${this.#kind} was held by ${dead.label}, which exited (or lost its connection) without releasing it; it is free again, but the state it guarded may be half-updated: check it, then acquire again`,
    );
  }
}

registerServerKind('ProcessLock', () => new LockState('ProcessLock', false));
registerServerKind('ProcessRLock', () => new LockState('ProcessRLock', true));
