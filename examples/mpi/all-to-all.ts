// All-to-all: rank r sends (r + 1) * (j + 1) to each rank j (a typed array goes as raw bytes) and
// receives one value from every rank.
// Run it: skein mpirun -n 4 examples/mpi/all-to-all.ts

import { world } from '../../src/mpi/index.ts';

const comm = await world();
const senddata = Array.from({ length: comm.size }, (_, j) => (comm.rank + 1) * (j + 1));
const recvdata = await comm.alltoall(senddata);
console.log(`process ${comm.rank} sending ${JSON.stringify(senddata)} receiving ${JSON.stringify(recvdata)}`);
