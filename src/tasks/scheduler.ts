// Periodic jobs (Celery beat, BullMQ repeatable jobs): each schedule fires on the ticks of a cron
// expression or of a fixed interval aligned to the epoch, so every scheduler computes the same tick
// times; broker.claimTick lets exactly one of however many schedulers enqueue each tick.

import { EventEmitter } from 'node:events';
import { SkeinError } from '../errors.ts';
import type { Task } from '../task.ts';
import type { Broker } from './broker.ts';
import { type CronExpression, nextCronTime, parseCron } from './cron.ts';
import { newJobId } from './job-id.ts';
import {
  checkDuration,
  checkName,
  checkObject,
  invalidOption,
  type JobOptions,
  resolveJobOptions,
  resolveQueueName,
} from './options.ts';
import { encodeArgs } from './payload.ts';
import { TaskQueue } from './queue.ts';

export interface Schedule {
  /** Stable name of the schedule: schedulers agree on ticks by (id, tick time). */
  readonly id: string;
  readonly task: Task<never, unknown>;
  /** @defaultValue [] */
  readonly args?: readonly unknown[];
  /** A five-field cron expression, in UTC. Exclusive with `every`. */
  readonly cron?: string;
  /** Milliseconds between ticks, aligned to multiples since the epoch. Exclusive with `cron`. */
  readonly every?: number;
  readonly options?: JobOptions;
}

export interface SchedulerOptions {
  readonly broker: Broker;
  /** @defaultValue 'default' */
  readonly queue?: string;
  readonly schedules: readonly Schedule[];
  /** This scheduler's id, recorded with the ticks it claims. @defaultValue a random id */
  readonly id?: string;
}

export interface SchedulerEvents {
  /** This scheduler won the tick and enqueued its job. */
  fired: [scheduleId: string, tickAt: number, jobId: string];
  /** A store operation failed; that tick is skipped (as if the scheduler had been down). */
  brokerError: [error: unknown];
}

interface Entry {
  readonly schedule: Schedule;
  readonly cron: CronExpression | undefined;
  next: number;
}

/** A timer never waits longer than this, so a clock change is noticed within it. */
const MAX_TIMER_MS = 60_000;

/**
 * Enqueues periodic jobs; run one in every process that may, the ticks still fire once each.
 * @example
 * await using beat = new Scheduler({ broker, schedules: [{ id: 'nightly-report', task: report, cron: '0 3 * * *' }] });
 * beat.start();
 * @throws SKEIN_TASKS_INVALID_OPTION, SKEIN_TASKS_INVALID_CRON
 */
export class Scheduler extends EventEmitter<SchedulerEvents> {
  readonly id: string;
  readonly #queue: TaskQueue;
  readonly #broker: Broker;
  readonly #entries: Entry[];
  #timer: NodeJS.Timeout | undefined;
  #state: 'new' | 'started' | 'closed' = 'new';
  #firing: Promise<void> = Promise.resolve();

  constructor(options: SchedulerOptions) {
    super();
    checkObject('options', options);
    this.#broker = options.broker;
    this.#queue = new TaskQueue({ broker: options.broker, name: resolveQueueName(options.queue, 'queue') });
    this.id = options.id === undefined ? newJobId() : checkName('id', options.id);
    if (!Array.isArray(options.schedules)) throw invalidOption('schedules', 'an array', options.schedules);
    const seen = new Set<string>();
    this.#entries = options.schedules.map((schedule, i) => {
      const path = `schedules[${i}]`;
      checkObject(path, schedule);
      const id = checkName(`${path}.id`, schedule.id);
      if (seen.has(id)) throw invalidOption(`${path}.id`, 'unique among the schedules', id);
      seen.add(id);
      if ((schedule.cron === undefined) === (schedule.every === undefined)) {
        throw invalidOption(path, "given exactly one of 'cron' and 'every'", schedule);
      }
      if (schedule.every !== undefined) checkDuration(`${path}.every`, schedule.every, 1);
      encodeArgs(schedule.args ?? []);
      resolveJobOptions(schedule.options ?? {}, Date.now(), `${path}.options`);
      return { schedule, cron: schedule.cron === undefined ? undefined : parseCron(schedule.cron), next: 0 };
    });
  }

  /** Starts firing; ticks are counted from now (no catch-up of ticks missed while stopped). */
  start(): void {
    if (this.#state === 'closed') {
      throw new SkeinError('SKEIN_TASKS_CLOSED', `scheduler ${this.id} is closed; create a new Scheduler`);
    }
    if (this.#state === 'started') return;
    this.#state = 'started';
    const now = Date.now();
    for (const entry of this.#entries) entry.next = this.#nextTick(entry, now);
    this.#arm();
  }

  /** Stops firing and waits for a tick being enqueued. Idempotent. */
  async close(): Promise<void> {
    this.#state = 'closed';
    clearTimeout(this.#timer);
    await this.#firing;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  #nextTick(entry: Entry, after: number): number {
    if (entry.cron !== undefined) return nextCronTime(entry.cron, after);
    const every = entry.schedule.every!;
    return (Math.floor(after / every) + 1) * every;
  }

  #arm(): void {
    if (this.#state !== 'started') return;
    const next = Math.min(...this.#entries.map((entry) => entry.next));
    const wait = Math.min(Math.max(0, next - Date.now()), MAX_TIMER_MS);
    this.#timer = setTimeout(() => {
      this.#firing = this.#fireDue().finally(() => this.#arm());
    }, wait);
  }

  async #fireDue(): Promise<void> {
    const now = Date.now();
    for (const entry of this.#entries) {
      if (entry.next > now || this.#state !== 'started') continue;
      const tickAt = entry.next;
      entry.next = this.#nextTick(entry, now);
      try {
        if (await this.#broker.claimTick(entry.schedule.id, tickAt, this.id)) {
          const job = await this.#queue.submit(
            entry.schedule.task as Task<unknown[], unknown>,
            [...(entry.schedule.args ?? [])],
            {
              ...entry.schedule.options,
              idempotencyKey: `skein:schedule:${entry.schedule.id}:${tickAt}`,
            },
          );
          this.emit('fired', entry.schedule.id, tickAt, job.id);
        }
      } catch (error) {
        // The tick is not retried: a store error loses this one firing, like a beat that was down.
        this.emit('brokerError', error);
      }
    }
  }
}
