// Reduction: each rank holds an array [rank, rank+1, rank+2]; reduce with SUM gives the element-wise
// sum at the root, and allreduce with MAXLOC says which rank holds the largest value.
// Run it: skein mpirun -n 4 examples/mpi/reduction.ts

import { MAXLOC, SUM, world } from '../../src/mpi/index.ts';

const comm = await world();
const senddata = new Int32Array([comm.rank, comm.rank + 1, comm.rank + 2]);
const recvdata = await comm.reduce(senddata, SUM, 0);
if (comm.rank === 0) console.log(`on task 0, after reduce with SUM: ${Array.from(recvdata!).join(' ')}`);
const [value, where] = (await comm.allreduce([(comm.rank * 5) % comm.size, comm.rank], MAXLOC)) as [
  number,
  number,
];
if (comm.rank === 0) console.log(`largest value ${value} is on rank ${where}`);
