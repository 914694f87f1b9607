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
  // Slots [#head, #end) hold the hand; #items.length may be larger (slots beyond #end are undefined).
  // The list never shrinks by setting its length: `length = 0` costs a call into the runtime (~160 ns
  // here) and drops the backing store, which the next add grows again, on every lone call.
  #items: (T | undefined)[] = [];
  #head = 0;
  #end = 0;
  #size = 0;

  get size(): number {
    return this.#size;
  }

  add(item: T): void {
    const end = this.#end;
    if (end < this.#items.length) this.#items[end] = item;
    else this.#items.push(item);
    this.#end = end + 1;
    this.#size++;
  }

  get(id: number): T | undefined {
    const items = this.#items;
    for (let i = this.#head; i < this.#end; i++) {
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
    for (let i = this.#head; i < this.#end; i++) {
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
    for (let i = 0; i < count && this.#end > this.#head; i++) {
      const at = --this.#end;
      if (items[at] !== undefined) {
        items[at] = undefined;
        this.#size--;
      }
    }
    this.#advance();
  }

  /** The items in the order added. */
  values(): T[] {
    const out: T[] = [];
    const items = this.#items;
    for (let i = this.#head; i < this.#end; i++) {
      const item = items[i];
      if (item !== undefined) out.push(item);
    }
    return out;
  }

  clear(): void {
    this.#items = [];
    this.#head = 0;
    this.#end = 0;
    this.#size = 0;
  }

  #advance(): void {
    const items = this.#items;
    const end = this.#end;
    let head = this.#head;
    while (head < end && items[head] === undefined) head++;
    if (head === end) {
      // Empty: start again at the front (every slot up to end is undefined already).
      head = 0;
      this.#end = 0;
    } else if (head > COMPACT_AFTER && head * 2 > end) {
      this.#items = items.slice(head, end);
      this.#end = end - head;
      head = 0;
    }
    this.#head = head;
  }
}
