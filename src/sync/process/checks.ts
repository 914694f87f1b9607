// Argument checks of the process-shared classes, run in the caller before anything travels, so a bad
// count fails where it was written with SKEIN_SYNC_INVALID_ARGUMENT naming the value and the way out.

import { InvalidArgumentError } from '../../errors.ts';

/** The largest count the process variants accept, the same as the thread variants' Int32 cells. */
export const MAX_COUNT = 0x7fff_ffff;

export function checkCount(value: unknown, what: string, min: number, hint: string): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > MAX_COUNT) {
    throw new InvalidArgumentError(
      'SKEIN_SYNC_INVALID_ARGUMENT',
      `${what} must be an integer from ${min} to ${MAX_COUNT} (got ${describe(value)}); ${hint}`,
    );
  }
  return value;
}

export function describe(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'function') return 'a function';
  if (typeof value === 'object' && value !== null) return (value as object).constructor?.name ?? 'an object';
  return String(value);
}
