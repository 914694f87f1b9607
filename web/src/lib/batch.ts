// Live updates are applied in batches: events are collected and handed over at most once per
// interval, so 500 jobs/s (1,500 events/s) cost the page a couple of renders per second, not 1,500.

export class Batcher<T> {
  readonly #intervalMs: number;
  readonly #flush: (items: T[]) => void;
  #items: T[] = [];
  #timer: ReturnType<typeof setTimeout> | undefined;
  #dropped = 0;
  readonly #maxItems: number;

  /** `maxItems`: a batch keeps the latest this many (the rest are counted in `dropped`). */
  constructor(intervalMs: number, flush: (items: T[]) => void, maxItems = 10_000) {
    this.#intervalMs = intervalMs;
    this.#flush = flush;
    this.#maxItems = maxItems;
  }

  /** Items left out of batches because one grew past maxItems. */
  get dropped(): number {
    return this.#dropped;
  }

  push(item: T): void {
    this.#items.push(item);
    if (this.#items.length > this.#maxItems) {
      this.#dropped += this.#items.length - this.#maxItems;
      this.#items.splice(0, this.#items.length - this.#maxItems);
    }
    this.#timer ??= setTimeout(() => this.flushNow(), this.#intervalMs);
  }

  flushNow(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    if (this.#items.length === 0) return;
    const items = this.#items;
    this.#items = [];
    this.#flush(items);
  }

  close(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#items = [];
  }
}
