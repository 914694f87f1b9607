// ProcessRLock: a reentrant lock shared between processes. The owning thread may acquire it again and
// must release it as many times. A remote thread counts its re-entries itself, so only the first
// acquire and the last release travel to the hub; the hub's count serves the thread that runs it.

import { createShared, type Endpoint, endpointOf } from './process/endpoint.ts';
import { ProcessMutex } from './process-mutex.ts';
import { registerKind } from './shared.ts';

const KIND = 'ProcessRLock';
let revived: Endpoint | undefined;

/**
 * A reentrant lock shared between processes (multiprocessing.RLock). Ownership is per thread: two
 * async callers on one thread count as the same owner.
 * @example
 * const rlock = new ProcessRLock();
 * { using outer = await rlock.acquireAsync(); { using inner = await rlock.acquireAsync(); } }
 */
export class ProcessRLock extends ProcessMutex {
  constructor() {
    const endpoint = revived ?? createShared(KIND, []);
    revived = undefined;
    super(KIND, import.meta.url, true, endpoint);
  }

  /** How many times this thread has acquired it without releasing (0 when it does not hold it). */
  get count(): number {
    return this.levels();
  }
}

registerKind(KIND, (handle) => {
  revived = endpointOf(handle);
  return new ProcessRLock();
});
