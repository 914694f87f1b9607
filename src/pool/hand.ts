// A worker's hand: the tasks sent to it and not yet answered, in the order sent. A worker answers in
// that order but for the few it skips (cancelled, taken back), so the record of an answer is nearly
// always the oldest: a list with a moving head finds it at once, where a Map would hash every id and
// reallocate its table as tens of thousands of ids pass through.

export interface HandItem {
  readonly id: number;
}

/** Consumed slots at the head beyond which the list is compacted (when they are most of it). */
const COMPACT_AFTER = 1024;

export class Hand<T extends HandItem> {
  #items: (T | undefined)[] = [];
  #head = 0;
  #size = 0;

  get size(): number {
    return this.#size;
  }

  add(item: T): void {
    this.#items.push(item);
    this.#size++;
  }

  get(id: number): T | undefined {
    const items = this.#items;
    for (let i = this.#head; i < items.length; i++) {
      const item = items[i];
      if (item !== undefined && item.id === id) return item;
    }
    return undefined;
  }

  has(id: number): boolean {
    return this.get(id) !== undefined;
  }

  /** Removes the item with this id and returns it; undefined when there is none. */
  take(id: number): T | undefined {
    const items = this.#items;
    for (let i = this.#head; i < items.length; i++) {
      const item = items[i];
      if (item !== undefined && item.id === id) {
        items[i] = undefined;
        this.#size--;
        if (i === this.#head) this.#advance();
        return item;
      }
    }
    return undefined;
  }

  /** Removes the `count` items added last (a batch that could not be sent). */
  dropLast(count: number): void {
    const items = this.#items;
    for (let i = 0; i < count; i++) if (items.pop() !== undefined) this.#size--;
    this.#advance();
  }

  /** The items in the order added. */
  values(): T[] {
    const out: T[] = [];
    const items = this.#items;
    for (let i = this.#head; i < items.length; i++) {
      const item = items[i];
      if (item !== undefined) out.push(item);
    }
    return out;
  }

  clear(): void {
    this.#items = [];
    this.#head = 0;
    this.#size = 0;
  }

  #advance(): void {
    const items = this.#items;
    let head = this.#head;
    while (head < items.length && items[head] === undefined) head++;
    if (head === items.length) {
      items.length = 0;
      head = 0;
    } else if (head > COMPACT_AFTER && head * 2 > items.length) {
      this.#items = items.slice(head);
      head = 0;
    }
    this.#head = head;
  }
}
