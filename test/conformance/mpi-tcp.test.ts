// The MPI conformance suite with ranks as processes connected over TCP on loopback.

import { mpiConformance } from './mpi.ts';

mpiConformance('tcp', [2, 4]);
mpiConformance('tcp', [2], { name: ' all by rendezvous', options: { eagerLimit: 0 } });
