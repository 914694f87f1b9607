// ProcessLock: a mutual-exclusion lock shared between processes (and threads), kept by the hub of the
// thread that created it (process/hub.ts). Owner checks and owner death work as with the thread Lock;
// the owner is a thread (all async callers of one thread count as that thread, and wait their turn).

import { createShared, type Endpoint, endpointOf } from './process/endpoint.ts';
import { ProcessMutex } from './process-mutex.ts';
import { registerKind } from './shared.ts';

const KIND = 'ProcessLock';
let revived: Endpoint | undefined;

/**
 * A lock shared between processes (multiprocessing.Lock), also usable from any thread. Hand it to a
 * child with `child.send(toHandle(lock))` (or as a ProcessPool task argument) and revive it there with
 * `fromHandle`. `acquireAsync()` works everywhere; `acquire()` blocks the calling thread and works in
 * every thread except the one that created the lock while it would have to wait.
 * @example
 * const lock = new ProcessLock();
 * const child = fork('child.ts'); child.send(toHandle(lock));
 * { using held = await lock.acquireAsync(); updateTheFile(); } // released at the end of the block
 */
export class ProcessLock extends ProcessMutex {
  constructor() {
    const endpoint = revived ?? createShared(KIND, []);
    revived = undefined;
    super(KIND, import.meta.url, false, endpoint);
  }
}

registerKind(KIND, (handle) => {
  revived = endpointOf(handle);
  return new ProcessLock();
});
