// skein/sync: locks and other synchronization primitives in shared memory, for worker threads and the
// main thread alike. Objects made in one thread are passed to others (pool arguments, workerData via
// toHandle/fromHandle) and keep working on the same state.

export { AtomicBigInt64, AtomicInt32 } from './atomic.ts';
export type { BarrierOptions } from './barrier.ts';
export { Barrier } from './barrier.ts';
export { Condition } from './condition.ts';
export { Event } from './event.ts';
export type { Held } from './guard.ts';
export { Latch } from './latch.ts';
export { Lock } from './lock.ts';
export type { OwnerInfo } from './process/lock-state.ts';
export type { ProcessBarrierOptions } from './process-barrier.ts';
export { ProcessBarrier } from './process-barrier.ts';
export { ProcessCondition } from './process-condition.ts';
export { ProcessEvent } from './process-event.ts';
export { ProcessLock } from './process-lock.ts';
export { ProcessRLock } from './process-rlock.ts';
export { ProcessBoundedSemaphore, ProcessSemaphore } from './process-semaphore.ts';
export { RLock } from './rlock.ts';
export { RWLock } from './rwlock.ts';
export { BoundedSemaphore, Semaphore } from './semaphore.ts';
export type { Shareable, SharedHandle } from './shared.ts';
export { fromHandle, fromHandleAsync, toHandle } from './shared.ts';
export type { WaitOptions } from './wait.ts';
