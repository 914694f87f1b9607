// The mutex word shared by Lock, RLock and Condition: one Int32 holding the owner's token (0 = free)
// plus a waiters bit, and an heir cell for starvation hand-off. Acquiring free is one compareExchange;
// releasing without waiters is one more. Invariant: a thread that may sleep on the word first sets the
// waiters bit, and the releaser wakes someone whenever the bit was set, so no wake-up is lost.
//
// Fairness: newcomers may barge ahead of sleeping waiters (that is what makes the fast path fast), but a
// waiter that has waited STARVATION_MS claims the heir cell, and from then on nobody else may take the
// free lock: the next release hands it to the heir. So no waiter starves under a stream of others.

import { OwnerDiedError, SkeinError } from '../errors.ts';
import { isTokenDead, MAX_TOKEN, ownToken, threadIdOf } from './threads.ts';
import type { WaitPlan } from './wait.ts';

export const STATE = 0;
export const HEIR = 1;
/** Cells every mutex needs; RLock and Condition put their own cells after these. */
export const MUTEX_CELLS = 2;

const WAITERS = 0x4000_0000;
/** How long a waiter waits before it claims the heir cell and stops newcomers from barging. */
export const STARVATION_MS = 5;

/** The outcome of one acquisition attempt: acquired, or the word's value to sleep on. */
export const ACQUIRED = -1;

/** Takes a free, heir-less lock in one compareExchange. */
export function tryLockFast(cells: Int32Array): boolean {
  return Atomics.load(cells, HEIR) === 0 && Atomics.compareExchange(cells, STATE, 0, ownToken) === 0;
}

/**
 * One slow-path attempt for a waiter that started at `since`: returns ACQUIRED, or the value to pass to
 * Atomics.wait. Throws OwnerDiedError after recovering a lock whose owner died (the lock is then free).
 * When this thread holds the lock already, an async waiter (`sameThreadWaits`: another async context of
 * this thread holds it) waits for the release, and a blocking one throws SKEIN_SYNC_WOULD_DEADLOCK.
 */
export function lockAttempt(
  cells: Int32Array,
  since: number,
  kind: string,
  sameThreadWaits: boolean,
): number {
  for (;;) {
    const value = Atomics.load(cells, STATE);
    if (value === 0) {
      const heir = Atomics.load(cells, HEIR);
      if (heir !== 0 && heir !== ownToken) {
        if (!isTokenDead(heir)) return 0;
        Atomics.compareExchange(cells, HEIR, heir, 0);
        continue;
      }
      // Taken after contention, so keep the waiters bit: others may still be asleep on the word.
      if (Atomics.compareExchange(cells, STATE, 0, ownToken | WAITERS) !== 0) continue;
      if (heir === ownToken) Atomics.store(cells, HEIR, 0);
      return ACQUIRED;
    }
    const owner = value & MAX_TOKEN;
    if (owner === ownToken && !sameThreadWaits) {
      throw new SkeinError(
        'SKEIN_SYNC_WOULD_DEADLOCK',
        `This thread already holds the ${kind} and would wait for itself forever; release it first, or use an RLock to acquire it again`,
      );
    }
    if (isTokenDead(owner)) {
      if (Atomics.compareExchange(cells, STATE, value, 0) !== value) continue;
      Atomics.notify(cells, STATE);
      throw new OwnerDiedError(
        `The ${kind} was held by thread ${threadIdOf(owner)}, which exited without releasing it; it is free again, but the state it guarded may be half-updated: check it, then acquire again`,
      );
    }
    if ((value & WAITERS) === 0 && Atomics.compareExchange(cells, STATE, value, value | WAITERS) !== value) {
      continue;
    }
    if (performance.now() - since >= STARVATION_MS && Atomics.load(cells, HEIR) === 0) {
      Atomics.compareExchange(cells, HEIR, 0, ownToken);
    }
    return value | WAITERS;
  }
}

/** Gives up a claim on the heir cell when a waiter leaves without the lock (timeout, abort, error). */
export function leaveHeir(cells: Int32Array): void {
  if (Atomics.compareExchange(cells, HEIR, ownToken, 0) === ownToken) Atomics.notify(cells, STATE);
}

/** Releases the lock held by this thread. Throws SKEIN_SYNC_NOT_OWNER when another thread holds it. */
export function unlock(cells: Int32Array, kind: string): void {
  const value = Atomics.compareExchange(cells, STATE, ownToken, 0);
  if (value === ownToken) return;
  if ((value & MAX_TOKEN) !== ownToken) throw notOwner(kind, value);
  Atomics.store(cells, STATE, 0);
  // With an heir waiting, wake everyone: the heir is somewhere in the wait list, and the others must
  // see it and keep waiting. Otherwise one waiter is enough; it re-sets the bit for the rest.
  Atomics.notify(cells, STATE, Atomics.load(cells, HEIR) === 0 ? 1 : Infinity);
}

/** The token of the thread holding the lock, or 0 when it is free. */
export function ownerToken(cells: Int32Array): number {
  return Atomics.load(cells, STATE) & MAX_TOKEN;
}

export function heldByMe(cells: Int32Array): boolean {
  return ownerToken(cells) === ownToken;
}

function notOwner(kind: string, value: number): SkeinError {
  const owner = value & MAX_TOKEN;
  return new SkeinError(
    'SKEIN_SYNC_NOT_OWNER',
    owner === 0
      ? `release() of a ${kind} that is not held; release only what this thread acquired (prefer \`using\`)`
      : `release() of a ${kind} held by thread ${threadIdOf(owner)}, not by this thread (${threadIdOf(ownToken)}); only the owner may release it`,
  );
}

/** " (held by thread N)" for timeout messages, so a timed-out acquire helps find the deadlock. */
export function holderDetail(cells: Int32Array): string {
  const owner = ownerToken(cells);
  if (owner === 0) return '';
  return owner === ownToken ? ' (held by this thread)' : ` (held by thread ${threadIdOf(owner)})`;
}

/** Acquires, blocking the thread in slices until the plan's deadline. Returns false on timeout. */
export function lockBlocking(
  cells: Int32Array,
  plan: WaitPlan,
  kind: string,
  waitSlice: (cells: Int32Array, index: number, expected: number, plan: WaitPlan) => boolean,
  throwIfAborted: (plan: WaitPlan) => void,
): boolean {
  const since = performance.now();
  try {
    for (;;) {
      const expected = lockAttempt(cells, since, kind, false);
      if (expected === ACQUIRED) return true;
      throwIfAborted(plan);
      if (!waitSlice(cells, STATE, expected, plan)) return false;
    }
  } finally {
    if (Atomics.load(cells, HEIR) === ownToken) leaveHeir(cells);
  }
}

/** Acquires without blocking the event loop. Resolves false on timeout; rejects on abort. */
export async function lockAsync(
  cells: Int32Array,
  plan: WaitPlan,
  kind: string,
  waitSlice: (cells: Int32Array, index: number, expected: number, plan: WaitPlan) => Promise<boolean>,
): Promise<boolean> {
  const since = performance.now();
  try {
    for (;;) {
      const expected = lockAttempt(cells, since, kind, true);
      if (expected === ACQUIRED) return true;
      if (!(await waitSlice(cells, STATE, expected, plan))) return false;
    }
  } finally {
    if (Atomics.load(cells, HEIR) === ownToken) leaveHeir(cells);
  }
}
