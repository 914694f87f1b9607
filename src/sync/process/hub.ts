// The hub: one per thread that creates process-shared objects. It owns their state (plain JavaScript,
// see server-object.ts), serves other threads and processes on a Unix domain socket in a private
// directory, and drives every call: start, keep with a deadline, cancel, withdraw when its caller dies.
// Invariant: the hub never keeps its process alive by itself, only while a call of its own thread waits.

import { mkdtempSync, rmdirSync, unlinkSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { threadId } from 'node:worker_threads';
import { InvalidArgumentError, SkeinError, TimeoutError } from '../../errors.ts';
import { type BaseCall, type HubEntry, LocalCall, type LocalWaits, type RemoteCall } from './calls.ts';
import type { Hello } from './frames.ts';
import { type CallDriver, ServedConnection } from './served-connection.ts';
import { type Session, type StopReason, serverKindOf } from './server-object.ts';

/** setTimeout's largest delay; a longer timeout is as good as none (24.8 days). */
const MAX_TIMER_MS = 0x7fff_ffff;
/** sun_path holds 108 bytes on Linux, 104 on macOS, NUL included. */
const MAX_SOCKET_PATH_BYTES = 103;

export class Hub implements CallDriver, LocalWaits {
  /** The socket clients connect to. */
  readonly path: string;
  /** This thread, as the state machines see it when it calls them directly. */
  readonly local: Session;
  readonly #dir: string;
  readonly #server: Server;
  readonly #entries = new Map<number, HubEntry>();
  readonly #sessions = new Map<string, { readonly session: Session; connections: number }>();
  #nextId = 1;
  #localWaits = 0;

  constructor() {
    const base = Buffer.byteLength(tmpdir()) + 40 <= MAX_SOCKET_PATH_BYTES ? tmpdir() : '/tmp';
    // mkdtemp creates the directory with mode 0700: only this user can reach the socket inside.
    this.#dir = mkdtempSync(join(base, `skein-hub-${process.pid}-`));
    this.path = join(this.#dir, 'hub.sock');
    this.local = Object.freeze({
      id: `local:${process.pid}:${threadId}`,
      pid: process.pid,
      threadId,
      label: `process ${process.pid} thread ${threadId}`,
      local: true,
    });
    this.#server = createServer((socket) => new ServedConnection(this, socket));
    this.#server.on('error', (error) => {
      process.emitWarning(`The Skein hub at ${this.path} failed: ${error.message}`, {
        code: 'SKEIN_INTERNAL',
      });
    });
    // For a path, listen() binds synchronously, so a child forked right after this can connect.
    this.#server.listen({ path: this.path, exclusive: true });
    this.#server.unref();
    process.once('exit', () => this.#removeSocket());
  }

  /** Creates an object of a registered kind and returns its id. */
  create(kind: string, params: readonly unknown[]): number {
    const factory = serverKindOf(kind);
    if (factory === undefined) {
      throw new InvalidArgumentError(
        'SKEIN_SYNC_INVALID_ARGUMENT',
        `No process-shared kind ${kind} is registered in this thread; import the module that defines it first`,
      );
    }
    const id = this.#nextId++;
    const object = factory(params, (other) => this.#entries.get(other)?.object);
    this.#entries.set(id, Object.freeze({ id, kind, object }));
    return id;
  }

  entry(id: number): HubEntry | undefined {
    return this.#entries.get(id);
  }

  /** A call of this thread, run directly on the state. */
  localCall(id: number, op: string, args: readonly unknown[], timeout: number): LocalCall {
    const entry = this.#entries.get(id);
    if (entry === undefined)
      throw new SkeinError('SKEIN_INTERNAL', `Hub has no object ${id}; this is a bug in Skein`);
    return new LocalCall(this, entry, op, args, this.local, timeout);
  }

  /** Starts a call; keeps it (with its deadline) when the state did not settle it. */
  run(call: BaseCall): void {
    const { object } = call.entry;
    try {
      object.start(call);
    } catch (error) {
      if (call.settled) throw error;
      call.reject(asSkeinError(error, call));
    }
    if (call.settled) return;
    call.keep();
    if (call.timeout <= 0) {
      this.#expire(call);
      return;
    }
    if (call.timeout <= MAX_TIMER_MS) {
      call.timer = setTimeout(() => this.#expire(call), call.timeout);
      // A remote caller's deadline must not keep this process alive; a local caller's promise does.
      if (!call.session.local) call.timer.unref();
    }
  }

  /** The caller gave up: the state forgets the call, which rejects with `error` unless already settled. */
  cancel(call: BaseCall, error: SkeinError): void {
    if (call.settled) return;
    this.#stop(call, 'abort', () => error);
  }

  /** A blocking call on this thread would have to wait: undo it as if it had never been made. */
  retract(call: BaseCall): void {
    if (call.settled) return;
    call.entry.object.stop(call, 'retract');
    call.abandon();
  }

  /** The caller's connection closed: the state forgets the call; no answer can reach it. */
  drop(call: RemoteCall): void {
    if (call.settled) return;
    call.entry.object.stop(call, 'gone');
    call.abandon();
  }

  #expire(call: BaseCall): void {
    call.timer = undefined;
    if (call.settled) return;
    const detail = call.entry.object.describeWait?.(call) ?? '';
    this.#stop(
      call,
      'timeout',
      () =>
        new TimeoutError(`${call.entry.kind}.${call.op} did not succeed within ${call.timeout} ms${detail}`),
    );
  }

  #stop(call: BaseCall, why: StopReason, error: () => SkeinError): void {
    let handled: boolean;
    try {
      handled = call.entry.object.stop(call, why);
    } catch (thrown) {
      if (call.settled) throw thrown;
      call.reject(asSkeinError(thrown, call));
      return;
    }
    if (!handled && !call.settled) call.reject(error());
  }

  sessionOpened(hello: Hello): Session {
    const known = this.#sessions.get(hello.session);
    if (known !== undefined) {
      known.connections++;
      return known.session;
    }
    const session: Session = Object.freeze({
      id: String(hello.session),
      pid: Number(hello.pid),
      threadId: Number(hello.threadId),
      label: `process ${Number(hello.pid)} thread ${Number(hello.threadId)}`,
      local: false,
    });
    this.#sessions.set(session.id, { session, connections: 1 });
    return session;
  }

  sessionClosed(session: Session): void {
    const known = this.#sessions.get(session.id);
    if (known === undefined || --known.connections > 0) return;
    this.#sessions.delete(session.id);
    for (const { object } of this.#entries.values()) object.sessionEnded?.(session);
  }

  localWaitStarted(): void {
    if (this.#localWaits++ === 0) this.#server.ref();
  }

  localWaitEnded(): void {
    if (--this.#localWaits === 0) this.#server.unref();
  }

  #removeSocket(): void {
    try {
      unlinkSync(this.path);
    } catch {}
    try {
      rmdirSync(this.#dir);
    } catch {}
  }
}

function asSkeinError(error: unknown, call: BaseCall): SkeinError {
  if (error instanceof SkeinError) return error;
  const message = error instanceof Error ? error.message : String(error);
  return new SkeinError(
    'SKEIN_INTERNAL',
    `${call.entry.kind}.${call.op} failed in its hub: ${message}; this is a bug in Skein, please report it`,
  );
}

let threadHub: Hub | undefined;

/** This thread's hub, if it has made one. */
export function hubOfThisThread(): Hub | undefined {
  return threadHub;
}

/** This thread's hub, started on first use. */
export function startHub(): Hub {
  threadHub ??= new Hub();
  return threadHub;
}
