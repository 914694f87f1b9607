// The launcher's control server: every rank (local or on another host) connects, presents the job's
// token and its rank, and from then on reports to the job through it; the peer address table goes out
// once every rank listens.

import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { createServer, type Server, type Socket } from 'node:net';
import { encode } from '../../codec/index.ts';
import type { RankMessage } from '../control.ts';
import { readControl, writeControl } from '../control-stream.ts';
import type { Job } from './job.ts';

/** Milliseconds ranks get to connect to each other once they know every address. */
export const CONNECT_TIMEOUT_MS = 30_000;

/** The launcher's control server: ranks (local or on other hosts) connect and say who they are. */
export class ControlServer {
  readonly token = randomBytes(16).toString('hex');
  readonly #job: Job;
  readonly #server: Server;
  readonly #sockets = new Set<Socket>();
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

  /** Stops listening and drops every rank's connection: a rank still running then exits. */
  close(): void {
    this.#server.close();
    for (const socket of this.#sockets) socket.destroy();
  }

  #accept(socket: Socket): void {
    this.#sockets.add(socket);
    socket.once('close', () => this.#sockets.delete(socket));
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
