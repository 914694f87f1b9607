// Small pieces the hub's state machines share: the error for an operation a kind does not have. (Their
// FIFO wait lists are InsertionOrderSet/Map, insertion-order-map.ts: O(1) removal of a call that stops
// waiting, and the oldest taken without walking the holes earlier takes left.)

import { SkeinError } from '../../errors.ts';

/** Clients only send the ops their class defines, so an unknown one is a bug (or a foreign client). */
export function unknownOp(kind: string, op: string): SkeinError {
  return new SkeinError('SKEIN_INTERNAL', `${kind} has no operation ${op}; this is a bug in Skein`);
}
