// The Redis key layout of one store. Per-queue keys share the hash tag `{prefix:queue}` (one cluster
// slot per queue); store-wide keys start with `prefix:`. The Lua scripts derive per-queue keys from the
// queue base `{prefix:queue}:` exactly as queueKey() does here: keep the two in step.

import type { JobState } from '../broker.ts';

/** The base every per-queue key starts with; scripts get it as a KEYS entry and append the rest. */
export function queueBase(prefix: string, queue: string): string {
  return `{${prefix}:${queue}}:`;
}

/** The base of the store-wide keys: `<prefix>:job-queue`, `<prefix>:events`, `<prefix>:children:<id>` … */
export function storeBase(prefix: string): string {
  return `${prefix}:`;
}

export function jobKey(prefix: string, queue: string, id: string): string {
  return `${queueBase(prefix, queue)}job:${id}`;
}

/**
 * Sorted set of a queue's job ids in one state, scored by createdAt (for list() and the counts). Every
 * state but running has one: a running job is only in the queue's running set (runningKey), as
 * lua/include/job-state.lua's STATE_SETS says.
 */
export function stateKey(prefix: string, queue: string, state: Exclude<JobState, 'running'>): string {
  return `${queueBase(prefix, queue)}state:${state}`;
}

/** Sorted set of a queue's running jobs, scored by leaseUntil (recoverExpiredLeases, list, counts). */
export function runningKey(prefix: string, queue: string): string {
  return `${queueBase(prefix, queue)}running`;
}

/**
 * Sorted set of the latencies of recently finished jobs for stats(): one member per script that finished
 * jobs of the queue, score finishedAt, member `<latency>,<latency>…|<id of its first job>`.
 */
export function finishedKey(prefix: string, queue: string): string {
  return `${queueBase(prefix, queue)}finished`;
}

/** Hash: job id → queue name; the queue of a job never changes, so reading it first is race-free. */
export function jobQueueKey(prefix: string): string {
  return `${prefix}:job-queue`;
}

/** Set of every queue name ever enqueued to (recoverExpiredLeases and purgeExpired walk it). */
export function queuesKey(prefix: string): string {
  return `${prefix}:queues`;
}

/** Sorted set of a canvas parent's children, scored by a store-wide enqueue sequence. */
export function childrenKey(prefix: string, parentId: string): string {
  return `${prefix}:children:${parentId}`;
}

/** The event stream (XADD MAXLEN ~ eventsMaxLen). */
export function eventsKey(prefix: string): string {
  return `${prefix}:events`;
}

/** Pub/sub channel on which every script that finishes a job publishes the job's id. */
export function finishedChannel(prefix: string): string {
  return `${prefix}:finished`;
}

/** Set while a waitUntilFinished waits on the job: its finish is then published whole. */
export function awaitedKey(prefix: string, id: string): string {
  return `${prefix}:awaited:${id}`;
}

/** Pub/sub channel of a queue's news (broker.ts NEWS_TYPES), for its workers. */
export function newsChannel(prefix: string, queue: string): string {
  return `${prefix}:news:${queue}`;
}

/** Pub/sub channel on which enqueues push the jobs they hand to an idle worker (include/handoff.lua). */
export function handoffChannel(prefix: string, workerId: string): string {
  return `${prefix}:handoff:${workerId}`;
}

/** Key set with SET NX PX by the one scheduler that wins a (schedule, tick). */
export function tickKey(prefix: string, scheduleId: string, tickAt: number): string {
  return `${prefix}:tick:${scheduleId}:${tickAt}`;
}

/** Patterns matching every key of a store: for SCAN-based cleanup in tests and tools. */
export function storePatterns(prefix: string): string[] {
  return [`${prefix}:*`, `{${prefix}:*`];
}
