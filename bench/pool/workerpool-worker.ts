// workerpool worker file: registers the methods that pool.exec(name, args) calls.

import workerpool from 'workerpool';
import { noop, spin, sumArray } from './work.ts';

workerpool.worker({ noop, spin, sumArray });
