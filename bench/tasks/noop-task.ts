// The job every tasks benchmark variant runs: returns its argument, so the work is the queue's own.
import { task } from '../../src/index.ts';

export const noop = task(import.meta, (i: number): number => i);
