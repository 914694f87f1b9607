// ProcessSemaphore and ProcessBoundedSemaphore: a count of permits shared between processes, kept by
// the hub of the thread that created it. Waiters are served in FIFO order; the permits of a process
// that dies holding them come back (the next acquirer is told with OwnerDiedError).

import { type Held, heldBy } from './guard.ts';
import { checkCount } from './process/checks.ts';
import type { GiveBack } from './process/connection.ts';
import { createShared, type Endpoint, endpointOf, handleOf, NO_WAIT } from './process/endpoint.ts';
import './process/semaphore-state.ts';
import { registerKind, type Shareable, type SharedHandle, TO_HANDLE } from './shared.ts';
import { planWait, type WaitOptions } from './wait.ts';

const RELEASE_ONE: GiveBack = Object.freeze({ op: 'release', args: Object.freeze([1]) });
let revived: Endpoint | undefined;

/**
 * A counting semaphore shared between processes (multiprocessing.Semaphore): `acquire()` takes one
 * permit, waiting while there is none; `release(n)` gives permits back, from any thread or process.
 * @example
 * const slots = new ProcessSemaphore(2);   // at most two children in the section at once
 * child.send(toHandle(slots));             // the child: { using _ = await slots.acquireAsync(); … }
 * @throws InvalidArgumentError SKEIN_SYNC_INVALID_ARGUMENT when `value` is not an integer from 0 to 2^31-1.
 */
export class ProcessSemaphore implements Shareable {
  readonly #endpoint: Endpoint;
  readonly #held: Held;
  readonly #kind: string;

  /** @param value permits available at first. @defaultValue 1 */
  constructor(value = 1) {
    this.#kind = this instanceof ProcessBoundedSemaphore ? 'ProcessBoundedSemaphore' : 'ProcessSemaphore';
    if (revived === undefined) {
      checkCount(value, `${this.#kind} value`, 0, 'pass the number of permits available at first');
      this.#endpoint = createShared(this.#kind, [value]);
    } else {
      this.#endpoint = revived;
      revived = undefined;
    }
    this.#held = heldBy(() => this.release());
  }

  /** Permits available now. */
  get value(): number {
    return this.#endpoint.callSync('value', [], NO_WAIT, `${this.#kind}.value`) as number;
  }

  /**
   * Takes a permit if one is free right now (and nobody waits for one); never waits.
   * @throws OwnerDiedError SKEIN_SYNC_OWNER_DIED when a process died holding permits (they are back).
   */
  tryAcquire(): boolean {
    try {
      this.#endpoint.callSync('acquire', [], NO_WAIT, `${this.#kind}.tryAcquire`, { giveBack: RELEASE_ONE });
      return true;
    } catch (error) {
      if ((error as { code?: string }).code === 'SKEIN_TIMEOUT') return false;
      throw error;
    }
  }

  /**
   * Takes a permit, blocking this thread while there is none. Returns a guard that releases one permit.
   * @throws TimeoutError SKEIN_TIMEOUT; OwnerDiedError SKEIN_SYNC_OWNER_DIED (the dead holder's permits
   * are back; retry); SkeinError SKEIN_SYNC_WOULD_DEADLOCK on the creating thread when it would wait.
   */
  acquire(options?: WaitOptions): Held {
    const plan = planWait(options, `${this.#kind}.acquire`);
    this.#endpoint.callSync('acquire', [], plan, `${this.#kind}.acquire`, { giveBack: RELEASE_ONE });
    return this.#held;
  }

  /**
   * Takes a permit without blocking the event loop.
   * @throws TimeoutError SKEIN_TIMEOUT, AbortError SKEIN_ABORTED, OwnerDiedError SKEIN_SYNC_OWNER_DIED,
   * SkeinError SKEIN_SYNC_DISCONNECTED.
   */
  async acquireAsync(options?: WaitOptions): Promise<Held> {
    const plan = planWait(options, `${this.#kind}.acquireAsync`);
    await this.#endpoint.call('acquire', [], plan, `${this.#kind}.acquireAsync`, { giveBack: RELEASE_ONE });
    return this.#held;
  }

  /**
   * Gives `n` permits back; the longest waiters get them.
   * @throws SkeinError SKEIN_SYNC_OVER_RELEASE (ProcessBoundedSemaphore) when the value would exceed its
   * initial value; InvalidArgumentError SKEIN_SYNC_INVALID_ARGUMENT when `n` is not an integer >= 1.
   */
  release(n = 1): void {
    checkCount(n, `${this.#kind}.release() count`, 1, 'pass how many permits to give back, or omit it for 1');
    const endpoint = this.#endpoint;
    // An unbounded release cannot fail, so a remote one needs no answer; a bounded one may over-release.
    if (!endpoint.local && this.#kind === 'ProcessSemaphore') endpoint.post('release', [n]);
    else endpoint.callSync('release', [n], NO_WAIT, `${this.#kind}.release`);
  }

  [TO_HANDLE](): SharedHandle {
    return handleOf(this.#kind, import.meta.url, this.#endpoint);
  }

  get [Symbol.toStringTag](): string {
    return this.#kind;
  }
}

/**
 * A process-shared semaphore whose value may never exceed its initial value
 * (multiprocessing.BoundedSemaphore): a release without a matching acquire is reported.
 * @example
 * const slots = new ProcessBoundedSemaphore(2);
 * slots.release(); // throws SKEIN_SYNC_OVER_RELEASE: nothing was acquired
 */
export class ProcessBoundedSemaphore extends ProcessSemaphore {}

registerKind('ProcessSemaphore', (handle) => {
  revived = endpointOf(handle);
  return new ProcessSemaphore();
});

registerKind('ProcessBoundedSemaphore', (handle) => {
  revived = endpointOf(handle);
  return new ProcessBoundedSemaphore();
});
