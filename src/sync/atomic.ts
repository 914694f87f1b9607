// Atomic cells in shared memory: AtomicInt32 and AtomicBigInt64, every operation one Atomics call, plus a
// wait for the value to change. Invariant: a waiter counts itself in WAITERS before it reads the value, and
// every write notifies when WAITERS is non-zero, so a change after that read always wakes it.

import { InvalidArgumentError, type TimeoutError } from '../errors.ts';
import { checkInteger, MAX_INT32, show } from './arguments.ts';
import { HANDLE_KIND, registerKind, type SharedHandle, sharedCells, TO_HANDLE } from './shared.ts';
import { untilAsync, untilBlocking } from './until.ts';
import { planWait, type WaitOptions, type WaitPlan, waitTimedOut } from './wait.ts';

const MIN_INT32 = -0x8000_0000;
/** Bit masks may be written as unsigned 32-bit numbers (0xffff_ffff); Atomics wraps them. */
const MAX_UINT32 = 0xffff_ffff;
const MIN_INT64 = -(2n ** 63n);
const MAX_INT64 = 2n ** 63n - 1n;

let revivedBuffer: SharedArrayBuffer | undefined;

/** Int32 cells of AtomicInt32: the value, and how many waiters may sleep on it. */
const INT32_VALUE = 0;
const INT32_WAITERS = 1;
const INT32_CELLS = 2;

/**
 * A 32-bit signed integer in shared memory, updated atomically from any thread it is handed to.
 * Arithmetic wraps around as Int32Array does. `add`, `sub`, `and`, `or`, `xor` and `exchange` return the
 * value before the operation (as `Atomics` does); `increment` and `decrement` return the value after it.
 * @example
 * const done = new AtomicInt32();
 * await Promise.all(files.map((f) => pool.run(convert, f, done))); // each worker calls done.increment()
 * @throws InvalidArgumentError SKEIN_SYNC_INVALID_ARGUMENT when `initial` is not a 32-bit signed integer.
 */
export class AtomicInt32 {
  readonly #cells: Int32Array;

  /** @param initial the first value. @defaultValue 0 */
  constructor(initial = 0) {
    const revived = revivedBuffer;
    revivedBuffer = undefined;
    if (revived !== undefined) {
      this.#cells = new Int32Array(revived);
      return;
    }
    const value = int32(initial, 'AtomicInt32 initial value');
    this.#cells = new Int32Array(new SharedArrayBuffer(INT32_CELLS * 4));
    this.#cells[INT32_VALUE] = value;
  }

  load(): number {
    return Atomics.load(this.#cells, INT32_VALUE);
  }

  store(value: number): void {
    Atomics.store(this.#cells, INT32_VALUE, int32(value, 'AtomicInt32.store() value'));
    this.#changed();
  }

  /** Adds `n` and returns the previous value. */
  add(n: number): number {
    return this.#changed(Atomics.add(this.#cells, INT32_VALUE, int32(n, 'AtomicInt32.add() operand')));
  }

  /** Subtracts `n` and returns the previous value. */
  sub(n: number): number {
    return this.#changed(Atomics.sub(this.#cells, INT32_VALUE, int32(n, 'AtomicInt32.sub() operand')));
  }

  /** Adds 1 and returns the new value (like `++x`). */
  increment(): number {
    return (this.#changed(Atomics.add(this.#cells, INT32_VALUE, 1)) + 1) | 0;
  }

  /** Subtracts 1 and returns the new value (like `--x`). */
  decrement(): number {
    return (this.#changed(Atomics.sub(this.#cells, INT32_VALUE, 1)) - 1) | 0;
  }

  /** Stores `value` and returns the previous value. */
  exchange(value: number): number {
    return this.#changed(
      Atomics.exchange(this.#cells, INT32_VALUE, int32(value, 'AtomicInt32.exchange() value')),
    );
  }

  /**
   * Stores `replacement` if the value is `expected`; returns the value found, so the swap happened
   * exactly when the result equals `expected`.
   */
  compareExchange(expected: number, replacement: number): number {
    const found = Atomics.compareExchange(
      this.#cells,
      INT32_VALUE,
      int32(expected, 'AtomicInt32.compareExchange() expected value'),
      int32(replacement, 'AtomicInt32.compareExchange() replacement'),
    );
    return found === expected ? this.#changed(found) : found;
  }

  /** Bitwise AND with `mask`; returns the previous value. */
  and(mask: number): number {
    return this.#changed(Atomics.and(this.#cells, INT32_VALUE, bits(mask, 'AtomicInt32.and() mask')));
  }

  /** Bitwise OR with `mask`; returns the previous value. */
  or(mask: number): number {
    return this.#changed(Atomics.or(this.#cells, INT32_VALUE, bits(mask, 'AtomicInt32.or() mask')));
  }

  /** Bitwise XOR with `mask`; returns the previous value. */
  xor(mask: number): number {
    return this.#changed(Atomics.xor(this.#cells, INT32_VALUE, bits(mask, 'AtomicInt32.xor() mask')));
  }

  /**
   * Blocks this thread while the value is `expected`; returns the first other value it sees (at once if
   * the value already differs). A change away and back again while it sleeps may go unnoticed.
   * @throws TimeoutError SKEIN_TIMEOUT after `timeout` ms; AbortError SKEIN_ABORTED when `signal` fires.
   */
  waitUntilChanged(expected: number, options?: WaitOptions): number {
    const awaited = int32(expected, 'AtomicInt32.waitUntilChanged() expected value');
    let seen = this.load();
    if (seen !== awaited) return seen;
    const plan = planWait(options, 'AtomicInt32.waitUntilChanged');
    const done = (): boolean => (seen = this.load()) !== awaited;
    Atomics.add(this.#cells, INT32_WAITERS, 1);
    try {
      if (!untilBlocking(this.#cells, INT32_VALUE, plan, done))
        throw stillEqual('AtomicInt32', plan, awaited);
    } finally {
      Atomics.sub(this.#cells, INT32_WAITERS, 1);
    }
    return seen;
  }

  /**
   * Waits while the value is `expected` without blocking the event loop; resolves to the new value.
   * @throws TimeoutError SKEIN_TIMEOUT after `timeout` ms; AbortError SKEIN_ABORTED when `signal` fires.
   */
  async waitUntilChangedAsync(expected: number, options?: WaitOptions): Promise<number> {
    const awaited = int32(expected, 'AtomicInt32.waitUntilChangedAsync() expected value');
    let seen = this.load();
    if (seen !== awaited) return seen;
    const plan = planWait(options, 'AtomicInt32.waitUntilChangedAsync');
    const done = (): boolean => (seen = this.load()) !== awaited;
    Atomics.add(this.#cells, INT32_WAITERS, 1);
    try {
      if (!(await untilAsync(this.#cells, INT32_VALUE, plan, done))) {
        throw stillEqual('AtomicInt32', plan, awaited);
      }
    } finally {
      Atomics.sub(this.#cells, INT32_WAITERS, 1);
    }
    return seen;
  }

  /** Wakes waiters after a write; returns `result` so the write's result passes through. */
  #changed(result = 0): number {
    if (Atomics.load(this.#cells, INT32_WAITERS) > 0) Atomics.notify(this.#cells, INT32_VALUE);
    return result;
  }

  [TO_HANDLE](): SharedHandle {
    return {
      [HANDLE_KIND]: 'AtomicInt32',
      module: import.meta.url,
      scope: 'thread',
      buffer: this.#cells.buffer,
    };
  }

  get [Symbol.toStringTag](): string {
    return 'AtomicInt32';
  }

  toString(): string {
    return String(this.load());
  }
}

/** Int32 cells of AtomicBigInt64, after the 64-bit value (Atomics.wait sleeps on the Int32 CHANGES). */
const BIG_WAITERS = 2;
const BIG_CHANGES = 3;
const BIG_BYTES = 16;

/**
 * A 64-bit signed integer in shared memory (BigInt), for counters that outgrow 32 bits. Same operations
 * and return conventions as AtomicInt32; arithmetic wraps around as BigInt64Array does.
 * @example
 * const bytes = new AtomicBigInt64();
 * bytes.add(BigInt(chunk.byteLength));
 * @throws InvalidArgumentError SKEIN_SYNC_INVALID_ARGUMENT when `initial` is not a 64-bit signed bigint.
 */
export class AtomicBigInt64 {
  readonly #value: BigInt64Array;
  readonly #cells: Int32Array;

  /** @param initial the first value. @defaultValue 0n */
  constructor(initial = 0n) {
    const revived = revivedBuffer;
    revivedBuffer = undefined;
    const buffer = revived ?? new SharedArrayBuffer(BIG_BYTES);
    this.#value = new BigInt64Array(buffer, 0, 1);
    this.#cells = new Int32Array(buffer);
    if (revived === undefined) this.#value[0] = int64(initial, 'AtomicBigInt64 initial value');
  }

  load(): bigint {
    return Atomics.load(this.#value, 0);
  }

  store(value: bigint): void {
    Atomics.store(this.#value, 0, int64(value, 'AtomicBigInt64.store() value'));
    this.#changed(0n);
  }

  /** Adds `n` and returns the previous value. */
  add(n: bigint): bigint {
    return this.#changed(Atomics.add(this.#value, 0, int64(n, 'AtomicBigInt64.add() operand')));
  }

  /** Subtracts `n` and returns the previous value. */
  sub(n: bigint): bigint {
    return this.#changed(Atomics.sub(this.#value, 0, int64(n, 'AtomicBigInt64.sub() operand')));
  }

  /** Adds 1 and returns the new value (like `++x`). */
  increment(): bigint {
    return BigInt.asIntN(64, this.#changed(Atomics.add(this.#value, 0, 1n)) + 1n);
  }

  /** Subtracts 1 and returns the new value (like `--x`). */
  decrement(): bigint {
    return BigInt.asIntN(64, this.#changed(Atomics.sub(this.#value, 0, 1n)) - 1n);
  }

  /** Stores `value` and returns the previous value. */
  exchange(value: bigint): bigint {
    return this.#changed(Atomics.exchange(this.#value, 0, int64(value, 'AtomicBigInt64.exchange() value')));
  }

  /** Stores `replacement` if the value is `expected`; returns the value found. */
  compareExchange(expected: bigint, replacement: bigint): bigint {
    const found = Atomics.compareExchange(
      this.#value,
      0,
      int64(expected, 'AtomicBigInt64.compareExchange() expected value'),
      int64(replacement, 'AtomicBigInt64.compareExchange() replacement'),
    );
    return found === expected ? this.#changed(found) : found;
  }

  /** Bitwise AND with `mask`; returns the previous value. */
  and(mask: bigint): bigint {
    return this.#changed(Atomics.and(this.#value, 0, int64(mask, 'AtomicBigInt64.and() mask')));
  }

  /** Bitwise OR with `mask`; returns the previous value. */
  or(mask: bigint): bigint {
    return this.#changed(Atomics.or(this.#value, 0, int64(mask, 'AtomicBigInt64.or() mask')));
  }

  /** Bitwise XOR with `mask`; returns the previous value. */
  xor(mask: bigint): bigint {
    return this.#changed(Atomics.xor(this.#value, 0, int64(mask, 'AtomicBigInt64.xor() mask')));
  }

  /**
   * Blocks this thread while the value is `expected`; returns the first other value it sees.
   * @throws TimeoutError SKEIN_TIMEOUT after `timeout` ms; AbortError SKEIN_ABORTED when `signal` fires.
   */
  waitUntilChanged(expected: bigint, options?: WaitOptions): bigint {
    const awaited = int64(expected, 'AtomicBigInt64.waitUntilChanged() expected value');
    let seen = this.load();
    if (seen !== awaited) return seen;
    const plan = planWait(options, 'AtomicBigInt64.waitUntilChanged');
    const done = (): boolean => (seen = this.load()) !== awaited;
    Atomics.add(this.#cells, BIG_WAITERS, 1);
    try {
      if (!untilBlocking(this.#cells, BIG_CHANGES, plan, done)) {
        throw stillEqual('AtomicBigInt64', plan, awaited);
      }
    } finally {
      Atomics.sub(this.#cells, BIG_WAITERS, 1);
    }
    return seen;
  }

  /**
   * Waits while the value is `expected` without blocking the event loop; resolves to the new value.
   * @throws TimeoutError SKEIN_TIMEOUT after `timeout` ms; AbortError SKEIN_ABORTED when `signal` fires.
   */
  async waitUntilChangedAsync(expected: bigint, options?: WaitOptions): Promise<bigint> {
    const awaited = int64(expected, 'AtomicBigInt64.waitUntilChangedAsync() expected value');
    let seen = this.load();
    if (seen !== awaited) return seen;
    const plan = planWait(options, 'AtomicBigInt64.waitUntilChangedAsync');
    const done = (): boolean => (seen = this.load()) !== awaited;
    Atomics.add(this.#cells, BIG_WAITERS, 1);
    try {
      if (!(await untilAsync(this.#cells, BIG_CHANGES, plan, done))) {
        throw stillEqual('AtomicBigInt64', plan, awaited);
      }
    } finally {
      Atomics.sub(this.#cells, BIG_WAITERS, 1);
    }
    return seen;
  }

  /**
   * Wakes waiters after a write. A BigInt64 cannot be compared by Atomics.wait in one Int32 slot, so
   * waiters sleep on CHANGES, which a write bumps only when someone may be waiting.
   */
  #changed(result: bigint): bigint {
    if (Atomics.load(this.#cells, BIG_WAITERS) > 0) {
      Atomics.add(this.#cells, BIG_CHANGES, 1);
      Atomics.notify(this.#cells, BIG_CHANGES);
    }
    return result;
  }

  [TO_HANDLE](): SharedHandle {
    return {
      [HANDLE_KIND]: 'AtomicBigInt64',
      module: import.meta.url,
      scope: 'thread',
      buffer: this.#cells.buffer,
    };
  }

  get [Symbol.toStringTag](): string {
    return 'AtomicBigInt64';
  }

  toString(): string {
    return String(this.load());
  }
}

function int32(value: unknown, what: string): number {
  return checkInteger(value, what, MIN_INT32, MAX_INT32, 'pass a 32-bit signed integer');
}

function bits(value: unknown, what: string): number {
  return checkInteger(value, what, MIN_INT32, MAX_UINT32, 'pass a 32-bit mask');
}

function int64(value: unknown, what: string): bigint {
  if (typeof value !== 'bigint' || value < MIN_INT64 || value > MAX_INT64) {
    throw new InvalidArgumentError(
      'SKEIN_SYNC_INVALID_ARGUMENT',
      `${what} must be a bigint from ${MIN_INT64} to ${MAX_INT64} (got ${show(value)}); write it as a bigint, e.g. 1n or BigInt(x)`,
    );
  }
  return value;
}

function stillEqual(kind: string, plan: WaitPlan, expected: number | bigint): TimeoutError {
  return waitTimedOut(`${kind} waitUntilChanged`, plan, ` (the value stayed ${show(expected)})`);
}

registerKind('AtomicInt32', (handle) => {
  revivedBuffer = sharedCells(handle, INT32_CELLS).buffer as SharedArrayBuffer;
  return new AtomicInt32();
});

registerKind('AtomicBigInt64', (handle) => {
  revivedBuffer = sharedCells(handle, BIG_BYTES / 4).buffer as SharedArrayBuffer;
  return new AtomicBigInt64();
});
