// Marks a task's result whose buffers should move back to the caller instead of being copied.

import type { TransferListItem } from 'node:worker_threads';

const TRANSFER_BRAND = Symbol.for('skein.transfer');

export interface Transfer<T> {
  readonly [TRANSFER_BRAND]: true;
  readonly value: T;
  readonly list: readonly TransferListItem[];
}

/**
 * Returns `value` from a task with `list` (its ArrayBuffers) moved, not copied, to the caller.
 * The caller receives `value` itself; typed as T so the task's declared result type stays T.
 * @example
 * export const fill = task(import.meta, (n: number) => { const a = new Float64Array(n); return transfer(a, [a.buffer]); });
 */
export function transfer<T>(value: T, list: readonly TransferListItem[]): T {
  return { [TRANSFER_BRAND]: true, value, list } satisfies Transfer<T> as unknown as T;
}

export function isTransfer(value: unknown): value is Transfer<unknown> {
  return (
    typeof value === 'object' && value !== null && (value as Record<symbol, unknown>)[TRANSFER_BRAND] === true
  );
}
