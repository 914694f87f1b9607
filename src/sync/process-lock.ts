// ProcessLock: a mutual-exclusion lock shared between processes (and threads), kept by the hub of the
// thread that created it (process/hub.ts). Owner checks and owner death work as with the thread Lock;
// the owner is a thread (all async callers of one thread count as that thread, and wait their turn).

import { SkeinError } from '../errors.ts';
import { type Held, heldBy } from './guard.ts';
import type { GiveBack } from './process/connection.ts';
import {
  bindEndpoint,
  createShared,
  type Endpoint,
  endpointOf,
  handleOf,
  NO_WAIT,
} from './process/endpoint.ts';
import './process/lock-state.ts';
import type { OwnerInfo } from './process/lock-state.ts';
import { registerKind, type Shareable, type SharedHandle, TO_HANDLE } from './shared.ts';
import { planWait, type WaitOptions } from './wait.ts';

const KIND = 'ProcessLock';
const RELEASE: GiveBack = Object.freeze({ op: 'release', args: Object.freeze([]) });
let revived: Endpoint | undefined;

/**
 * A lock shared between processes (multiprocessing.Lock), also usable from any thread. Hand it to a
 * child with `child.send(toHandle(lock))` (or as a ProcessPool task argument) and revive it there with
 * `fromHandle`. `acquireAsync()` works everywhere; `acquire()` blocks the calling thread and works in
 * every thread except the one that created the lock while it would have to wait.
 * @example
 * const lock = new ProcessLock();
 * const child = fork('child.ts'); child.send(toHandle(lock));
 * { using held = await lock.acquireAsync(); updateTheFile(); } // released at the end of the block
 */
export class ProcessLock implements Shareable {
  readonly #endpoint: Endpoint;
  readonly #held: Held;

  constructor() {
    this.#endpoint = revived ?? createShared(KIND, []);
    revived = undefined;
    this.#held = heldBy(() => this.release());
    bindEndpoint(this, this.#endpoint);
  }

  /** Takes the lock if it is free right now; never waits. */
  tryAcquire(): boolean {
    if (!this.#endpoint.local && this.#endpoint.held > 0) return false;
    try {
      this.#endpoint.callSync('acquire', [], NO_WAIT, 'ProcessLock.tryAcquire', { giveBack: RELEASE });
    } catch (error) {
      if ((error as SkeinError).code === 'SKEIN_TIMEOUT') return false;
      throw error;
    }
    return this.#took();
  }

  /**
   * Takes the lock, blocking this thread until it is free. Returns a guard for `using`.
   * @throws TimeoutError SKEIN_TIMEOUT after `timeout` ms, naming the holder.
   * @throws OwnerDiedError SKEIN_SYNC_OWNER_DIED when the holder died; the lock is free again.
   * @throws SkeinError SKEIN_SYNC_WOULD_DEADLOCK when this thread holds it already, or runs its hub and
   * would have to wait; SKEIN_SYNC_DISCONNECTED when the creating process is gone.
   */
  acquire(options?: WaitOptions): Held {
    const plan = planWait(options, 'ProcessLock.acquire');
    if (this.heldByCurrentThread()) {
      throw new SkeinError(
        'SKEIN_SYNC_WOULD_DEADLOCK',
        'This thread already holds the ProcessLock and would wait for itself forever; release it first, or use a ProcessRLock to acquire it again',
      );
    }
    this.#endpoint.callSync('acquire', [], plan, 'ProcessLock.acquire', { giveBack: RELEASE });
    this.#took();
    return this.#held;
  }

  /**
   * Takes the lock without blocking the event loop; works in every thread and process. Waiters are
   * served in the order they asked.
   * @throws TimeoutError SKEIN_TIMEOUT, AbortError SKEIN_ABORTED, OwnerDiedError SKEIN_SYNC_OWNER_DIED,
   * SkeinError SKEIN_SYNC_DISCONNECTED.
   */
  async acquireAsync(options?: WaitOptions): Promise<Held> {
    const plan = planWait(options, 'ProcessLock.acquireAsync');
    await this.#endpoint.call('acquire', [], plan, 'ProcessLock.acquireAsync', { giveBack: RELEASE });
    this.#took();
    return this.#held;
  }

  /**
   * Releases the lock; the longest waiter gets it next.
   * @throws SkeinError SKEIN_SYNC_NOT_OWNER when this thread does not hold it.
   */
  release(): void {
    const endpoint = this.#endpoint;
    if (endpoint.local) {
      endpoint.callSync('release', [], NO_WAIT, 'ProcessLock.release');
      return;
    }
    if (endpoint.held === 0) {
      endpoint.checkConnected();
      throw notHeld(KIND);
    }
    endpoint.held = 0;
    endpoint.post('release', []);
  }

  /** Whether some thread or process holds the lock now. */
  locked(): boolean {
    return this.#endpoint.callSync('locked', [], NO_WAIT, 'ProcessLock.locked') as boolean;
  }

  /** Whether this thread holds the lock. */
  heldByCurrentThread(): boolean {
    const endpoint = this.#endpoint;
    if (!endpoint.local) return endpoint.held > 0;
    return (endpoint.callSync('mine', [], NO_WAIT, 'ProcessLock.heldByCurrentThread') as number) > 0;
  }

  /** The process and thread holding the lock, or null when free: for debugging deadlocks. */
  get owner(): OwnerInfo | null {
    return this.#endpoint.callSync('owner', [], NO_WAIT, 'ProcessLock.owner') as OwnerInfo | null;
  }

  #took(): true {
    if (!this.#endpoint.local) this.#endpoint.held = 1;
    return true;
  }

  [TO_HANDLE](): SharedHandle {
    return handleOf(KIND, import.meta.url, this.#endpoint);
  }

  get [Symbol.toStringTag](): string {
    return KIND;
  }
}

/** SKEIN_SYNC_NOT_OWNER for a release by a thread that, by its own count, does not hold the lock. */
export function notHeld(kind: string): SkeinError {
  return new SkeinError(
    'SKEIN_SYNC_NOT_OWNER',
    `release() of a ${kind} that this thread does not hold; release only what this thread acquired (prefer \`using\`)`,
  );
}

registerKind(KIND, (handle) => {
  revived = endpointOf(handle);
  return new ProcessLock();
});
