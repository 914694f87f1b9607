// What ProcessLock and ProcessRLock share: one mutex kept by the hub of the thread that created it
// (process/hub.ts), reached through an Endpoint. A remote thread keeps its own count of levels held, so
// for a reentrant lock only the first acquire and the last release travel to the hub; the hub's thread
// asks the hub. The two differ only in `reentrant`: a ProcessLock refuses a blocking re-acquire.

import { SkeinError } from '../errors.ts';
import { type Held, heldBy } from './guard.ts';
import type { GiveBack } from './process/connection.ts';
import { bindEndpoint, type Endpoint, handleOf, NO_WAIT } from './process/endpoint.ts';
import './process/lock-state.ts';
import type { OwnerInfo } from './process/lock-state.ts';
import { type Shareable, type SharedHandle, TO_HANDLE } from './shared.ts';
import { planWait, type WaitOptions } from './wait.ts';

const RELEASE: GiveBack = Object.freeze({ op: 'release', args: Object.freeze([]) });

export abstract class ProcessMutex implements Shareable {
  readonly #endpoint: Endpoint;
  readonly #held: Held;
  readonly #kind: string;
  readonly #module: string;
  readonly #reentrant: boolean;

  protected constructor(kind: string, module: string, reentrant: boolean, endpoint: Endpoint) {
    this.#kind = kind;
    this.#module = module;
    this.#reentrant = reentrant;
    this.#endpoint = endpoint;
    this.#held = heldBy(() => this.release());
    bindEndpoint(this, endpoint);
  }

  /** Takes the lock if it is free (or, reentrant, already held by this thread) right now; never waits. */
  tryAcquire(): boolean {
    if (this.#reenter()) return true;
    if (!this.#reentrant && !this.#endpoint.local && this.#endpoint.held > 0) return false;
    try {
      this.#endpoint.callSync('acquire', [], NO_WAIT, `${this.#kind}.tryAcquire`, { giveBack: RELEASE });
    } catch (error) {
      if ((error as SkeinError).code === 'SKEIN_TIMEOUT') return false;
      throw error;
    }
    this.#took();
    return true;
  }

  /**
   * Takes the lock, blocking this thread while another thread or process holds it. Returns a guard for
   * `using`.
   * @throws TimeoutError SKEIN_TIMEOUT after `timeout` ms, naming the holder.
   * @throws OwnerDiedError SKEIN_SYNC_OWNER_DIED when the holder died; the lock is free again.
   * @throws SkeinError SKEIN_SYNC_WOULD_DEADLOCK when this thread holds a (non-reentrant) ProcessLock
   * already, or runs its hub and would have to wait; SKEIN_SYNC_DISCONNECTED when the hub is gone.
   */
  acquire(options?: WaitOptions): Held {
    const plan = planWait(options, `${this.#kind}.acquire`);
    if (this.#reenter()) return this.#held;
    if (!this.#reentrant && this.heldByCurrentThread()) {
      throw new SkeinError(
        'SKEIN_SYNC_WOULD_DEADLOCK',
        `This thread already holds the ${this.#kind} and would wait for itself forever; release it first, or use a ProcessRLock to acquire it again`,
      );
    }
    this.#endpoint.callSync('acquire', [], plan, `${this.#kind}.acquire`, { giveBack: RELEASE });
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
    const plan = planWait(options, `${this.#kind}.acquireAsync`);
    if (this.#reenter()) return this.#held;
    await this.#endpoint.call('acquire', [], plan, `${this.#kind}.acquireAsync`, { giveBack: RELEASE });
    this.#took();
    return this.#held;
  }

  /**
   * Releases the lock (one level of a reentrant one); the longest waiter gets it once it is free.
   * @throws SkeinError SKEIN_SYNC_NOT_OWNER when this thread does not hold it.
   */
  release(): void {
    const endpoint = this.#endpoint;
    if (endpoint.local) {
      endpoint.callSync('release', [], NO_WAIT, `${this.#kind}.release`);
      return;
    }
    if (endpoint.held === 0) {
      endpoint.checkConnected();
      throw new SkeinError(
        'SKEIN_SYNC_NOT_OWNER',
        `release() of a ${this.#kind} that this thread does not hold; release only what this thread acquired (prefer \`using\`)`,
      );
    }
    endpoint.held--;
    if (endpoint.held === 0) endpoint.post('release', []);
  }

  /** Whether some thread or process holds the lock now. */
  locked(): boolean {
    return this.#endpoint.callSync('locked', [], NO_WAIT, `${this.#kind}.locked`) as boolean;
  }

  /** Whether this thread holds the lock. */
  heldByCurrentThread(): boolean {
    return this.levels() > 0;
  }

  /** The process and thread holding the lock, or null when free: for debugging deadlocks. */
  get owner(): OwnerInfo | null {
    return this.#endpoint.callSync('owner', [], NO_WAIT, `${this.#kind}.owner`) as OwnerInfo | null;
  }

  /** How many levels this thread holds: its own count when remote, the hub's on the hub's thread. */
  protected levels(): number {
    const endpoint = this.#endpoint;
    if (!endpoint.local) return endpoint.held;
    return endpoint.callSync('mine', [], NO_WAIT, `${this.#kind}.levels`) as number;
  }

  /** A remote owner of a reentrant lock counts re-entries itself; the hub's thread lets the hub count. */
  #reenter(): boolean {
    const endpoint = this.#endpoint;
    if (!this.#reentrant || endpoint.local || endpoint.held === 0) return false;
    endpoint.held++;
    return true;
  }

  #took(): void {
    if (!this.#endpoint.local) this.#endpoint.held = 1;
  }

  [TO_HANDLE](): SharedHandle {
    return handleOf(this.#kind, this.#module, this.#endpoint);
  }

  get [Symbol.toStringTag](): string {
    return this.#kind;
  }
}
