// The pool's waiting line: highest priority first, first-in first-out among equals. Priorities are
// few in practice, so each has its own ring-free array deque and the list of priorities stays sorted.

export interface Prioritized {
  readonly priority: number;
}

class Bucket<T> {
  items: (T | undefined)[] = [];
  head = 0;
  get size(): number {
    return this.items.length - this.head;
  }
  shift(): T | undefined {
    if (this.head >= this.items.length) return undefined;
    const item = this.items[this.head];
    this.items[this.head++] = undefined;
    // Compact once the consumed prefix dominates so memory stays proportional to the backlog.
    if (this.head > 1024 && this.head * 2 > this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
    return item;
  }
}

export class TaskQueue<T extends Prioritized> {
  readonly #buckets = new Map<number, Bucket<T>>();
  /** Priorities present, highest first. */
  #order: number[] = [];
  #size = 0;
  /** The bucket push last used (undefined once removed), and its priority. */
  #lastPriority = Number.NaN;
  #lastBucket: Bucket<T> | undefined;

  get size(): number {
    return this.#size;
  }

  push(item: T): void {
    const priority = item.priority;
    // Pushes in a row mostly share a priority: skip the Map for it.
    let bucket = priority === this.#lastPriority ? this.#lastBucket : this.#buckets.get(priority);
    if (bucket === undefined) {
      bucket = new Bucket<T>();
      this.#buckets.set(priority, bucket);
      this.#order.push(priority);
      this.#order.sort((a, b) => b - a);
    }
    bucket.items.push(item);
    this.#size++;
    this.#lastPriority = priority;
    this.#lastBucket = bucket;
  }

  /** Puts an item back at the head of its priority (a task whose worker died before starting it). */
  unshift(item: T): void {
    this.push(item);
    const bucket = this.#buckets.get(item.priority)!;
    bucket.items.pop();
    if (bucket.head > 0) bucket.items[--bucket.head] = item;
    else bucket.items.unshift(item);
  }

  shift(): T | undefined {
    while (this.#order.length > 0) {
      const priority = this.#order[0]!;
      const bucket = this.#buckets.get(priority)!;
      const item = bucket.shift();
      if (item !== undefined) {
        this.#size--;
        return item;
      }
      this.#buckets.delete(priority);
      this.#order.shift();
      if (priority === this.#lastPriority) this.#lastBucket = undefined;
    }
    return undefined;
  }

  /** Removes one item (a cancelled task); O(n) in its bucket, which cancellation can afford. */
  delete(item: T): boolean {
    const bucket = this.#buckets.get(item.priority);
    if (bucket === undefined) return false;
    const index = bucket.items.indexOf(item, bucket.head);
    if (index < 0) return false;
    bucket.items.splice(index, 1);
    this.#size--;
    return true;
  }

  /** Removes and returns everything, in dequeue order. */
  drain(): T[] {
    const all: T[] = [];
    for (let item = this.shift(); item !== undefined; item = this.shift()) all.push(item);
    return all;
  }
}
