// mpirun: start a job of n ranks running one program and collect each rank's result, in this process
// (threads) or as child processes (process, tcp). Inside a rank, the rank's own module calling
// mpirun(n, import.meta, main) at its top level makes that call run main as the rank's program.

import { addAbortListener } from 'node:events';
import { availableParallelism } from 'node:os';
import { abortErrorFrom, InvalidArgumentError } from '../../errors.ts';
import { describe, isTask, rememberExportName, resolveExportName, type Task } from '../../task.ts';
import type { Communicator } from '../communicator.ts';
import { MAX_LOCAL_RANKS, MPIRUN_DEFAULTS, type MpirunOptions, resolveMpirunOptions } from '../options.ts';
import { claimInRank, type ProgramSpec } from '../runtime.ts';
import { Job } from './job.ts';
import { launchThreads } from './threads.ts';

export type RankMain<R> = (comm: Communicator) => R | Promise<R>;

function invalid(message: string): InvalidArgumentError {
  return new InvalidArgumentError('SKEIN_MPI_INVALID_ARGUMENT', message);
}

/**
 * Runs `main` on n ranks and resolves with each rank's return value in rank order.
 * @example
 * export async function main(comm: Communicator) { return comm.allreduce(comm.rank, SUM); }
 * const results = await mpirun(4, import.meta, main); // [6, 6, 6, 6]
 * @throws SKEIN_MPI_INVALID_ARGUMENT for a bad rank count, program or option; rejects with SKEIN_MPI_ABORTED
 *   when a rank fails (naming it), SKEIN_MPI_DEADLOCK when the ranks deadlock, SKEIN_TIMEOUT past `timeout`.
 */
export function mpirun<R>(
  n: number,
  meta: ImportMeta | { readonly url: string },
  main: RankMain<R>,
  options?: MpirunOptions,
): Promise<Awaited<R>[]>;
/** Runs an exported task(import.meta, (comm) => …) reference on n ranks. */
export function mpirun<R>(
  n: number,
  program: Task<[Communicator], R>,
  options?: MpirunOptions,
): Promise<Awaited<R>[]>;
/** Runs a module as a script on n ranks (its top level calls world()); results are undefined. */
export function mpirun(n: number, script: string | URL, options?: MpirunOptions): Promise<undefined[]>;
export function mpirun(n: number, target: unknown, third?: unknown, fourth?: unknown): Promise<unknown[]> {
  if (typeof third === 'function' && typeof target === 'object' && target !== null && 'url' in target) {
    const claimed = claimInRank(String((target as { url: unknown }).url), third as RankMain<unknown>);
    if (claimed !== undefined) return claimed;
  }
  return start(n, target, third, fourth);
}

async function start(n: number, target: unknown, third: unknown, fourth: unknown): Promise<unknown[]> {
  if (!Number.isInteger(n) || n < 1 || n > MAX_LOCAL_RANKS) {
    throw invalid(`mpirun needs a rank count n, an integer in 1..${MAX_LOCAL_RANKS} (got ${describe(n)})`);
  }
  let moduleUrl: string;
  let exportName: string | undefined;
  let rawOptions: unknown;
  if (isTask(target)) {
    moduleUrl = target.moduleUrl;
    exportName = await resolveExportName(target, moduleUrl, target.exportName);
    rememberExportName(target, exportName);
    rawOptions = third;
  } else if (typeof target === 'string' || target instanceof URL) {
    moduleUrl = String(target);
    if (!/^(file|data):/.test(moduleUrl)) {
      throw invalid(
        `mpirun(n, script) needs a file: URL of the program (got ${describe(moduleUrl)}); use pathToFileURL(path)`,
      );
    }
    exportName = undefined;
    rawOptions = third;
  } else if (
    typeof target === 'object' &&
    target !== null &&
    typeof (target as { url?: unknown }).url === 'string'
  ) {
    if (typeof third !== 'function') {
      throw invalid(
        `mpirun(n, import.meta, main) needs main, the function each rank runs (got ${describe(third)})`,
      );
    }
    if (third.name === '') {
      throw invalid(
        'mpirun(n, import.meta, main): main must be a named, exported function (ranks find it by name) or called at the module top level',
      );
    }
    moduleUrl = (target as { url: string }).url;
    exportName = third.name;
    rawOptions = fourth;
  } else {
    throw invalid(
      `mpirun needs import.meta and a main function, a task reference, or a script URL (got ${describe(target)})`,
    );
  }
  const options = resolveMpirunOptions(rawOptions as MpirunOptions | undefined);
  if (options.signal?.aborted) throw abortErrorFrom(options.signal);
  const spec: ProgramSpec = {
    moduleUrl,
    exportName,
    eagerLimit: options.eagerLimit,
    unexpectedLimit: options.unexpectedLimit,
    syncWaitTimeout: options.syncWaitTimeout,
    // Polling on the CPU pays only while every rank has a core to itself; beyond, it takes the core a
    // peer needs to answer, so oversubscribed ranks sleep at once (as Open MPI yields when oversubscribed).
    spinTimeout: options.spinTimeout ?? (n <= availableParallelism() ? MPIRUN_DEFAULTS.spinTimeout : 0),
  };
  const job = new Job(n, {
    deadlockTimeout: options.deadlockTimeout,
    abortGrace: options.abortGrace,
    timeout: options.timeout,
  });
  let cleanup: (() => Promise<void>) | undefined;
  try {
    if (options.transport === 'thread') launchThreads(job, spec, options);
    else {
      const { launchProcesses } = await import('./processes.ts');
      cleanup = await launchProcesses(job, spec, options);
    }
  } catch (error) {
    job.abandon();
    throw error;
  }
  if (options.signal !== undefined) {
    const listener = addAbortListener(options.signal, () => job.fail(abortErrorFrom(options.signal!)));
    void job.settled.catch(() => {}).finally(() => listener[Symbol.dispose]());
  }
  // The control socket and its directory are gone before the caller hears the outcome, so a program
  // that exits right after mpirun leaves nothing behind.
  return job.settled.finally(() => cleanup?.());
}
