// ProcessBarrier: a fixed number of parties, in any threads and processes, wait for each other round
// after round (multiprocessing.Barrier), kept by the hub of the thread that created it. The action runs
// in the last party to arrive, if that party's object has one, before the others are released.

import { InvalidArgumentError } from '../errors.ts';
import type { Arrival } from './process/barrier-state.ts';
import './process/barrier-state.ts';
import { checkCount, describe } from './process/checks.ts';
import { createShared, type Endpoint, endpointOf, handleOf, NO_WAIT } from './process/endpoint.ts';
import { registerKind, type Shareable, type SharedHandle, TO_HANDLE } from './shared.ts';
import { planWait, type WaitOptions, type WaitPlan } from './wait.ts';

const KIND = 'ProcessBarrier';
let revived: Endpoint | undefined;

export interface ProcessBarrierOptions {
  /**
   * Run by the last party to arrive, before the others are released. A function cannot travel, so it
   * stays with this object: it runs when the last party is this object (a revived one has none). When
   * it throws, the barrier breaks and that party gets the error.
   */
  readonly action?: () => void;
  /** Default `timeout` (ms) of every wait on this object; omit to wait without limit. */
  readonly timeout?: number;
}

/**
 * A reusable barrier for a fixed number of parties across processes. `wait()` returns the party's
 * arrival index, 0 to parties - 1, distinct within a round. A wait that times out or is aborted, or a
 * party whose process dies while waiting, breaks the barrier: every party waiting then gets
 * BrokenBarrierError, and so does every later wait until `reset()`.
 * @example
 * const step = new ProcessBarrier(3);
 * for (const child of children) child.send(toHandle(step)); // each: await step.waitAsync() per round
 * await step.waitAsync();
 * @throws InvalidArgumentError SKEIN_SYNC_INVALID_ARGUMENT for parties outside 1 to 2^31-1, an action
 * that is not a function, or a bad timeout.
 */
export class ProcessBarrier implements Shareable {
  readonly #endpoint: Endpoint;
  readonly #parties: number;
  readonly #action: (() => void) | undefined;
  readonly #timeout: number | undefined;

  constructor(parties: number, options: ProcessBarrierOptions = {}) {
    this.#parties = checkCount(parties, 'ProcessBarrier parties', 1, 'pass how many parties meet');
    if (typeof options !== 'object' || options === null) {
      throw new InvalidArgumentError(
        'SKEIN_SYNC_INVALID_ARGUMENT',
        `ProcessBarrier options must be an object like { action, timeout } (got ${describe(options)})`,
      );
    }
    const { action, timeout } = options;
    if (action !== undefined && typeof action !== 'function') {
      throw new InvalidArgumentError(
        'SKEIN_SYNC_INVALID_ARGUMENT',
        `ProcessBarrier action must be a function (got ${describe(action)}); omit it for none`,
      );
    }
    if (timeout !== undefined) planWait({ timeout }, 'ProcessBarrier');
    this.#action = action;
    this.#timeout = timeout;
    this.#endpoint = revived ?? createShared(KIND, [parties]);
    revived = undefined;
  }

  /** How many parties the barrier waits for. */
  get parties(): number {
    return this.#parties;
  }

  /** How many parties are waiting in the current round. */
  get nWaiting(): number {
    return this.#state().nWaiting;
  }

  /** Whether the barrier is broken (until reset()). */
  get broken(): boolean {
    return this.#state().broken;
  }

  /**
   * Arrives and blocks this thread until all parties have; returns this party's arrival index.
   * @throws BrokenBarrierError SKEIN_SYNC_BROKEN_BARRIER when the barrier is or gets broken.
   * @throws TimeoutError SKEIN_TIMEOUT after `timeout` ms (breaking the barrier for the others).
   * @throws SkeinError SKEIN_SYNC_WOULD_DEADLOCK on the creating thread unless it arrives last.
   */
  wait(options?: WaitOptions): number {
    const plan = this.#plan(options, 'ProcessBarrier.wait');
    const [index, runAction] = this.#endpoint.callSync(
      'wait',
      [this.#action !== undefined],
      plan,
      'ProcessBarrier.wait',
      {
        settleOnHub: true,
      },
    ) as Arrival;
    if (runAction)
      this.#runAction((succeeded) =>
        this.#endpoint.callSync('finish', [succeeded], NO_WAIT, 'ProcessBarrier.wait'),
      );
    return index;
  }

  /**
   * Arrives and waits until all parties have, without blocking the event loop.
   * @throws BrokenBarrierError SKEIN_SYNC_BROKEN_BARRIER, TimeoutError SKEIN_TIMEOUT, AbortError SKEIN_ABORTED.
   */
  async waitAsync(options?: WaitOptions): Promise<number> {
    const plan = this.#plan(options, 'ProcessBarrier.waitAsync');
    const [index, runAction] = (await this.#endpoint.call(
      'wait',
      [this.#action !== undefined],
      plan,
      'ProcessBarrier.waitAsync',
      {
        settleOnHub: true,
      },
    )) as Arrival;
    if (runAction) {
      let succeeded = false;
      try {
        (this.#action as () => void)();
        succeeded = true;
      } finally {
        await this.#endpoint.call('finish', [succeeded], NO_WAIT, 'ProcessBarrier.waitAsync');
      }
    }
    return index;
  }

  /**
   * Returns the barrier to its initial state: parties waiting now get BrokenBarrierError, and a broken
   * barrier becomes usable again.
   */
  reset(): void {
    this.#endpoint.callSync('reset', [], NO_WAIT, 'ProcessBarrier.reset');
  }

  /** Breaks the barrier: parties waiting get BrokenBarrierError, and so does every wait until reset(). */
  abort(): void {
    this.#endpoint.callSync('abort', [], NO_WAIT, 'ProcessBarrier.abort');
  }

  #runAction(finish: (succeeded: boolean) => unknown): void {
    let succeeded = false;
    try {
      (this.#action as () => void)();
      succeeded = true;
    } finally {
      finish(succeeded);
    }
  }

  #plan(options: WaitOptions | undefined, what: string): WaitPlan {
    if (options?.timeout === undefined && this.#timeout !== undefined) {
      return planWait({ ...options, timeout: this.#timeout }, what);
    }
    return planWait(options, what);
  }

  #state(): { nWaiting: number; broken: boolean } {
    return this.#endpoint.callSync('state', [], NO_WAIT, 'ProcessBarrier.state') as {
      nWaiting: number;
      broken: boolean;
    };
  }

  [TO_HANDLE](): SharedHandle {
    return handleOf(KIND, import.meta.url, this.#endpoint, { parties: this.#parties });
  }

  get [Symbol.toStringTag](): string {
    return KIND;
  }
}

registerKind(KIND, (handle) => {
  revived = endpointOf(handle);
  return new ProcessBarrier(handle.parties as number);
});
