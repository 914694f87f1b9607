// The MPI conformance suite with ranks as worker threads over shared-memory rings, 1 to 8 ranks; then
// protocol variants on 3 ranks: 4 KiB rings (every large message streams through many wraps), every
// message by rendezvous, every message eager, and no kernel wait (event-loop wake-ups only).

import { mpiConformance } from './mpi.ts';

mpiConformance('thread', [1, 2, 3, 4, 5, 6, 7, 8]);
mpiConformance('thread', [3], { name: ' with 4 KiB rings', options: { ringBytes: 4096 } });
mpiConformance('thread', [3], { name: ' all by rendezvous', options: { eagerLimit: 0 } });
mpiConformance('thread', [3], { name: ' all eager', options: { eagerLimit: 1 << 30 } });
mpiConformance('thread', [3], { name: ' without the kernel wait', options: { syncWaitTimeout: 0 } });
