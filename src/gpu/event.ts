// Events of GPU work, PyOpenCL-style: each dispatch (and each batch) returns a GpuEvent whose wait()
// settles when the GPU finished it and whose elapsedMs is then the GPU time (timestamp queries, when
// the device profiles and the adapter has them) or the wall time from submit to completion.

export type TimingSource = 'timestamp' | 'wall';

export interface EventTiming {
  readonly elapsedMs: number;
  readonly source: TimingSource;
}

/**
 * How an event learns its timing: runs once, on the first wait(), and settles with
 * finishEvent(event, timing) in the step that learns it (no promise layer of its own). One function
 * may serve many events (the device's for lone dispatches), so a dispatch allocates no closure for it.
 */
export type Settle = (event: GpuEvent) => Promise<GpuEvent>;

/** Key of the method finishEvent() records a timing through: never exported, so no one else can. */
const RECORD_TIMING = Symbol('recordTiming');

/** @internal Records `timing` on `event` and returns the event: the last step of a Settle. */
export function finishEvent(event: GpuEvent, timing: EventTiming): GpuEvent {
  event[RECORD_TIMING](timing);
  return event;
}

/** One submitted piece of GPU work. */
export class GpuEvent {
  /** The kernel's name, or 'batch' for a batch's submit. */
  readonly name: string;
  /** performance.now() when the work was submitted to the queue. */
  readonly submittedAt: number;
  readonly #settle: Settle;
  #waited: Promise<this> | undefined;
  #resolved: EventTiming | undefined;

  /**
   * @internal Made by the device; `settle` runs once, on the first wait() (at submit when profiling).
   */
  constructor(name: string, submittedAt: number, settle: Settle) {
    this.name = name;
    this.submittedAt = submittedAt;
    this.#settle = settle;
  }

  [RECORD_TIMING](timing: EventTiming): void {
    this.#resolved = timing;
  }

  /** Settles when the GPU has finished this work; rejects with SKEIN_GPU_DESTROYED if the device went away. */
  wait(): Promise<this> {
    if (this.#waited === undefined) {
      try {
        this.#waited = this.#settle(this) as Promise<this>;
      } catch (error) {
        this.#waited = Promise.reject(error);
      }
    }
    return this.#waited;
  }

  /** Milliseconds the work took once wait() settled (GPU time or wall time, see `source`); else undefined. */
  get elapsedMs(): number | undefined {
    return this.#resolved?.elapsedMs;
  }

  /** Where elapsedMs came from: 'timestamp' (GPU timestamp queries) or 'wall' (submit to completion). */
  get source(): TimingSource | undefined {
    return this.#resolved?.source;
  }
}
