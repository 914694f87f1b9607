// A virtual Cartesian topology: the ranks form a periodic grid (dimsCreate picks its shape); each rank
// finds its neighbours up, down, left and right with shift and swaps its rank with them.
// Run it: skein mpirun -n 4 examples/mpi/virtual-topology.ts

import { dimsCreate, world } from '../../src/mpi/index.ts';

const comm = await world();
const dims = dimsCreate(comm.size, 2);
const grid = (await comm.createCart(dims, { periods: [true, true] }))!;
const [up, down] = [grid.shift(0, 1).source, grid.shift(0, 1).dest];
const [left, right] = [grid.shift(1, 1).source, grid.shift(1, 1).dest];
const fromUp = await grid.sendrecv(grid.rank, down, 0, up, 0);
const fromLeft = await grid.sendrecv(grid.rank, right, 1, left, 1);
if (grid.rank === 0) console.log(`grid ${dims.join('x')}`);
console.log(
  `process ${grid.rank} at ${JSON.stringify(grid.coordinates)}: up ${up} down ${down} left ${left} right ${right}; got ${fromUp} from up and ${fromLeft} from left`,
);
