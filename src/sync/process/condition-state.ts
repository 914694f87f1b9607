// The hub's state machine for ProcessCondition, bound to a ProcessLock or ProcessRLock of the same hub:
// wait releases the lock (whatever its count) and waits for a notify in FIFO order; a notify, the wait's
// deadline or an abort sends the waiter back into the lock's line, and the wait answers only once the
// lock is the waiter's again with its count, so it always returns or throws holding the lock (Python).

import { AbortError, InvalidArgumentError, TimeoutError } from '../../errors.ts';
import { InsertionOrderMap } from '../../insertion-order-map.ts';
import { LockState } from './lock-state.ts';
import { type Call, registerServerKind, type ServerObject, type StopReason } from './server-object.ts';
import { unknownOp } from './state-kit.ts';

/** How a wait ends once it has the lock back. */
type Outcome = 'notified' | 'timeout' | 'abort';

/** Ops: wait → true; notify [n] → undefined; notifyAll → undefined. */
export class ConditionState implements ServerObject {
  readonly #lock: LockState;
  /** Waits not yet notified, in arrival order, with the lock count each gave up. */
  readonly #waiting = new InsertionOrderMap<Call, number>();
  /** Waits woken and back in the lock's line, with how they will end. */
  readonly #waking = new Map<Call, Outcome>();

  constructor(lock: LockState) {
    this.#lock = lock;
  }

  start(call: Call): void {
    switch (call.op) {
      case 'wait':
        this.#waiting.set(call, this.#lock.releaseFully(call.session, 'ProcessCondition.wait()'));
        return;
      case 'notify':
        this.#lock.checkOwner(call.session, 'ProcessCondition.notify()');
        this.#notify(call.args[0] as number);
        call.resolve(undefined);
        return;
      case 'notifyAll':
        this.#lock.checkOwner(call.session, 'ProcessCondition.notifyAll()');
        this.#notify(this.#waiting.size);
        call.resolve(undefined);
        return;
      default:
        throw unknownOp('ProcessCondition', call.op);
    }
  }

  #notify(n: number): void {
    for (let left = n; left > 0; left--) {
      const oldest = this.#waiting.deleteOldest();
      if (oldest === undefined) return;
      this.#requeue(oldest[0], oldest[1], 'notified');
    }
  }

  #wake(call: Call, outcome: Outcome): void {
    const count = this.#waiting.get(call) as number;
    this.#waiting.delete(call);
    this.#requeue(call, count, outcome);
  }

  /** A waiter taken off the wait list queues for the lock again (`count`: its recursion depth). */
  #requeue(call: Call, count: number, outcome: Outcome): void {
    this.#waking.set(call, outcome);
    this.#lock.enqueue(
      call,
      count,
      () => {
        const how = this.#waking.get(call);
        this.#waking.delete(call);
        if (how === 'notified') call.resolve(true);
        else if (how === 'timeout') {
          call.reject(
            new TimeoutError(
              `ProcessCondition.wait got no notify within ${call.timeout} ms (the lock is held again)`,
            ),
          );
        } else call.reject(new AbortError('ProcessCondition.wait was aborted (the lock is held again)'));
      },
      (error) => {
        this.#waking.delete(call);
        call.reject(error);
      },
    );
  }

  stop(call: Call, why: StopReason): boolean {
    if (this.#waiting.has(call)) {
      if (why === 'timeout' || why === 'abort') {
        this.#wake(call, why);
        return true;
      }
      this.#waiting.delete(call);
      return false;
    }
    if (this.#waking.has(call)) {
      if (why === 'abort') this.#waking.set(call, 'abort');
      if (why === 'timeout' || why === 'abort') return true; // notified already: the lock comes first
      this.#waking.delete(call);
      this.#lock.withdraw(call);
    }
    return false;
  }
}

registerServerKind('ProcessCondition', (params, objectOf) => {
  const lock = objectOf(params[0] as number);
  if (!(lock instanceof LockState)) {
    throw new InvalidArgumentError(
      'SKEIN_SYNC_INVALID_ARGUMENT',
      'A ProcessCondition needs a ProcessLock or ProcessRLock created in the same thread; create the lock there too',
    );
  }
  return new ConditionState(lock);
});
