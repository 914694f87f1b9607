// RWLock: many readers or one writer, in shared memory. STATE is 0 when free, the writer's token when
// write-locked, and minus the number of readers when read-locked, so every transition is one
// compareExchange. Invariant: a writer holds STATE only while it is 0 before and no reader counts in it.
//
// Policy: writer-preferring. A writer that has to wait claims INTENT; from then on new readers wait (a
// thread already holding a read lock may take another, so nested reads do not deadlock), and when the lock
// falls free only that writer may take it. Writers cannot starve; readers can, under a steady stream of
// writers. Owner death: a writer that exited while holding the lock is recovered like a Lock's owner (the
// next acquirer gets OwnerDiedError, then the lock is free); the holds of readers that exited are given
// back silently (a reader changed nothing), found through a holder table (holders.ts).

import { OwnerDiedError, SkeinError, type TimeoutError } from '../errors.ts';
import { type Held, heldBy } from './guard.ts';
import { HOLDER_CELLS, HolderTable } from './holders.ts';
import { HANDLE_KIND, registerKind, type SharedHandle, sharedCells, TO_HANDLE } from './shared.ts';
import { isTokenDead, ownToken, threadIdOf } from './threads.ts';
import { untilAsync, untilBlocking } from './until.ts';
import { planWait, type WaitOptions, type WaitPlan, waitTimedOut } from './wait.ts';

const KIND = 'RWLock';
const STATE = 0;
/** The token of the writer first in line: while set, new readers wait and only it may take a free lock. */
const INTENT = 1;
/** How many callers are in a slow path and may sleep on STATE; releases notify only if some are. */
const WAITERS = 2;
const HOLDERS = 3;
const CELLS = HOLDERS + HOLDER_CELLS;

/** How an attempt treats a lock this thread already holds in the other mode. */
type Caller = 'try' | 'blocking' | 'async';

let revivedCells: Int32Array | undefined;

/**
 * A readers-writer lock shared between threads: any number of readers at once, or one writer.
 * Blocking forms (`acquireRead`, `acquireWrite`) are for workers; the `…Async` forms never block the
 * event loop. Each acquire returns a guard for `using`.
 * Read locks are per thread and not upgradable: a thread holding a read lock that asks for the write lock
 * gets SKEIN_SYNC_WOULD_DEADLOCK from the blocking form.
 * @example
 * const table = new RWLock();
 * { using _r = await table.acquireReadAsync(); lookup(key); }
 * { using _w = table.acquireWrite({ timeout: 1_000 }); insert(key, value); }
 */
export class RWLock {
  readonly #cells: Int32Array;
  readonly #readers: HolderTable;
  readonly #readHeld: Held;
  readonly #writeHeld: Held;

  constructor() {
    this.#cells = revivedCells ?? new Int32Array(new SharedArrayBuffer(CELLS * 4));
    revivedCells = undefined;
    this.#readers = new HolderTable(this.#cells, HOLDERS);
    this.#readHeld = heldBy(() => this.releaseRead());
    this.#writeHeld = heldBy(() => this.releaseWrite());
  }

  /** How many read locks are held now (0 when free or write-locked). */
  get readers(): number {
    const state = Atomics.load(this.#cells, STATE);
    return state < 0 ? -state : 0;
  }

  /** The threadId of the writer (0 is the main thread), or null when not write-locked. */
  get writer(): number | null {
    const state = Atomics.load(this.#cells, STATE);
    return state > 0 ? threadIdOf(state) : null;
  }

  /**
   * Takes a read lock if no writer holds or awaits the lock right now; never waits.
   * @throws OwnerDiedError SKEIN_SYNC_OWNER_DIED when it recovered the lock from a writer that exited.
   */
  tryAcquireRead(): boolean {
    return this.#readAttempt('try');
  }

  /**
   * Takes a read lock, blocking this thread while a writer holds or awaits the lock.
   * @throws TimeoutError SKEIN_TIMEOUT naming the writer; AbortError SKEIN_ABORTED.
   * @throws OwnerDiedError SKEIN_SYNC_OWNER_DIED when the writer exited holding it; the lock is free again.
   * @throws SkeinError SKEIN_SYNC_WOULD_DEADLOCK when this thread holds the write lock.
   */
  acquireRead(options?: WaitOptions): Held {
    if (options === undefined && this.#readAttempt('try')) return this.#readHeld;
    const plan = planWait(options, 'RWLock.acquireRead');
    return this.#slowBlocking(plan, () => this.#readAttempt('blocking'), false)
      ? this.#readHeld
      : this.#throwTimedOut(plan, 'read');
  }

  /**
   * Takes a read lock without blocking the event loop.
   * @throws TimeoutError SKEIN_TIMEOUT, AbortError SKEIN_ABORTED, OwnerDiedError SKEIN_SYNC_OWNER_DIED.
   */
  async acquireReadAsync(options?: WaitOptions): Promise<Held> {
    if (options === undefined && this.#readAttempt('try')) return this.#readHeld;
    const plan = planWait(options, 'RWLock.acquireReadAsync');
    return (await this.#slowAsync(plan, () => this.#readAttempt('async'), false))
      ? this.#readHeld
      : this.#throwTimedOut(plan, 'read');
  }

  /**
   * Gives back one read lock.
   * @throws SkeinError SKEIN_SYNC_NOT_OWNER when no read lock is held.
   */
  releaseRead(): void {
    const cells = this.#cells;
    if (Atomics.load(cells, STATE) >= 0) throw this.#notOwner('releaseRead');
    // Off the table before off STATE: if this thread dies in between, a reader's hold is lost (writers
    // wait) rather than given back twice (a writer entering beside a reader).
    this.#readers.drop(1);
    let state = Atomics.load(cells, STATE);
    for (;;) {
      if (state >= 0) throw this.#notOwner('releaseRead');
      const seen = Atomics.compareExchange(cells, STATE, state, state + 1);
      if (seen === state) break;
      state = seen;
    }
    if (state + 1 === 0 && Atomics.load(cells, WAITERS) > 0) Atomics.notify(cells, STATE);
  }

  /**
   * Takes the write lock if the lock is free and no other writer is first in line; never waits.
   * @throws OwnerDiedError SKEIN_SYNC_OWNER_DIED when it recovered the lock from a writer that exited.
   */
  tryAcquireWrite(): boolean {
    return this.#writeAttempt('try');
  }

  /**
   * Takes the write lock, blocking this thread while anyone holds the lock.
   * @throws TimeoutError SKEIN_TIMEOUT naming the holders; AbortError SKEIN_ABORTED.
   * @throws OwnerDiedError SKEIN_SYNC_OWNER_DIED when the writer exited holding it; the lock is free again.
   * @throws SkeinError SKEIN_SYNC_WOULD_DEADLOCK when this thread holds the lock already (read or write).
   */
  acquireWrite(options?: WaitOptions): Held {
    if (options === undefined && this.#writeAttempt('try')) return this.#writeHeld;
    const plan = planWait(options, 'RWLock.acquireWrite');
    return this.#slowBlocking(plan, () => this.#writeAttempt('blocking'), true)
      ? this.#writeHeld
      : this.#throwTimedOut(plan, 'write');
  }

  /**
   * Takes the write lock without blocking the event loop.
   * @throws TimeoutError SKEIN_TIMEOUT, AbortError SKEIN_ABORTED, OwnerDiedError SKEIN_SYNC_OWNER_DIED.
   */
  async acquireWriteAsync(options?: WaitOptions): Promise<Held> {
    if (options === undefined && this.#writeAttempt('try')) return this.#writeHeld;
    const plan = planWait(options, 'RWLock.acquireWriteAsync');
    return (await this.#slowAsync(plan, () => this.#writeAttempt('async'), true))
      ? this.#writeHeld
      : this.#throwTimedOut(plan, 'write');
  }

  /**
   * Releases the write lock.
   * @throws SkeinError SKEIN_SYNC_NOT_OWNER when this thread does not hold it.
   */
  releaseWrite(): void {
    const cells = this.#cells;
    if (Atomics.compareExchange(cells, STATE, ownToken, 0) !== ownToken) throw this.#notOwner('releaseWrite');
    if (Atomics.load(cells, WAITERS) > 0) Atomics.notify(cells, STATE);
  }

  #slowBlocking(plan: WaitPlan, attempt: () => boolean, writer: boolean): boolean {
    Atomics.add(this.#cells, WAITERS, 1);
    try {
      return untilBlocking(this.#cells, STATE, plan, attempt);
    } finally {
      this.#leave(writer);
    }
  }

  async #slowAsync(plan: WaitPlan, attempt: () => boolean, writer: boolean): Promise<boolean> {
    Atomics.add(this.#cells, WAITERS, 1);
    try {
      return await untilAsync(this.#cells, STATE, plan, attempt);
    } finally {
      this.#leave(writer);
    }
  }

  #leave(writer: boolean): void {
    const cells = this.#cells;
    Atomics.sub(cells, WAITERS, 1);
    // A writer leaving first in line (timeout, abort, error) lets the readers it held back in.
    if (writer && Atomics.compareExchange(cells, INTENT, ownToken, 0) === ownToken) {
      Atomics.notify(cells, STATE);
    }
  }

  /** One attempt at a read lock: true once taken, false to wait (or, for 'try', to give up). */
  #readAttempt(caller: Caller): boolean {
    const cells = this.#cells;
    for (;;) {
      const state = Atomics.load(cells, STATE);
      if (state > 0) {
        if (state === ownToken && caller !== 'async') {
          if (caller === 'try') return false;
          throw wouldDeadlock('acquireRead', 'the write lock');
        }
        this.#recoverDeadWriter(state);
        return false;
      }
      const intent = Atomics.load(cells, INTENT);
      if (intent !== 0 && this.#readers.ownCount() === 0) {
        if (!isTokenDead(intent)) return false;
        Atomics.compareExchange(cells, INTENT, intent, 0);
        continue;
      }
      if (Atomics.compareExchange(cells, STATE, state, state - 1) !== state) continue;
      this.#readers.record();
      return true;
    }
  }

  /** One attempt at the write lock: true once taken, false to wait (or, for 'try', to give up). */
  #writeAttempt(caller: Caller): boolean {
    const cells = this.#cells;
    for (;;) {
      const state = Atomics.load(cells, STATE);
      if (state > 0) {
        if (state === ownToken && caller !== 'async') {
          if (caller === 'try') return false;
          throw wouldDeadlock('acquireWrite', 'the write lock');
        }
        this.#recoverDeadWriter(state);
        this.#claimIntent(caller);
        return false;
      }
      if (state < 0) {
        if (caller !== 'async' && this.#readers.ownCount() > 0) {
          if (caller === 'try') return false;
          throw wouldDeadlock('acquireWrite', 'a read lock (read locks cannot be upgraded)');
        }
        const reclaimed = this.#readers.reclaimDead();
        if (reclaimed > 0) {
          this.#giveBackReads(reclaimed);
          continue;
        }
        this.#claimIntent(caller);
        return false;
      }
      const intent = Atomics.load(cells, INTENT);
      if (intent !== 0 && intent !== ownToken) {
        if (!isTokenDead(intent)) return false;
        Atomics.compareExchange(cells, INTENT, intent, 0);
        continue;
      }
      if (Atomics.compareExchange(cells, STATE, 0, ownToken) !== 0) continue;
      if (intent === ownToken) Atomics.compareExchange(cells, INTENT, ownToken, 0);
      return true;
    }
  }

  #claimIntent(caller: Caller): void {
    if (caller !== 'try') Atomics.compareExchange(this.#cells, INTENT, 0, ownToken);
  }

  /** Frees a lock whose writer exited, then throws OwnerDiedError; returns when the writer lives. */
  #recoverDeadWriter(state: number): void {
    if (!isTokenDead(state)) return;
    if (Atomics.compareExchange(this.#cells, STATE, state, 0) !== state) return;
    Atomics.notify(this.#cells, STATE);
    throw new OwnerDiedError(
      `The RWLock's write lock was held by thread ${threadIdOf(state)}, which exited without releasing it; it is free again, but the state it guarded may be half-updated: check it, then acquire again`,
    );
  }

  /** Takes the read holds of exited readers off STATE (never past 0) and wakes the waiters. */
  #giveBackReads(holds: number): void {
    const cells = this.#cells;
    let state = Atomics.load(cells, STATE);
    while (state < 0) {
      const seen = Atomics.compareExchange(cells, STATE, state, Math.min(0, state + holds));
      if (seen === state) break;
      state = seen;
    }
    Atomics.notify(cells, STATE);
  }

  #notOwner(what: 'releaseRead' | 'releaseWrite'): SkeinError {
    const state = Atomics.load(this.#cells, STATE);
    const now =
      state === 0
        ? 'the lock is not held'
        : state > 0
          ? `the write lock is held by ${state === ownToken ? 'this thread' : `thread ${threadIdOf(state)}`}`
          : `${-state} read lock(s) are held`;
    const wayOut =
      what === 'releaseRead'
        ? 'call releaseRead() only after acquireRead() (prefer `using`)'
        : 'only the thread that called acquireWrite() may call releaseWrite() (prefer `using`)';
    return new SkeinError(
      'SKEIN_SYNC_NOT_OWNER',
      `RWLock.${what}() by thread ${threadIdOf(ownToken)}, but ${now}; ${wayOut}`,
    );
  }

  #throwTimedOut(plan: WaitPlan, mode: 'read' | 'write'): never {
    const state = Atomics.load(this.#cells, STATE);
    const intent = Atomics.load(this.#cells, INTENT);
    const detail =
      state > 0
        ? ` (write-locked by thread ${threadIdOf(state)})`
        : state < 0
          ? ` (read-locked by ${-state} reader(s)${intent !== 0 && mode === 'write' ? `, thread ${threadIdOf(intent)} first in line` : ''})`
          : intent !== 0
            ? ` (writer thread ${threadIdOf(intent)} is first in line)`
            : '';
    const error: TimeoutError = waitTimedOut(`RWLock ${mode} acquire`, plan, detail);
    throw error;
  }

  [TO_HANDLE](): SharedHandle {
    return { [HANDLE_KIND]: KIND, module: import.meta.url, scope: 'thread', buffer: this.#cells.buffer };
  }

  get [Symbol.toStringTag](): string {
    return KIND;
  }
}

function wouldDeadlock(what: string, held: string): SkeinError {
  return new SkeinError(
    'SKEIN_SYNC_WOULD_DEADLOCK',
    `RWLock.${what}() from a thread that holds ${held} would wait for itself forever; release it first`,
  );
}

registerKind(KIND, (handle) => {
  revivedCells = sharedCells(handle, CELLS);
  return new RWLock();
});
