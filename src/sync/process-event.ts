// ProcessEvent: a flag shared between processes that callers wait for (multiprocessing.Event), kept by
// the hub of the thread that created it. set() and clear() are answered by the hub before they return,
// so a wait that follows them in the same thread sees their effect.

import { createShared, type Endpoint, endpointOf, handleOf, NO_WAIT } from './process/endpoint.ts';
import './process/event-state.ts';
import { registerKind, type Shareable, type SharedHandle, TO_HANDLE } from './shared.ts';
import { planWait, type WaitOptions } from './wait.ts';

const KIND = 'ProcessEvent';
let revived: Endpoint | undefined;

/**
 * A flag processes can wait for: `set()` wakes every waiter, and later waits return at once until
 * `clear()`. `waitAsync()` works everywhere; `wait()` blocks the calling thread.
 * @example
 * const ready = new ProcessEvent();
 * child.send(toHandle(ready));   // the child: await ready.waitAsync({ timeout: 5_000 })
 * ready.set();
 */
export class ProcessEvent implements Shareable {
  readonly #endpoint: Endpoint;

  constructor() {
    this.#endpoint = revived ?? createShared(KIND, []);
    revived = undefined;
  }

  /** Whether the flag is set. */
  isSet(): boolean {
    return this.#endpoint.callSync('isSet', [], NO_WAIT, 'ProcessEvent.isSet') as boolean;
  }

  /** Sets the flag and wakes every waiter, in every process. */
  set(): void {
    this.#endpoint.callSync('set', [], NO_WAIT, 'ProcessEvent.set');
  }

  /** Clears the flag: later waits wait for the next set(). */
  clear(): void {
    this.#endpoint.callSync('clear', [], NO_WAIT, 'ProcessEvent.clear');
  }

  /**
   * Blocks this thread until the flag is set (returns at once if it is).
   * @throws TimeoutError SKEIN_TIMEOUT after `timeout` ms; SkeinError SKEIN_SYNC_WOULD_DEADLOCK on the
   * creating thread while the flag is clear; SKEIN_SYNC_DISCONNECTED when the creating process is gone.
   */
  wait(options?: WaitOptions): void {
    this.#endpoint.callSync('wait', [], planWait(options, 'ProcessEvent.wait'), 'ProcessEvent.wait');
  }

  /**
   * Waits until the flag is set without blocking the event loop.
   * @throws TimeoutError SKEIN_TIMEOUT; AbortError SKEIN_ABORTED; SkeinError SKEIN_SYNC_DISCONNECTED.
   */
  async waitAsync(options?: WaitOptions): Promise<void> {
    const plan = planWait(options, 'ProcessEvent.waitAsync');
    await this.#endpoint.call('wait', [], plan, 'ProcessEvent.waitAsync');
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
  return new ProcessEvent();
});
