// Starts a job's ranks as child processes of this one: a control server (a Unix socket, or TCP for the
// tcp transport) that every rank reports to, the peer address table sent once all ranks listen, and
// each rank's output forwarded. The same entry runs ranks that mpi-agents start on other hosts.

import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { encode } from '../../codec/index.ts';
import { SkeinError } from '../../errors.ts';
import type { RankMessage } from '../control.ts';
import { readControl, writeControl } from '../control-stream.ts';
import type { ProcessRankConfig } from '../entry/process-rank.ts';
import type { ResolvedMpirunOptions } from '../options.ts';
import type { ProgramSpec } from '../runtime.ts';
import { describeExit, type Job } from './job.ts';
import { forwardOutput } from './output.ts';

export const PROCESS_RANK_ENTRY = new URL('../entry/process-rank.ts', import.meta.url);
/** Milliseconds ranks get to connect to each other once they know every address. */
export const CONNECT_TIMEOUT_MS = 30_000;

/** The launcher's control server: ranks (local or on other hosts) connect and say who they are. */
export class ControlServer {
  readonly token = randomBytes(16).toString('hex');
  readonly #job: Job;
  readonly #server: Server;
  readonly #addresses: (string | undefined)[];
  #address = '';

  constructor(job: Job) {
    this.#job = job;
    this.#addresses = new Array(job.size).fill(undefined);
    this.#server = createServer((socket) => this.#accept(socket));
    job.onReady((rank, address) => {
      this.#addresses[rank] = address;
      if (this.#addresses.every((a) => a !== undefined))
        job.broadcast({ type: 'peers', addresses: this.#addresses as string[] });
    });
  }

  get address(): string {
    return this.#address;
  }

  async listen(where: { path: string } | { host: string }): Promise<string> {
    if ('path' in where) this.#server.listen(where.path);
    else this.#server.listen(0, where.host);
    await once(this.#server, 'listening');
    const address = this.#server.address();
    this.#address =
      typeof address === 'string'
        ? address
        : `${address!.family === 'IPv6' ? `[${address!.address}]` : address!.address}:${address!.port}`;
    return this.#address;
  }

  close(): void {
    this.#server.close();
  }

  #accept(socket: Socket): void {
    socket.setNoDelay(true);
    socket.on('error', () => {});
    let rank = -1;
    readControl(socket, (message) => {
      if (rank < 0) {
        const hello = (message ?? {}) as { rank?: unknown; token?: unknown };
        if (
          hello.token !== this.token ||
          typeof hello.rank !== 'number' ||
          !Number.isInteger(hello.rank) ||
          hello.rank < 0 ||
          hello.rank >= this.#job.size
        ) {
          socket.destroy();
          return;
        }
        rank = hello.rank as number;
        this.#job.attach(rank, { send: (m) => writeControl(socket, encode(m)) });
        return;
      }
      this.#job.message(rank, message as RankMessage);
    });
  }
}

/** The environment variable a rank process reads its configuration from. */
export function rankEnvironment(config: ProcessRankConfig): Record<string, string> {
  return { SKEIN_MPI_RANK_CONFIG: JSON.stringify(config) };
}

export async function launchProcesses(
  job: Job,
  spec: ProgramSpec,
  options: ResolvedMpirunOptions,
): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'skein-mpi-'));
  const control = new ControlServer(job);
  try {
    await control.listen(
      options.transport === 'process' ? { path: join(dir, 'control.sock') } : { host: options.host },
    );
  } catch (error) {
    await rm(dir, { recursive: true, force: true });
    throw new SkeinError(
      'SKEIN_MPI_TRANSPORT',
      `mpirun could not open its control socket: ${(error as Error).message}`,
      { cause: error },
    );
  }
  void job.settled
    .catch(() => {})
    .finally(() => {
      control.close();
      void rm(dir, { recursive: true, force: true });
    });
  const piped = options.output !== 'inherit';
  for (let rank = 0; rank < job.size; rank++) {
    const config: ProcessRankConfig = {
      control: control.address,
      token: control.token,
      rank,
      size: job.size,
      kind: options.transport === 'process' ? 'process' : 'tcp',
      where: options.transport === 'process' ? dir : options.host,
      spec,
      connectTimeout: CONNECT_TIMEOUT_MS,
    };
    const child = spawn(
      process.execPath,
      [
        ...process.execArgv.filter((arg) => !arg.startsWith('--test')),
        PROCESS_RANK_ENTRY.pathname,
        ...options.argv,
      ],
      {
        env: { ...process.env, ...rankEnvironment(config) },
        stdio: ['ignore', piped ? 'pipe' : 'inherit', piped ? 'pipe' : 'inherit'],
      },
    );
    const outputs = piped
      ? Promise.all([
          forwardOutput(child.stdout!, rank, 'stdout', options.output),
          forwardOutput(child.stderr!, rank, 'stderr', options.output),
        ])
      : Promise.resolve();
    // Until the rank connects, killing it is the only way to reach it.
    job.attach(rank, { kill: () => child.kill('SIGKILL') });
    child.on('error', (error) => job.message(rank, { type: 'failed', error, viaAbort: false }));
    child.on('exit', (code, signal) => {
      void outputs.then(() => job.exited(rank, describeExit(code, signal)));
    });
  }
}
