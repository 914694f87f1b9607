// Runs the executor conformance suite against ThreadPool.
import { ThreadPool } from '../../src/pool/index.ts';
import { executorSuite } from './executor.ts';

executorSuite('ThreadPool', (options) => new ThreadPool(options));
