// The MPI conformance suite with ranks as worker threads over shared-memory rings, 1 to 8 ranks.

import { mpiConformance } from './mpi.ts';

mpiConformance('thread', [1, 2, 3, 4, 5, 6, 7, 8]);
