// An mpi-agent: a small TCP listener on each host that starts MPI ranks for a launcher elsewhere
// (skein mpirun --hosts). A launcher connects, proves it holds the agent's token, and says which ranks
// to run; the agent starts them as local processes, streams their output lines back and reports each
// exit. Closing the connection kills the ranks it started.
// Invariant: nothing runs without the token; the program is a path on this host, never code shipped in.

import { randomBytes, timingSafeEqual } from 'node:crypto';
import { once } from 'node:events';
import { createServer, type Server, type Socket } from 'node:net';
import { encode } from '../codec/index.ts';
import { InvalidArgumentError, SkeinError } from '../errors.ts';
import { readControl, writeControl } from './control-stream.ts';
import type { ProcessRankConfig } from './entry/process-rank.ts';
import { spawnRank } from './launch/spawn-rank.ts';

export interface MpiAgentOptions {
  /** The address to listen on; ranks listen on it too, so it must be one the other hosts reach. @defaultValue '127.0.0.1' */
  readonly host?: string;
  /** @defaultValue 0 (any free port) */
  readonly port?: number;
  /** The token launchers must present; a random one when omitted (see `token`). */
  readonly token?: string;
}

/** What a launcher asks an agent to run. */
export interface AgentLaunch {
  readonly type: 'launch';
  readonly token: string;
  readonly ranks: readonly number[];
  /** Every field of the rank configuration but rank and where, which the agent fills in. */
  readonly config: Omit<ProcessRankConfig, 'rank' | 'where'>;
  readonly argv: readonly string[];
}

export type AgentMessage =
  | {
      readonly type: 'output';
      readonly rank: number;
      readonly stream: 'stdout' | 'stderr';
      readonly line: string;
    }
  | {
      readonly type: 'exit';
      readonly rank: number;
      readonly code: number | null;
      readonly signal: string | null;
    }
  | { readonly type: 'refused'; readonly message: string };

function invalid(message: string): InvalidArgumentError {
  return new InvalidArgumentError('SKEIN_MPI_INVALID_ARGUMENT', message);
}

export class MpiAgent {
  readonly token: string;
  readonly #host: string;
  readonly #port: number;
  readonly #server: Server;
  readonly #connections = new Set<Socket>();
  #closed: Promise<void> | undefined;

  constructor(options: MpiAgentOptions = {}) {
    const host = options.host ?? '127.0.0.1';
    if (typeof host !== 'string' || host === '' || host === '0.0.0.0' || host === '::') {
      throw invalid(
        `mpi-agent host must be one address other hosts reach ranks at, not a wildcard (got ${JSON.stringify(host)})`,
      );
    }
    const port = options.port ?? 0;
    if (!Number.isInteger(port) || port < 0 || port > 65_535)
      throw invalid(`mpi-agent port must be an integer in 0..65535 (got ${String(port)})`);
    if (options.token !== undefined && (typeof options.token !== 'string' || options.token.length < 8)) {
      throw invalid('mpi-agent token must be a string of at least 8 characters; omit it for a random one');
    }
    this.#host = host;
    this.#port = port;
    this.token = options.token ?? randomBytes(16).toString('hex');
    this.#server = createServer((socket) => this.#accept(socket));
  }

  /** Starts listening; resolves with "host:port". */
  async listen(): Promise<string> {
    this.#server.listen(this.#port, this.#host);
    try {
      await once(this.#server, 'listening');
    } catch (error) {
      throw new SkeinError(
        'SKEIN_MPI_TRANSPORT',
        `mpi-agent could not listen on ${this.#host}:${this.#port}: ${(error as Error).message}`,
        { cause: error },
      );
    }
    const address = this.#server.address();
    if (address === null || typeof address === 'string')
      throw new SkeinError('SKEIN_INTERNAL', 'a TCP server has no port; this is a bug in Skein');
    return `${this.#host.includes(':') ? `[${this.#host}]` : this.#host}:${address.port}`;
  }

  /** Stops listening and kills every rank it started; idempotent. */
  close(): Promise<void> {
    this.#closed ??= (async () => {
      this.#server.close();
      await Promise.all(
        [...this.#connections].map((socket) => {
          const closed = once(socket, 'close');
          socket.destroy();
          return closed;
        }),
      );
    })();
    return this.#closed;
  }

  #accept(socket: Socket): void {
    socket.setNoDelay(true);
    socket.on('error', () => {});
    this.#connections.add(socket);
    const children = new Map<number, ReturnType<typeof spawnRank>['child']>();
    const send = (message: AgentMessage): void => {
      if (!socket.destroyed) writeControl(socket, encode(message));
    };
    let launched = false;
    readControl(socket, (message) => {
      const request = message as Omit<Partial<AgentLaunch>, 'type'> & { type?: string; rank?: number };
      if (!launched) {
        launched = true;
        if (
          request.type !== 'launch' ||
          typeof request.token !== 'string' ||
          !sameToken(request.token, this.token)
        ) {
          send({
            type: 'refused',
            message:
              "the launcher did not present this agent's token; pass the token the agent printed (--agent-token)",
          });
          socket.end();
          return;
        }
        for (const rank of request.ranks ?? []) {
          const config: ProcessRankConfig = { ...request.config!, rank, where: this.#host };
          const { child, exited } = spawnRank(config, request.argv ?? [], (line, r, stream) =>
            send({ type: 'output', rank: r, stream, line }),
          );
          children.set(rank, child);
          void exited.then(({ code, signal }) => {
            children.delete(rank);
            send({ type: 'exit', rank, code, signal });
          });
        }
        return;
      }
      if (request.type === 'kill' && typeof request.rank === 'number')
        children.get(request.rank)?.kill('SIGKILL');
    });
    socket.on('close', () => {
      this.#connections.delete(socket);
      for (const child of children.values()) child.kill('SIGKILL');
    });
  }
}

function sameToken(given: string, expected: string): boolean {
  const a = Buffer.from(given);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}
