// When a thread of a ThreadPool spins instead of sleeping: the pool's thread waiting for a lone call's
// result (thread-worker-handle.ts) and a worker waiting for the next lone call (entry/thread-worker.ts).
// Imported by the worker entry too, so it imports nothing heavy.

import { availableParallelism } from 'node:os';

/**
 * Before blocking, spin this long on the doorbell: waking a thread blocked on another CPU costs tens of
 * µs on virtual machines (29 µs measured here), a spinning one notices in well under 1 µs. Never when
 * this process may use only one CPU (taskset): there the spinner would only delay the other thread.
 */
export const SPIN_MS = availableParallelism() > 1 ? 0.02 : 0;
/**
 * This process may use only one CPU (taskset -c 0): nothing spins, and the pool's wait for a lone
 * result sleeps for its answer rather than for blockingWaitTimeout (thread-worker-handle.ts).
 */
export const ONE_CPU = SPIN_MS === 0;

/**
 * A side spins only while calls come back to back: the call it waits on (the pool) or the last one it
 * took (a worker) came within this long of the one before. With a pause between calls (a task-queue
 * worker taking jobs off a socket) the other side has gone to sleep by the next call, so a spin only
 * burns a CPU, and on these VMs it also slowed the wake-ups it waited for: calls 1 ms apart made
 * 88 µs round trips with both sides spinning, 31-37 µs with neither (bench/pool/spaced-calls.ts).
 */
export const BACK_TO_BACK_MS = 0.05;
/**
 * Calls stop counting as back to back only after this many longer gaps in a row: one round trip slowed
 * by a stall of the host would otherwise cost the next call its spin as well (p99 15 -> 30-57 µs).
 */
export const LONG_GAPS_BEFORE_NO_SPIN = 2;

/**
 * After this many spins in a row that kept the other thread from running, a side stops spinning for a
 * while: the scheduler has put both threads on one CPU (another process holds the other), where a
 * spinner only delays what it waits for. Measured here with a busy loop on the second CPU: 44-66 µs
 * round trips, each thread burning ~24 µs per call, against 12-14 µs for pools that never spin.
 * Such a spin is one after which the other side answered within CO_LOCATED_WAKE_MS of this one going to
 * sleep: it ran as soon as this one gave up the CPU. An answer that comes later came from another CPU
 * (a wake-up across CPUs costs tens of µs on these VMs), where spinning is what pays.
 */
const FAILED_SPINS_BEFORE_BACKOFF = 4;
const CO_LOCATED_WAKE_MS = 0.01;
/** Waits that skip spinning after such a run; doubled while the next probe fails too. */
const BACKOFF_WAITS = 64;
const MAX_BACKOFF_WAITS = 4096;

/** One side's spin policy: spin, unless recent spins showed the two threads sharing one CPU. */
export class SpinBackoff {
  #failedSpins = 0;
  #spinlessWaits = 0;
  #backoff = BACKOFF_WAITS;

  /** Whether this wait may spin; a wait that may not counts down the backoff. */
  maySpin(): boolean {
    if (this.#spinlessWaits === 0) return true;
    this.#spinlessWaits--;
    return false;
  }

  /** The answer came while spinning. */
  paid(): void {
    this.#failedSpins = 0;
    this.#backoff = BACKOFF_WAITS;
  }

  /** The spin ran out, and the answer came `afterMs` after it did. */
  ranOut(afterMs: number): void {
    if (afterMs >= CO_LOCATED_WAKE_MS || ++this.#failedSpins < FAILED_SPINS_BEFORE_BACKOFF) return;
    this.#failedSpins = 0;
    this.#spinlessWaits = this.#backoff;
    this.#backoff = Math.min(MAX_BACKOFF_WAITS, this.#backoff * 2);
  }
}
