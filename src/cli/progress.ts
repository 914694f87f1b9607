// A progress bar for long CLI runs. On a terminal it redraws one line in place (carriage return); on a
// pipe or a CI log it prints a plain line at 25, 50, 75 and 100 % so logs stay short and readable.

/** Where the bar is drawn: a stream, and whether it is an interactive terminal. */
export interface ProgressStream {
  write(chunk: string): unknown;
  readonly isTTY?: boolean;
  readonly columns?: number;
}

const BAR_WIDTH_CHARS = 30;
const REDRAW_INTERVAL_MS = 50;
const LOG_STEPS_PERCENT = [25, 50, 75, 100] as const;

/**
 * Shows how many of `total` units are done.
 * @example
 * const bar = new ProgressBar('ThreadPool', 150, process.stderr);
 * bar.update(75); // 50 %
 * bar.finish();
 */
export class ProgressBar {
  readonly #label: string;
  readonly #total: number;
  readonly #stream: ProgressStream;
  readonly #interactive: boolean;
  #done = 0;
  #lastDrawMs = Number.NEGATIVE_INFINITY;
  #nextLogStep = 0;
  #finished = false;

  constructor(label: string, total: number, stream: ProgressStream) {
    if (!Number.isInteger(total) || total < 1) {
      throw new RangeError(`ProgressBar total must be an integer >= 1 (got ${total})`);
    }
    this.#label = label;
    this.#total = total;
    this.#stream = stream;
    this.#interactive = stream.isTTY === true;
  }

  /** Sets the number of units done (clamped to [0, total]); never moves backwards. */
  update(done: number): void {
    if (this.#finished) return;
    this.#done = Math.max(this.#done, Math.min(this.#total, Math.floor(done)));
    if (this.#interactive) {
      const now = performance.now();
      if (this.#done < this.#total && now - this.#lastDrawMs < REDRAW_INTERVAL_MS) return;
      this.#lastDrawMs = now;
      this.#stream.write(`\r${this.#line()}`);
      return;
    }
    const percent = (this.#done / this.#total) * 100;
    while (this.#nextLogStep < LOG_STEPS_PERCENT.length && percent >= LOG_STEPS_PERCENT[this.#nextLogStep]!) {
      this.#stream.write(
        `${this.#label}: ${LOG_STEPS_PERCENT[this.#nextLogStep]}% (${this.#done}/${this.#total})\n`,
      );
      this.#nextLogStep++;
    }
  }

  /** Draws the final state and ends the line. Idempotent. */
  finish(): void {
    if (this.#finished) return;
    this.update(this.#total);
    this.#finished = true;
    if (this.#interactive) this.#stream.write('\n');
  }

  #line(): string {
    const fraction = this.#done / this.#total;
    const filled = Math.round(fraction * BAR_WIDTH_CHARS);
    const bar = `${'#'.repeat(filled)}${'.'.repeat(BAR_WIDTH_CHARS - filled)}`;
    const percent = `${Math.floor(fraction * 100)}`.padStart(3);
    return `${this.#label} [${bar}] ${percent}% (${this.#done}/${this.#total})`;
  }
}
