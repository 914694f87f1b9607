// The object acquire() returns: release it by hand or let `using` release it at the end of the block.
// One guard per primitive instance is reused for every acquisition, so the fast path allocates nothing.

/** A held lock or permit; `using held = lock.acquire()` releases it when the block ends. */
export interface Held extends Disposable {
  /** Releases what was acquired (the same as calling the primitive's release()). */
  release(): void;
}

export function heldBy(release: () => void): Held {
  return Object.freeze({ release, [Symbol.dispose]: release });
}
