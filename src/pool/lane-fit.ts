// Which pool messages may travel on a lane (lane.ts): those whose values the codec gives back exactly
// as structured clone would. Imported by the worker runtime too, so it imports nothing heavy.

import {
  FLAG_SHARED_ARGS,
  KIND_ACTOR_CALL,
  KIND_ACTOR_FREE,
  KIND_ACTOR_NEW,
  KIND_CALL,
  KIND_CHUNK,
  KIND_STAR_CHUNK,
  type MainToWorker,
  TASK_STRIDE,
} from './protocol.ts';

/** A user array longer than this goes by postMessage: checking it for extra properties is not free. */
const MAX_LANE_ARRAY = 16;

/** Whether a message from the pool may take the lane. */
export function messageFitsLane(message: MainToWorker): boolean {
  switch (message.t) {
    case 'run':
      return tasksFitLane(message.tasks);
    case 'cancel':
    case 'steal':
    case 'stop':
      return true;
    case 'init':
      return false;
  }
}

function tasksFitLane(tasks: readonly unknown[]): boolean {
  for (let at = 0; at < tasks.length; at += TASK_STRIDE) {
    const kind = tasks[at + 1] as number;
    const args = tasks[at + 3];
    if (((tasks[at + 5] as number) & FLAG_SHARED_ARGS) !== 0) return false;
    switch (kind) {
      case KIND_CALL:
      case KIND_ACTOR_NEW:
      case KIND_ACTOR_CALL:
        if (!argumentsFitLane(args)) return false;
        break;
      case KIND_CHUNK:
        if (!itemsFitLane(args as readonly unknown[])) return false;
        break;
      case KIND_STAR_CHUNK:
        for (const item of args as readonly unknown[]) if (!argumentsFitLane(item)) return false;
        break;
      case KIND_ACTOR_FREE:
        break;
      default:
        return false;
    }
  }
  return true;
}

/**
 * An argument list is spread into the call, so only its elements must come out exact; an object
 * passed twice must arrive as one object, which a lane (copying trees) cannot give.
 */
export function argumentsFitLane(args: unknown): boolean {
  if (!Array.isArray(args)) return false;
  let objects = 0;
  for (let i = 0; i < args.length; i++) {
    const value: unknown = args[i];
    if (typeof value === 'object' && value !== null) {
      if (objects++ > 0 && args.indexOf(value) !== i) return false;
      if (!valueFitsLane(value)) return false;
    } else if (!primitiveFitsLane(value)) return false;
  }
  return true;
}

/** The items of one map chunk, or the results of one: each is a value passed or returned on its own. */
export function itemsFitLane(items: readonly unknown[]): boolean {
  for (let i = 0; i < items.length; i++) if (!valueFitsLane(items[i])) return false;
  return true;
}

/**
 * A value the codec gives back exactly as structured clone would: a primitive (strings well formed),
 * or a plain object or short plain array whose values are primitives. Deeper values could share or
 * cycle through objects, which structured clone keeps and a tree copy does not.
 */
export function valueFitsLane(value: unknown): boolean {
  if (typeof value !== 'object') return primitiveFitsLane(value);
  if (value === null) return true;
  if (Array.isArray(value)) {
    const length = value.length;
    if (length > MAX_LANE_ARRAY || Object.getPrototypeOf(value) !== Array.prototype) return false;
    for (let i = 0; i < length; i++) if (!primitiveFitsLane(value[i])) return false;
    // Holes and extra properties (a RegExp match's index) are kept by structured clone, not by a lane.
    return Object.keys(value).length === length;
  }
  if (Object.getPrototypeOf(value) !== Object.prototype) return false;
  const record = value as Record<string, unknown>;
  // for…in also lists enumerable properties inherited from a polluted Object.prototype, which
  // structured clone would not copy: such an object goes by postMessage.
  for (const key in record) if (!Object.hasOwn(record, key) || !primitiveFitsLane(record[key])) return false;
  return true;
}

function primitiveFitsLane(value: unknown): boolean {
  switch (typeof value) {
    case 'number':
    case 'boolean':
    case 'undefined':
    case 'bigint':
    // Strings travel as Latin-1 or raw UTF-16 units (lane-codec.ts): any string, lone surrogates too.
    case 'string':
      return true;
    default:
      return value === null;
  }
}
