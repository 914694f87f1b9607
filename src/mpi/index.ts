// skein/mpi: MPI-style message passing for TypeScript, with no MPI installation. A program is written
// once against a Communicator and runs with its ranks as worker threads (shared memory), as child
// processes (Unix sockets) or across hosts (TCP): mpirun() in a script or test, skein mpirun on the
// command line. The guide is docs/mpi.md.

export type { AgentLaunch, AgentMessage, MpiAgentOptions } from './agent.ts';
export { MpiAgent } from './agent.ts';
export type { CartShift } from './cartesian.ts';
export { dimsCreate } from './cartesian.ts';
export type { RankCore, RecvOptions } from './communicator.ts';
export { CartComm, Communicator, GraphComm, UNDEFINED } from './communicator.ts';
export { ANY_SOURCE, ANY_TAG, PROC_NULL, TAG_UB } from './constants.ts';
export type { RankMain } from './launch/mpirun.ts';
export { mpirun } from './launch/mpirun.ts';
export { BAND, BOR, LAND, LOR, MAX, MAXLOC, MIN, MINLOC, Op, PROD, SUM } from './ops.ts';
export type { MpiHost, MpirunOptions, OutputMode, ResolvedMpirunOptions } from './options.ts';
export { MPIRUN_DEFAULTS, resolveMpirunOptions } from './options.ts';
export type { TestResult } from './request.ts';
export { Request, waitAll, waitAny } from './request.ts';
export { inRank, world } from './runtime.ts';
export { Status } from './status.ts';
export type { FrameSink, Transport, TransportKind } from './transport/transport.ts';
export type { TypedArray } from './typed.ts';
export type { WaitOptions } from './waiting.ts';
