// Canvas: chain (each result appended to the next step's arguments), group (members run in parallel,
// results gathered in order) and chord (a group, then a callback given the list of results). Every id
// is chosen up front and every follow-up job is stored in the plan of the job before it; the worker
// enqueues it (idempotently, keyed by its id) before it records the job done, so a crash at any point
// leads to a redelivery that enqueues the same follow-up, never to a lost or doubled step.

import { InvalidArgumentError } from '../errors.ts';
import { describe, type Task } from '../task.ts';
import type { Broker, JobRecord, NewJob } from './broker.ts';
import { Job, type ResultOptions, settle, waitForFinish } from './job.ts';
import { newJobId } from './job-id.ts';
import { type JobOptions, resolveJobOptions } from './options.ts';
import { decodeValue, encodeArgs } from './payload.ts';
import type { ChordPlan, JobPlan, StepSpec } from './plan.ts';
import { newJobOf, type TaskQueue, taskAddress } from './queue.ts';

/** A task with its leading arguments and options, to run later as a canvas step (Celery's `.s()`). */
export interface Signature<A extends unknown[] = unknown[], R = unknown> {
  readonly task: Task<never, R>;
  readonly args: readonly unknown[];
  readonly options: JobOptions;
  /** Type-only: the parameters the task takes. */
  readonly _params?: A;
}

/**
 * A canvas step: `task` with its first arguments; a chain appends the previous result, a chord callback
 * gets the results list appended.
 * @example
 * await queue.chain(signature(fetchPage, [url]), signature(parse, []), signature(store, ['pages']));
 */
export function signature<A extends unknown[], R>(
  task: Task<A, R>,
  args: readonly unknown[] = [],
  options: JobOptions = {},
): Signature<A, Awaited<R>> {
  if (!Array.isArray(args)) {
    throw new InvalidArgumentError(
      'SKEIN_TASKS_INVALID_OPTION',
      `signature args must be an array (got ${describe(args)})`,
    );
  }
  return Object.freeze({ task: task as unknown as Task<never, Awaited<R>>, args, options });
}

/** A started chain: its steps' jobs and the last step's result. */
export class ChainResult<R = unknown> {
  readonly id: string;
  readonly ids: readonly string[];
  readonly #broker: Broker;

  constructor(broker: Broker, ids: readonly string[]) {
    this.#broker = broker;
    this.ids = ids;
    this.id = ids[0]!;
  }

  /** Handles on every step (later steps are stored once the one before them succeeded). */
  jobs(): Job[] {
    return this.ids.map((id) => new Job(this.#broker, id));
  }

  /** The last step's result; rejects with the first failing step's JobFailedError. */
  async result(options: ResultOptions = {}): Promise<R> {
    let value: unknown;
    for (const id of this.ids) value = settle(await waitForFinish(this.#broker, id, options, true));
    return value as R;
  }
}

/** A started group: the members' jobs and their results in order. */
export class GroupResult<R extends unknown[] = unknown[]> {
  /** The group's id: every member's parentId. */
  readonly id: string;
  readonly ids: readonly string[];
  readonly #broker: Broker;

  constructor(broker: Broker, id: string, ids: readonly string[]) {
    this.#broker = broker;
    this.id = id;
    this.ids = ids;
  }

  jobs(): Job[] {
    return this.ids.map((id) => new Job(this.#broker, id));
  }

  /** Every member's result, in member order; rejects with the first failure found. */
  async result(options: ResultOptions = {}): Promise<R> {
    const records = await Promise.all(this.ids.map((id) => waitForFinish(this.#broker, id, options)));
    return records.map((record) => settle(record)) as R;
  }
}

/** A started chord: the group, and the callback's job (stored once every member succeeded). */
export class ChordResult<R = unknown> {
  readonly group: GroupResult;
  readonly callback: Job<R>;
  readonly #broker: Broker;

  constructor(broker: Broker, group: GroupResult, callbackId: string) {
    this.#broker = broker;
    this.group = group;
    this.callback = new Job<R>(broker, callbackId);
  }

  /** The callback's result; rejects with a member's JobFailedError if one failed. */
  async result(options: ResultOptions = {}): Promise<R> {
    await this.group.result(options);
    return settle<R>(await waitForFinish(this.#broker, this.callback.id, options, true));
  }
}

async function specOf(
  queue: TaskQueue,
  sig: Signature,
  path: string,
  now: number,
  id = newJobId(),
): Promise<StepSpec> {
  if (typeof sig !== 'object' || sig === null || !('task' in sig)) {
    throw new InvalidArgumentError(
      'SKEIN_TASKS_INVALID_OPTION',
      `${path} must be a signature(task, args, options) (got ${describe(sig)})`,
    );
  }
  const address = await taskAddress(sig.task, `${path}.task`);
  encodeArgs(sig.args);
  const resolved = resolveJobOptions(sig.options, now, `${path}.options`);
  return {
    id,
    queue: queue.name,
    task: address,
    args: sig.args,
    delay: Math.max(0, resolved.runAt - now),
    priority: resolved.priority,
    maxAttempts: resolved.attempts,
    timeLimitMs: Number.isFinite(resolved.timeLimit) ? resolved.timeLimit : null,
    group: resolved.group,
    resultTtlMs: resolved.resultTtl,
    deadLetter: resolved.deadLetter,
    backoff: resolved.backoff,
  };
}

/** The stored form of a step, enqueued now with `tail` appended to its arguments. */
function jobOfSpec(spec: StepSpec, tail: unknown, parentId: string, plan: JobPlan): NewJob {
  return {
    ...newJobOf(
      spec.queue,
      spec.task,
      [...spec.args, tail],
      {
        runAt: Date.now() + spec.delay,
        priority: spec.priority,
        attempts: spec.maxAttempts,
        backoff: spec.backoff,
        timeLimit: spec.timeLimitMs ?? Number.POSITIVE_INFINITY,
        idempotencyKey: null,
        group: spec.group,
        resultTtl: spec.resultTtlMs,
        deadLetter: spec.deadLetter,
      },
      { id: spec.id, parentId, plan },
    ),
    // Keyed by the step's own id: a redelivered predecessor enqueues the same step, not a second one.
    idempotencyKey: `skein:canvas:${spec.id}`,
  };
}

function checkSteps(what: string, steps: unknown, min: number): asserts steps is readonly Signature[] {
  if (!Array.isArray(steps) || steps.length < min) {
    throw new InvalidArgumentError(
      'SKEIN_TASKS_INVALID_OPTION',
      `${what} needs an array of at least ${min} signature(s) (got ${describe(steps)})`,
    );
  }
}

/**
 * Runs steps one after another, each given the previous result as its last argument. Enqueues the
 * first step; each later step is enqueued by the worker of the one before.
 * @example
 * const run = await chain(queue, [signature(download, [url]), signature(resize, [100])]);
 * const thumbnail = await run.result();
 */
export async function chain(queue: TaskQueue, steps: readonly Signature[]): Promise<ChainResult> {
  checkSteps('chain', steps, 1);
  const now = Date.now();
  const specs: StepSpec[] = [];
  for (let i = 0; i < steps.length; i++) specs.push(await specOf(queue, steps[i]!, `steps[${i}]`, now));
  const [first, ...rest] = specs;
  const job: NewJob = {
    ...newJobOf(
      queue.name,
      first!.task,
      first!.args,
      resolveJobOptions(steps[0]!.options, now, 'steps[0].options'),
      { id: first!.id, plan: rest.length > 0 ? { chain: rest } : {} },
    ),
  };
  const [stored] = await queue.broker.enqueue([job]);
  return new ChainResult(queue.broker, [stored!.id, ...rest.map((spec) => spec.id)]);
}

async function startMembers(
  queue: TaskQueue,
  members: readonly Signature[],
  planOf: (ids: readonly string[]) => JobPlan,
  groupId: string,
): Promise<GroupResult> {
  const now = Date.now();
  const ids = members.map(() => newJobId());
  const plan = planOf(ids);
  const jobs: NewJob[] = [];
  for (let i = 0; i < members.length; i++) {
    const sig = members[i]!;
    await specOf(queue, sig, `members[${i}]`, now);
    const resolved = resolveJobOptions(sig.options, now, `members[${i}].options`);
    jobs.push(
      newJobOf(queue.name, await taskAddress(sig.task), sig.args, resolved, {
        id: ids[i]!,
        parentId: groupId,
        plan,
      }),
    );
  }
  await queue.broker.enqueue(jobs);
  return new GroupResult(queue.broker, groupId, ids);
}

/**
 * Runs members in parallel; `result()` gathers their results in order. Every member has the group's id
 * as parentId, so `queue.job(id).children()`-style queries find them through broker.children(group.id).
 */
export async function group(queue: TaskQueue, members: readonly Signature[]): Promise<GroupResult> {
  checkSteps('group', members, 1);
  return startMembers(queue, members, () => ({}), newJobId());
}

/**
 * A group, then `callback` with the list of the members' results appended to its arguments (once every
 * member succeeded; a failed member means no callback).
 * @example
 * const total = await (await chord(queue, parts.map((p) => signature(count, [p])), signature(sum))).result();
 */
export async function chord(
  queue: TaskQueue,
  members: readonly Signature[],
  callback: Signature,
): Promise<ChordResult> {
  checkSteps('chord', members, 1);
  const groupId = newJobId();
  const spec = await specOf(queue, callback, 'callback', Date.now());
  const group = await startMembers(
    queue,
    members,
    (ids) => ({ chord: { groupId, members: ids, callback: spec } }),
    groupId,
  );
  return new ChordResult(queue.broker, group, spec.id);
}

/** Worker side: enqueues the next chain step with this job's result appended, before completing it. */
export async function continueChain(
  broker: Broker,
  record: JobRecord,
  rest: readonly StepSpec[],
  result: unknown,
): Promise<void> {
  const [next, ...after] = rest;
  await broker.enqueue([jobOfSpec(next!, result, record.id, after.length > 0 ? { chain: after } : {})]);
}

/**
 * Worker side: enqueues the chord's callback once every member succeeded. Called before this member
 * is completed (treating it as done) and again after: two members finishing together both see the
 * other done at least after completing, and the idempotency key makes a second enqueue a no-op.
 */
export async function continueChord(
  broker: Broker,
  record: JobRecord,
  chord: ChordPlan,
  result: unknown,
  completed: boolean,
): Promise<void> {
  const siblings = new Map((await broker.children(chord.groupId)).map((job) => [job.id, job]));
  const results: unknown[] = [];
  for (const id of chord.members) {
    if (id === record.id && !completed) {
      results.push(result);
      continue;
    }
    const sibling = siblings.get(id);
    if (sibling === undefined || sibling.state !== 'succeeded') return;
    results.push(sibling.result === null ? undefined : decodeValue(sibling.result, 'result'));
  }
  await broker.enqueue([jobOfSpec(chord.callback, results, chord.groupId, {})]);
}
