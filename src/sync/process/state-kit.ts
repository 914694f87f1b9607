// Small pieces the hub's state machines share: FIFO wait lists kept in insertion-ordered Sets (O(1)
// removal of a call that stops waiting), and the error for an operation a kind does not have.

import { SkeinError } from '../../errors.ts';

/** The oldest member of a Set or of a Map's keys (both iterate in insertion order), or undefined. */
export function first<T>(items: Iterable<T>): T | undefined {
  for (const item of items) return item;
  return undefined;
}

/** Clients only send the ops their class defines, so an unknown one is a bug (or a foreign client). */
export function unknownOp(kind: string, op: string): SkeinError {
  return new SkeinError('SKEIN_INTERNAL', `${kind} has no operation ${op}; this is a bug in Skein`);
}
