// A stored job as the API shows it: JSON only. Values the task queue stores but JSON cannot carry are
// shown in a fixed way (bigint as a decimal string, Map as an object or entry list, Set and typed arrays
// as arrays, Date as ISO text, undefined as null), and the task as `module:export` relative to the project.

import { relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { JobInfo } from '../../tasks/index.ts';
import type { ErrorView, JobView } from './schemas.ts';

const MAX_DEPTH = 64;

/** `value` in a form JSON.stringify keeps. Cycles and depth beyond MAX_DEPTH become null. */
export function toJsonValue(value: unknown, seen: Set<object> = new Set(), depth = 0): unknown {
  switch (typeof value) {
    case 'bigint':
      return value.toString();
    case 'number':
      return Number.isFinite(value) ? value : null;
    case 'string':
    case 'boolean':
      return value;
    case 'object':
      break;
    default:
      return null;
  }
  if (value === null || seen.has(value) || depth > MAX_DEPTH) return null;
  seen.add(value);
  try {
    if (value instanceof Date) return Number.isNaN(value.getTime()) ? null : value.toISOString();
    if (ArrayBuffer.isView(value)) return Array.from(value as unknown as ArrayLike<number>, Number);
    if (value instanceof ArrayBuffer) return Array.from(new Uint8Array(value));
    if (value instanceof Error) return errorView(value);
    if (value instanceof RegExp) return value.toString();
    if (Array.isArray(value)) return value.map((item) => toJsonValue(item, seen, depth + 1));
    if (value instanceof Set) return [...value].map((item) => toJsonValue(item, seen, depth + 1));
    if (value instanceof Map) {
      const entries = [...value];
      return entries.every(([key]) => typeof key === 'string')
        ? Object.fromEntries(entries.map(([key, item]) => [key, toJsonValue(item, seen, depth + 1)]))
        : entries.map(([key, item]) => [
            toJsonValue(key, seen, depth + 1),
            toJsonValue(item, seen, depth + 1),
          ]);
    }
    const out: Record<string, unknown> = {};
    for (const key of Object.keys(value)) {
      out[key] = toJsonValue((value as Record<string, unknown>)[key], seen, depth + 1);
    }
    return out;
  } finally {
    seen.delete(value);
  }
}

export function errorView(error: Error): ErrorView {
  const code = (error as { code?: unknown }).code;
  return { name: error.name, message: error.message, code: typeof code === 'string' ? code : null };
}

/** `module:export` for an address inside the project, else the address itself. */
export function taskLabel(address: string, projectDir: string): string {
  const hash = address.lastIndexOf('#');
  if (hash < 0 || !address.startsWith('file:')) return address;
  try {
    const rel = relative(projectDir, fileURLToPath(address.slice(0, hash)));
    if (rel.startsWith('..') || rel === '') return address;
    return `${rel.split(sep).join('/')}:${address.slice(hash + 1)}`;
  } catch {
    return address;
  }
}

export function jobView(info: JobInfo, projectDir: string): JobView {
  return {
    id: info.id,
    task: taskLabel(info.task, projectDir),
    state: info.state,
    args: toJsonValue(info.args ?? null),
    result: toJsonValue(info.result ?? null),
    error: info.error === undefined ? null : errorView(info.error),
    progress: toJsonValue(info.progress ?? null),
    attempt: info.attempt,
    maxAttempts: info.maxAttempts,
    priority: info.priority,
    runAt: info.runAt,
    createdAt: info.createdAt,
    startedAt: info.startedAt,
    finishedAt: info.finishedAt,
    cancelRequested: info.cancelRequested,
  };
}
