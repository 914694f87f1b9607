// What the layer above the broker stores with a job in NewJob.canvas: the job's retry backoff, the
// results it gathers as its last argument (a chord callback) and the canvas work to do when it succeeds
// (the rest of its chain, the group it closes). It is written at enqueue and read by the worker at each
// attempt, so it survives restarts of every process. Every id in it was chosen when the canvas was
// started; a plan never names a job that could get another id.

import { internalError, SkeinError } from '../errors.ts';
import type { Broker, JobRecord } from './broker.ts';
import type { ResolvedBackoff } from './options.ts';
import { decodeValue, encodeValue } from './payload.ts';

/** A job to enqueue later, fully resolved except for its arguments' tail and its start time. */
export interface StepSpec {
  /** Absent: a step is the leaf of the canvas tree (plans written before nesting have no kind either). */
  readonly kind?: undefined;
  readonly id: string;
  readonly queue: string;
  readonly task: string;
  readonly args: readonly unknown[];
  /** Milliseconds after the enqueue the step may run. */
  readonly delay: number;
  readonly priority: number;
  readonly maxAttempts: number;
  readonly timeLimitMs: number | null;
  readonly group: string | null;
  readonly resultTtlMs: number;
  readonly deadLetter: boolean;
  readonly backoff: ResolvedBackoff;
}

/** Steps run one after another, each given the previous one's result. */
export interface ChainNode {
  readonly kind: 'chain';
  readonly steps: readonly CanvasNode[];
}

/** Members run side by side, each given the same input; the result is the list of theirs. */
export interface GroupNode {
  readonly kind: 'group';
  /** Parent of every member's first job and of the step after the group. */
  readonly id: string;
  readonly members: readonly CanvasNode[];
}

export type CanvasNode = StepSpec | ChainNode | GroupNode;

/**
 * Where a node's result comes from: a job id (a step, or the last step of a chain), or a list of
 * shapes (a group: its members' results in member order).
 */
export type ResultShape = string | readonly ResultShape[];

/** Waits for a group: once every job its shape names succeeded, the list goes to the next frame. */
export interface JoinFrame {
  readonly kind: 'join';
  readonly groupId: string;
  readonly members: readonly ResultShape[];
}

/** One entry of a continuation: a node to start with the incoming value, or a group to close. */
export type Frame = CanvasNode | JoinFrame;

export interface ChordPlan {
  /** The group's id: parent of every member's first job and of the callback. */
  readonly groupId: string;
  /** Where each member's result comes from, in the order the results reach the callback. */
  readonly members: readonly ResultShape[];
  /**
   * The broker's Join key the group's last jobs complete toward (the id of the callback's first job,
   * unique to this group's join). Absent in plans written before joins: such a job starts the callback
   * itself once it sees every other member succeeded (continueLegacyChord).
   */
  readonly join?: string;
  /**
   * Started with the list of results appended to its (first jobs') arguments: with a join, gathered by
   * those jobs when they run (JobPlan.gather); before joins, read and stored in their arguments.
   */
  readonly callback: CanvasNode;
  /** What follows the callback: the continuation of its last jobs. */
  readonly then?: readonly Frame[];
}

export interface JobPlan {
  readonly backoff?: ResolvedBackoff;
  /**
   * The results this job gets as its last argument, read from the jobs the shapes name when it runs
   * (a chord callback's first jobs): the list of them, nested as the shapes are.
   */
  readonly gather?: readonly ResultShape[];
  /**
   * The continuation of this job: the first frame (always a node) is started with this job's result
   * appended, the rest becomes the continuation of that node's last jobs.
   */
  readonly chain?: readonly Frame[];
  /** The group this job closes (it is the last job of one of its members). */
  readonly chord?: ChordPlan;
}

export function encodePlan(plan: JobPlan): Uint8Array | null {
  if (
    plan.backoff === undefined &&
    plan.gather === undefined &&
    plan.chain === undefined &&
    plan.chord === undefined
  )
    return null;
  return encodeValue(plan, 'plan');
}

/** @throws SKEIN_TASKS_CORRUPT_PAYLOAD */
export function decodePlan(bytes: Uint8Array | null): JobPlan {
  if (bytes === null) return {};
  const plan = decodeValue(bytes, 'canvas plan');
  return typeof plan === 'object' && plan !== null ? (plan as JobPlan) : {};
}

/** How many jobs a shape names (the size of a group's join). */
export function countShape(shape: ResultShape): number {
  if (typeof shape === 'string') return 1;
  let count = 0;
  for (const part of shape) count += countShape(part);
  return count;
}

/**
 * The results of the jobs `shapes` names, nested as the shapes are (a chord callback's input). Most of
 * them hang under `parentId` (the group's id): one children() read finds those; the rest (last steps of
 * member chains) are read one by one.
 * @throws SKEIN_TASKS_JOB_NOT_FOUND when one is no longer stored (purged after its resultTtl);
 * SKEIN_INTERNAL when one has not succeeded (a join fires only once every one of them did).
 */
export async function gatherResults(
  broker: Broker,
  shapes: readonly ResultShape[],
  parentId: string | null,
): Promise<unknown[]> {
  const siblings = new Map<string, JobRecord>();
  if (parentId !== null) for (const job of await broker.children(parentId)) siblings.set(job.id, job);
  const read = async (shape: ResultShape): Promise<unknown> => {
    if (typeof shape !== 'string') {
      const values: unknown[] = [];
      for (const part of shape) values.push(await read(part));
      return values;
    }
    const job = siblings.get(shape) ?? (await broker.get(shape));
    if (job === undefined) {
      throw new SkeinError(
        'SKEIN_TASKS_JOB_NOT_FOUND',
        `job ${shape}, whose result a chord callback gathers, is not stored: it was purged after its resultTtl; give the chord's members a resultTtl longer than the chord takes`,
      );
    }
    if (job.state !== 'succeeded') {
      throw internalError(
        `job ${shape}, whose result a chord callback gathers, is ${job.state}, not succeeded`,
      );
    }
    return job.result === null ? undefined : decodeValue(job.result, 'result');
  };
  const values: unknown[] = [];
  for (const shape of shapes) values.push(await read(shape));
  return values;
}
