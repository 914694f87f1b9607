// Point-to-point, as in the book: rank 0 sends a value to rank 4 and rank 1 sends one to rank 8 (here:
// to the last rank and the one before it), and the receivers print what arrived and from whom.
// Run it: skein mpirun -n 4 examples/mpi/point-to-point.ts

import { Status, world } from '../../src/mpi/index.ts';

const comm = await world();
const last = comm.size - 1;
if (comm.size < 3) throw new Error('run with at least 3 ranks');
if (comm.rank === 0) await comm.send([1, 2, 3, 4, 5], last, 10);
if (comm.rank === 1) await comm.send('hello', last - 1, 11);
if (comm.rank === last || comm.rank === last - 1) {
  const status = new Status();
  const data = await comm.recv(comm.rank === last ? 0 : 1, comm.rank === last ? 10 : 11, { status });
  console.log(
    `rank ${comm.rank} received ${JSON.stringify(data)} from rank ${status.source} with tag ${status.tag}`,
  );
}
