// Synchronous function calls that run on agents (`skein worker`) rather than on the server's own warm
// pool: the call becomes a job of the task queue — one attempt, placed ahead of queued work, its
// function's timeout as its time limit — and the HTTP request waits for the job's result. The runner
// sends a call here when the server's pool has no free worker (or the server runs no function code,
// --no-local-agent) and the agents have room, so sync calls scale with the agents that are registered.
// Room is the live agents' concurrency minus the calls this server has out on them, read from the
// registry at most once a second (a stale read costs a call some queueing at an agent, never a loss).

import { SkeinError } from '../errors.ts';
import type { Task } from '../task.ts';
import type { TaskQueue } from '../tasks/index.ts';
import { type AgentRegistry, agentState } from './agent-registry.ts';

/** How old the registry read behind `room()` may be, in ms. */
const REGISTRY_READ_EVERY_MS = 1000;
/** How often a call out on the agents checks that some agent is still live to start it, in ms. */
const WITHDRAW_CHECK_EVERY_MS = 1000;
/**
 * The priority of a synchronous call's job: a caller is waiting on it, so it runs before queued async
 * calls and task jobs (priority 0 unless chosen) — only jobs given a higher priority still go first.
 */
export const SYNC_CALL_PRIORITY = 1_000_000;

export interface AgentCallsOptions {
  readonly queue: TaskQueue;
  readonly registry: AgentRegistry;
  /** How long an agent may go without a heartbeat before it is lost (and has no room), in ms. */
  readonly agentTimeout: number;
  /** Records the job of a call as its tenant's, so the call shows in that tenant's job list only. */
  readonly recordTenant: (jobId: string, tenant: string) => void;
  /** Problems it survives (a registry read that failed: the last read is kept). */
  readonly warn: (message: string, error?: unknown) => void;
}

/** One synchronous call to place on an agent. */
export interface AgentCall {
  /** The function's name, for messages. */
  readonly name: string;
  /** The job's task: the function's bundle URL with its isolation and memory limit (functionUrl). */
  readonly reference: Task<unknown[], unknown>;
  readonly args: unknown[];
  /** Wall-clock limit of the call from its start on the agent, in ms. */
  readonly timeout: number;
  readonly tenant: string;
  /** The caller left: the job is cancelled (a running one has its AbortSignal fired, then is stopped). */
  readonly signal?: AbortSignal;
}

export class AgentCalls {
  readonly #options: AgentCallsOptions;
  /** Live agents' concurrency at the last registry read. */
  #capacity = 0;
  /** Live agents at the last registry read. */
  #agents = 0;
  #readAt = Number.NEGATIVE_INFINITY;
  #reading: Promise<void> | undefined;
  /** Calls this server has on agents now. */
  #outstanding = 0;

  constructor(options: AgentCallsOptions) {
    this.#options = options;
  }

  /** Calls this server has out on agents now. */
  get outstanding(): number {
    return this.#outstanding;
  }

  /**
   * Live agents and the calls they can take now beyond those this server already sent them. A read
   * older than a second is renewed in the background; `beforeRefusal` waits for a fresh one when the
   * last saw no live agent.
   */
  async room(options: { readonly beforeRefusal?: boolean } = {}): Promise<{ agents: number; free: number }> {
    // An answer of no live agent that a caller would be refused on waits for a fresh read (one at a
    // time, shared by all callers), so an agent that just registered is seen at once.
    const mustRead =
      this.#readAt === Number.NEGATIVE_INFINITY || (options.beforeRefusal === true && this.#agents === 0);
    if (mustRead) await this.#read();
    else if (Date.now() - this.#readAt > REGISTRY_READ_EVERY_MS) void this.#read();
    return { agents: this.#agents, free: Math.max(0, this.#capacity - this.#outstanding) };
  }

  /**
   * Runs the call as a job and answers its result.
   * @throws SKEIN_TASKS_JOB_FAILED (the function's error, or its timeout or crash, in `cause`),
   * SKEIN_TASKS_JOB_CANCELLED, SKEIN_ABORTED (the caller left; the job is cancelled), SKEIN_TIMEOUT (no
   * agent finished it within its timeout plus `startWithin` ms; the job is cancelled),
   * SKEIN_CLOUD_NO_AGENT (every agent left before one started it; the job was taken back unstarted)
   */
  async run(call: AgentCall, startWithin: number): Promise<unknown> {
    this.#outstanding += 1;
    const withdraw = new AbortController();
    let watch: NodeJS.Timeout | undefined;
    try {
      const job = await this.#options.queue.submit(call.reference, call.args, {
        priority: SYNC_CALL_PRIORITY,
        // A caller waits for this one answer: a call whose agent died is not run a second time behind
        // its back (as with the server's own pool, the caller sees the failure and may call again).
        attempts: 1,
        timeLimit: call.timeout,
      });
      this.#options.recordTenant(job.id, call.tenant);
      // The agents it was sent to may all leave before one starts it: it is taken back then, so the
      // caller is not left waiting for its whole timeout.
      let checking = false;
      watch = setInterval(() => {
        if (checking) return;
        checking = true;
        void this.#withdrawIfNoAgent(job.id, withdraw).finally(() => {
          checking = false;
        });
      }, WITHDRAW_CHECK_EVERY_MS);
      const signals = call.signal === undefined ? [withdraw.signal] : [call.signal, withdraw.signal];
      try {
        return await job.result({ timeout: call.timeout + startWithin, signal: AbortSignal.any(signals) });
      } catch (error) {
        if (withdraw.signal.aborted) throw noAgent(call.name);
        const code = (error as { code?: unknown } | null)?.code;
        if (code === 'SKEIN_ABORTED' || code === 'SKEIN_TIMEOUT') {
          await this.#options.queue.cancel(job.id).catch((cancelError: unknown) => {
            this.#options.warn(
              `a call's job ${job.id} could not be cancelled after its caller left`,
              cancelError,
            );
          });
        }
        throw error;
      }
    } finally {
      clearInterval(watch);
      this.#outstanding -= 1;
    }
  }

  /** Cancels the job when no agent is live and it has not started; aborts `withdraw` if it was cancelled. */
  async #withdrawIfNoAgent(jobId: string, withdraw: AbortController): Promise<void> {
    try {
      if ((await this.room({ beforeRefusal: true })).agents > 0) return;
      if ((await this.#options.queue.cancel(jobId)) === 'cancelled') withdraw.abort();
    } catch (error) {
      this.#options.warn(`could not check whether call job ${jobId} still has an agent to run it`, error);
    }
  }

  #read(): Promise<void> {
    this.#reading ??= (async () => {
      try {
        const now = Date.now();
        let capacity = 0;
        let agents = 0;
        for (const record of await this.#options.registry.list()) {
          const state = agentState(record, this.#options.agentTimeout, now);
          if (state !== 'ready' && state !== 'busy') continue;
          agents += 1;
          capacity += record.concurrency;
        }
        this.#capacity = capacity;
        this.#agents = agents;
      } catch (error) {
        this.#options.warn('the agent registry could not be read; sync calls use its last read', error);
      } finally {
        this.#readAt = Date.now();
        this.#reading = undefined;
      }
    })();
    return this.#reading;
  }
}

/** No agent is registered and live to run a call that must run on one. */
export function noAgent(name: string): SkeinError {
  const error = new SkeinError(
    'SKEIN_CLOUD_NO_AGENT',
    `function ${name} must run on an agent (this server runs no function code: --no-local-agent) and no agent is live; start one with \`skein worker --server URL --token T\` and retry`,
  );
  Object.defineProperty(error, 'retryAfter', { value: 1, enumerable: true });
  return error;
}
