// The import graph of src/, read from the source text: which file imports which specifier, and where
// each file sits in the layer order of DESIGN.md. The shape tests check this graph; a small scanner
// blanks comments and template literals first so an import shown in a TSDoc @example is not counted.

import { readdirSync, readFileSync } from 'node:fs';
import { isAbsolute, join, posix, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT_DIR = fileURLToPath(new URL('../../', import.meta.url));
export const SRC_DIR = join(ROOT_DIR, 'src');

/** The layers bottom up (DESIGN.md): a layer may import only layers before it in this list. */
export const LAYERS = ['sync', 'channel', 'pool', 'mpi', 'gpu', 'tasks', 'cloud', 'cli'] as const;

/**
 * Cross-cutting modules that any layer may import and that import no layer: every file directly in
 * src/ (errors.ts, task.ts, version.ts, index.ts) and these directories.
 */
export const CROSS_CUTTING_DIRS = ['trace', 'codec', 'config'] as const;

export type Area =
  | { readonly kind: 'layer'; readonly name: string; readonly rank: number }
  | { readonly kind: 'cross-cutting'; readonly name: string }
  | { readonly kind: 'unknown'; readonly name: string };

/** Where a file (path relative to src/, with '/') belongs. */
export function areaOf(srcPath: string): Area {
  const parts = srcPath.split('/');
  if (parts.length === 1) return { kind: 'cross-cutting', name: srcPath };
  const top = parts[0]!;
  const rank = (LAYERS as readonly string[]).indexOf(top);
  if (rank >= 0) return { kind: 'layer', name: top, rank };
  if ((CROSS_CUTTING_DIRS as readonly string[]).includes(top)) return { kind: 'cross-cutting', name: top };
  return { kind: 'unknown', name: top };
}

/** Every .ts file under src/, relative to src/ with '/' separators, sorted. */
export function listSourceFiles(): string[] {
  return readdirSync(SRC_DIR, { recursive: true, encoding: 'utf8' })
    .filter((path) => path.endsWith('.ts'))
    .map((path) => path.split(sep).join('/'))
    .sort();
}

export function readSource(srcPath: string): string {
  return readFileSync(join(SRC_DIR, srcPath), 'utf8');
}

// Characters after which a `/` starts a regular expression rather than a division.
const REGEX_PRECEDERS = new Set('(,=:[!&|?{};+-*%<>~^'.split(''));
const REGEX_KEYWORDS = new Set([
  'return',
  'typeof',
  'case',
  'do',
  'else',
  'in',
  'of',
  'void',
  'yield',
  'await',
]);

/**
 * Replaces comments and the text of template literals by spaces (newlines kept, so line numbers hold),
 * leaving code and quoted strings as they are.
 */
export function blankCommentsAndTemplates(source: string): string {
  const out = source.split('');
  const blank = (from: number, to: number): void => {
    for (let k = from; k < to; k++) if (out[k] !== '\n') out[k] = ' ';
  };
  // Each entry is the brace depth at which a `${` of an enclosing template literal opened.
  const templateStack: number[] = [];
  let braceDepth = 0;
  let i = 0;
  let lastSignificant = '';
  let lastWord = '';
  const scanTemplate = (): void => {
    // At the first character inside a template literal (after ` or after the } closing a ${…}).
    const start = i;
    while (i < source.length) {
      const c = source[i]!;
      if (c === '\\') i += 2;
      else if (c === '`') {
        blank(start, i);
        i++;
        lastSignificant = '`';
        return;
      } else if (c === '$' && source[i + 1] === '{') {
        blank(start, i);
        templateStack.push(braceDepth);
        braceDepth++;
        i += 2;
        lastSignificant = '{';
        return;
      } else i++;
    }
    blank(start, i);
  };
  while (i < source.length) {
    const c = source[i]!;
    const next = source[i + 1];
    if (c === '/' && next === '/') {
      const end = source.indexOf('\n', i);
      const stop = end === -1 ? source.length : end;
      blank(i, stop);
      i = stop;
    } else if (c === '/' && next === '*') {
      const end = source.indexOf('*/', i + 2);
      const stop = end === -1 ? source.length : end + 2;
      blank(i, stop);
      i = stop;
    } else if (c === "'" || c === '"') {
      i++;
      while (i < source.length && source[i] !== c && source[i] !== '\n') i += source[i] === '\\' ? 2 : 1;
      i++;
      lastSignificant = c;
      lastWord = '';
    } else if (c === '`') {
      i++;
      scanTemplate();
      lastWord = '';
    } else if (
      c === '/' &&
      (lastSignificant === '' || REGEX_PRECEDERS.has(lastSignificant) || REGEX_KEYWORDS.has(lastWord))
    ) {
      // A regular expression literal: skip to its closing slash (not one inside a [class]).
      i++;
      let inClass = false;
      while (i < source.length && source[i] !== '\n') {
        const r = source[i]!;
        if (r === '\\') i += 2;
        else {
          if (r === '[') inClass = true;
          else if (r === ']') inClass = false;
          else if (r === '/' && !inClass) break;
          i++;
        }
      }
      i++;
      lastSignificant = '/';
      lastWord = '';
    } else if (c === '{') {
      braceDepth++;
      i++;
      lastSignificant = c;
      lastWord = '';
    } else if (c === '}') {
      braceDepth--;
      i++;
      if (templateStack.length > 0 && templateStack[templateStack.length - 1] === braceDepth) {
        templateStack.pop();
        scanTemplate();
      } else lastSignificant = c;
      lastWord = '';
    } else if (/\s/.test(c)) {
      i++;
    } else if (/[\w$]/.test(c)) {
      let j = i;
      while (j < source.length && /[\w$]/.test(source[j]!)) j++;
      lastWord = source.slice(i, j);
      lastSignificant = source[j - 1]!;
      i = j;
    } else {
      lastSignificant = c;
      lastWord = '';
      i++;
    }
  }
  return out.join('');
}

export interface ImportRef {
  readonly specifier: string;
  /** `import type …` or `export type … from`: erased by type stripping, never loaded at run time. */
  readonly typeOnly: boolean;
  /** `import('…')` with a literal specifier. */
  readonly dynamic: boolean;
  /** `export … from`. */
  readonly reExport: boolean;
  /** 1-based line of the statement. */
  readonly line: number;
}

// import x from 'a'; import { a, type B } from 'a'; import * as n from 'a'; import 'a';
// export { a } from 'a'; export * from 'a'; export * as n from 'a'; export type { T } from 'a'.
const STATIC_IMPORT =
  /(?<![\w$.])(import|export)\s+(type\s+)?(?:[\w*${}\s,]*?\s*from\s*)?(['"])([^'"\n]+)\3/g;
const DYNAMIC_IMPORT = /(?<![\w$.])import\s*\(\s*(['"])([^'"\n]+)\1\s*[,)]/g;

/** The import and re-export specifiers of a TypeScript/JavaScript source, in source order. */
export function importsOf(source: string): ImportRef[] {
  const code = blankCommentsAndTemplates(source);
  const lineOf = (index: number): number => code.slice(0, index).split('\n').length;
  const refs: { index: number; ref: ImportRef }[] = [];
  for (const match of code.matchAll(STATIC_IMPORT)) {
    const keyword = match[1]!;
    const clause = match[0];
    // `export const x = 'a'` has no `from`; only an export with `from` re-exports.
    if (keyword === 'export' && !/\bfrom\s*['"]/.test(clause)) continue;
    refs.push({
      index: match.index,
      ref: {
        specifier: match[4]!,
        typeOnly: match[2] !== undefined,
        dynamic: false,
        reExport: keyword === 'export',
        line: lineOf(match.index),
      },
    });
  }
  for (const match of code.matchAll(DYNAMIC_IMPORT)) {
    refs.push({
      index: match.index,
      ref: {
        specifier: match[2]!,
        typeOnly: false,
        dynamic: true,
        reExport: false,
        line: lineOf(match.index),
      },
    });
  }
  return refs.sort((a, b) => a.index - b.index).map((entry) => entry.ref);
}

/** The src-relative path a relative specifier of `fromSrcPath` points at, or undefined if it leaves src/. */
export function resolveRelative(fromSrcPath: string, specifier: string): string | undefined {
  const target = posix.normalize(posix.join(posix.dirname(fromSrcPath), specifier));
  return target.startsWith('../') || target === '..' ? undefined : target;
}

export function isRelative(specifier: string): boolean {
  return specifier.startsWith('./') || specifier.startsWith('../');
}

export interface Edge {
  readonly from: string;
  readonly to: string;
  readonly ref: ImportRef;
}

/** Every relative import between files of src/. */
export function sourceEdges(): Edge[] {
  const edges: Edge[] = [];
  for (const from of listSourceFiles()) {
    for (const ref of importsOf(readSource(from))) {
      if (!isRelative(ref.specifier)) continue;
      const to = resolveRelative(from, ref.specifier);
      if (to !== undefined) edges.push({ from, to, ref });
    }
  }
  return edges;
}

/**
 * The cycles of a directed graph found by depth-first search, each as the path that closes it
 * (first node repeated at the end). Every cycle's nodes form part of a strongly connected component,
 * so an empty result means the graph is acyclic.
 */
export function findCycles(graph: ReadonlyMap<string, readonly string[]>): string[][] {
  const WHITE = 0;
  const GREY = 1;
  const BLACK = 2;
  const color = new Map<string, number>();
  const stack: string[] = [];
  const cycles: string[][] = [];
  const visit = (node: string): void => {
    color.set(node, GREY);
    stack.push(node);
    for (const next of graph.get(node) ?? []) {
      const state = color.get(next) ?? WHITE;
      if (state === GREY) cycles.push([...stack.slice(stack.indexOf(next)), next]);
      else if (state === WHITE) visit(next);
    }
    stack.pop();
    color.set(node, BLACK);
  };
  for (const node of [...graph.keys()].sort()) if ((color.get(node) ?? WHITE) === WHITE) visit(node);
  return cycles;
}

/** A path relative to the repository root, for messages. */
export function fromRoot(absolutePath: string): string {
  return relative(ROOT_DIR, absolutePath).split(sep).join('/');
}

export function srcPathOfUrl(url: string): string | undefined {
  if (!url.startsWith('file:')) return undefined;
  const path = relative(SRC_DIR, fileURLToPath(url));
  return path.startsWith('..') || isAbsolute(path) ? undefined : path.split(sep).join('/');
}
