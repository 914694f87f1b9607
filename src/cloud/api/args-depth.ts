// The nesting limit of job and function arguments in requests (POST /api/jobs, schedules): the store's
// encoder recurses per level, so a request nesting deeper is refused before anything is stored.

import { SkeinError } from '../../errors.ts';

/** Deepest nesting of arrays and objects in arguments. */
export const MAX_ARGS_DEPTH = 64;

/** Throws SKEIN_CLOUD_INVALID_REQUEST when `value` nests deeper than MAX_ARGS_DEPTH (checked without recursion). */
export function checkArgsDepth(value: unknown): void {
  const pending: [unknown, number][] = [[value, 1]];
  while (pending.length > 0) {
    const [item, depth] = pending.pop()!;
    if (typeof item !== 'object' || item === null) continue;
    if (depth > MAX_ARGS_DEPTH) {
      throw new SkeinError(
        'SKEIN_CLOUD_INVALID_REQUEST',
        `invalid request: body/args nests arrays and objects deeper than ${MAX_ARGS_DEPTH} levels; flatten the arguments`,
      );
    }
    for (const child of Object.values(item)) pending.push([child, depth + 1]);
  }
}
