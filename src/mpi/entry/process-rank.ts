// A rank as a child process (started by mpirun, skein mpirun or an mpi-agent): connect to the
// launcher's control socket, listen for peers, learn every rank's address, connect the mesh, then run
// the common rank runtime. Configuration comes in SKEIN_MPI_* environment variables.

import { once } from 'node:events';
import { rmSync } from 'node:fs';
import { createConnection } from 'node:net';
import { encode } from '../../codec/index.ts';
import { SkeinError } from '../../errors.ts';
import type { ControlLink, LauncherMessage } from '../control.ts';
import { encodeRankMessage } from '../control-codec.ts';
import { readControl, writeControl } from '../control-stream.ts';
import { type ProgramSpec, runRank } from '../runtime.ts';
import { SocketTransport } from '../transport/socket-transport.ts';

/** What the launcher passes in SKEIN_MPI_RANK_CONFIG (JSON). */
export interface ProcessRankConfig {
  readonly control: string;
  readonly token: string;
  readonly rank: number;
  readonly size: number;
  readonly kind: 'process' | 'tcp';
  /** Socket directory (process) or the host address to listen on (tcp). */
  readonly where: string;
  readonly spec: ProgramSpec;
  readonly connectTimeout: number;
}

const config = JSON.parse(process.env.SKEIN_MPI_RANK_CONFIG ?? 'null') as ProcessRankConfig | null;
if (config === null) {
  throw new SkeinError(
    'SKEIN_MPI_NOT_IN_RANK',
    'this entry runs only as a rank started by mpirun (SKEIN_MPI_RANK_CONFIG is not set)',
  );
}
delete process.env.SKEIN_MPI_RANK_CONFIG;

const controlSocket = config.control.startsWith('/')
  ? createConnection(config.control)
  : createConnection({
      host: config.control.slice(0, config.control.lastIndexOf(':')).replace(/^\[|\]$/g, ''),
      port: Number(config.control.slice(config.control.lastIndexOf(':') + 1)),
    });
await once(controlSocket, 'connect');
controlSocket.setNoDelay(true);
const handlers: ((message: LauncherMessage) => void)[] = [];
const early: LauncherMessage[] = [];
readControl(controlSocket, (message) => {
  if (handlers.length === 0) early.push(message as LauncherMessage);
  else for (const handler of handlers) handler(message as LauncherMessage);
});
controlSocket.on('error', () => {});
// Losing the launcher ends the rank: nobody would collect its result or stop it. A launcher killed with
// SIGKILL could not remove its socket directory (process transport), so its ranks do.
controlSocket.on('close', () => {
  if (config.kind === 'process') rmSync(config.where, { recursive: true, force: true });
  process.exit(1);
});
const link: ControlLink = {
  send: (message) => writeControl(controlSocket, encodeRankMessage(message)),
  onMessage: (handler) => {
    handlers.push(handler);
    for (const message of early.splice(0)) handler(message);
  },
  close: () => {
    controlSocket.removeAllListeners('close');
    controlSocket.end();
  },
};
writeControl(controlSocket, encode({ rank: config.rank, token: config.token }));
// An error thrown outside the rank's program (a timer, an event handler) fails the job naming it, as a
// worker thread's uncaught error does, rather than only an exit code.
const failUncaught = (error: unknown): void => {
  link.send({ type: 'failed', error, viaAbort: false });
  setImmediate(() => process.exit(1));
};
process.on('uncaughtException', failUncaught);
process.on('unhandledRejection', failUncaught);

const transport = new SocketTransport({
  kind: config.kind,
  rank: config.rank,
  size: config.size,
  where: config.where,
});
const peers = new Promise<readonly string[]>((resolve, reject) => {
  const onMessage = (message: LauncherMessage): void => {
    if (message.type === 'peers') resolve(message.addresses);
    else if (message.type === 'abort') reject(message.error);
  };
  handlers.push(onMessage);
});
link.send({ type: 'ready', address: await transport.listen() });
await transport.connect(await peers, config.connectTimeout);
handlers.length = 0;
await runRank(transport, link, config.spec);
process.exitCode = 0;
setImmediate(() => process.exit(0));
