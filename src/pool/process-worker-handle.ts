// A child process behind the WorkerHandle interface. The pool writes to the child over IPC; the child
// writes frames to fd 3 synchronously (see entry/process-worker.ts), which are parsed here. Exit is
// reported only after fd 3 is drained, so every frame written before death is seen first.
// Cancellation flags go through a small control file the child reads with pread, the one memory the
// two processes can share without native code, so a synchronous loop in the child can see them.

import { type ChildProcess, fork } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { accessSync, closeSync, constants, openSync, unlinkSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { deserialize } from 'node:v8';
import type { TransferListItem } from 'node:worker_threads';
import { deserializeError, isSerializedError } from './error-serdes.ts';
import type { MainToWorker, WorkerToMain } from './protocol.ts';
import type { WorkerHandle, WorkerHooks, WorkerSpawnOptions } from './worker-handle.ts';

const ENTRY = new URL('./entry/process-worker.ts', import.meta.url);
const FRAME_START = 0x53;
const FRAME_MESSAGE = 0x4d;
const HEADER_BYTES = 5;
const CONTROL_BYTES = 4;

/** tmpfs when the machine has one, so the control file never touches a disk. */
const CONTROL_DIR = (() => {
  try {
    accessSync('/dev/shm', constants.W_OK);
    return '/dev/shm';
  } catch {
    return tmpdir();
  }
})();

export class ProcessWorkerHandle implements WorkerHandle {
  readonly #child: ChildProcess;
  readonly #exited: Promise<void>;
  #running = -1;
  #lastStarted = -1;
  #pending: Buffer = Buffer.alloc(0);
  #fatal: Error | undefined;
  readonly #controlPath: string;
  readonly #controlFd: number;
  #controlLinked = true;
  readonly #controlBuffer = Buffer.alloc(CONTROL_BYTES);

  constructor(options: WorkerSpawnOptions, hooks: WorkerHooks) {
    this.#controlPath = join(CONTROL_DIR, `skein-control-${process.pid}-${randomUUID()}`);
    this.#controlFd = openSync(this.#controlPath, 'w+', 0o600);
    writeSync(this.#controlFd, this.#controlBuffer, 0, CONTROL_BYTES, 0);
    const limits = options.resourceLimits;
    const memoryFlags: string[] = [];
    if (limits.maxOldGenerationSizeMb !== undefined)
      memoryFlags.push(`--max-old-space-size=${limits.maxOldGenerationSizeMb}`);
    if (limits.maxYoungGenerationSizeMb !== undefined) {
      memoryFlags.push(
        `--max-semi-space-size=${Math.max(1, Math.floor(limits.maxYoungGenerationSizeMb / 3))}`,
      );
    }
    if (limits.stackSizeMb !== undefined)
      memoryFlags.push(`--stack-size=${Math.floor(limits.stackSizeMb * 1024)}`);
    this.#child = fork(ENTRY, [this.#controlPath], {
      stdio: ['inherit', 'inherit', 'inherit', 'pipe', 'ipc'],
      serialization: 'advanced',
      env: options.env ?? process.env,
      // Named as threads are (`<pool name>-<workerId>`): process.title in the child, and what ps shows.
      execArgv: [...options.execArgv, ...memoryFlags, `--title=${options.name}-${options.workerId}`],
    });
    const out = this.#child.stdio[3] as Readable;
    out.on('data', (chunk: Buffer) => this.#parse(chunk, hooks));
    // The pool owns the child's lifetime; an EPIPE on a dying child is reported through exit.
    this.#child.on('error', () => {});
    this.#exited = new Promise((resolve) => {
      this.#child.once('close', (exitCode: number | null, signal: NodeJS.Signals | null) => {
        this.#unlinkControl();
        closeSync(this.#controlFd);
        hooks.exit({ exitCode, signal, error: this.#fatal });
        resolve();
      });
    });
  }

  #parse(chunk: Buffer, hooks: WorkerHooks): void {
    let data = this.#pending.length === 0 ? chunk : Buffer.concat([this.#pending, chunk]);
    let offset = 0;
    while (data.length - offset >= HEADER_BYTES) {
      const tag = data[offset];
      if (tag === FRAME_START) {
        const id = data.readInt32LE(offset + 1) - 1;
        this.#running = id;
        if (id >= 0) this.#lastStarted = id;
        offset += HEADER_BYTES;
        continue;
      }
      if (tag !== FRAME_MESSAGE)
        throw new Error(`Corrupt frame tag ${tag} from a pool child; this is a bug in Skein`);
      const length = data.readUInt32LE(offset + 1);
      if (data.length - offset - HEADER_BYTES < length) break;
      const message = deserialize(
        data.subarray(offset + HEADER_BYTES, offset + HEADER_BYTES + length),
      ) as WorkerToMain;
      offset += HEADER_BYTES + length;
      if (message.t === 'fatal') {
        if (isSerializedError(message.error)) this.#fatal = deserializeError(message.error);
        continue;
      }
      // The child opens the control file before it says ready; from then on the name is not needed.
      if (message.t === 'ready') this.#unlinkControl();
      hooks.message(message);
    }
    this.#pending = offset === data.length ? Buffer.alloc(0) : data.subarray(offset);
    data = this.#pending;
  }

  get pid(): number | undefined {
    return this.#child.pid;
  }

  send(message: MainToWorker, _transfer: readonly TransferListItem[]): void {
    if (!this.#child.connected) return;
    this.#child.send(message);
  }

  #unlinkControl(): void {
    if (!this.#controlLinked) return;
    this.#controlLinked = false;
    try {
      unlinkSync(this.#controlPath);
    } catch {
      // Already gone (a tmp cleaner): the open descriptors keep working.
    }
  }

  requestCancel(id: number): void {
    this.#controlBuffer.writeInt32LE(id + 1, 0);
    writeSync(this.#controlFd, this.#controlBuffer, 0, CONTROL_BYTES, 0);
  }

  readonly canWaitForResults = false;

  takeResults(): void {}

  waitForResults(_timeoutMs: number, _since: number, _spin: boolean): void {}

  runningTask(): number {
    return this.#running;
  }

  setLoneCalls(): void {
    // A child process never spins or parks: it waits for the parent's IPC messages in its event loop.
  }

  lastStartedTask(): number {
    return this.#lastStarted;
  }

  stop(graceMs: number): Promise<void> {
    this.ref();
    // The child disconnects itself: a disconnect from this side would keep 'close' from ever firing.
    if (this.#child.connected) this.#child.send({ t: 'stop' });
    const timer = setTimeout(() => void this.kill(), graceMs);
    void this.#exited.then(() => clearTimeout(timer));
    return this.#exited;
  }

  kill(): Promise<void> {
    // Referenced until it is gone, so whoever awaits the exit is not left behind by a quiet event loop.
    this.ref();
    if (this.#child.exitCode === null && this.#child.signalCode === null) this.#child.kill('SIGKILL');
    return this.#exited;
  }

  ref(): void {
    this.#child.ref();
    (this.#child.stdio[3] as Readable & { ref(): void }).ref();
    this.#child.channel?.ref();
  }

  unref(): void {
    this.#child.unref();
    (this.#child.stdio[3] as Readable & { unref(): void }).unref();
    this.#child.channel?.unref();
  }
}
