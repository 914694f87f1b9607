// Canvas: chain (each result appended to the next step's arguments), group (members run side by side,
// results gathered in order) and chord (a group, then a callback given the list of results), nested in
// one another. Every id is chosen up front and every follow-up job is stored in the plan of the job
// before it. The next chain step is enqueued (idempotently, keyed by its id) before the job is recorded
// done; a group's follow-up is enqueued by the broker in the step that records its last member done (a
// Join), and gathers the members' results when it runs. So a crash at any point leads to a redelivery
// that enqueues the same follow-up, or to nothing left to do, never a lost or doubled step.

import { InvalidArgumentError, internalError } from '../errors.ts';
import { describe, type Task } from '../task.ts';
import type { Broker, JobRecord, Join, NewJob } from './broker.ts';
import { Job, type ResultOptions, settle, WAIT_OVER, waitDeadline, waitForFinish } from './job.ts';
import { newJobId } from './job-id.ts';
import { type JobOptions, resolveJobOptions } from './options.ts';
import { decodeValue, encodeArgs } from './payload.ts';
import {
  type CanvasNode,
  type ChordPlan,
  countShape,
  type Frame,
  type GroupNode,
  type JobPlan,
  type JoinFrame,
  type ResultShape,
  type StepSpec,
} from './plan.ts';
import { newJobOf, type TaskQueue, taskAddress } from './queue.ts';

/**
 * How deep chains, groups and chords may nest in one another (the outermost counts as 1). Each level
 * adds to the plan every job of the canvas carries; deeper trees are better split into canvases.
 */
export const MAX_CANVAS_DEPTH = 8;

/** A task with its leading arguments and options, to run later as a canvas step (Celery's `.s()`). */
export interface Signature<A extends unknown[] = unknown[], R = unknown> {
  readonly task: Task<never, R>;
  readonly args: readonly unknown[];
  readonly options: JobOptions;
  /** Type-only: the parameters the task takes. */
  readonly _params?: A;
}

/** An unstarted chain, to nest in another canvas: `chain([a, b])`. */
export interface ChainSignature {
  readonly kind: 'chain';
  readonly steps: readonly Canvas[];
}

/** An unstarted group, to nest in another canvas: `group([a, b])`. */
export interface GroupSignature {
  readonly kind: 'group';
  readonly members: readonly Canvas[];
}

/** An unstarted chord, to nest in another canvas: `chord([a, b], callback)`. */
export interface ChordSignature {
  readonly kind: 'chord';
  readonly members: readonly Canvas[];
  readonly callback: Canvas;
}

/** Anything a canvas can hold as a step, member or callback. */
export type Canvas = Signature | ChainSignature | GroupSignature | ChordSignature;

/** The handle a started canvas gives for each part of it. */
export type CanvasResult = Job | ChainResult | GroupResult | ChordResult<unknown, CanvasResult>;

/**
 * A canvas step: `task` with its first arguments; a chain appends the previous result, a chord callback
 * gets the results list appended.
 * @example
 * await chain(queue, [signature(fetchPage, [url]), signature(parse), signature(store, ['pages'])]);
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

/** Job ids of a handle, depth first in canvas order. */
function idsOf(handle: CanvasResult): readonly string[] {
  return handle instanceof Job ? [handle.id] : handle.ids;
}

/** The id under which a handle's part of the tree hangs (broker.children(id) reaches the rest). */
function rootOf(handle: CanvasResult): string {
  if (handle instanceof Job || handle instanceof ChainResult || handle instanceof GroupResult)
    return handle.id;
  return handle.group.id;
}

/** A started chain: its steps and the last step's result. */
export class ChainResult<R = unknown> {
  /** The first job's id (the group's id when the chain starts with a group). */
  readonly id: string;
  /** Every job of the chain, depth first (later ones are stored once the ones before them succeeded). */
  readonly ids: readonly string[];
  /** A handle per step: Job for a signature, ChainResult, GroupResult or ChordResult for a nested canvas. */
  readonly steps: readonly CanvasResult[];
  readonly #broker: Broker;

  /** `steps`: handles, or ids of signature steps. */
  constructor(broker: Broker, steps: readonly (string | CanvasResult)[]) {
    if (!Array.isArray(steps) || steps.length === 0) {
      throw invalid(`a ChainResult needs at least one step (got ${describe(steps)})`);
    }
    this.#broker = broker;
    this.steps = Object.freeze(
      steps.map((step) => (typeof step === 'string' ? new Job(broker, step) : step)),
    );
    this.ids = Object.freeze(this.steps.flatMap(idsOf));
    this.id = rootOf(this.steps[0]!);
  }

  /** Handles on every job (later steps are stored once the one before them succeeded). */
  jobs(): Job[] {
    return this.ids.map((id) => new Job(this.#broker, id));
  }

  /**
   * The last step's result (a list for a group). @throws SKEIN_TASKS_JOB_FAILED with the first failing
   * step's error; SKEIN_TIMEOUT / SKEIN_ABORTED when the wait (for the whole chain) ends first.
   */
  result(options: ResultOptions = {}): Promise<R> {
    return resultOf(this.#broker, this, options) as Promise<R>;
  }
}

/** A started group: the members and their results in order. */
export class GroupResult<R extends unknown[] = unknown[]> {
  /** The group's id: parentId of each member's first job. */
  readonly id: string;
  /** Every job of the group, depth first (for members that are signatures: their ids, in order). */
  readonly ids: readonly string[];
  /** A handle per member. */
  readonly members: readonly CanvasResult[];
  readonly #broker: Broker;

  /** `members`: handles, or ids of signature members. */
  constructor(broker: Broker, id: string, members: readonly (string | CanvasResult)[]) {
    this.#broker = broker;
    this.id = id;
    this.members = Object.freeze(
      members.map((member) => (typeof member === 'string' ? new Job(broker, member) : member)),
    );
    this.ids = Object.freeze(this.members.flatMap(idsOf));
  }

  jobs(): Job[] {
    return this.ids.map((id) => new Job(this.#broker, id));
  }

  /**
   * Every member's result (a member chain's last result), in member order. @throws
   * SKEIN_TASKS_JOB_FAILED with the first failure found; SKEIN_TIMEOUT / SKEIN_ABORTED.
   */
  result(options: ResultOptions = {}): Promise<R> {
    return resultOf(this.#broker, this, options) as Promise<R>;
  }
}

/** A started chord: the group, and the callback (stored once every member succeeded). */
export class ChordResult<R = unknown, C extends CanvasResult = Job<R>> {
  readonly group: GroupResult;
  /** The callback's handle: a Job for a signature, else the nested canvas's handle. */
  readonly callback: C;
  readonly ids: readonly string[];
  readonly #broker: Broker;

  /** `callback`: its handle, or the id of a signature callback. */
  constructor(broker: Broker, group: GroupResult, callback: string | C) {
    this.#broker = broker;
    this.group = group;
    this.callback = typeof callback === 'string' ? (new Job<R>(broker, callback) as unknown as C) : callback;
    this.ids = Object.freeze([...group.ids, ...idsOf(this.callback)]);
  }

  jobs(): Job[] {
    return this.ids.map((id) => new Job(this.#broker, id));
  }

  /**
   * The callback's (final) result. @throws SKEIN_TASKS_JOB_FAILED with a member's error if one failed,
   * else the callback's; SKEIN_TIMEOUT / SKEIN_ABORTED.
   */
  result(options: ResultOptions = {}): Promise<R> {
    return resultOf(this.#broker, this, options) as Promise<R>;
  }
}

/** Waits for a handle's final value under one deadline for the whole canvas. */
async function resultOf(broker: Broker, handle: CanvasResult, options: ResultOptions): Promise<unknown> {
  const deadline = waitDeadline(
    options,
    (ms) => `canvas ${rootOf(handle)} did not finish within ${ms} ms; its jobs keep running`,
  );
  const { signal } = deadline;
  try {
    return await walk(broker, handle, signal);
  } finally {
    deadline.end();
  }
}

// Waits in dependency order only: a job is waited for once the ones it follows succeeded, so it was
// stored (a chord callback in the same step as the last member's success).
async function walk(broker: Broker, handle: CanvasResult, signal: AbortSignal): Promise<unknown> {
  if (handle instanceof Job) return settle(await waitForFinish(broker, handle.id, { signal }, true));
  if (handle instanceof ChainResult) {
    let value: unknown;
    for (const step of handle.steps) value = await walk(broker, step, signal);
    return value;
  }
  if (handle instanceof ChordResult) {
    await walk(broker, handle.group, signal);
    return walk(broker, handle.callback, signal);
  }
  // The first failure settles the group; the other members' waits end with it instead of running on.
  const members = new AbortController();
  const either = AbortSignal.any([signal, members.signal]);
  try {
    return await Promise.all(handle.members.map((member) => walk(broker, member, either)));
  } finally {
    members.abort(WAIT_OVER);
  }
}

function invalid(message: string): InvalidArgumentError {
  return new InvalidArgumentError('SKEIN_TASKS_INVALID_OPTION', message);
}

function checkList(what: string, list: unknown): asserts list is readonly Canvas[] {
  if (!Array.isArray(list) || list.length < 1) {
    throw invalid(
      `${what} needs an array of at least 1 signature or nested canvas (got ${describe(list)}); an empty step has no result to pass on`,
    );
  }
}

function isSignature(value: unknown): value is Signature {
  return typeof value === 'object' && value !== null && 'task' in value;
}

function kindOf(value: unknown): 'signature' | 'chain' | 'group' | 'chord' | undefined {
  if (isSignature(value)) return 'signature';
  const kind = typeof value === 'object' && value !== null ? (value as { kind?: unknown }).kind : undefined;
  return kind === 'chain' || kind === 'group' || kind === 'chord' ? kind : undefined;
}

async function specOf(
  queue: TaskQueue,
  sig: Signature,
  path: string,
  now: number,
  id = newJobId(),
): Promise<StepSpec> {
  const address = await taskAddress(sig.task, `${path}.task`);
  encodeArgs(sig.args);
  const resolved = resolveJobOptions(sig.options, now, `${path}.options`);
  if (resolved.idempotencyKey !== null) {
    throw invalid(
      `${path}.options.idempotencyKey is not supported in a canvas (got ${describe(resolved.idempotencyKey)}): every canvas job is keyed by its own id; start the canvas once instead`,
    );
  }
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

interface Compiled {
  readonly node: CanvasNode;
  readonly handle: CanvasResult;
}

/** The id the next part of a chain hangs under: a step's own id, or the group's id after a group. */
function causeOf(node: CanvasNode): string {
  if (node.kind === undefined) return node.id;
  if (node.kind === 'group') return node.id;
  return causeOf(node.steps[node.steps.length - 1]!);
}

/**
 * Validates a canvas and gives every job and group its id. A group gets the id of what comes before it
 * (`cause`: the step or group before it in a chain, or the group it is a member of), so a single
 * children() call from there lists its members; only a group with nothing before it gets a fresh id.
 */
async function compile(
  queue: TaskQueue,
  canvas: unknown,
  path: string,
  now: number,
  depth: number,
  cause: string | null,
): Promise<Compiled> {
  const kind = kindOf(canvas);
  if (kind === undefined) {
    throw invalid(
      `${path} must be a signature(task, args, options) or a nested chain([...]), group([...]) or chord([...], callback) (got ${describe(canvas)}); nest canvases unstarted, without a queue`,
    );
  }
  if (kind === 'signature') {
    const spec = await specOf(queue, canvas as Signature, path, now);
    return { node: spec, handle: new Job(queue.broker, spec.id) };
  }
  if (depth > MAX_CANVAS_DEPTH) {
    throw invalid(
      `${path} nests canvases ${depth} levels deep; at most ${MAX_CANVAS_DEPTH} levels of chain, group and chord are supported: flatten nested chains (a chain in a chain is one chain) or start the inner part as a canvas of its own`,
    );
  }
  if (kind === 'chain') {
    const { steps } = canvas as ChainSignature;
    checkList(`${path} (a chain)`, steps);
    const nodes: CanvasNode[] = [];
    const handles: CanvasResult[] = [];
    for (let i = 0; i < steps.length; i++) {
      const part = await compile(queue, steps[i], `${path}.steps[${i}]`, now, depth + 1, cause);
      cause = causeOf(part.node);
      nodes.push(part.node);
      handles.push(part.handle);
    }
    return { node: { kind: 'chain', steps: nodes }, handle: new ChainResult(queue.broker, handles) };
  }
  const { members } = canvas as GroupSignature | ChordSignature;
  checkList(`${path} (a ${kind})`, members);
  const id = cause ?? newJobId();
  const nodes: CanvasNode[] = [];
  const handles: CanvasResult[] = [];
  for (let i = 0; i < members.length; i++) {
    const part = await compile(queue, members[i], `${path}.members[${i}]`, now, depth + 1, id);
    nodes.push(part.node);
    handles.push(part.handle);
  }
  const group: GroupNode = { kind: 'group', id, members: nodes };
  const groupHandle = new GroupResult(queue.broker, id, handles);
  if (kind === 'group') return { node: group, handle: groupHandle };
  const callback = await compile(
    queue,
    (canvas as ChordSignature).callback,
    `${path}.callback`,
    now,
    depth + 1,
    id,
  );
  return {
    node: { kind: 'chain', steps: [group, callback.node] },
    handle: new ChordResult<unknown, CanvasResult>(queue.broker, groupHandle, callback.handle),
  };
}

function shapeOf(node: CanvasNode): ResultShape {
  if (node.kind === undefined) return node.id;
  if (node.kind === 'group') return node.members.map(shapeOf);
  return shapeOf(node.steps[node.steps.length - 1]!);
}

/** The id of the first job a node starts (its first step's, or its first member's). */
function firstIdOf(node: CanvasNode): string {
  if (node.kind === undefined) return node.id;
  return firstIdOf(node.kind === 'chain' ? node.steps[0]! : node.members[0]!);
}

/** What a job whose continuation is `frames` stores: the rest of its chain, or the group it closes. */
function planOf(frames: readonly Frame[]): JobPlan {
  const [first, next, ...then] = frames;
  if (first === undefined) return {};
  if (first.kind !== 'join') return { chain: frames };
  // A join is only ever made in front of a node: a group with nothing after it needs no join.
  if (next === undefined || next.kind === 'join')
    throw internalError('a canvas join is not followed by a step');
  // Keyed by the callback's first job: group ids are shared by nested groups, job ids by nothing.
  const chord: ChordPlan = {
    groupId: first.groupId,
    members: first.members,
    join: firstIdOf(next),
    callback: next,
    ...(then.length > 0 ? { then } : {}),
  };
  return { chord };
}

const NO_INPUT: unique symbol = Symbol('no input');

/** The input of a chord callback's first jobs: the results of the jobs `shapes` names, read when they run. */
class Gathered {
  readonly shapes: readonly ResultShape[];
  constructor(shapes: readonly ResultShape[]) {
    this.shapes = shapes;
  }
}

/**
 * The jobs that start `node` now, given `input` (appended to the arguments of its first jobs) and the
 * continuation of its last jobs. A chain becomes its first step continued by the others; a group's
 * members each end in a join of the group, unless nothing follows (no join needed) or the group ends a
 * member of an outer group (whose join already names this group's jobs).
 */
function start(
  node: CanvasNode,
  input: unknown,
  frames: readonly Frame[],
  parentId: string | null,
  jobs: NewJob[],
): void {
  if (node.kind === undefined) {
    jobs.push(jobOfSpec(node, input, parentId, planOf(frames)));
    return;
  }
  if (node.kind === 'chain') {
    const [first, ...rest] = node.steps;
    start(first!, input, [...rest, ...frames], parentId, jobs);
    return;
  }
  const first = frames[0];
  const join: JoinFrame = { kind: 'join', groupId: node.id, members: node.members.map(shapeOf) };
  const after = first === undefined || first.kind === 'join' ? frames : [join, ...frames];
  for (const member of node.members) start(member, input, after, node.id, jobs);
}

/**
 * The stored form of a step, enqueued now with `input` appended to its arguments (none for NO_INPUT;
 * for Gathered, its plan says what to gather when it runs).
 */
function jobOfSpec(spec: StepSpec, input: unknown, parentId: string | null, plan: JobPlan): NewJob {
  const gathered = input instanceof Gathered;
  return {
    ...newJobOf(
      spec.queue,
      spec.task,
      input === NO_INPUT || gathered ? spec.args : [...spec.args, input],
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
      { id: spec.id, parentId, plan: gathered ? { ...plan, gather: input.shapes } : plan },
    ),
    // Keyed by the step's own id: a redelivered predecessor enqueues the same step, not a second one.
    idempotencyKey: `skein:canvas:${spec.id}`,
  };
}

function checkQueue(queue: unknown): asserts queue is TaskQueue {
  const broker = typeof queue === 'object' && queue !== null ? (queue as TaskQueue).broker : undefined;
  if (typeof broker !== 'object' || broker === null || typeof broker.enqueue !== 'function') {
    throw invalid(
      `a canvas starts on a TaskQueue (got ${describe(queue)}); pass the queue first, or leave it out to nest the canvas in another one`,
    );
  }
}

/** Compiles and enqueues a canvas's first jobs in one atomic step; returns its handle. */
async function startCanvas(queue: unknown, canvas: Canvas, path: string): Promise<CanvasResult> {
  checkQueue(queue);
  const { node, handle } = await compile(queue, canvas, path, Date.now(), 1, null);
  const jobs: NewJob[] = [];
  start(node, NO_INPUT, [], null, jobs);
  await queue.broker.enqueue(jobs);
  return handle;
}

/**
 * Runs steps one after another, each given the previous result as its last argument; a step may be a
 * nested group (each member gets the previous result, the next step gets the list of theirs), chord or
 * chain. Enqueues the first jobs; each later one is enqueued by the worker of the one before. Without a
 * queue, returns the chain unstarted, to nest in another canvas.
 * @example
 * const run = await chain(queue, [signature(download, [url]), group([signature(resize, [100]), signature(resize, [800])]), signature(publish)]);
 * const published = await run.result();
 * @throws SKEIN_TASKS_INVALID_OPTION for an empty list, a step that is not a canvas, a step with an
 * idempotencyKey, or nesting deeper than MAX_CANVAS_DEPTH; SKEIN_TASKS_INVALID_TASK; SKEIN_TASKS_NOT_ENCODABLE.
 */
export function chain(steps: readonly Canvas[]): ChainSignature;
export function chain(queue: TaskQueue, steps: readonly Canvas[]): Promise<ChainResult>;
export function chain(
  first: TaskQueue | readonly Canvas[],
  steps?: readonly Canvas[],
): ChainSignature | Promise<ChainResult> {
  if (Array.isArray(first)) {
    checkList('chain', first);
    return Object.freeze({ kind: 'chain', steps: Object.freeze([...first]) });
  }
  return (async () => {
    checkList('chain', steps);
    return (await startCanvas(first, { kind: 'chain', steps }, 'chain')) as ChainResult;
  })();
}

/**
 * Runs members side by side; `result()` gathers their results in order (a member chain gives its last
 * result, a member group its list). Each member's first job has the group's id as parentId
 * (broker.children(group.id)). Without a queue, returns the group unstarted, to nest in another canvas.
 * @example
 * const parts = await group(queue, [signature(count, [f0]), chain([signature(fetch, [url]), signature(count)])]);
 * @throws as chain().
 */
export function group(members: readonly Canvas[]): GroupSignature;
export function group(queue: TaskQueue, members: readonly Canvas[]): Promise<GroupResult>;
export function group(
  first: TaskQueue | readonly Canvas[],
  members?: readonly Canvas[],
): GroupSignature | Promise<GroupResult> {
  if (Array.isArray(first)) {
    checkList('group', first);
    return Object.freeze({ kind: 'group', members: Object.freeze([...first]) });
  }
  return (async () => {
    checkList('group', members);
    return (await startCanvas(first, { kind: 'group', members }, 'group')) as GroupResult;
  })();
}

/**
 * A group, then `callback` with the list of the members' results appended to its arguments (once every
 * member succeeded; a failed member means no callback). The callback may be a nested chain, group or
 * chord. Without a queue, returns the chord unstarted, to nest in another canvas.
 * @example
 * const total = await (await chord(queue, parts.map((p) => signature(count, [p])), signature(sum))).result();
 * @throws as chain().
 */
export function chord(members: readonly Canvas[], callback: Canvas): ChordSignature;
export function chord<R>(
  queue: TaskQueue,
  members: readonly Canvas[],
  callback: Signature<unknown[], R>,
): Promise<ChordResult<R>>;
export function chord(
  queue: TaskQueue,
  members: readonly Canvas[],
  callback: Canvas,
): Promise<ChordResult<unknown, CanvasResult>>;
export function chord(
  first: TaskQueue | readonly Canvas[],
  second: readonly Canvas[] | Canvas,
  callback?: Canvas,
): ChordSignature | Promise<ChordResult<unknown, CanvasResult>> {
  if (Array.isArray(first)) {
    checkList('chord', first);
    if (kindOf(second) === undefined) {
      throw invalid(`chord callback must be a signature or a nested canvas (got ${describe(second)})`);
    }
    return Object.freeze({ kind: 'chord', members: Object.freeze([...first]), callback: second as Canvas });
  }
  return (async () => {
    checkList('chord', second);
    const canvas = { kind: 'chord', members: second as readonly Canvas[], callback } as ChordSignature;
    return (await startCanvas(first, canvas, 'chord')) as ChordResult<unknown, CanvasResult>;
  })();
}

/** Worker side: starts the rest of this job's chain with its result appended, before completing it. */
export async function continueChain(
  broker: Broker,
  record: JobRecord,
  frames: readonly Frame[],
  result: unknown,
): Promise<void> {
  const [next, ...after] = frames;
  if (next === undefined || next.kind === 'join')
    throw internalError(`job ${record.id} has a malformed chain plan`);
  const jobs: NewJob[] = [];
  start(next, result, after, record.id, jobs);
  await broker.enqueue(jobs);
}

/**
 * Worker side: what a job that closes a group (one of the last jobs of a chord's members) completes
 * toward. The broker counts the group's last jobs as they complete and enqueues the callback's first
 * jobs in the step that records the last of them; those jobs gather the results when they run.
 */
export function chordJoin(chord: ChordPlan & { readonly join: string }): Join {
  const jobs: NewJob[] = [];
  start(chord.callback, new Gathered(chord.members), chord.then ?? [], chord.groupId, jobs);
  return { key: chord.join, size: countShape(chord.members), enqueue: jobs };
}

const NOT_READY: unique symbol = Symbol('not ready');

/**
 * Worker side, for a chord plan written before joins (no ChordPlan.join): starts the callback, with the
 * results in its arguments, once every job its members end with succeeded. Called before this job is
 * completed (treating it as done) and again after; the callback's ids (idempotency keys) make a second
 * start a no-op. Two members finishing together, the later one's worker dying between its complete and
 * its second look, leave the callback unstarted: plans written since carry a join, which has no such gap.
 */
export async function continueLegacyChord(
  broker: Broker,
  record: JobRecord,
  chord: ChordPlan,
  result: unknown,
  completed: boolean,
): Promise<void> {
  // Most of the jobs a group waits for hang under its id: one read finds them; the rest (the last steps
  // of member chains) are read one by one, stopping at the first that has not succeeded.
  const siblings = new Map((await broker.children(chord.groupId)).map((job) => [job.id, job]));
  const gather = async (shape: ResultShape): Promise<unknown> => {
    if (typeof shape !== 'string') {
      const values: unknown[] = [];
      for (const part of shape) {
        const value = await gather(part);
        if (value === NOT_READY) return NOT_READY;
        values.push(value);
      }
      return values;
    }
    if (shape === record.id && !completed) return result;
    const job = siblings.get(shape) ?? (await broker.get(shape));
    if (job === undefined || job.state !== 'succeeded') return NOT_READY;
    return job.result === null ? undefined : decodeValue(job.result, 'result');
  };
  const results = await gather(chord.members);
  if (results === NOT_READY) return;
  const jobs: NewJob[] = [];
  start(chord.callback, results, chord.then ?? [], chord.groupId, jobs);
  await broker.enqueue(jobs);
}
