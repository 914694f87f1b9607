// Argument checks shared by the counted primitives (Semaphore, Barrier, Latch, atomic cells): one place
// that words SKEIN_SYNC_INVALID_ARGUMENT messages, naming the value received and what to pass instead.

import { InvalidArgumentError } from '../errors.ts';

/** The largest count an Int32 cell holds. */
export const MAX_INT32 = 0x7fff_ffff;

/** Throws unless `value` is an integer in [min, max]; `what` names it ("Semaphore value"), `hint` the way out. */
export function checkInteger(value: unknown, what: string, min: number, max: number, hint: string): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw new InvalidArgumentError(
      'SKEIN_SYNC_INVALID_ARGUMENT',
      `${what} must be an integer from ${min} to ${max} (got ${show(value)}); ${hint}`,
    );
  }
  return value;
}

export function show(value: unknown): string {
  if (typeof value === 'bigint') return `${value}n`;
  if (typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'function') return 'a function';
  if (typeof value === 'object' && value !== null) return (value as object).constructor?.name ?? 'an object';
  return String(value);
}
