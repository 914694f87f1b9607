// The agent inside `skein up`: one thread pool sized to the cores and a tasks Worker over it that runs
// every task registered so far. Deployed functions run on pools whose time limit terminates the thread
// or kills the process (cancelMode 'terminate'): a function that never yields cannot keep a worker past
// its limit. A function job's address may carry its isolation and memory limit (functionUrl in
// api/agent-wire.ts): such a job runs on a pool of its own per (isolation, memory limit), a ThreadPool
// with resourceLimits or a ProcessPool whose children get --max-old-space-size, made when the first
// task of those limits is served (no thread or process before its first job; they leave when idle) and
// closed with the agent; a job without them runs on the plain function thread pool as before. A worker
// that runs out of its heap fails the attempt with a WorkerCrashedError saying so (retried as a crash).
// A Worker's registry is fixed when it starts, so registering a new task starts a new Worker over the
// same pools with the larger registry and closes the previous one gracefully (it stops claiming at once
// and lets its running jobs finish); jobs never leave the store in between, so none is lost. Swaps are
// serialized.

import { WorkerCrashedError } from '../errors.ts';
import { type PoolOptions, ProcessPool, type Runnable, type RunOptions, ThreadPool } from '../pool/index.ts';
import type { Task } from '../task.ts';
import { type Broker, WORKER_DEFAULTS, Worker, type WorkerOptions } from '../tasks/index.ts';
import { type FunctionLimits, functionLimitsOf, NO_FUNCTION_LIMITS } from './api/agent-wire.ts';
import { functionPoolOptions, outOfMemoryMessage } from './function-runner.ts';

/**
 * The error an attempt of a function job fails with: a worker that ran out of its heap is said to
 * have, in a WorkerCrashedError still (SKEIN_POOL_WORKER_CRASHED, which the task queue retries per the
 * job's attempts as any crash); any other error as it is.
 */
function attemptError(task: unknown, limits: FunctionLimits, error: unknown): unknown {
  const { moduleUrl, exportName } = task as Partial<Task<never, unknown>>;
  const bundle = /([0-9a-f]{64})\.mjs(?:\?|$)/.exec(moduleUrl ?? '')?.[1];
  const what = `function ${exportName ?? 'task'}${bundle === undefined ? '' : ` of bundle ${bundle.slice(0, 12)}`}`;
  const message = outOfMemoryMessage(what, limits, error, 'attempt');
  if (message === undefined) return error;
  const crashed = error as WorkerCrashedError;
  return new WorkerCrashedError(message, {
    exitCode: crashed.exitCode,
    signal: crashed.signal,
    workerId: crashed.workerId,
    cause: crashed,
  });
}

/** A thread pool for function jobs: a worker out of its heap fails the attempt as out of memory. */
class FunctionThreadPool extends ThreadPool {
  readonly #limits: FunctionLimits;
  constructor(limits: FunctionLimits, options: PoolOptions) {
    super(options);
    this.#limits = limits;
  }
  override async submit<A extends unknown[], R>(
    task: Runnable<A, R>,
    args: A,
    options?: RunOptions,
  ): Promise<Awaited<R>> {
    try {
      return await super.submit(task, args, options);
    } catch (error) {
      throw attemptError(task, this.#limits, error);
    }
  }
}

/** A process pool for function jobs: a process ended by its heap limit fails the attempt as out of memory. */
class FunctionProcessPool extends ProcessPool {
  readonly #limits: FunctionLimits;
  constructor(limits: FunctionLimits, options: PoolOptions) {
    super(options);
    this.#limits = limits;
  }
  override async submit<A extends unknown[], R>(
    task: Runnable<A, R>,
    args: A,
    options?: RunOptions,
  ): Promise<Awaited<R>> {
    try {
      return await super.submit(task, args, options);
    } catch (error) {
      throw attemptError(task, this.#limits, error);
    }
  }
}

type FunctionPool = FunctionThreadPool | FunctionProcessPool;

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
  /** Runs the function tasks without limits in their address; its threads start at the first such job. */
  readonly #functionPool: FunctionPool;
  /** The pools of function tasks with limits, by `<isolation>/<memoryMb>`; made when first served. */
  readonly #limitedPools = new Map<string, FunctionPool>();
  /** Every task served: undefined for a task (run on #pool), the pool of a function. */
  readonly #tasks = new Map<Task<never, unknown>, FunctionPool | undefined>();
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
    this.#functionPool = new FunctionThreadPool(
      NO_FUNCTION_LIMITS,
      functionPoolOptions(NO_FUNCTION_LIMITS, { maxWorkers: options.concurrency, name: 'skein-agent-fn' }),
    );
  }

  /** Threads of the pool: jobs run at once. */
  get concurrency(): number {
    return this.#options.concurrency;
  }

  /**
   * Makes sure the worker runs these tasks; resolves once a worker that has them is claiming. The
   * `functions` run on pools whose time limit terminates their thread or kills their process, with the
   * isolation and memory limit their module URL carries (functionUrl).
   */
  serve(
    tasks: readonly Task<never, unknown>[],
    functions: readonly Task<never, unknown>[] = [],
  ): Promise<void> {
    // After close() no pool is made and no worker starts.
    if (this.#closing !== undefined) return this.#swap;
    const fresh = [
      ...tasks.filter((task) => !this.#tasks.has(task)).map((task) => [task, undefined] as const),
      ...functions
        .filter((task) => !this.#tasks.has(task))
        .map((task) => [task, this.#functionPoolOf(task)] as const),
    ];
    if (fresh.length === 0) return this.#swap;
    for (const [task, pool] of fresh) this.#tasks.set(task, pool);
    const swap = this.#swap.then(() => this.#startWorker());
    // A worker that failed to start (a task its module does not export by identity) must not block the
    // next swap: its tasks leave the registry and the caller gets the error.
    this.#swap = swap.catch(() => {
      for (const [task] of fresh) this.#tasks.delete(task);
    });
    return swap;
  }

  /** The pool of a function task: per the isolation and memory limit its URL carries. */
  #functionPoolOf(task: Task<never, unknown>): FunctionPool {
    const limits = functionLimitsOf(task.moduleUrl);
    if (limits.isolation === 'thread' && limits.memoryMb === null) return this.#functionPool;
    const key = `${limits.isolation}/${limits.memoryMb ?? ''}`;
    let pool = this.#limitedPools.get(key);
    if (pool === undefined) {
      const options = functionPoolOptions(limits, {
        maxWorkers: this.#options.concurrency,
        name: `skein-agent-fn-${limits.isolation}${limits.memoryMb === null ? '' : `-${limits.memoryMb}mb`}`,
      });
      pool =
        limits.isolation === 'process'
          ? new FunctionProcessPool(limits, options)
          : new FunctionThreadPool(limits, options);
      this.#limitedPools.set(key, pool);
    }
    return pool;
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
      taskPools: [...this.#tasks].flatMap(([task, pool]) => (pool === undefined ? [] : [{ task, pool }])),
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
    await Promise.all(
      [this.#pool, this.#functionPool, ...this.#limitedPools.values()].map((pool) => pool.close()),
    );
  }
}
