// The wildcard and null values of MPI's matching rules, with Open MPI's numbers so programs ported from
// mpi4py read the same: ANY_SOURCE and ANY_TAG match anything on receive, PROC_NULL makes a send or
// receive a no-op (the neighbour beyond a non-periodic Cartesian edge).

/** Receive from whichever rank's message matches first. */
export const ANY_SOURCE = -1;
/** Receive a message of any tag. */
export const ANY_TAG = -1;
/** The null rank: sending to it or receiving from it completes at once and moves nothing. */
export const PROC_NULL = -2;
/** The largest tag a user message may carry (tags are 0..TAG_UB). */
export const TAG_UB = 0x3fffffff;
