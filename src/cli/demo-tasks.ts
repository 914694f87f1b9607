// The tasks `skein demo` runs: defined once with task(import.meta, …), called directly for the
// sequential run and passed by reference to the pools, whose workers import this module by URL.

import { task } from '../task.ts';
import { renderBand } from './mandelbrot.ts';

/** Renders one band of the Mandelbrot image. */
export const renderMandelbrotBand = task(import.meta, renderBand);

/** Does nothing; running it once on every worker makes each one start and import this module. */
export const warmUp = task(import.meta, (): number => process.pid);
