// Broadcast: rank 0 has a value, after bcast every rank has it.
// Run it: skein mpirun -n 4 examples/mpi/broadcast.ts

import { world } from '../../src/mpi/index.ts';

const comm = await world();
const variable = comm.rank === 0 ? 100 : undefined;
const received = await comm.bcast(variable, 0);
console.log(`process ${comm.rank} variable shared = ${received}`);
