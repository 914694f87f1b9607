// The deadlock itself: both ranks send a large array before receiving. Neither send can finish until
// the other rank receives, so the job stops; skein mpirun ends it after --deadlock-timeout with
// SKEIN_MPI_DEADLOCK naming each rank's pending send. deadlock-problems.ts shows the fixes.
// Run it: skein mpirun -n 2 --deadlock-timeout 2000 examples/mpi/deadlock.ts

import { world } from '../../src/mpi/index.ts';

const comm = await world();
const other = 1 - comm.rank;
console.log(`rank ${comm.rank} sends 2 MiB to rank ${other}, then receives`);
await comm.send(new Float64Array(262_144), other, 0);
await comm.recv(other, 0);
console.log('never printed');
