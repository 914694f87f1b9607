// Runs the sync conformance suites against the thread variants (shared memory), shared with ThreadPool
// workers.
import { ThreadPool } from '../../src/pool/index.ts';
import { Barrier, BoundedSemaphore, Event, Lock, RLock, Semaphore } from '../../src/sync/index.ts';
import { barrierSuite } from './barrier.ts';
import { eventSuite } from './event.ts';
import { lockSuite } from './lock.ts';
import { semaphoreSuite } from './semaphore.ts';
import { type Parties, sharedPool } from './shared-objects.ts';

const parties: Parties = {
  workers: 'ThreadPool workers',
  pool: sharedPool(() => new ThreadPool({ minWorkers: 2, maxWorkers: 2 })),
  blockingOnMain: 'waits',
};

lockSuite({
  ...parties,
  Lock,
  RLock,
  ownerOf: (holder) => holder.threadId,
  rlockCountOfOtherHolder: 'holder',
});
semaphoreSuite({ ...parties, Semaphore, BoundedSemaphore });
eventSuite({ ...parties, Event });
barrierSuite({ ...parties, Barrier });
