// Runs the sync conformance suites against the process variants (served by the main thread's hub),
// shared with ProcessPool workers.
import { ProcessPool } from '../../src/pool/index.ts';
import {
  ProcessBarrier,
  ProcessBoundedSemaphore,
  ProcessEvent,
  ProcessLock,
  ProcessRLock,
  ProcessSemaphore,
} from '../../src/sync/index.ts';
import { barrierSuite } from './barrier.ts';
import { eventSuite } from './event.ts';
import { lockSuite } from './lock.ts';
import { semaphoreSuite } from './semaphore.ts';
import { type Parties, sharedPool } from './shared-objects.ts';

const parties: Parties = {
  workers: 'ProcessPool workers',
  pool: sharedPool(() => new ProcessPool({ minWorkers: 2, maxWorkers: 2 })),
  blockingOnMain: 'would-deadlock',
};

lockSuite({
  ...parties,
  Lock: ProcessLock,
  RLock: ProcessRLock,
  ownerOf: (holder) => ({ pid: holder.pid, threadId: holder.threadId }),
  rlockCountOfOtherHolder: 'zero',
});
semaphoreSuite({ ...parties, Semaphore: ProcessSemaphore, BoundedSemaphore: ProcessBoundedSemaphore });
eventSuite({ ...parties, Event: ProcessEvent });
barrierSuite({ ...parties, Barrier: ProcessBarrier });
