// poolifier worker file: a ThreadWorker with named task functions, chosen with execute(data, name).

import { ThreadWorker } from 'poolifier';
import { noop, spin, sumArray } from './work.ts';

// poolifier types task data as optional; the pool always sends it.
export default new ThreadWorker<number | Float64Array, number>({
  noop: (x) => noop(x as number),
  spin: (ms) => spin(ms as number),
  sumArray: (array) => sumArray(array as Float64Array),
});
