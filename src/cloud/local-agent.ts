// The agent inside `skein up`: one thread pool sized to the cores and a tasks Worker over it that runs
// every task registered so far. Deployed functions run on a second pool whose time limit terminates the
// thread (cancelMode 'terminate'): a function that never yields cannot keep a thread past its limit. A Worker's registry is fixed when it starts, so registering a new task
// starts a new Worker over the same pool with the larger registry and closes the previous one
// gracefully (it stops claiming at once and lets its running jobs finish); jobs never leave the store
// in between, so none is lost. Swaps are serialized.

import { ThreadPool } from '../pool/index.ts';
import type { Task } from '../task.ts';
import { type Broker, WORKER_DEFAULTS, Worker, type WorkerOptions } from '../tasks/index.ts';

export interface LocalAgentOptions {
  readonly broker: Broker;
  readonly concurrency: number;
  readonly leaseTimeout: number;
  readonly closeTimeout: number;
  /** Where background errors of the worker go (the store failing for a moment; the worker retries). */
  readonly onError: (error: unknown) => void;
  /** Worker ids are `<workerIdPrefix>.<n>` (a remote agent's id, which the server checks); absent: the Worker's own. */
  readonly workerIdPrefix?: string;
  /** Receives what each job prints (the tasks Worker's onOutput); absent: output is not captured. */
  readonly onOutput?: WorkerOptions['onOutput'];
}

export class LocalAgent {
  readonly #options: LocalAgentOptions;
  readonly #pool: ThreadPool;
  /** Runs the function tasks; its threads start at the first function job. */
  readonly #functionPool: ThreadPool;
  /** Every task served, true for a function (run on #functionPool). */
  readonly #tasks = new Map<Task<never, unknown>, boolean>();
  #worker: Worker | undefined;
  readonly #retiring = new Set<{ readonly worker: Worker; readonly closed: Promise<void> }>();
  #swap: Promise<void> = Promise.resolve();
  #workersStarted = 0;
  #closing: Promise<void> | undefined;

  constructor(options: LocalAgentOptions) {
    this.#options = options;
    this.#pool = new ThreadPool({
      minWorkers: options.concurrency,
      maxWorkers: options.concurrency,
      name: 'skein-agent',
    });
    this.#functionPool = new ThreadPool({
      minWorkers: 0,
      maxWorkers: options.concurrency,
      cancelMode: 'terminate',
      name: 'skein-agent-fn',
    });
  }

  /** Threads of the pool: jobs run at once. */
  get concurrency(): number {
    return this.#options.concurrency;
  }

  /**
   * Makes sure the worker runs these tasks; resolves once a worker that has them is claiming. The
   * `functions` run on the pool whose time limit terminates their thread.
   */
  serve(
    tasks: readonly Task<never, unknown>[],
    functions: readonly Task<never, unknown>[] = [],
  ): Promise<void> {
    const fresh = [
      ...tasks.filter((task) => !this.#tasks.has(task)).map((task) => [task, false] as const),
      ...functions.filter((task) => !this.#tasks.has(task)).map((task) => [task, true] as const),
    ];
    if (fresh.length === 0) return this.#swap;
    for (const [task, isFunction] of fresh) this.#tasks.set(task, isFunction);
    const swap = this.#swap.then(() => this.#startWorker());
    // A worker that failed to start (a task its module does not export by identity) must not block the
    // next swap: its tasks leave the registry and the caller gets the error.
    this.#swap = swap.catch(() => {
      for (const [task] of fresh) this.#tasks.delete(task);
    });
    return swap;
  }

  async #startWorker(): Promise<void> {
    if (this.#closing !== undefined) return;
    this.#workersStarted += 1;
    const worker = new Worker({
      ...(this.#options.workerIdPrefix === undefined
        ? {}
        : { id: `${this.#options.workerIdPrefix}.${this.#workersStarted}` }),
      broker: this.#options.broker,
      tasks: [...this.#tasks.keys()],
      pool: this.#pool,
      taskPools: [...this.#tasks]
        .filter(([, isFunction]) => isFunction)
        .map(([task]) => ({ task, pool: this.#functionPool })),
      concurrency: this.#options.concurrency,
      leaseTimeout: this.#options.leaseTimeout,
      // Expired leases are looked for at least once per lease, so a dead agent's job waits about one lease.
      recoverInterval: Math.min(WORKER_DEFAULTS.recoverInterval, this.#options.leaseTimeout),
      // A retiring worker lets its running jobs finish however long they take; only the agent's own close
      // bounds the wait (closeTimeout, then destroy), so naming a new task never cuts a job short.
      closeTimeout: Number.POSITIVE_INFINITY,
      // Jobs of a task registered a moment ago wait for the next worker instead of being dead-lettered.
      unknownTasks: 'leave',
      ...(this.#options.onOutput === undefined ? {} : { onOutput: this.#options.onOutput }),
    });
    worker.on('brokerError', this.#options.onError);
    try {
      await worker.start();
    } catch (error) {
      await worker.destroy();
      throw error;
    }
    const previous = this.#worker;
    this.#worker = worker;
    if (previous !== undefined) {
      const retiring = { worker: previous, closed: previous.close().catch(this.#options.onError) };
      this.#retiring.add(retiring);
      void retiring.closed.finally(() => this.#retiring.delete(retiring));
    }
  }

  /** Stops claiming, lets running jobs finish for closeTimeout ms, gives the rest back, stops the pool. Idempotent. */
  close(): Promise<void> {
    this.#closing ??= this.#close();
    return this.#closing;
  }

  async #close(): Promise<void> {
    await this.#swap;
    const workers = [
      ...(this.#worker === undefined ? [] : [this.#worker]),
      ...[...this.#retiring].map((r) => r.worker),
    ];
    // close() lets running jobs finish; past closeTimeout, destroy() aborts them and gives them back.
    const deadline = setTimeout(() => {
      for (const worker of workers) void worker.destroy().catch(this.#options.onError);
    }, this.#options.closeTimeout);
    try {
      await Promise.all(workers.map((worker) => worker.close().catch(this.#options.onError)));
    } finally {
      clearTimeout(deadline);
    }
    await Promise.all([this.#pool.close(), this.#functionPool.close()]);
  }
}
