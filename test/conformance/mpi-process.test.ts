// The MPI conformance suite with ranks as child processes over Unix domain sockets.

import { mpiConformance } from './mpi.ts';

mpiConformance('process', [1, 2, 3]);
