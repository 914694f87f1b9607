// Runs the executor conformance suite against ProcessPool.
import { ProcessPool } from '../../src/pool/index.ts';
import { executorSuite } from './executor.ts';

executorSuite('ProcessPool', (options) => new ProcessPool(options));
