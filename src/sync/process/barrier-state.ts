// The hub's state machine for ProcessBarrier: the calls waiting in the current round, in arrival order.
// The last arrival passes the round, or, when its object has an action, is answered first and runs it,
// and the others are answered when it reports back ('finish'). A party that leaves a round early
// (timeout, abort, death) breaks it, as in Python: every waiter gets BrokenBarrierError until reset().

import { BrokenBarrierError } from '../../errors.ts';
import {
  type Call,
  registerServerKind,
  type ServerObject,
  type Session,
  type StopReason,
} from './server-object.ts';
import { unknownOp } from './state-kit.ts';

/** What 'wait' resolves with: the arrival index, and whether this party must run its action now. */
export type Arrival = readonly [index: number, runAction: boolean];

/**
 * Ops: wait [hasAction] → Arrival; finish [actionSucceeded] → undefined; reset, abort → undefined;
 * state → { nWaiting, broken }.
 */
export class BarrierState implements ServerObject {
  readonly #parties: number;
  /** This round's waiting calls, in arrival order (the index is the position). */
  #waiting: Call[] = [];
  #broken = false;
  /** The session running the action of a full round, whose waiters are answered on 'finish'. */
  #finisher: Session | null = null;
  #abortAfterRound = false;
  /** Arrivals during the action: they belong to the next round. */
  #early: Call[] = [];

  constructor(parties: number) {
    this.#parties = parties;
  }

  start(call: Call): void {
    switch (call.op) {
      case 'wait':
        this.#arrive(call);
        return;
      case 'finish':
        call.resolve(undefined);
        this.#finish(call.args[0] === true);
        return;
      case 'reset':
        call.resolve(undefined);
        this.#reset();
        return;
      case 'abort':
        call.resolve(undefined);
        this.#abort();
        return;
      case 'state':
        call.resolve({ nWaiting: this.#broken ? 0 : this.#waiting.length, broken: this.#broken });
        return;
      default:
        throw unknownOp('ProcessBarrier', call.op);
    }
  }

  #arrive(call: Call): void {
    if (this.#finisher !== null) {
      this.#early.push(call);
      return;
    }
    if (this.#broken) throw broken();
    const index = this.#waiting.length;
    if (index < this.#parties - 1) {
      this.#waiting.push(call);
      return;
    }
    if (call.args[0] === true) {
      this.#finisher = call.session;
      call.resolve([index, true] satisfies Arrival);
      return;
    }
    call.resolve([index, false] satisfies Arrival);
    this.#pass();
  }

  #finish(succeeded: boolean): void {
    if (this.#finisher === null) return;
    this.#finisher = null;
    if (succeeded) this.#pass();
    else this.#break();
    if (this.#abortAfterRound) {
      this.#abortAfterRound = false;
      this.#break();
    }
    const early = this.#early;
    this.#early = [];
    for (const call of early) {
      if (call.settled) continue;
      try {
        this.#arrive(call);
      } catch (error) {
        call.reject(error as BrokenBarrierError);
      }
    }
  }

  #pass(): void {
    const waiting = this.#waiting;
    this.#waiting = [];
    waiting.forEach((call, index) => {
      call.resolve([index, false] satisfies Arrival);
    });
  }

  #break(): void {
    this.#broken = true;
    const waiting = this.#waiting;
    this.#waiting = [];
    for (const call of waiting) call.reject(broken());
  }

  #reset(): void {
    if (this.#finisher !== null) {
      this.#abortAfterRound = false;
      return;
    }
    this.#break();
    this.#broken = false;
  }

  #abort(): void {
    if (this.#finisher !== null) this.#abortAfterRound = true;
    else this.#break();
  }

  stop(call: Call, why: StopReason): boolean {
    const early = this.#early.indexOf(call);
    if (early >= 0) {
      // Waiting for a round that has not started: leaving breaks nothing yet.
      this.#early.splice(early, 1);
      return false;
    }
    const index = this.#waiting.indexOf(call);
    if (index < 0) return false;
    this.#waiting.splice(index, 1);
    if (why !== 'retract') this.#break();
    return false;
  }

  sessionEnded(session: Session): void {
    if (this.#finisher === session) this.#finish(false);
  }

  describeWait(): string {
    return ` (${this.#waiting.length} of ${this.#parties} parties had arrived; the barrier is broken for the others)`;
  }
}

function broken(): BrokenBarrierError {
  return new BrokenBarrierError(
    'The ProcessBarrier is broken (a party timed out, was aborted or died, or abort() or reset() was called); reset() it before waiting again',
  );
}

registerServerKind('ProcessBarrier', (params) => new BarrierState(params[0] as number));
