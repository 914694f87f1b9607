// Runs the sync conformance suites against the thread variants (shared memory), shared with ThreadPool
// workers.
import { ThreadPool } from '../../src/pool/index.ts';
import { Lock, RLock } from '../../src/sync/index.ts';
import { lockSuite } from './lock.ts';
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
