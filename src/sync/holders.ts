// The holder table of a counted primitive (Semaphore permits, RWLock read holds): per thread, how many it
// holds, so what a thread held when it exited can be given back. Invariant: the counts never sum to more
// than the holds outstanding (a release by a thread with no entry takes one off another holder's, exited
// threads first), so give-backs never add more than was taken. Attribution is exact only while each hold
// is released by the thread that took it: after a hand-off, a death may give back a hold still in use.

import { isTokenDead, ownToken } from './threads.ts';

/** Threads tracked at once; a thread that finds every slot taken holds untracked (see HolderTable). */
export const HOLDER_SLOTS = 64;
/** Int32 cells the table takes: a token and a count per slot, then how many slots were ever claimed. */
export const HOLDER_CELLS = HOLDER_SLOTS * 2 + 1;
/**
 * Slots are claimed lowest first and the high-water mark only rises, so scans stop there: a release by
 * a thread that holds nothing (a Semaphore(0) used as a signal) reads two slots, not sixty-four.
 */
const USED = HOLDER_SLOTS * 2;

/** The token of a slot being emptied by a give-back: no one may claim it or count in it meanwhile. */
const RECLAIMING = -1;

/**
 * One thread's view of a holder table at cells[base .. base + HOLDER_CELLS). A slot is {token, count};
 * a thread keeps its slot while it lives (count 0 included) so a hot acquire/release pair costs one load
 * and one add. Slots of threads that exited are taken over once their count is 0 or given back.
 */
export class HolderTable {
  readonly #cells: Int32Array;
  readonly #base: number;
  /** Index of this thread's slot, or -1: a cache, checked against the slot's token before every use. */
  #mine = -1;

  constructor(cells: Int32Array, base: number) {
    this.#cells = cells;
    this.#base = base;
  }

  /** Counts one more hold for this thread. Returns false when the table is full (the hold is untracked). */
  record(): boolean {
    const slot = this.#ownSlot(true);
    if (slot < 0) return false;
    Atomics.add(this.#cells, this.#base + slot * 2 + 1, 1);
    return true;
  }

  /** How many holds this thread has on record. */
  ownCount(): number {
    const slot = this.#ownSlot(false);
    return slot < 0 ? 0 : Atomics.load(this.#cells, this.#base + slot * 2 + 1);
  }

  /**
   * Takes `n` holds off the record: this thread's first, then (for holds released by a thread other
   * than the one that took them) those of exited threads, then anyone's. Returns how many it found.
   */
  drop(n: number): number {
    let left = n;
    const slot = this.#ownSlot(false);
    if (slot >= 0) left -= this.#takeFrom(slot, ownToken, left);
    const used = this.#used();
    for (const deadOnly of [true, false]) {
      for (let i = 0; i < used && left > 0; i++) {
        const token = Atomics.load(this.#cells, this.#base + i * 2);
        if (token <= 0 || (deadOnly && !isTokenDead(token))) continue;
        left -= this.#takeFrom(i, token, left);
      }
    }
    return n - left;
  }

  /** Empties the slots of exited threads; returns the holds they had, which the caller gives back. */
  reclaimDead(): number {
    const cells = this.#cells;
    let reclaimed = 0;
    const used = this.#used();
    for (let i = 0; i < used; i++) {
      const at = this.#base + i * 2;
      const token = Atomics.load(cells, at);
      if (token <= 0 || Atomics.load(cells, at + 1) === 0 || !isTokenDead(token)) continue;
      // Claim the slot first, so a second reclaimer cannot count the same holds and no newcomer can
      // claim the slot and count a hold of its own that this exchange would then steal.
      if (Atomics.compareExchange(cells, at, token, RECLAIMING) !== token) continue;
      reclaimed += Atomics.exchange(cells, at + 1, 0);
      Atomics.store(cells, at, 0);
    }
    return reclaimed;
  }

  /** Decrements slot `slot` (while it still belongs to `token`) by up to `want`; returns how many. */
  #takeFrom(slot: number, token: number, want: number): number {
    const cells = this.#cells;
    const at = this.#base + slot * 2;
    let count = Atomics.load(cells, at + 1);
    while (count > 0 && Atomics.load(cells, at) === token) {
      const take = Math.min(count, want);
      const seen = Atomics.compareExchange(cells, at + 1, count, count - take);
      if (seen === count) return take;
      count = seen;
    }
    return 0;
  }

  /** This thread's slot, claiming a free one (or one of an exited thread with nothing held) if `claim`. */
  #ownSlot(claim: boolean): number {
    const cells = this.#cells;
    const base = this.#base;
    if (this.#mine >= 0 && Atomics.load(cells, base + this.#mine * 2) === ownToken) return this.#mine;
    const used = this.#used();
    for (let i = 0; i < used; i++) {
      if (Atomics.load(cells, base + i * 2) === ownToken) return (this.#mine = i);
    }
    if (!claim) return -1;
    for (let i = 0; i < HOLDER_SLOTS; i++) {
      const at = base + i * 2;
      const token = Atomics.load(cells, at);
      const takeOver = token === 0 || (token > 0 && Atomics.load(cells, at + 1) === 0 && isTokenDead(token));
      // Only a slot's own thread adds to its count, so a dead thread's count seen at 0 stays 0.
      if (takeOver && Atomics.compareExchange(cells, at, token, ownToken) === token) {
        // Raised before this thread counts anything in the slot, so no scan that matters misses it.
        for (let seen = Atomics.load(cells, base + USED); seen < i + 1; ) {
          const was = Atomics.compareExchange(cells, base + USED, seen, i + 1);
          if (was === seen) break;
          seen = was;
        }
        return (this.#mine = i);
      }
    }
    return -1;
  }

  #used(): number {
    return Atomics.load(this.#cells, this.#base + USED);
  }
}
