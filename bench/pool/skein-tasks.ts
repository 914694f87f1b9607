// Skein's task references for the pool benchmark: the shared bodies in work.ts, exported as tasks.

import { task } from '../../src/index.ts';
import * as work from './work.ts';

export const noop = task(import.meta, work.noop);
export const spin = task(import.meta, work.spin);
export const sumArray = task(import.meta, work.sumArray);
