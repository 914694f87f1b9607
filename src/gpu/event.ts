// Events of GPU work, PyOpenCL-style: each dispatch (and each batch) returns a GpuEvent whose wait()
// settles when the GPU finished it and whose elapsedMs is then the GPU time (timestamp queries, when
// the device profiles and the adapter has them) or the wall time from submit to completion.

export type TimingSource = 'timestamp' | 'wall';

export interface EventTiming {
  readonly elapsedMs: number;
  readonly source: TimingSource;
}

/** How an event learns its timing: runs once, settles with what `finish` returns. */
export type Settle = (finish: (timing: EventTiming) => GpuEvent) => Promise<GpuEvent>;

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
   * @internal Made by the device; `settle` runs once, on the first wait() (at submit when profiling),
   * and hands the timing to `finish` in the step that learns it (no promise layer of its own).
   */
  constructor(name: string, submittedAt: number, settle: Settle) {
    this.name = name;
    this.submittedAt = submittedAt;
    this.#settle = settle;
  }

  /** Settles when the GPU has finished this work; rejects with SKEIN_GPU_DESTROYED if the device went away. */
  wait(): Promise<this> {
    if (this.#waited === undefined) {
      const finish = (timing: EventTiming): this => {
        this.#resolved = timing;
        return this;
      };
      try {
        this.#waited = this.#settle(finish) as Promise<this>;
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
