// Where a ProcessQueue's hub keeps encoded items, in the queue's order: FIFO (a deque), LIFO (a stack)
// or priority (a binary heap on priority, then arrival). Invariant: an item handed out and then given
// back (its consumer died before acknowledging it) is the next to come out again, as if never taken.

/** One encoded item: `seq` orders items of equal priority by arrival. */
export interface Item {
  readonly bytes: Uint8Array;
  readonly priority: number;
  readonly seq: number;
}

export interface ItemStore {
  readonly size: number;
  push(item: Item): void;
  /** Removes and returns the next item; only called when size > 0. */
  take(): Item;
  /** Returns a taken item to the front. */
  giveBack(item: Item): void;
}

/** FIFO: an array with a moving head, compacted once the dead prefix outweighs the live part. */
export class Deque implements ItemStore {
  #items: Item[] = [];
  #head = 0;

  get size(): number {
    return this.#items.length - this.#head;
  }

  push(item: Item): void {
    this.#items.push(item);
  }

  take(): Item {
    const item = this.#items[this.#head] as Item;
    this.#items[this.#head] = undefined as never;
    this.#head++;
    if (this.#head >= 1024 && this.#head * 2 >= this.#items.length) {
      this.#items = this.#items.slice(this.#head);
      this.#head = 0;
    }
    return item;
  }

  giveBack(item: Item): void {
    if (this.#head > 0) this.#items[--this.#head] = item;
    else this.#items.unshift(item);
  }
}

/** LIFO: the newest item comes out first; a given-back item is pushed on top again. */
export class Stack implements ItemStore {
  readonly #items: Item[] = [];

  get size(): number {
    return this.#items.length;
  }

  push(item: Item): void {
    this.#items.push(item);
  }

  take(): Item {
    return this.#items.pop() as Item;
  }

  giveBack(item: Item): void {
    this.#items.push(item);
  }
}

/** Priority: smallest priority first, FIFO among equals (seq), so a given-back item keeps its place. */
export class Heap implements ItemStore {
  readonly #items: Item[] = [];

  get size(): number {
    return this.#items.length;
  }

  push(item: Item): void {
    const items = this.#items;
    items.push(item);
    let i = items.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!before(items[i] as Item, items[parent] as Item)) break;
      swap(items, i, parent);
      i = parent;
    }
  }

  take(): Item {
    const items = this.#items;
    const top = items[0] as Item;
    const last = items.pop() as Item;
    if (items.length > 0) {
      items[0] = last;
      let i = 0;
      for (;;) {
        const left = 2 * i + 1;
        const right = left + 1;
        let smallest = i;
        if (left < items.length && before(items[left] as Item, items[smallest] as Item)) smallest = left;
        if (right < items.length && before(items[right] as Item, items[smallest] as Item)) smallest = right;
        if (smallest === i) break;
        swap(items, i, smallest);
        i = smallest;
      }
    }
    return top;
  }

  giveBack(item: Item): void {
    this.push(item);
  }
}

function before(a: Item, b: Item): boolean {
  return a.priority < b.priority || (a.priority === b.priority && a.seq < b.seq);
}

function swap(items: Item[], i: number, j: number): void {
  const t = items[i] as Item;
  items[i] = items[j] as Item;
  items[j] = t;
}
