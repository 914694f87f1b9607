// Runs the channel conformance suites against the process variants (served by the main thread's hub):
// ProcessQueue with each order and ProcessPipe, shared with ProcessPool workers.
import { ProcessPipe, ProcessQueue } from '../../src/channel/index.ts';
import { ProcessPool } from '../../src/pool/index.ts';
import { pipeSuite } from './pipe.ts';
import { queueSuite } from './queue.ts';
import { type Parties, sharedPool } from './shared-objects.ts';

const parties: Parties = {
  workers: 'ProcessPool workers',
  pool: sharedPool(() => new ProcessPool({ minWorkers: 2, maxWorkers: 2 })),
  blockingOnMain: 'would-deadlock',
};

queueSuite({
  ...parties,
  className: () => 'ProcessQueue',
  makeQueue: (order, options) =>
    new ProcessQueue(
      options === undefined ? { order } : typeof options !== 'object' ? options : { ...options, order },
    ),
});
pipeSuite({ ...parties, name: 'ProcessPipe', makePipe: (options) => ProcessPipe(options) });
