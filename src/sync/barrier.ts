// Barrier: `parties` threads wait for each other, then all go on together, round after round (Python's
// threading.Barrier). One Int32 STATE word holds the round number, the arrivals of this round and the
// broken flags, so arriving, breaking and finishing a round are each one compareExchange.
// Invariant: a round ends exactly once, either passed (its last party moves STATE to the next round after
// clearing the round's OUTCOMES slot) or broken (STATE gets BROKEN; reset() moves on after marking the
// round's OUTCOMES slot). A waiter that sees a later round reads that slot, so a fast party already in the
// next round, or a reset, can never be mistaken for the other.

import { BrokenBarrierError, InvalidArgumentError, type TimeoutError } from '../errors.ts';
import { checkInteger, show } from './arguments.ts';
import { HANDLE_KIND, registerKind, type SharedHandle, sharedCells, TO_HANDLE } from './shared.ts';
import { isTokenDead, ownToken } from './threads.ts';
import { untilAsync, untilBlocking } from './until.ts';
import { planWait, type WaitOptions, type WaitPlan, waitTimedOut } from './wait.ts';

const KIND = 'Barrier';

const STATE = 0;
const PARTIES = 1;
/** The token of the last party of a round while it runs the action; 0 otherwise. */
const COMPLETER = 2;
/** OUTCOMES[round % ROUNDS_KEPT] === round when that round was broken and then reset. */
const OUTCOMES = 3;
const ROUNDS_KEPT = 16;
const CELLS = OUTCOMES + ROUNDS_KEPT;

// STATE: bits 0-15 arrivals, 16 broken, 17 abort requested during the action, 18-30 the round.
const COUNT_MASK = 0xffff;
const BROKEN = 1 << 16;
const ABORT_PENDING = 1 << 17;
const ROUND_SHIFT = 18;
const ROUND_MASK = 0x1fff;
/** The most parties a barrier can have: the arrivals field is 16 bits. */
export const MAX_PARTIES = COUNT_MASK;

const roundOf = (state: number): number => (state >>> ROUND_SHIFT) & ROUND_MASK;
const countOf = (state: number): number => state & COUNT_MASK;
const stateOf = (round: number, flags: number): number => ((round & ROUND_MASK) << ROUND_SHIFT) | flags;

/** What #arrive returns when the round is full and its last party is finishing it. */
const ROUND_FULL = -1;

export interface BarrierOptions {
  /**
   * Run by the last party to arrive, before the others are released. It stays with this Barrier object:
   * a function cannot cross threads, so a Barrier revived from a handle has no action. When it throws,
   * the barrier breaks and the error is thrown to that party.
   */
  readonly action?: () => void;
  /** Default `timeout` (ms) of every wait on this barrier; omit to wait without limit. */
  readonly timeout?: number;
}

let revivedCells: Int32Array | undefined;

/**
 * A reusable barrier for a fixed number of parties (Python's `threading.Barrier`). `wait()` returns
 * the party's arrival index, 0 to parties - 1, distinct within a round.
 * A wait that times out or is aborted breaks the barrier, as in Python: every party waiting then gets
 * BrokenBarrierError, and so does every later wait until `reset()`.
 * Once all parties arrived the round is theirs: a timeout or abort() during the action waits for it.
 * @example
 * const step = new Barrier(4, { action: () => swapBuffers() });
 * // in each of 4 workers:
 * for (let i = 0; i < steps; i++) { compute(i); step.wait(); }
 * @throws InvalidArgumentError SKEIN_SYNC_INVALID_ARGUMENT for parties outside 1 to 65535, an action that
 * is not a function, or a bad timeout.
 */
export class Barrier {
  readonly #cells: Int32Array;
  readonly #parties: number;
  readonly #action: (() => void) | undefined;
  readonly #timeout: number | undefined;

  constructor(parties: number, options: BarrierOptions = {}) {
    const revived = revivedCells;
    revivedCells = undefined;
    this.#parties = checkInteger(parties, 'Barrier parties', 1, MAX_PARTIES, 'pass how many threads meet');
    if (typeof options !== 'object' || options === null) {
      throw new InvalidArgumentError(
        'SKEIN_SYNC_INVALID_ARGUMENT',
        `Barrier options must be an object like { action, timeout } (got ${show(options)})`,
      );
    }
    const { action, timeout } = options;
    if (action !== undefined && typeof action !== 'function') {
      throw new InvalidArgumentError(
        'SKEIN_SYNC_INVALID_ARGUMENT',
        `Barrier action must be a function (got ${show(action)}); omit it for none`,
      );
    }
    if (timeout !== undefined) planWait({ timeout }, 'Barrier');
    this.#action = action;
    this.#timeout = timeout;
    if (revived !== undefined) {
      this.#cells = revived;
      return;
    }
    this.#cells = new Int32Array(new SharedArrayBuffer(CELLS * 4));
    Atomics.store(this.#cells, PARTIES, parties);
    for (let i = 0; i < ROUNDS_KEPT; i++) Atomics.store(this.#cells, OUTCOMES + i, -1);
  }

  /** How many parties the barrier waits for. */
  get parties(): number {
    return this.#parties;
  }

  /** How many parties are waiting in the current round. */
  get nWaiting(): number {
    const state = Atomics.load(this.#cells, STATE);
    if ((state & BROKEN) !== 0) return 0;
    return Math.min(countOf(state), this.#parties - 1);
  }

  /** Whether the barrier is broken (until reset()). */
  get broken(): boolean {
    return (Atomics.load(this.#cells, STATE) & BROKEN) !== 0;
  }

  /**
   * Arrives and blocks this thread until all parties have; returns this party's arrival index.
   * @throws BrokenBarrierError SKEIN_SYNC_BROKEN_BARRIER when the barrier is or gets broken.
   * @throws TimeoutError SKEIN_TIMEOUT after `timeout` ms (breaking the barrier for the others).
   * @throws AbortError SKEIN_ABORTED when `signal` fires (breaking the barrier for the others).
   */
  wait(options?: WaitOptions): number {
    const plan = this.#plan(options, 'Barrier.wait');
    let arrival = this.#arrive();
    while (arrival === ROUND_FULL) {
      if (!untilBlocking(this.#cells, STATE, plan, () => !this.#full())) throw this.#timedOut(plan, false);
      arrival = this.#arrive();
    }
    const round = roundOf(arrival);
    const index = countOf(arrival);
    if (index === this.#parties - 1) return this.#finish(round, index);
    let passed: boolean;
    try {
      passed = untilBlocking(this.#cells, STATE, plan, () => this.#passed(round));
    } catch (error) {
      if (plan.signal?.aborted === true) this.#breakRound(round);
      throw error;
    }
    if (passed) return index;
    if (this.#breakRound(round)) throw this.#timedOut(plan);
    // The round ended meanwhile, or its last party is running the action: wait for the outcome.
    untilBlocking(this.#cells, STATE, untimed(plan), () => this.#passed(round));
    return index;
  }

  /**
   * Arrives and waits until all parties have, without blocking the event loop.
   * @throws BrokenBarrierError SKEIN_SYNC_BROKEN_BARRIER, TimeoutError SKEIN_TIMEOUT, AbortError SKEIN_ABORTED.
   */
  async waitAsync(options?: WaitOptions): Promise<number> {
    const plan = this.#plan(options, 'Barrier.waitAsync');
    let arrival = this.#arrive();
    while (arrival === ROUND_FULL) {
      if (!(await untilAsync(this.#cells, STATE, plan, () => !this.#full()))) {
        throw this.#timedOut(plan, false);
      }
      arrival = this.#arrive();
    }
    const round = roundOf(arrival);
    const index = countOf(arrival);
    if (index === this.#parties - 1) return this.#finish(round, index);
    let passed: boolean;
    try {
      passed = await untilAsync(this.#cells, STATE, plan, () => this.#passed(round));
    } catch (error) {
      if (plan.signal?.aborted === true) this.#breakRound(round);
      throw error;
    }
    if (passed) return index;
    if (this.#breakRound(round)) throw this.#timedOut(plan);
    await untilAsync(this.#cells, STATE, untimed(plan), () => this.#passed(round));
    return index;
  }

  /**
   * Returns the barrier to its initial state. Parties waiting in the current round get BrokenBarrierError;
   * a broken barrier becomes usable again.
   */
  reset(): void {
    const cells = this.#cells;
    for (;;) {
      const state = Atomics.load(cells, STATE);
      const round = roundOf(state);
      if ((state & BROKEN) !== 0) {
        Atomics.store(cells, OUTCOMES + (round % ROUNDS_KEPT), round);
        if (Atomics.compareExchange(cells, STATE, state, stateOf(round + 1, 0)) === state) {
          Atomics.notify(cells, STATE);
          return;
        }
        continue;
      }
      if (countOf(state) === this.#parties) {
        // The round is complete and its action runs; the next round starts fresh, so only withdraw an abort.
        if ((state & ABORT_PENDING) === 0) return;
        if (Atomics.compareExchange(cells, STATE, state, state & ~ABORT_PENDING) === state) return;
        continue;
      }
      if (countOf(state) === 0) return;
      Atomics.compareExchange(cells, STATE, state, state | BROKEN);
    }
  }

  /**
   * Breaks the barrier: parties waiting get BrokenBarrierError, and so does every wait until reset().
   * Called while the last party runs the action, it breaks the barrier once the round is over.
   */
  abort(): void {
    const cells = this.#cells;
    for (;;) {
      const state = Atomics.load(cells, STATE);
      if ((state & BROKEN) !== 0) return;
      const flag = countOf(state) === this.#parties ? ABORT_PENDING : BROKEN;
      if ((state & flag) !== 0) return;
      if (Atomics.compareExchange(cells, STATE, state, state | flag) === state) {
        Atomics.notify(cells, STATE);
        return;
      }
    }
  }

  /** Counts this party in; returns the STATE it arrived on, or ROUND_FULL while a round is finishing. */
  #arrive(): number {
    const cells = this.#cells;
    for (;;) {
      const state = Atomics.load(cells, STATE);
      if ((state & BROKEN) !== 0) {
        throw new BrokenBarrierError(
          'This Barrier is broken (aborted, reset while parties waited, or a wait timed out); call reset() before waiting on it again',
        );
      }
      if (countOf(state) === this.#parties) return ROUND_FULL;
      if (Atomics.compareExchange(cells, STATE, state, state + 1) === state) return state;
    }
  }

  /** Whether all parties of the current round have arrived and its last party is finishing it. */
  #full(): boolean {
    const state = Atomics.load(this.#cells, STATE);
    return (state & BROKEN) === 0 && countOf(state) === this.#parties;
  }

  /** Whether `round` was passed; throws BrokenBarrierError once it was broken. */
  #passed(round: number): boolean {
    const cells = this.#cells;
    const state = Atomics.load(cells, STATE);
    if (roundOf(state) !== round) {
      if (Atomics.load(cells, OUTCOMES + (round % ROUNDS_KEPT)) === round) throw brokenWhileWaiting('reset');
      return true;
    }
    if ((state & BROKEN) !== 0) throw brokenWhileWaiting('broken');
    if (countOf(state) === this.#parties) {
      const completer = Atomics.load(cells, COMPLETER);
      if (
        completer !== 0 &&
        isTokenDead(completer) &&
        Atomics.compareExchange(cells, STATE, state, state | BROKEN) === state
      ) {
        Atomics.notify(cells, STATE);
        throw brokenWhileWaiting('completer died');
      }
    }
    return false;
  }

  /** Breaks `round` unless it has ended or is being finished; true when this call broke it. */
  #breakRound(round: number): boolean {
    const cells = this.#cells;
    for (;;) {
      const state = Atomics.load(cells, STATE);
      if (roundOf(state) !== round || (state & BROKEN) !== 0 || countOf(state) === this.#parties)
        return false;
      if (Atomics.compareExchange(cells, STATE, state, state | BROKEN) === state) {
        Atomics.notify(cells, STATE);
        return true;
      }
    }
  }

  /** The last party's part: run the action, then open the next round (broken if abort() came meanwhile). */
  #finish(round: number, index: number): number {
    const cells = this.#cells;
    Atomics.store(cells, COMPLETER, ownToken);
    if (this.#action !== undefined) {
      try {
        this.#action();
      } catch (error) {
        Atomics.store(cells, COMPLETER, 0);
        for (;;) {
          const state = Atomics.load(cells, STATE);
          const next = (state | BROKEN) & ~ABORT_PENDING;
          if (Atomics.compareExchange(cells, STATE, state, next) === state) break;
        }
        Atomics.notify(cells, STATE);
        throw error;
      }
    }
    Atomics.store(cells, COMPLETER, 0);
    // Clear the outcome before STATE moves on: a waiter that sees the next round reads it right after.
    Atomics.store(cells, OUTCOMES + (round % ROUNDS_KEPT), -1);
    for (;;) {
      // Only abort() touches a full round, adding ABORT_PENDING, so this loop ends at its second try.
      const state = Atomics.load(cells, STATE);
      const next = stateOf(round + 1, (state & ABORT_PENDING) !== 0 ? BROKEN : 0);
      if (Atomics.compareExchange(cells, STATE, state, next) === state) break;
    }
    Atomics.notify(cells, STATE);
    return index;
  }

  #plan(options: WaitOptions | undefined, what: string): WaitPlan {
    if (this.#timeout === undefined || options?.timeout !== undefined) return planWait(options, what);
    const signal = options?.signal;
    return planWait(
      signal === undefined ? { timeout: this.#timeout } : { timeout: this.#timeout, signal },
      what,
    );
  }

  #timedOut(plan: WaitPlan, broke = true): TimeoutError {
    const detail = broke
      ? ` (not all ${this.#parties} parties arrived; the barrier is now broken for the others)`
      : ` (a full round of ${this.#parties} parties was still finishing; the barrier is not broken)`;
    return waitTimedOut('Barrier wait', plan, detail);
  }

  [TO_HANDLE](): SharedHandle {
    const handle: SharedHandle = {
      [HANDLE_KIND]: KIND,
      module: import.meta.url,
      scope: 'thread',
      buffer: this.#cells.buffer,
    };
    return this.#timeout === undefined ? handle : { ...handle, timeout: this.#timeout };
  }

  get [Symbol.toStringTag](): string {
    return KIND;
  }
}

function brokenWhileWaiting(how: 'broken' | 'reset' | 'completer died'): BrokenBarrierError {
  const why =
    how === 'reset'
      ? 'was reset'
      : how === 'broken'
        ? 'was broken (aborted, or another party timed out or was aborted)'
        : 'lost its last party, which exited while running the action';
  return new BrokenBarrierError(
    `The Barrier ${why} while this party waited; call reset() before waiting on it again`,
  );
}

/** The same wait without a deadline, still abortable. */
function untimed(plan: WaitPlan): WaitPlan {
  return { deadline: Infinity, timeout: Infinity, signal: plan.signal };
}

registerKind(KIND, (handle) => {
  const cells = sharedCells(handle, CELLS);
  revivedCells = cells;
  const timeout = handle.timeout;
  return new Barrier(Atomics.load(cells, PARTIES), typeof timeout === 'number' ? { timeout } : {});
});
