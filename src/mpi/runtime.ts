// The rank side of a job, the same for every transport: build the engine and the world communicator,
// run the program (a function given to mpirun, or a script's top level for skein mpirun), report the
// result or the failure to the launcher, and stay serving messages until the launcher says all ranks
// finished. world() reads the communicator this module holds.
// Invariant: a rank reports exactly one of done or failed, and exits only when the launcher allows it
// (finalize) or aborts it, so no peer loses a message it was still draining from this rank.

import { SkeinError } from '../errors.ts';
import { Activity } from './activity.ts';
import { Communicator, type RankCore } from './communicator.ts';
import type { ControlLink } from './control.ts';
import { Engine } from './engine.ts';
import type { Transport } from './transport/transport.ts';

/** What the launcher tells a rank about the program it runs. */
export interface ProgramSpec {
  readonly moduleUrl: string;
  /** The export to call with the world communicator; undefined runs the module as a script. */
  readonly exportName: string | undefined;
  readonly eagerLimit: number;
  /** Bytes of unreceived messages held per source before the rank stops reading from it. */
  readonly unexpectedLimit: number;
  /** Milliseconds a receive waits in the kernel before it waits on the event loop (thread transport). */
  readonly syncWaitTimeout: number;
  /** Milliseconds of that wait spent polling on the CPU first (thread transport). */
  readonly spinTimeout: number;
}

interface RankState {
  readonly world: Communicator;
  readonly moduleUrl: string;
  claimed: ((run: () => Promise<unknown>) => void) | null;
}

let current: RankState | undefined;

/**
 * The world communicator of this rank: every rank of the job, ranked 0..size-1.
 * @example const comm = await world(); console.log(`rank ${comm.rank} of ${comm.size}`);
 * @throws SKEIN_MPI_NOT_IN_RANK outside a rank started by mpirun or skein mpirun.
 */
export async function world(): Promise<Communicator> {
  if (current === undefined) {
    throw new SkeinError(
      'SKEIN_MPI_NOT_IN_RANK',
      'world() was called outside an MPI rank; start the program with skein mpirun -n N prog.ts, or call mpirun(n, import.meta, main) and use the communicator main receives',
    );
  }
  return current.world;
}

/** Whether this thread or process is a rank. */
export function inRank(): boolean {
  return current !== undefined;
}

/**
 * Inside a rank: when the rank's own module calls mpirun(n, import.meta, main) while it loads, that
 * call runs main as this rank's program. Returns the promise to give the caller (it never settles: the
 * rank ends when the job does), or undefined when the call is not the rank's program.
 */
export function claimInRank(
  moduleUrl: string,
  main: (comm: Communicator) => unknown,
): Promise<never> | undefined {
  const state = current;
  if (state === undefined || state.claimed === null || state.moduleUrl !== moduleUrl) return undefined;
  const claim = state.claimed;
  state.claimed = null;
  claim(async () => main(state.world));
  return new Promise<never>(() => {});
}

/** Runs this rank to its end; resolves when the launcher lets it exit. */
export async function runRank(transport: Transport, link: ControlLink, spec: ProgramSpec): Promise<void> {
  let finalized!: () => void;
  const finished = new Promise<void>((resolve) => (finalized = resolve));
  const activity = new Activity((state) => link.send({ type: 'state', ...state }));
  const engine = new Engine(transport, {
    eagerLimit: spec.eagerLimit,
    unexpectedLimit: spec.unexpectedLimit,
    syncWaitTimeout: spec.syncWaitTimeout,
    spinTimeout: spec.spinTimeout,
    onProgress: () => activity.progress(),
  });
  let reported = false;
  const fail = (error: unknown, viaAbort: boolean): void => {
    if (reported) return;
    reported = true;
    activity.stop();
    link.send({ type: 'failed', error, viaAbort });
  };
  const core: RankCore = {
    engine,
    activity,
    abort: (error) => {
      fail(error, true);
      engine.fail(error);
    },
  };
  let aborted = false;
  let settled = false;
  link.onMessage((message) => {
    if (message.type === 'abort') {
      engine.fail(message.error);
      aborted = true;
      // A rank whose program already ended leaves now; one still running user code leaves when it
      // ends, or is ended by the launcher after the abort grace period.
      if (settled) finalized();
    } else if (message.type === 'finalize') finalized();
  });
  const worldComm = new Communicator(
    core,
    0,
    Array.from({ length: transport.size }, (_, i) => i),
  );
  let claimed: Promise<unknown> | undefined;
  let onClaim!: () => void;
  const claimSeen = new Promise<void>((resolve) => (onClaim = resolve));
  current = {
    world: worldComm,
    moduleUrl: spec.moduleUrl,
    claimed: (run) => {
      claimed = run();
      claimed.catch(() => {});
      onClaim();
    },
  };
  try {
    const imported = import(spec.moduleUrl) as Promise<Record<string, unknown>>;
    imported.catch(() => {});
    await Promise.race([imported, claimSeen]);
    let result: unknown;
    if (claimed !== undefined) result = await claimed;
    else {
      const namespace = await imported;
      if (claimed !== undefined) result = await claimed;
      else if (spec.exportName !== undefined) {
        const main = namespace[spec.exportName];
        if (typeof main !== 'function') {
          throw new SkeinError(
            'SKEIN_MPI_INVALID_ARGUMENT',
            `${spec.moduleUrl} has no exported function ${spec.exportName}; export the function you pass to mpirun, or call mpirun(n, import.meta, main) at the module's top level`,
          );
        }
        result = await (main as (comm: Communicator) => unknown)(worldComm);
      }
    }
    await transport.flush();
    activity.stop();
    if (!reported) {
      reported = true;
      link.send({ type: 'done', result });
    }
  } catch (error) {
    fail(error, engine.failure !== null && engine.failure === error);
  }
  settled = true;
  if (aborted) finalized();
  await finished;
  await transport.close();
  link.close();
}
