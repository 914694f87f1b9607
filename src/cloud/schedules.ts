// Schedules of the cloud: periodic jobs created, paused, resumed and removed through the API. Each
// active schedule runs one task-queue Scheduler (cron or aligned interval, exactly one firing per tick
// through the broker's claimTick), so a firing is a job of the queue like `skein submit` makes, run by
// the agents. Schedules and the jobs they made live in .skein/cloud.db; changes are serialized, and a
// schedule whose Scheduler is running is in the store as active.

import { EventEmitter } from 'node:events';
import { SkeinError } from '../errors.ts';
import type { Task } from '../task.ts';
import {
  type Broker,
  type JobOptions,
  type JobState,
  nextCronTime,
  parseCron,
  Scheduler,
  type TaskQueue,
} from '../tasks/index.ts';
import { checkArgsDepth } from './api/args-depth.ts';
import {
  SCHEDULE_HISTORY_KEPT,
  type ScheduleDetailView,
  type ScheduleEventView,
  type ScheduleJobOptions,
  type ScheduleRequest,
  type ScheduleView,
} from './api/schedule-schemas.ts';
import type { CloudStore, FunctionVersion } from './cloud-store.ts';
import { type Deployments, functionNotFound } from './deployments.ts';
import type { FunctionRunner } from './function-runner.ts';
import type { LocalAgent } from './local-agent.ts';
import type { TaskCatalog } from './task-catalog.ts';
import { DEFAULT_TENANT, tenantKey } from './tenants.ts';

/** How often schedules of functions look for a deploy or rollback of their function, in ms. */
const FUNCTION_WATCH_INTERVAL_MS = 1000;

/** A schedule as stored (JSON in cloud.db, under tenantKey(tenant, name)). */
interface ScheduleRecord {
  readonly name: string;
  /** Absent in records from before tenants: the default tenant. */
  readonly tenant?: string;
  readonly cron: string | null;
  readonly every: number | null;
  readonly module: string | null;
  readonly exportName: string | null;
  readonly function: string | null;
  readonly args: readonly unknown[];
  readonly options: ScheduleJobOptions;
  readonly paused: boolean;
  readonly createdAt: number;
  readonly updatedAt: number;
}

interface Target {
  readonly task: Task<never, unknown>;
  readonly options: JobOptions;
  /** For a function: the version it calls now, with the settings its jobs carry (versionOf). */
  readonly version?: string;
  /** For a task: its module path, normalized (relative, `/` separators). */
  readonly module?: string;
}

interface Running {
  readonly scheduler: Scheduler;
  readonly version: string | undefined;
}

export interface ScheduleManagerParts {
  readonly store: CloudStore;
  readonly broker: Broker;
  readonly queue: TaskQueue;
  readonly catalog: TaskCatalog;
  readonly agent: LocalAgent | undefined;
  readonly functions: { readonly deployments: Deployments; readonly runner: FunctionRunner };
  readonly warn: (message: string, error?: unknown) => void;
}

export interface ScheduleManagerEvents {
  /** A schedule event and the schedule's tenant (event streams carry only their tenant's). */
  event: [ScheduleEventView, string];
}

function tenantOf(record: ScheduleRecord): string {
  return record.tenant ?? DEFAULT_TENANT;
}

/**
 * What a function schedule fires now: the job's task address (bundle, export, isolation and memory
 * limit) and its time limit; a deploy, a rollback or new settings of the version change it.
 */
function versionOf(version: FunctionVersion, runner: FunctionRunner): string {
  const { isolation, memoryMb, timeout } = runner.effective(version.settings);
  return `${version.hash}#${version.exportName} ${isolation} ${memoryMb ?? ''} ${timeout}`;
}

/** The key a schedule is stored, run and claimed under. */
function keyOf(record: ScheduleRecord): string {
  return tenantKey(tenantOf(record), record.name);
}

function invalid(message: string): SkeinError {
  return new SkeinError('SKEIN_CLOUD_INVALID_REQUEST', `invalid request: ${message}`);
}

function notFound(name: string): SkeinError {
  return new SkeinError(
    'SKEIN_CLOUD_SCHEDULE_NOT_FOUND',
    `no schedule ${JSON.stringify(name)}; skein schedule ls lists them`,
  );
}

function jobOptionsOf(options: ScheduleJobOptions): JobOptions {
  const out: { -readonly [K in keyof JobOptions]: JobOptions[K] } = {};
  if (options.delay !== undefined) out.delay = options.delay;
  if (options.priority !== undefined) out.priority = options.priority;
  if (options.attempts !== undefined) out.attempts = options.attempts;
  if (options.timeLimit !== undefined) out.timeLimit = options.timeLimit;
  if (options.backoff !== undefined) out.backoff = { ...options.backoff };
  return out;
}

/** The first tick after `now`, as the task queue's Scheduler computes it. */
function nextRunAt(record: ScheduleRecord, now: number): number {
  if (record.cron !== null) return nextCronTime(parseCron(record.cron), now);
  const every = record.every!;
  return (Math.floor(now / every) + 1) * every;
}

/** The schedules of one server: their Schedulers, their store rows and their events. */
export class ScheduleManager extends EventEmitter<ScheduleManagerEvents> {
  readonly #parts: ScheduleManagerParts;
  readonly #running = new Map<string, Running>();
  /** Active schedules that cannot fire now, and why (their target failed to load at start). */
  readonly #broken = new Map<string, string>();
  #ops: Promise<unknown> = Promise.resolve();
  #watch: NodeJS.Timeout | undefined;
  #closed = false;

  constructor(parts: ScheduleManagerParts) {
    super();
    // Each open event stream (GET /api/events) listens: any number of them is expected.
    this.setMaxListeners(0);
    this.#parts = parts;
  }

  /**
   * Starts a Scheduler for every active schedule in the store. Ticks that passed while no server ran
   * are not fired (the Scheduler counts from now); a schedule whose target cannot be loaded is kept,
   * listed with its error, and fires nothing until a resume loads the target again.
   */
  start(): Promise<void> {
    this.#watch = setInterval(() => {
      this.#serial(() => this.#followFunctions()).catch((error: unknown) =>
        this.#parts.warn('a schedule could not follow a redeployed function', error),
      );
    }, FUNCTION_WATCH_INTERVAL_MS);
    this.#watch.unref();
    return this.#serial(async () => {
      for (const text of this.#parts.store.schedules()) {
        const record = JSON.parse(text) as ScheduleRecord;
        if (record.paused) continue;
        try {
          const target = await this.#target(record);
          this.#start(keyOf(record), this.#scheduler(record, target), target.version);
        } catch (error) {
          const message = error instanceof Error ? error.message : String(error);
          this.#broken.set(keyOf(record), message);
          this.#parts.warn(`schedule ${record.name} cannot fire: ${message}`);
        }
      }
    });
  }

  /**
   * Checks and stores a new schedule and starts it (unless `paused`).
   * @throws SKEIN_CLOUD_INVALID_REQUEST, SKEIN_TASKS_INVALID_CRON, SKEIN_CLOUD_SCHEDULE_EXISTS,
   * SKEIN_CLOUD_MODULE_REFUSED, SKEIN_CLOUD_TASK_NOT_FOUND, SKEIN_CLOUD_FUNCTION_NOT_FOUND
   */
  async create(request: ScheduleRequest, tenant: string = DEFAULT_TENANT): Promise<ScheduleView> {
    if ((request.cron === undefined) === (request.every === undefined)) {
      throw invalid('give exactly one of cron (a cron expression) and every (milliseconds)');
    }
    const isTask = request.module !== undefined || request.export !== undefined;
    if (isTask === (request.function !== undefined)) {
      throw invalid('give exactly one target: module and export (a task), or function (a deployed function)');
    }
    if (isTask && (request.module === undefined || request.export === undefined)) {
      throw invalid('a task target needs both module and export');
    }
    if (!isTask && request.options !== undefined) {
      throw invalid("options apply to task targets only; a function runs with the server's function limits");
    }
    // Parsed here so that a bad expression is a 400 naming the field before anything is loaded.
    if (request.cron !== undefined) parseCron(request.cron);
    checkArgsDepth(request.args ?? []);
    return this.#serial(async () => {
      const key = tenantKey(tenant, request.name);
      if (this.#parts.store.schedule(key) !== undefined) {
        throw new SkeinError(
          'SKEIN_CLOUD_SCHEDULE_EXISTS',
          `a schedule named ${JSON.stringify(request.name)} exists; remove it first (skein schedule rm) or pick another name`,
        );
      }
      const now = Date.now();
      const record: ScheduleRecord = {
        name: request.name,
        tenant,
        cron: request.cron ?? null,
        every: request.every ?? null,
        module: request.module ?? null,
        exportName: request.export ?? null,
        function: request.function ?? null,
        args: [...(request.args ?? [])],
        options: request.options ?? {},
        paused: request.paused === true,
        createdAt: now,
        updatedAt: now,
      };
      const target = await this.#target(record);
      const found = target.module === undefined ? record : { ...record, module: target.module };
      // Built before the record is stored: the Scheduler checks the arguments and job options.
      const scheduler = this.#scheduler(found, target);
      if (!this.#parts.store.insertSchedule(key, JSON.stringify(found))) {
        throw new Error(`schedule ${key} appeared while it was being created: this is a bug in Skein`);
      }
      if (!found.paused) this.#start(key, scheduler, target.version);
      this.#emit('created', found);
      return this.#view(found);
    });
  }

  /** A tenant's schedules (every tenant's when `tenant` is undefined), by name, with their next run. */
  list(tenant: string | undefined): ScheduleView[] {
    return this.#parts.store
      .schedules()
      .map((text) => JSON.parse(text) as ScheduleRecord)
      .filter((record) => tenant === undefined || tenantOf(record) === tenant)
      .map((record) => this.#view(record));
  }

  /**
   * One of a tenant's schedules and the latest `history` jobs it made, newest first.
   * @throws SKEIN_CLOUD_SCHEDULE_NOT_FOUND
   */
  async get(tenant: string, name: string, history: number): Promise<ScheduleDetailView> {
    const record = this.#record(tenant, name);
    const runs = history === 0 ? [] : this.#parts.store.scheduleRuns(keyOf(record), history);
    const states = await Promise.all(
      runs.map((run) =>
        this.#parts.queue
          .job(run.jobId)
          .state()
          .catch((error: unknown): JobState | null => {
            if ((error as { code?: unknown } | null)?.code === 'SKEIN_TASKS_JOB_NOT_FOUND') return null;
            throw error;
          }),
      ),
    );
    return {
      ...this.#view(record),
      history: runs.map((run, i) => ({
        jobId: run.jobId,
        tickAt: run.tickAt,
        firedAt: run.firedAt,
        state: states[i] ?? null,
      })),
    };
  }

  /** Stops firing (the ticks until a resume are not fired later). Idempotent. @throws SKEIN_CLOUD_SCHEDULE_NOT_FOUND */
  pause(tenant: string, name: string): Promise<ScheduleView> {
    return this.#serial(async () => {
      const record = this.#record(tenant, name);
      const key = keyOf(record);
      if (record.paused) return this.#view(record);
      await this.#stop(key);
      const paused = { ...record, paused: true, updatedAt: Date.now() };
      this.#parts.store.updateSchedule(key, JSON.stringify(paused));
      this.#emit('paused', record);
      return this.#view(paused);
    });
  }

  /**
   * Fires again from the next tick on, loading the target again (so a schedule listed with an error
   * retries). Idempotent. @throws SKEIN_CLOUD_SCHEDULE_NOT_FOUND, SKEIN_CLOUD_TASK_NOT_FOUND, SKEIN_CLOUD_FUNCTION_NOT_FOUND
   */
  resume(tenant: string, name: string): Promise<ScheduleView> {
    return this.#serial(async () => {
      const record = this.#record(tenant, name);
      const key = keyOf(record);
      if (!record.paused && this.#running.has(key)) return this.#view(record);
      const target = await this.#target(record);
      const resumed = { ...record, paused: false, updatedAt: Date.now() };
      const scheduler = this.#scheduler(resumed, target);
      this.#parts.store.updateSchedule(key, JSON.stringify(resumed));
      this.#start(key, scheduler, target.version);
      this.#emit('resumed', record);
      return this.#view(resumed);
    });
  }

  /** Stops the schedule and deletes it with its history (its jobs stay). @throws SKEIN_CLOUD_SCHEDULE_NOT_FOUND */
  remove(tenant: string, name: string): Promise<ScheduleView> {
    return this.#serial(async () => {
      const record = this.#record(tenant, name);
      const key = keyOf(record);
      await this.#stop(key);
      this.#parts.store.deleteSchedule(key);
      this.#emit('removed', record);
      return { ...this.#view(record), nextRunAt: null };
    });
  }

  /** Stops every Scheduler (a firing in progress finishes first). The stored schedules stay. Idempotent. */
  async close(): Promise<void> {
    this.#closed = true;
    clearInterval(this.#watch);
    await this.#ops.catch(() => undefined);
    await Promise.all([...this.#running.keys()].map((name) => this.#stop(name)));
  }

  #serial<T>(op: () => Promise<T>): Promise<T> {
    const run = this.#ops.then(() => {
      if (this.#closed) {
        throw new SkeinError('SKEIN_CLOUD_CLOSED', 'the server is shutting down; retry once it is up again');
      }
      return op();
    });
    this.#ops = run.catch(() => undefined);
    return run;
  }

  /** A tenant's schedule: another tenant's is not found, as a missing one. */
  #record(tenant: string, name: string): ScheduleRecord {
    return this.#recordAt(tenantKey(tenant, name), name);
  }

  #recordAt(key: string, name: string = key): ScheduleRecord {
    const text = this.#parts.store.schedule(key);
    if (text === undefined) throw notFound(name);
    return JSON.parse(text) as ScheduleRecord;
  }

  /** Loads the task (registered so a restarted server serves it) or the function's current version. */
  async #target(record: ScheduleRecord): Promise<Target> {
    const { store, catalog, agent, functions } = this.#parts;
    if (record.function !== null) {
      // The schedule's own tenant's function of that name.
      const fn = store.fn(tenantKey(tenantOf(record), record.function));
      if (fn === undefined) throw functionNotFound(record.function);
      // As POST /fn/<name>?async=1: the queue's default attempts, the function's timeout per attempt,
      // and its isolation and memory limit in the job's address.
      const task = functions.runner.jobTaskOf(
        functions.deployments.urlOf(fn.current.hash),
        fn.current.exportName,
        fn.current.settings,
      );
      await agent?.serve([], [task]);
      return {
        task,
        options: { timeLimit: functions.runner.effective(fn.current.settings).timeout },
        version: versionOf(fn.current, functions.runner),
      };
    }
    const found = await catalog.find(record.module!, record.exportName!);
    store.registerTask({ module: found.module, exportName: found.exportName }, Date.now());
    await agent?.serve([found.task]);
    return { task: found.task, options: jobOptionsOf(record.options), module: found.module };
  }

  #scheduler(record: ScheduleRecord, target: Target): Scheduler {
    const scheduler = new Scheduler({
      broker: this.#parts.broker,
      schedules: [
        {
          // The tick claims and idempotency keys of cloud schedules, apart from programs' own Schedulers.
          id: `skein-cloud:${keyOf(record)}`,
          task: target.task,
          args: record.args,
          ...(record.cron === null ? { every: record.every! } : { cron: record.cron }),
          options: target.options,
        },
      ],
    });
    scheduler.on('fired', (_id, tickAt, jobId) => this.#fired(record, tickAt, jobId));
    scheduler.on('brokerError', (error) =>
      this.#parts.warn(`schedule ${record.name} skipped a tick: the job store failed`, error),
    );
    return scheduler;
  }

  #start(name: string, scheduler: Scheduler, version: string | undefined): void {
    this.#broken.delete(name);
    this.#running.set(name, { scheduler, version });
    scheduler.start();
  }

  async #stop(name: string): Promise<void> {
    this.#broken.delete(name);
    const running = this.#running.get(name);
    if (running === undefined) return;
    this.#running.delete(name);
    await running.scheduler.close();
  }

  #fired(record: ScheduleRecord, tickAt: number, jobId: string): void {
    const name = keyOf(record);
    const firedAt = Date.now();
    try {
      // The job is the schedule's tenant's (a kill before this line leaves it to operators only).
      this.#parts.store.recordJobTenants([{ jobId, tenant: tenantOf(record), createdAt: firedAt }]);
    } catch (error) {
      this.#parts.warn(`schedule ${name} made job ${jobId} but could not record its tenant`, error);
    }
    try {
      this.#parts.store.addScheduleRun({ name, tickAt, jobId, firedAt }, SCHEDULE_HISTORY_KEPT);
    } catch (error) {
      // The job is stored and runs; only its line in the schedule's history is missing.
      this.#parts.warn(`schedule ${name} made job ${jobId} but could not record it in its history`, error);
    }
    this.#emit('fired', record, jobId, tickAt);
  }

  /** A function schedule calls the version its function points at now: a deploy or rollback swaps its Scheduler. */
  async #followFunctions(): Promise<void> {
    for (const [key, running] of this.#running) {
      if (running.version === undefined) continue;
      const record = this.#recordAt(key);
      const fn = this.#parts.store.fn(tenantKey(tenantOf(record), record.function!));
      if (fn === undefined || versionOf(fn.current, this.#parts.functions.runner) === running.version)
        continue;
      const target = await this.#target(record);
      const scheduler = this.#scheduler(record, target);
      // The new one starts before the old one stops, so no tick falls between them; claimTick fires
      // a tick both see only once.
      this.#start(key, scheduler, target.version);
      await running.scheduler.close();
    }
  }

  #emit(
    type: ScheduleEventView['type'],
    record: ScheduleRecord,
    jobId: string | null = null,
    tickAt: number | null = null,
  ) {
    this.emit('event', { type, schedule: record.name, jobId, tickAt, at: Date.now() }, tenantOf(record));
  }

  #view(record: ScheduleRecord): ScheduleView {
    const key = keyOf(record);
    const firing = !record.paused && this.#running.has(key);
    const last = this.#parts.store.scheduleRuns(key, 1)[0];
    return {
      name: record.name,
      tenant: tenantOf(record),
      cron: record.cron,
      every: record.every,
      task: record.module === null ? null : `${record.module}:${record.exportName}`,
      function: record.function,
      args: record.args,
      options: record.options,
      state: record.paused ? 'paused' : 'active',
      error: record.paused ? null : (this.#broken.get(key) ?? null),
      nextRunAt: firing ? nextRunAt(record, Date.now()) : null,
      lastRunAt: last?.tickAt ?? null,
      createdAt: record.createdAt,
      updatedAt: record.updatedAt,
    };
  }
}
