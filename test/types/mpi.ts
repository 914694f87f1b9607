// Type tests (checked by `npm run typecheck`, never run): mpirun's results carry main's return type,
// receives and collectives carry the caller's type parameter, typed arrays keep their kind through the
// buffer collectives, and misuse does not compile.

import {
  type CartComm,
  type Communicator,
  MAX,
  mpirun,
  type Request,
  type Status,
  SUM,
  waitAll,
  world,
} from '../../src/mpi/index.ts';
import { task } from '../../src/task.ts';

export async function main(comm: Communicator): Promise<number> {
  return comm.allreduce(comm.rank, SUM);
}

export const program = task(import.meta, async (comm: Communicator) => ({ rank: comm.rank }));

export async function typeChecks(): Promise<void> {
  const totals: number[] = await mpirun(4, import.meta, main);
  const records: { rank: number }[] = await mpirun(2, program, { transport: 'process' });
  // @ts-expect-error main's results are numbers
  const wrong: string[] = await mpirun(4, import.meta, main);
  // @ts-expect-error transport is one of 'thread', 'process', 'tcp'
  await mpirun(2, program, { transport: 'mpi' });

  const comm = await world();
  const value: { id: number } = await comm.recv<{ id: number }>(0, 1);
  const request: Request<string> = comm.irecv<string>();
  const [text]: string[] = await waitAll([request]);
  const status: Status = await comm.recvBuffer(new Float64Array(4), 0);
  // @ts-expect-error recvBuffer needs a typed array
  await comm.recvBuffer([1, 2, 3], 0);
  const data: Float64Array = (await comm.allgatherv(new Float64Array(2))).data;
  const piece: Int32Array = await comm.scatterv(new Int32Array(4), [2, 2]);
  const max: number = await comm.allreduce(3, MAX);
  const gathered: string[] | undefined = await comm.gather('x', 0);
  const cart: CartComm | null = await comm.createCart([2, 2], { periods: [true, true] });
  const source: number | undefined = cart?.shift(0, 1).source;
  void [totals, records, wrong, value, text, status, data, piece, max, gathered, source];
}
