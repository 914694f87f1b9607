// The small Uint8Array the decoder made last. It is known not to be in shared memory, so the encoder
// can carry it again (a receiver echoing what it got) without asking for its buffer: V8 keeps a typed
// array of up to 64 bytes on its heap with no ArrayBuffer behind it, and the .buffer getter then
// allocates one outside the heap and moves the bytes there (~120 ns here). (Other kinds are encoded
// through a byte view of their buffer, so remembering them would save nothing.)
// A typed array's buffer never changes, so being the one noted here stays true for as long as it lives.
// Invariant: one slot, overwritten by the next such array, so it keeps at most one array of 64 bytes
// alive; the list of a decoded value's arrays is not kept (a slot store per array is all it costs).

let fresh: Uint8Array | null = null;

/** Notes `view`, a Uint8Array the decoder just made on the heap (never shared). */
export function noteFreshView(view: Uint8Array): void {
  fresh = view;
}

/** Whether `view` is the array the decoder made last (so not in shared memory). */
export function isFreshView(view: Uint8Array): boolean {
  return view === fresh;
}
