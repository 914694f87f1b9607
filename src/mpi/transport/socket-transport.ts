// Ranks as processes, on one machine (Unix domain sockets) or across hosts (TCP): one stream per pair
// of ranks, the lower rank accepting and the higher connecting with a 4-byte hello naming itself, and
// the same frame format on both (stream-framing.ts).
// Invariant: each pair has exactly one stream, so frames between two ranks keep their order; frames
// that arrive before start() wait in order until the engine is there to take them.

import { once } from 'node:events';
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import { SkeinError } from '../../errors.ts';
import type { FrameHeader } from '../frame.ts';
import { encodeHeader, FrameParser } from './stream-framing.ts';
import type { FrameSink, Transport } from './transport.ts';

/** Payloads up to this size are copied into the write, so send() completes at once. */
const COPY_PAYLOAD_MAX_BYTES = 64 * 1024;
/** Unsent bytes a socket may hold before small sends wait for it to drain. */
const SEND_BACKLOG_BYTES = 4 * 1024 * 1024;
const HELLO_BYTES = 4;
/**
 * A peer's stream that closes fails this rank only after this long. When the job is aborted, the
 * launcher tells every rank, and the failed rank closes its streams once told: a peer could see that
 * close before its own abort message came and report a lost connection instead of the rank that failed
 * (seen in CI: 'rank 3 got SKEIN_MPI_TRANSPORT' where rank 2 had thrown). The abort, if one is coming,
 * arrives first and wins (the engine keeps its first failure); a connection really lost is reported
 * this much later.
 */
const PEER_LOSS_GRACE_MS = 250;

export interface SocketTransportOptions {
  readonly kind: 'process' | 'tcp';
  readonly rank: number;
  readonly size: number;
  /** For 'process': the directory the Unix socket goes in. For 'tcp': the host address to listen on. */
  readonly where: string;
}

export class SocketTransport implements Transport {
  readonly kind: 'process' | 'tcp';
  readonly rank: number;
  readonly size: number;
  readonly #where: string;
  readonly #sockets: (Socket | null)[];
  readonly #early: { header: FrameHeader; payload: Uint8Array }[] = [];
  #server: Server | null = null;
  #sink: FrameSink | null = null;
  #closed = false;
  #inflight = 0;
  #flushWaiters: (() => void)[] = [];

  constructor(options: SocketTransportOptions) {
    this.kind = options.kind;
    this.rank = options.rank;
    this.size = options.size;
    this.#where = options.where;
    this.#sockets = new Array(options.size).fill(null);
  }

  /** Starts listening for the higher ranks; resolves with the address to hand them. */
  async listen(): Promise<string> {
    const server = createServer((socket) => this.#accept(socket));
    this.#server = server;
    if (this.kind === 'process') {
      const path = join(this.#where, `rank-${this.rank}.sock`);
      server.listen(path);
      await once(server, 'listening');
      return path;
    }
    server.listen(0, this.#where);
    await once(server, 'listening');
    const address = server.address();
    if (address === null || typeof address === 'string')
      throw new SkeinError('SKEIN_INTERNAL', 'a TCP server has no port; this is a bug in Skein');
    return `${this.#where.includes(':') ? `[${this.#where}]` : this.#where}:${address.port}`;
  }

  /** Connects to every lower rank and waits for every higher one; resolves when all streams are up. */
  async connect(addresses: readonly string[], timeoutMs: number): Promise<void> {
    for (let peer = 0; peer < this.rank; peer++) {
      const socket = await this.#dial(addresses[peer]!, peer);
      const hello = Buffer.allocUnsafe(HELLO_BYTES);
      hello.writeInt32LE(this.rank, 0);
      socket.write(hello);
      this.#adopt(peer, socket, null);
    }
    const deadline = Date.now() + timeoutMs;
    while (this.#sockets.some((socket, peer) => peer !== this.rank && socket === null)) {
      if (Date.now() > deadline) {
        const missing = this.#sockets.flatMap((socket, peer) =>
          peer !== this.rank && socket === null ? [peer] : [],
        );
        throw new SkeinError(
          'SKEIN_MPI_TRANSPORT',
          `rank ${this.rank} got no connection from ranks ${missing.join(', ')} within ${timeoutMs} ms`,
        );
      }
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    this.#server?.close();
  }

  /**
   * undefined while the socket's unsent bytes are under SEND_BACKLOG_BYTES, else a promise of its drain:
   * a receiver that stopped reading (flow control) makes small sends wait here instead of piling up in
   * this process's memory.
   */
  #backlogged(socket: Socket): Promise<void> | undefined {
    if (socket.writableLength <= SEND_BACKLOG_BYTES) return undefined;
    return new Promise<void>((resolve) => {
      const done = (): void => {
        socket.off('drain', done);
        socket.off('close', done);
        resolve();
      };
      socket.on('drain', done);
      socket.on('close', done);
    });
  }

  resume(source: number): void {
    const socket = this.#sockets[source];
    if (socket?.isPaused()) socket.resume();
  }

  start(sink: FrameSink): void {
    this.#sink = sink;
    for (const { header, payload } of this.#early.splice(0)) sink.deliver(header, payload);
  }

  send(
    dest: number,
    header: FrameHeader,
    payload: Uint8Array | null,
    transient = false,
  ): Promise<void> | undefined {
    const socket = this.#sockets[dest];
    if (this.#closed || socket === null || socket === undefined || socket.destroyed) {
      return Promise.reject(
        new SkeinError(
          'SKEIN_MPI_TRANSPORT',
          `rank ${this.rank} has no connection to rank ${dest}; the job is ending`,
        ),
      );
    }
    const head = encodeHeader(header, this.rank);
    if (payload === null || payload.length === 0) {
      socket.write(head);
      return this.#backlogged(socket);
    }
    if (payload.length <= COPY_PAYLOAD_MAX_BYTES) {
      const frame = Buffer.allocUnsafe(head.length + payload.length);
      frame.set(head, 0);
      frame.set(payload, head.length);
      socket.write(frame);
      return this.#backlogged(socket);
    }
    socket.write(head);
    this.#inflight++;
    return new Promise<void>((resolve, reject) => {
      // The socket keeps what it is given until written: a transient payload goes as a copy.
      socket.write(transient ? payload.slice() : payload, (error) => {
        this.#inflight--;
        this.#settleFlush();
        if (error)
          reject(
            new SkeinError(
              'SKEIN_MPI_TRANSPORT',
              `rank ${this.rank} could not send to rank ${dest}: ${error.message}`,
              { cause: error },
            ),
          );
        else resolve();
      });
    });
  }

  flush(): Promise<void> {
    const pending = this.#sockets.filter(
      (socket): socket is Socket => socket !== null && socket.writableLength > 0,
    );
    if (pending.length === 0 && this.#inflight === 0) return Promise.resolve();
    return Promise.all(
      pending.map((socket) => new Promise<void>((resolve) => socket.write(Buffer.alloc(0), () => resolve()))),
    ).then(() =>
      this.#inflight === 0 ? undefined : new Promise<void>((resolve) => this.#flushWaiters.push(resolve)),
    );
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#server?.close();
    await Promise.all(
      this.#sockets.map((socket) => {
        if (socket === null || socket.destroyed) return undefined;
        const closed = once(socket, 'close').then(() => undefined);
        socket.end();
        setTimeout(() => socket.destroy(), 1000).unref();
        return closed;
      }),
    );
  }

  #settleFlush(): void {
    if (this.#inflight === 0) for (const resolve of this.#flushWaiters.splice(0)) resolve();
  }

  async #dial(address: string, peer: number): Promise<Socket> {
    const socket =
      this.kind === 'process'
        ? createConnection(address)
        : createConnection({
            host: hostOf(address),
            port: Number(address.slice(address.lastIndexOf(':') + 1)),
          });
    try {
      await once(socket, 'connect');
    } catch (error) {
      throw new SkeinError(
        'SKEIN_MPI_TRANSPORT',
        `rank ${this.rank} could not connect to rank ${peer} at ${address}: ${(error as Error).message}`,
        { cause: error },
      );
    }
    return socket;
  }

  #accept(socket: Socket): void {
    let hello = Buffer.alloc(0);
    const onData = (chunk: Buffer): void => {
      hello = Buffer.concat([hello, chunk]);
      if (hello.length < HELLO_BYTES) return;
      socket.off('data', onData);
      const peer = hello.readInt32LE(0);
      if (!Number.isInteger(peer) || peer <= this.rank || peer >= this.size || this.#sockets[peer] !== null) {
        socket.destroy();
        return;
      }
      this.#adopt(peer, socket, hello.subarray(HELLO_BYTES));
    };
    socket.on('data', onData);
  }

  #adopt(peer: number, socket: Socket, rest: Uint8Array | null): void {
    if (this.kind === 'tcp') socket.setNoDelay(true);
    this.#sockets[peer] = socket;
    const parser = new FrameParser({
      target: (header) => (this.#sink === null ? new Uint8Array(header.size) : this.#sink.target(header)),
      deliver: (header, payload) => {
        if (this.#sink === null) this.#early.push({ header, payload });
        else {
          this.#sink.deliver(header, payload);
          // Flow control: the rest of this chunk is still parsed, then the stream waits in the kernel
          // (and the peer's sends wait for their socket to drain) until resume(peer).
          if (this.#sink.accepting?.(peer) === false) socket.pause();
        }
      },
    });
    if (rest !== null && rest.length > 0) parser.push(rest);
    socket.on('data', (chunk: Buffer) => parser.push(chunk));
    socket.on('error', () => {});
    socket.on('close', () => {
      if (this.#closed) return;
      setTimeout(() => {
        if (this.#closed) return;
        this.#sink?.fail(
          new SkeinError('SKEIN_MPI_TRANSPORT', `rank ${this.rank} lost its connection to rank ${peer}`),
        );
      }, PEER_LOSS_GRACE_MS);
    });
  }
}

function hostOf(address: string): string {
  const host = address.slice(0, address.lastIndexOf(':'));
  return host.startsWith('[') ? host.slice(1, -1) : host;
}
