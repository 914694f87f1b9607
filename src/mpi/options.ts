// mpirun's options, their defaults in one frozen place, and their validation.

import { cpus } from 'node:os';
import { InvalidArgumentError } from '../errors.ts';
import type { TransportKind } from './transport/transport.ts';

/** Where each rank's output goes: straight through, each line prefixed "[rank] ", or to a callback. */
export type OutputMode =
  | 'inherit'
  | 'prefix'
  | ((line: string, rank: number, stream: 'stdout' | 'stderr') => void);

export interface MpirunOptions {
  /** How ranks run: worker threads (shared memory), child processes (Unix sockets), or processes over TCP. @defaultValue 'thread' */
  readonly transport?: TransportKind;
  /**
   * Payload bytes up to which a message is sent eagerly; larger ones wait for their receiver. A value's
   * encoding may pass it by up to 1 KiB of codec framing (a value carrying a 64 KiB array is eager).
   * @defaultValue 65536
   */
  readonly eagerLimit?: number;
  /**
   * Bytes of messages a rank holds from one source that arrived before their receive was posted; past
   * it, the rank stops reading from that source and the source's sends wait until receives catch up (as
   * MPI sends may wait when buffering runs out), so a rank that is sent more than it receives does not
   * grow without bound. A program that needs more buffering than this (receives in another order than
   * the sends) then shows as a deadlock. @defaultValue 67108864 (64 MiB)
   */
  readonly unexpectedLimit?: number;
  /**
   * Milliseconds a receive on thread ranks waits for its message in the kernel (Atomics.wait, blocking
   * the rank's event loop) before it waits on the event loop; saves a wake-up per message. 0 never does.
   * @defaultValue 0.2
   */
  readonly syncWaitTimeout?: number;
  /**
   * Milliseconds of that wait a receive on thread ranks first spends polling its doorbell on the CPU,
   * as Open MPI does: a message within it costs no sleep and no wake-up (a few µs one way instead of
   * tens). Default: 0.05 when the job has no more ranks than the machine has cores, else 0 (a spinning
   * rank would take the core its peer needs). Within syncWaitTimeout; 0 never spins.
   */
  readonly spinTimeout?: number;
  /** Bytes of each shared-memory ring between two thread ranks; default scales with the rank count. */
  readonly ringBytes?: number;
  /** Milliseconds every running rank may wait in MPI calls with no message moving before the job fails as deadlocked. @defaultValue 10000 */
  readonly deadlockTimeout?: number;
  /** Milliseconds aborted ranks get to stop before they are terminated. @defaultValue 1000 */
  readonly abortGrace?: number;
  /** Milliseconds the whole job may take; unlimited when omitted. */
  readonly timeout?: number;
  /** Aborts the job: every rank's MPI calls fail, the ranks are stopped, mpirun rejects with SKEIN_ABORTED. */
  readonly signal?: AbortSignal;
  /** @defaultValue 'inherit' */
  readonly output?: OutputMode;
  /** Arguments the ranks see in process.argv after the program (process transports) or in workerData argv (threads). */
  readonly argv?: readonly string[];
  /** The address this launcher listens on and gives ranks to report to, for the tcp transport (with hosts: one the agents' hosts can reach). @defaultValue '127.0.0.1' */
  readonly host?: string;
  /**
   * mpi-agents ("host:port", or an MpiHost with its own token and slots) to run the ranks on, over TCP:
   * ranks are dealt out in blocks, host by host (by slots when every host gives them). The program
   * must be at the same path on every host. Implies the tcp transport.
   */
  readonly hosts?: readonly (string | MpiHost)[];
  /** The token the agents were started with (skein mpi-agent --token, or SKEIN_MPI_AGENT_TOKEN). */
  readonly agentToken?: string;
}

/** An mpi-agent to run ranks on (a `skein mpi-agent`, or a `skein worker --mpi-listen`). */
export interface MpiHost {
  /** "host:port" of the agent. */
  readonly address: string;
  /** This agent's token (default: the agentToken option, else SKEIN_MPI_AGENT_TOKEN). */
  readonly token?: string;
  /**
   * Ranks this host takes before the next one gets any. When every host gives slots, ranks fill the
   * hosts in order (those past the total slots are dealt out in blocks over all hosts); otherwise each
   * host gets an equal block.
   */
  readonly slots?: number;
}

export const MPIRUN_DEFAULTS = Object.freeze({
  transport: 'thread' as TransportKind,
  eagerLimit: 65_536, // bytes
  unexpectedLimit: 64 * 1024 * 1024, // bytes per source
  syncWaitTimeout: 0.2, // ms
  spinTimeout: 0.05, // ms, when the ranks fit the cores
  deadlockTimeout: 10_000, // ms
  abortGrace: 1_000, // ms
  output: 'inherit' as OutputMode,
  host: '127.0.0.1',
});

export interface ResolvedMpirunOptions {
  readonly transport: TransportKind;
  readonly eagerLimit: number;
  readonly unexpectedLimit: number;
  readonly syncWaitTimeout: number;
  /** undefined: decided by mpirun from the rank count (MpirunOptions.spinTimeout). */
  readonly spinTimeout: number | undefined;
  readonly ringBytes: number | undefined;
  readonly deadlockTimeout: number;
  readonly abortGrace: number;
  readonly timeout: number | undefined;
  readonly signal: AbortSignal | undefined;
  readonly output: OutputMode;
  readonly argv: readonly string[];
  readonly host: string;
  readonly hosts: readonly MpiHost[];
  readonly agentToken: string | undefined;
}

/** The largest job mpirun starts on one machine's threads: well past the cores, short of a mistake. */
export const MAX_LOCAL_RANKS = Math.max(256, cpus().length * 16);

function invalid(message: string): InvalidArgumentError {
  return new InvalidArgumentError('SKEIN_MPI_INVALID_ARGUMENT', message);
}

function integer(name: string, value: unknown, min: number, max = Number.MAX_SAFE_INTEGER): number {
  if (!Number.isInteger(value) || (value as number) < min || (value as number) > max) {
    throw invalid(
      `mpirun option ${name} must be an integer in ${min}..${max} (got ${String(value)}); omit it for the default`,
    );
  }
  return value as number;
}

function duration(name: string, value: unknown, max: number): number {
  if (typeof value !== 'number' || !(value >= 0) || value > max) {
    throw invalid(
      `mpirun option ${name} must be a number of milliseconds in 0..${max} (got ${String(value)}); omit it for the default`,
    );
  }
  return value;
}

const AGENT_ADDRESS = /^(\[[0-9a-fA-F:.]+\]|[^:\s]+):\d{1,5}$/;

function resolveHosts(hosts: unknown): MpiHost[] {
  const wrong = (why: string): InvalidArgumentError =>
    invalid(
      `mpirun option hosts must be agent addresses "host:port" or { address, token?, slots? } (${why}; got ${JSON.stringify(hosts)})`,
    );
  if (!Array.isArray(hosts)) throw wrong('not an array');
  return hosts.map((entry: unknown) => {
    const host = typeof entry === 'string' ? { address: entry } : entry;
    if (typeof host !== 'object' || host === null) throw wrong('an entry is neither');
    const { address, token, slots } = host as { address?: unknown; token?: unknown; slots?: unknown };
    if (typeof address !== 'string' || !AGENT_ADDRESS.test(address))
      throw wrong('an address is not host:port');
    if (token !== undefined && (typeof token !== 'string' || token === '')) throw wrong('a token is empty');
    if (slots !== undefined && !(Number.isInteger(slots) && (slots as number) >= 0)) {
      throw wrong('slots must be an integer >= 0');
    }
    return Object.freeze({
      address,
      ...(token === undefined ? {} : { token: token as string }),
      ...(slots === undefined ? {} : { slots: slots as number }),
    });
  });
}

export function resolveMpirunOptions(options: MpirunOptions = {}): ResolvedMpirunOptions {
  if (typeof options !== 'object' || options === null) throw invalid('mpirun options must be an object');
  const hosts = resolveHosts(options.hosts ?? []);
  const transport = options.transport ?? (hosts.length > 0 ? 'tcp' : MPIRUN_DEFAULTS.transport);
  if (hosts.length > 0 && transport !== 'tcp') {
    throw invalid(`mpirun option hosts needs the tcp transport (got transport ${String(transport)})`);
  }
  if (options.signal !== undefined && !(options.signal instanceof AbortSignal)) {
    throw invalid('mpirun option signal must be an AbortSignal');
  }
  const agentToken = options.agentToken;
  if (agentToken !== undefined && (typeof agentToken !== 'string' || agentToken === '')) {
    throw invalid('mpirun option agentToken must be a non-empty string');
  }
  if (transport !== 'thread' && transport !== 'process' && transport !== 'tcp') {
    throw invalid(`mpirun option transport must be 'thread', 'process' or 'tcp' (got ${String(transport)})`);
  }
  const output = options.output ?? MPIRUN_DEFAULTS.output;
  if (output !== 'inherit' && output !== 'prefix' && typeof output !== 'function') {
    throw invalid(`mpirun option output must be 'inherit', 'prefix' or a function (got ${String(output)})`);
  }
  const argv = options.argv ?? [];
  if (!Array.isArray(argv) || argv.some((arg) => typeof arg !== 'string')) {
    throw invalid('mpirun option argv must be an array of strings');
  }
  const host = options.host ?? MPIRUN_DEFAULTS.host;
  if (typeof host !== 'string' || host === '')
    throw invalid(`mpirun option host must be a host name or address (got ${String(host)})`);
  return Object.freeze({
    transport,
    eagerLimit: integer('eagerLimit', options.eagerLimit ?? MPIRUN_DEFAULTS.eagerLimit, 0, 2 ** 30),
    unexpectedLimit: integer(
      'unexpectedLimit',
      options.unexpectedLimit ?? MPIRUN_DEFAULTS.unexpectedLimit,
      1,
      2 ** 40,
    ),
    syncWaitTimeout: duration(
      'syncWaitTimeout',
      options.syncWaitTimeout ?? MPIRUN_DEFAULTS.syncWaitTimeout,
      1000,
    ),
    spinTimeout:
      options.spinTimeout === undefined ? undefined : duration('spinTimeout', options.spinTimeout, 1000),
    ringBytes:
      options.ringBytes === undefined
        ? undefined
        : integer('ringBytes', options.ringBytes, 4096, 2 ** 30) & ~7,
    deadlockTimeout: integer(
      'deadlockTimeout',
      options.deadlockTimeout ?? MPIRUN_DEFAULTS.deadlockTimeout,
      1,
    ),
    abortGrace: integer('abortGrace', options.abortGrace ?? MPIRUN_DEFAULTS.abortGrace, 0),
    timeout: options.timeout === undefined ? undefined : integer('timeout', options.timeout, 1),
    signal: options.signal,
    output,
    argv: Object.freeze([...argv]),
    host,
    hosts: Object.freeze(hosts),
    agentToken,
  });
}
