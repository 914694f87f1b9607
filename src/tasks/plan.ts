// What the layer above the broker stores with a job in NewJob.canvas: the job's retry backoff and the
// canvas work to do when it succeeds (the next chain step, the chord it belongs to). It is written at
// enqueue and read by the worker after each attempt, so it survives restarts of every process.

import type { ResolvedBackoff } from './options.ts';
import { decodeValue, encodeValue } from './payload.ts';

/** A job to enqueue later, fully resolved except for its arguments' tail and its start time. */
export interface StepSpec {
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

export interface ChordPlan {
  /** The group's id: parent of every member and of the callback. */
  readonly groupId: string;
  /** The members' ids, in the order their results reach the callback. */
  readonly members: readonly string[];
  readonly callback: StepSpec;
}

export interface JobPlan {
  readonly backoff?: ResolvedBackoff;
  /** The chain steps after this job: the first is enqueued with this job's result appended. */
  readonly chain?: readonly StepSpec[];
  readonly chord?: ChordPlan;
}

export function encodePlan(plan: JobPlan): Uint8Array | null {
  if (plan.backoff === undefined && plan.chain === undefined && plan.chord === undefined) return null;
  return encodeValue(plan, 'plan');
}

/** @throws SKEIN_TASKS_CORRUPT_PAYLOAD */
export function decodePlan(bytes: Uint8Array | null): JobPlan {
  if (bytes === null) return {};
  const plan = decodeValue(bytes, 'canvas plan');
  return typeof plan === 'object' && plan !== null ? (plan as JobPlan) : {};
}
