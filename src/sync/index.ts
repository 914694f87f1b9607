// skein/sync: locks and other synchronization primitives in shared memory, for worker threads and the
// main thread alike. Objects made in one thread are passed to others (pool arguments, workerData via
// toHandle/fromHandle) and keep working on the same state.

export type { Held } from './guard.ts';
export { Lock } from './lock.ts';
export { RLock } from './rlock.ts';
export type { Shareable, SharedHandle } from './shared.ts';
export { fromHandle, fromHandleAsync, toHandle } from './shared.ts';
export type { WaitOptions } from './wait.ts';
