// The book's deadlock problem and its fixes. Two ranks each send a large array to the other; a large
// send waits for its receiver (rendezvous), so sending first on both sides would wait forever (skein
// reports it as SKEIN_MPI_DEADLOCK naming both sends). The fixes: order the calls (one rank receives
// first), use sendrecv, or post a non-blocking receive before sending.
// Run it: skein mpirun -n 2 examples/mpi/deadlock-problems.ts

import { world } from '../../src/mpi/index.ts';

const comm = await world();
if (comm.size !== 2) throw new Error('run with exactly 2 ranks');
const other = 1 - comm.rank;
const mine = new Float64Array(262_144).fill(comm.rank + 1); // 2 MiB: far above the eager limit

// Fix 1: order the calls so that one side receives while the other sends.
let got: Float64Array;
if (comm.rank === 0) {
  await comm.send(mine, other, 1);
  got = await comm.recv<Float64Array>(other, 1);
} else {
  got = await comm.recv<Float64Array>(other, 1);
  await comm.send(mine, other, 1);
}
console.log(`ordered: rank ${comm.rank} got ${got.length} values of ${got[0]}`);

// Fix 2: sendrecv pairs the send with the receive.
got = await comm.sendrecv<Float64Array>(mine, other, 2, other, 2);
console.log(`sendrecv: rank ${comm.rank} got ${got.length} values of ${got[0]}`);

// Fix 3: post the receive first (irecv), then send, then wait.
const request = comm.irecv<Float64Array>(other, 3);
await comm.send(mine, other, 3);
got = await request.wait();
console.log(`irecv first: rank ${comm.rank} got ${got.length} values of ${got[0]}`);
