// The launcher's view of one job, whatever runs the ranks: collects results, turns the first failure
// into an abort of every rank (the error names the failing rank), and watches for deadlock: when every
// rank still running is blocked in an MPI operation and none made progress for deadlockTimeout, the job
// ends with a DeadlockError listing each rank's pending operations.
// Invariant: the job settles once, and only after every rank exited (killed after abortGrace if need be).

import { DeadlockError, MpiAbortError, TimeoutError } from '../../errors.ts';
import type { LauncherMessage, RankMessage } from '../control.ts';
import { portableError } from '../control-codec.ts';

/** One rank as its launcher holds it. */
export interface RankHandle {
  send(message: LauncherMessage): void;
  /** Ends the rank now (terminate the thread, SIGKILL the process). */
  kill(): void;
}

export interface JobOptions {
  readonly deadlockTimeout: number;
  readonly abortGrace: number;
  readonly timeout: number | undefined;
}

type RankPhase = 'running' | 'done' | 'failed' | 'exited';

interface RankRecord {
  handle: RankHandle | undefined;
  phase: RankPhase;
  exited: boolean;
  blocked: readonly string[];
  result: unknown;
}

const DEADLOCK_CHECKS_PER_TIMEOUT = 4;
/** How long a rank's lost-connection failure waits for the peer's own exit or failure to be reported. */
const TRANSPORT_FAILURE_GRACE_MS = 300;

export class Job {
  readonly size: number;
  readonly #options: JobOptions;
  readonly #ranks: RankRecord[];
  readonly #settled: Promise<unknown[]>;
  #resolve!: (results: unknown[]) => void;
  #reject!: (error: Error) => void;
  #ending: Error | null = null;
  #finalizing = false;
  #lastChange = Date.now();
  #check: ReturnType<typeof setInterval>;
  #deadline: ReturnType<typeof setTimeout> | undefined;
  #killTimer: ReturnType<typeof setTimeout> | undefined;
  #onReady: ((rank: number, address: string) => void) | undefined;
  readonly #delayed = new WeakSet<object>();

  constructor(size: number, options: JobOptions) {
    this.size = size;
    this.#options = options;
    this.#ranks = Array.from({ length: size }, () => ({
      handle: undefined,
      phase: 'running' as RankPhase,
      exited: false,
      blocked: [],
      result: undefined,
    }));
    this.#settled = new Promise((resolve, reject) => {
      this.#resolve = resolve;
      this.#reject = reject;
    });
    this.#settled.catch(() => {});
    const every = Math.max(20, Math.min(250, options.deadlockTimeout / DEADLOCK_CHECKS_PER_TIMEOUT));
    this.#check = setInterval(() => this.#checkDeadlock(), every);
    if (options.timeout !== undefined) {
      this.#deadline = setTimeout(() => {
        this.#end(
          new TimeoutError(
            `the MPI job did not finish within ${options.timeout} ms; ${this.#describePending()}`,
          ),
        );
      }, options.timeout);
    }
  }

  /** Resolves with every rank's result in rank order, or rejects with the abort, deadlock or timeout. */
  get settled(): Promise<unknown[]> {
    return this.#settled;
  }

  /** Sets how to reach (send) and how to stop (kill) a rank; either may be given on its own. */
  attach(rank: number, handle: Partial<RankHandle>): void {
    const record = this.#ranks[rank]!;
    record.handle = { ...record.handle, ...handle } as RankHandle;
    if (this.#ending !== null) handle.kill?.();
  }

  /** Called for each rank's 'ready' message (socket transports gather peer addresses this way). */
  onReady(handler: (rank: number, address: string) => void): void {
    this.#onReady = handler;
  }

  broadcast(message: LauncherMessage): void {
    for (const record of this.#ranks) {
      if (record.exited) continue;
      try {
        record.handle?.send?.(message);
      } catch {
        // A rank whose channel is already gone is about to report its exit; nothing to tell it.
      }
    }
  }

  message(rank: number, message: RankMessage): void {
    const record = this.#ranks[rank]!;
    this.#lastChange = Date.now();
    switch (message.type) {
      case 'state':
        record.blocked = message.blocked;
        return;
      case 'ready':
        this.#onReady?.(rank, message.address);
        return;
      case 'done':
        record.phase = 'done';
        record.blocked = [];
        record.result = message.result;
        if (this.#ranks.every((r) => r.phase === 'done') && !this.#finalizing && this.#ending === null) {
          this.#finalizing = true;
          this.broadcast({ type: 'finalize' });
          this.#maybeSettle();
        }
        return;
      case 'failed': {
        record.phase = 'failed';
        if (this.#ending !== null) return;
        const cause = message.error;
        // A lost connection usually means a peer died: give its exit a moment to be the one named.
        if (
          cause instanceof Error &&
          (cause as { code?: unknown }).code === 'SKEIN_MPI_TRANSPORT' &&
          !this.#delayed.has(message)
        ) {
          this.#delayed.add(message);
          setTimeout(() => this.message(rank, message), TRANSPORT_FAILURE_GRACE_MS).unref();
          return;
        }
        // A rank that failed only because another aborted reports that abort; the first failure names the job's error.
        if (cause instanceof MpiAbortError || cause instanceof DeadlockError) {
          this.#end(cause);
          return;
        }
        const text = cause instanceof Error ? `${cause.name}: ${cause.message}` : String(cause);
        this.#end(
          new MpiAbortError(
            message.viaAbort ? `rank ${rank} aborted the job: ${text}` : `rank ${rank} failed: ${text}`,
            { rank, cause },
          ),
        );
        return;
      }
    }
  }

  /** A rank's thread or process ended; before it reported done that is a failure of the job. */
  exited(rank: number, description: string): void {
    const record = this.#ranks[rank]!;
    record.exited = true;
    if (record.phase === 'running' && this.#ending === null) {
      record.phase = 'exited';
      this.#end(new MpiAbortError(`rank ${rank} ${description} before it finished`, { rank }));
      return;
    }
    if (record.phase === 'done' && !this.#finalizing && this.#ending === null) {
      this.#end(new MpiAbortError(`rank ${rank} ${description} before the other ranks finished`, { rank }));
      return;
    }
    this.#maybeSettle();
  }

  /** Stops the job's timers when its ranks could not be started at all. */
  abandon(): void {
    this.#stopTimers();
  }

  /** Ends the job from outside (launch failure, caller's abort). */
  fail(error: Error): void {
    this.#end(error);
  }

  #end(error: Error): void {
    if (this.#ending !== null) return;
    this.#ending = error;
    this.#stopTimers();
    this.broadcast({ type: 'abort', error: portableError(error) });
    this.#killTimer = setTimeout(() => {
      for (const record of this.#ranks) if (!record.exited) record.handle?.kill?.();
    }, this.#options.abortGrace);
    this.#maybeSettle();
  }

  #maybeSettle(): void {
    if (!this.#ranks.every((record) => record.exited)) return;
    this.#stopTimers();
    if (this.#killTimer !== undefined) clearTimeout(this.#killTimer);
    if (this.#ending !== null) this.#reject(this.#ending);
    else this.#resolve(this.#ranks.map((record) => record.result));
  }

  #stopTimers(): void {
    clearInterval(this.#check);
    if (this.#deadline !== undefined) clearTimeout(this.#deadline);
  }

  #checkDeadlock(): void {
    if (this.#ending !== null || this.#finalizing) return;
    const live = this.#ranks.filter((record) => record.phase === 'running');
    if (live.length === 0 || !live.every((record) => record.blocked.length > 0)) return;
    if (Date.now() - this.#lastChange < this.#options.deadlockTimeout) return;
    const pending = this.#ranks.flatMap((record, rank) =>
      record.phase === 'running' ? [{ rank, operations: [...record.blocked] }] : [],
    );
    const finished = this.#ranks.flatMap((record, rank) => (record.phase === 'done' ? [rank] : []));
    this.#end(
      new DeadlockError(
        `deadlock: every running rank waited ${this.#options.deadlockTimeout} ms with no message moving. ${this.#describePending()}${finished.length > 0 ? `; finished ranks: ${finished.join(', ')}` : ''}. Post receives before blocking sends (irecv/isend, sendrecv), raise unexpectedLimit if a rank receives many messages in another order than they were sent, or raise deadlockTimeout if the wait is legitimate`,
        { pending },
      ),
    );
  }

  #describePending(): string {
    return this.#ranks
      .map((record, rank) =>
        record.phase === 'running'
          ? `rank ${rank}: ${record.blocked.length > 0 ? record.blocked.join(', ') : 'running (not in an MPI call)'}`
          : `rank ${rank}: ${record.phase}`,
      )
      .join('; ');
  }
}

export function describeExit(code: number | null, signal: string | null): string {
  return signal !== null ? `was killed by ${signal}` : `exited with code ${code}`;
}
