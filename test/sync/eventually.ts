// Polls a check that no cell or message can report (a getter such as Barrier.nWaiting) until it holds,
// looking again every millisecond (the check decides, never the delay); bounded, so a bug fails the test
// instead of hanging it.

import { setTimeout as tick } from 'node:timers/promises';
import { SOON_MS } from './helpers.ts';

export async function eventually(check: () => boolean, what: string, ms = SOON_MS): Promise<void> {
  const deadline = performance.now() + ms;
  while (!check()) {
    if (performance.now() > deadline) throw new Error(`${what}: still not true after ${ms} ms`);
    await tick(1);
  }
}
