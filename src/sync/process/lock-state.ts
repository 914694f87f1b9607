// The hub's state machine for ProcessLock and ProcessRLock: an owner session, a recursion count, and a
// FIFO of waiting acquires. Release hands the lock straight to the oldest waiter, so nobody barges.
// Owner death (its session's last connection closed): the lock is free again and the next acquirer gets
// OwnerDiedError, as with the thread Lock (mutex.ts); waiters behind it are served as usual.

import { OwnerDiedError, SkeinError } from '../../errors.ts';
import { type Call, registerServerKind, type ServerObject, type Session } from './server-object.ts';
import { first, unknownOp } from './state-kit.ts';

/** Ops: acquire → true; release → undefined; locked → boolean; owner → OwnerInfo | null; mine → count. */
export interface OwnerInfo {
  readonly pid: number;
  readonly threadId: number;
}

export class LockState implements ServerObject {
  readonly #kind: string;
  readonly #reentrant: boolean;
  #owner: Session | null = null;
  #count = 0;
  readonly #waiters = new Set<Call>();
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
        this.#release(call);
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
    if (this.#diedHolding !== null) {
      const dead = this.#diedHolding;
      this.#diedHolding = null;
      throw this.#ownerDied(dead);
    }
    if (this.#owner === null && this.#waiters.size === 0) {
      this.#grant(call);
      return;
    }
    // Another async caller of the owning thread waits its turn too (a Lock is not reentrant).
    this.#waiters.add(call);
  }

  #release(call: Call): void {
    if (this.#owner !== call.session) {
      throw new SkeinError(
        'SKEIN_SYNC_NOT_OWNER',
        this.#owner === null
          ? `release() of a ${this.#kind} that is not held; release only what this thread acquired (prefer \`using\`)`
          : `release() of a ${this.#kind} held by ${this.#owner.label}, not by ${call.session.label}; only the owner may release it`,
      );
    }
    if (--this.#count > 0) {
      call.resolve(undefined);
      return;
    }
    this.#owner = null;
    call.resolve(undefined);
    this.#handOff();
  }

  #grant(call: Call): void {
    this.#owner = call.session;
    this.#count = 1;
    call.resolve(true);
  }

  #handOff(): void {
    const next = first(this.#waiters);
    if (next === undefined) return;
    this.#waiters.delete(next);
    this.#grant(next);
  }

  stop(call: Call): boolean {
    this.#waiters.delete(call);
    return false;
  }

  sessionEnded(session: Session): void {
    if (this.#owner !== session) return;
    this.#owner = null;
    this.#count = 0;
    const told = first(this.#waiters);
    if (told === undefined) {
      this.#diedHolding = session;
      return;
    }
    this.#waiters.delete(told);
    told.reject(this.#ownerDied(session));
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
