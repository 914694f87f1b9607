// Waiting for a state kept in shared memory: read the cell that every change of that state bumps, check
// the state, then sleep only while the cell still holds what was read. Reading before checking is what
// makes a wake-up impossible to lose: a change after the read alters the cell, so the sleep returns.

import { throwIfAborted, type WaitPlan, waitSliceAsync, waitSliceBlocking } from './wait.ts';

/**
 * Blocks in slices until `done()` (which may act, e.g. take a permit) returns true; false once the
 * plan's deadline has passed, after one last check. Throws AbortError between slices.
 */
export function untilBlocking(
  cells: Int32Array,
  index: number,
  plan: WaitPlan,
  done: () => boolean,
): boolean {
  for (;;) {
    const seen = Atomics.load(cells, index);
    if (done()) return true;
    throwIfAborted(plan);
    if (!waitSliceBlocking(cells, index, seen, plan)) return done();
  }
}

/** Like untilBlocking without blocking the event loop; rejects with AbortError as soon as the signal fires. */
export async function untilAsync(
  cells: Int32Array,
  index: number,
  plan: WaitPlan,
  done: () => boolean,
): Promise<boolean> {
  for (;;) {
    const seen = Atomics.load(cells, index);
    if (done()) return true;
    if (!(await waitSliceAsync(cells, index, seen, plan))) return done();
  }
}
