// Task and actor references for test/task.test.ts: exported ones, found by identity, and one the module
// creates but does not export.

import { actor, task, taskContext } from '../../src/task.ts';

export const double = task(import.meta, (n: number): number => n * 2);

export const delayedEcho = task(import.meta, async (value: string): Promise<string> => {
  await Promise.resolve();
  return value;
});

export const readContext = task(import.meta, () => {
  const context = taskContext();
  return { workerId: context.workerId, aborted: context.signal.aborted, cancelled: context.cancelled };
});

export const Counter = actor(
  import.meta,
  class Counter {
    n: number;
    constructor(start = 0) {
      this.n = start;
    }
    add(k: number): number {
      this.n += k;
      return this.n;
    }
  },
);

const notExported = task(import.meta, (): string => 'hidden');

/** Hands out the unexported reference, as a module might by mistake. */
export function getNotExported(): typeof notExported {
  return notExported;
}

class Hidden {}
const HiddenActor = actor(import.meta, Hidden);

export function getHiddenActor(): typeof HiddenActor {
  return HiddenActor;
}
