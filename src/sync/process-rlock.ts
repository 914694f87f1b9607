// ProcessRLock: a reentrant lock shared between processes. The owning thread may acquire it again and
// must release it as many times. A remote thread counts its re-entries itself, so only the first
// acquire and the last release travel to the hub; the hub's count serves the thread that runs it.

import type { SkeinError } from '../errors.ts';
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
import { notHeld } from './process-lock.ts';
import { registerKind, type Shareable, type SharedHandle, TO_HANDLE } from './shared.ts';
import { planWait, type WaitOptions } from './wait.ts';

const KIND = 'ProcessRLock';
const RELEASE: GiveBack = Object.freeze({ op: 'release', args: Object.freeze([]) });
let revived: Endpoint | undefined;

/**
 * A reentrant lock shared between processes (multiprocessing.RLock). Ownership is per thread: two
 * async callers on one thread count as the same owner.
 * @example
 * const rlock = new ProcessRLock();
 * { using outer = await rlock.acquireAsync(); { using inner = await rlock.acquireAsync(); } }
 */
export class ProcessRLock implements Shareable {
  readonly #endpoint: Endpoint;
  readonly #held: Held;

  constructor() {
    this.#endpoint = revived ?? createShared(KIND, []);
    revived = undefined;
    this.#held = heldBy(() => this.release());
    bindEndpoint(this, this.#endpoint);
  }

  /** Takes the lock if it is free or already held by this thread; never waits. */
  tryAcquire(): boolean {
    if (this.#reenter()) return true;
    try {
      this.#endpoint.callSync('acquire', [], NO_WAIT, 'ProcessRLock.tryAcquire', { giveBack: RELEASE });
    } catch (error) {
      if ((error as SkeinError).code === 'SKEIN_TIMEOUT') return false;
      throw error;
    }
    this.#took();
    return true;
  }

  /**
   * Takes the lock, blocking this thread while another thread holds it.
   * @throws TimeoutError SKEIN_TIMEOUT naming the holder; OwnerDiedError SKEIN_SYNC_OWNER_DIED;
   * SkeinError SKEIN_SYNC_WOULD_DEADLOCK on the creating thread when it would have to wait.
   */
  acquire(options?: WaitOptions): Held {
    const plan = planWait(options, 'ProcessRLock.acquire');
    if (this.#reenter()) return this.#held;
    this.#endpoint.callSync('acquire', [], plan, 'ProcessRLock.acquire', { giveBack: RELEASE });
    this.#took();
    return this.#held;
  }

  /**
   * Takes the lock without blocking the event loop.
   * @throws TimeoutError SKEIN_TIMEOUT, AbortError SKEIN_ABORTED, OwnerDiedError SKEIN_SYNC_OWNER_DIED.
   */
  async acquireAsync(options?: WaitOptions): Promise<Held> {
    const plan = planWait(options, 'ProcessRLock.acquireAsync');
    if (this.#reenter()) return this.#held;
    await this.#endpoint.call('acquire', [], plan, 'ProcessRLock.acquireAsync', { giveBack: RELEASE });
    this.#took();
    return this.#held;
  }

  /**
   * Releases one level; the lock is free when the count reaches zero.
   * @throws SkeinError SKEIN_SYNC_NOT_OWNER when this thread does not hold it.
   */
  release(): void {
    const endpoint = this.#endpoint;
    if (endpoint.local) {
      endpoint.callSync('release', [], NO_WAIT, 'ProcessRLock.release');
      return;
    }
    if (endpoint.held === 0) {
      endpoint.checkConnected();
      throw notHeld(KIND);
    }
    endpoint.held--;
    if (endpoint.held === 0) endpoint.post('release', []);
  }

  /** Whether some thread or process holds the lock now. */
  locked(): boolean {
    return this.#endpoint.callSync('locked', [], NO_WAIT, 'ProcessRLock.locked') as boolean;
  }

  /** Whether this thread holds the lock. */
  heldByCurrentThread(): boolean {
    return this.count > 0;
  }

  /** How many times this thread has acquired it without releasing (0 when it does not hold it). */
  get count(): number {
    const endpoint = this.#endpoint;
    if (!endpoint.local) return endpoint.held;
    return endpoint.callSync('mine', [], NO_WAIT, 'ProcessRLock.count') as number;
  }

  /** The process and thread holding the lock, or null when free. */
  get owner(): OwnerInfo | null {
    return this.#endpoint.callSync('owner', [], NO_WAIT, 'ProcessRLock.owner') as OwnerInfo | null;
  }

  /** A remote owner counts re-entries itself; the hub's thread lets the hub count. */
  #reenter(): boolean {
    const endpoint = this.#endpoint;
    if (endpoint.local || endpoint.held === 0) return false;
    endpoint.held++;
    return true;
  }

  #took(): void {
    if (!this.#endpoint.local) this.#endpoint.held = 1;
  }

  [TO_HANDLE](): SharedHandle {
    return handleOf(KIND, import.meta.url, this.#endpoint);
  }

  get [Symbol.toStringTag](): string {
    return KIND;
  }
}

registerKind(KIND, (handle) => {
  revived = endpointOf(handle);
  return new ProcessRLock();
});
