// Runs the channel conformance suites against the thread variants (shared memory): Queue, LifoQueue,
// PriorityQueue and Pipe, shared with ThreadPool workers.
import { LifoQueue, Pipe, PriorityQueue, Queue } from '../../src/channel/index.ts';
import { ThreadPool } from '../../src/pool/index.ts';
import { pipeSuite } from './pipe.ts';
import { queueSuite } from './queue.ts';
import { type Parties, sharedPool } from './shared-objects.ts';

const parties: Parties = {
  workers: 'ThreadPool workers',
  pool: sharedPool(() => new ThreadPool({ minWorkers: 2, maxWorkers: 2 })),
  blockingOnMain: 'waits',
};

queueSuite({
  ...parties,
  className: (order) => (order === 'lifo' ? 'LifoQueue' : order === 'priority' ? 'PriorityQueue' : 'Queue'),
  makeQueue: (order, options) => {
    if (order === 'lifo') return new LifoQueue(options);
    if (order === 'priority') return new PriorityQueue(options);
    // 'fifo', and any other order, which Queue is then to refuse.
    return new Queue(
      options === undefined ? { order } : typeof options !== 'object' ? options : { ...options, order },
    );
  },
});
pipeSuite({ ...parties, name: 'Pipe', makePipe: (options) => Pipe(options) });
