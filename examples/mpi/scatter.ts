// Scatter: the root holds one value per rank; each rank receives its own, here the square of its rank + 1.
// Run it: skein mpirun -n 4 examples/mpi/scatter.ts

import { world } from '../../src/mpi/index.ts';

const comm = await world();
const squares = comm.rank === 0 ? Array.from({ length: comm.size }, (_, i) => (i + 1) ** 2) : undefined;
const mine = await comm.scatter(squares, 0);
console.log(`process ${comm.rank} variable = ${mine}`);
