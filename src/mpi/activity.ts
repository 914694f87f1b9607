// What one rank is blocked on, for the launcher's deadlock check: the blocking operations in flight
// (a recv, a wait, a collective) and a progress count of frames received. Reports are debounced, so a
// stream of frames costs one report per REPORT_DEBOUNCE_MS, not one per frame.
// Invariant: an operation is listed from the moment it blocks until it settles, fails or times out.

const REPORT_DEBOUNCE_MS = 25;

export interface ActivityState {
  readonly blocked: readonly string[];
  readonly progress: number;
}

export class Activity {
  readonly #ops = new Map<number, string>();
  readonly #report: (state: ActivityState) => void;
  #next = 0;
  #progress = 0;
  #timer: ReturnType<typeof setTimeout> | null = null;

  constructor(report: (state: ActivityState) => void) {
    this.#report = report;
  }

  begin(description: string): number {
    const id = this.#next++;
    this.#ops.set(id, description);
    this.#schedule();
    return id;
  }

  end(id: number): void {
    if (this.#ops.delete(id)) this.#schedule();
  }

  progress(): void {
    this.#progress++;
    this.#schedule();
  }

  snapshot(): ActivityState {
    return { blocked: [...this.#ops.values()], progress: this.#progress };
  }

  stop(): void {
    if (this.#timer !== null) clearTimeout(this.#timer);
    this.#timer = null;
  }

  #schedule(): void {
    if (this.#timer !== null) return;
    this.#timer = setTimeout(() => {
      this.#timer = null;
      this.#report(this.snapshot());
    }, REPORT_DEBOUNCE_MS);
    this.#timer.unref();
  }
}
