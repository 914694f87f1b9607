// Gather: every rank contributes (rank + 1) ** 2 and the root receives them all in rank order.
// Run it: skein mpirun -n 4 examples/mpi/gather.ts

import { world } from '../../src/mpi/index.ts';

const comm = await world();
const data = await comm.gather((comm.rank + 1) ** 2, 0);
if (comm.rank === 0) {
  for (const [source, value] of data!.entries()) {
    console.log(`process 0 receiving ${value} from process ${source}`);
  }
}
