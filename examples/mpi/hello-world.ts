// The book's first MPI program: every rank says hello with its rank and the world's size.
// Run it: skein mpirun -n 4 examples/mpi/hello-world.ts

import { world } from '../../src/mpi/index.ts';

const comm = await world();
console.log(`Hello world from process ${comm.rank} of ${comm.size}`);
