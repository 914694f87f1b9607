// Expressions users write for generated kernels ("y = a * x + b"): argument names are rewritten into
// WGSL (array elements, uniform fields) and every generated position maps back to the user's text, so
// a compile error points at the user's own expression.

import { InvalidArgumentError } from '../errors.ts';
import type { SourceMap, SourcePosition } from './compile-error.ts';
import { type DType, isDType } from './dtype.ts';

export type ArgType = DType | `${DType}[]`;

export interface ArgSpec {
  readonly name: string;
  readonly dtype: DType;
  readonly array: boolean;
}

const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]*$/;
const RESERVED = new Set(['i', 'n', 'params', 'main', 'gid', 'lid', 'wg', 'nwg']);

/** Validates a name → type table ("f32[]" for arrays, "f32" for scalars). */
export function parseArgs(args: unknown, what: string): ArgSpec[] {
  if (typeof args !== 'object' || args === null || Array.isArray(args)) {
    throw new InvalidArgumentError(
      'SKEIN_GPU_INVALID_ARGUMENT',
      `${what}: args must be an object of name → type, like { x: 'f32[]', a: 'f32' }`,
    );
  }
  return Object.entries(args).map(([name, type]) => {
    if (!IDENTIFIER.test(name) || RESERVED.has(name) || name.startsWith('skein_')) {
      throw new InvalidArgumentError(
        'SKEIN_GPU_INVALID_ARGUMENT',
        `${what}: argument name ${JSON.stringify(name)} is not allowed (${[...RESERVED].join(', ')} and skein_* are taken)`,
      );
    }
    const array = typeof type === 'string' && type.endsWith('[]');
    const dtype = array ? (type as string).slice(0, -2) : type;
    if (!isDType(dtype)) {
      throw new InvalidArgumentError(
        'SKEIN_GPU_INVALID_ARGUMENT',
        `${what}: argument ${name} has type ${JSON.stringify(type)}; use 'f32', 'i32', 'u32', 'f16' or the same with [] for arrays`,
      );
    }
    return { name, dtype, array };
  });
}

export interface Translated {
  /** The WGSL lines, in order. */
  readonly lines: readonly string[];
  /** Maps (line offset into `lines`, 1-based column) to the user's position. */
  locate(lineOffset: number, column: number): SourcePosition | undefined;
}

const TOKEN = /(\d[\w.]*(?:[eE][+-]?\d+)?[a-z]?)|([A-Za-z_]\w*)/g;

/**
 * Rewrites `expression` with `rename(name)` for every identifier token that names an argument (not a
 * field after a dot), indenting each line by `indent`.
 */
export function translate(
  expression: string,
  rename: (name: string) => string | undefined,
  indent: string,
): Translated {
  const userLines = expression.split('\n');
  const generated: string[] = [];
  // Per line: [generated column, user column] pairs at each token boundary, ascending.
  const marks: [number, number][][] = [];
  for (const userLine of userLines) {
    let out = indent;
    const lineMarks: [number, number][] = [[out.length + 1, 1]];
    let last = 0;
    for (const match of userLine.matchAll(TOKEN)) {
      const at = match.index;
      const name = match[2];
      const replacement = name === undefined || userLine[at - 1] === '.' ? undefined : rename(name);
      if (replacement === undefined) continue;
      out += userLine.slice(last, at);
      lineMarks.push([out.length + 1, at + 1]);
      out += replacement;
      last = at + name!.length;
      lineMarks.push([out.length + 1, last + 1]);
    }
    out += userLine.slice(last);
    generated.push(out);
    marks.push(lineMarks);
  }
  return {
    lines: generated,
    locate(lineOffset, column) {
      const lineMarks = marks[lineOffset];
      const sourceLine = userLines[lineOffset];
      if (lineMarks === undefined || sourceLine === undefined) return undefined;
      let best: [number, number] = lineMarks[0]!;
      for (const mark of lineMarks) if (mark[0] <= column) best = mark;
      const userColumn = Math.min(Math.max(1, best[1] + (column - best[0])), sourceLine.length + 1);
      return { line: lineOffset + 1, column: userColumn, sourceLine };
    },
  };
}

/** A SourceMap for WGSL whose user region starts at generated line `firstLine` (1-based). */
export function regionMap(firstLine: number, translated: Translated): SourceMap {
  return (line, column) => {
    const offset = line - firstLine;
    if (offset < 0 || offset >= translated.lines.length) return undefined;
    return translated.locate(offset, column);
  };
}

/** Names assigned to in the expression (`y = …`, `y += …`): bound writable. */
export function assignedNames(expression: string): Set<string> {
  const names = new Set<string>();
  for (const match of expression.matchAll(/(?:^|[;{\n])\s*([A-Za-z_]\w*)\s*(?:[-+*/%&|^]|<<|>>)?=(?!=)/g)) {
    names.add(match[1]!);
  }
  return names;
}

/** An associative operation given as WGSL over values `a` and `b`, with its identity element. */
export interface CustomOp {
  readonly combine: string;
  readonly identity: string;
}

/**
 * `op` as a custom associative operation ({ combine, identity }) for a generator that also knows the
 * built-in ops `builtIns`; anything else is refused with a message listing both forms.
 * @throws SKEIN_GPU_INVALID_ARGUMENT
 */
export function customOp(name: string, op: unknown, builtIns: readonly string[]): CustomOp {
  const candidate = op as Partial<CustomOp> | null;
  if (
    typeof candidate === 'object' &&
    candidate !== null &&
    typeof candidate.combine === 'string' &&
    typeof candidate.identity === 'string'
  ) {
    return { combine: candidate.combine, identity: candidate.identity };
  }
  throw new InvalidArgumentError(
    'SKEIN_GPU_INVALID_ARGUMENT',
    `${name}: options.op must be ${builtIns.map((b) => `'${b}'`).join(', ')} or { combine, identity } (got ${JSON.stringify(op)})`,
  );
}
