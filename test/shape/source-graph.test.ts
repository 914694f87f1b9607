// The scanner the shape tests rely on: if it missed an import or counted one from a comment, the layer,
// cycle and export checks would pass or fail for the wrong reason.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { areaOf, blankCommentsAndTemplates, findCycles, importsOf, resolveRelative } from './source-graph.ts';

const SAMPLE = `// import commented from './line-comment.ts';
/**
 * @example
 * import { ThreadPool } from 'skein/pool';
 */
import { a, type B } from './runtime.ts';
import type { C } from '../types.ts';
import * as ns from "node:os";
import './side-effect.ts';
import def, {
  multi,
  line,
} from './multi-line.ts';
export { x as y } from './re-export.ts';
export * as star from './star.ts';
export type { T } from './type-re-export.ts';
export const notAnImport = 'from ./nowhere.ts';
const glob = 'test/**/*.test.ts';
const template = \`import z from './in-template.ts' \${'./in-substitution.ts'.length} tail\`;
const ratio = 10 / 2 / 1; const re = /['"]/g;
export async function load() { return import('./dynamic.ts'); }
const notLiteral = await import(someUrl);
`;

test('importsOf finds static, side-effect, multi-line, re-export and dynamic imports in source order', () => {
  assert.deepEqual(
    importsOf(SAMPLE).map((ref) => ref.specifier),
    [
      './runtime.ts',
      '../types.ts',
      'node:os',
      './side-effect.ts',
      './multi-line.ts',
      './re-export.ts',
      './star.ts',
      './type-re-export.ts',
      './dynamic.ts',
    ],
  );
});

test('importsOf marks type-only, re-exporting and dynamic imports and gives their lines', () => {
  const refs = new Map(importsOf(SAMPLE).map((ref) => [ref.specifier, ref]));
  assert.equal(refs.get('./runtime.ts')?.typeOnly, false);
  assert.equal(refs.get('../types.ts')?.typeOnly, true);
  assert.equal(refs.get('./type-re-export.ts')?.typeOnly, true);
  assert.equal(refs.get('./type-re-export.ts')?.reExport, true);
  assert.equal(refs.get('./re-export.ts')?.reExport, true);
  assert.equal(refs.get('./multi-line.ts')?.reExport, false);
  assert.equal(refs.get('./dynamic.ts')?.dynamic, true);
  assert.equal(refs.get('./runtime.ts')?.line, 6);
  assert.equal(refs.get('./multi-line.ts')?.line, 10);
});

test('blankCommentsAndTemplates keeps line numbers and quoted strings', () => {
  const code = blankCommentsAndTemplates(SAMPLE);
  assert.equal(code.split('\n').length, SAMPLE.split('\n').length);
  assert.ok(code.includes("'test/**/*.test.ts'"));
  assert.ok(!code.includes('commented'));
  assert.ok(!code.includes('in-template'));
});

test('resolveRelative stays inside src/ and areaOf places files in layers or cross-cutting modules', () => {
  assert.equal(resolveRelative('pool/entry/thread-worker.ts', '../../task.ts'), 'task.ts');
  assert.equal(resolveRelative('pool/index.ts', './options.ts'), 'pool/options.ts');
  assert.equal(resolveRelative('errors.ts', '../package.json'), undefined);
  assert.deepEqual(areaOf('pool/entry/thread-worker.ts'), { kind: 'layer', name: 'pool', rank: 2 });
  assert.deepEqual(areaOf('errors.ts'), { kind: 'cross-cutting', name: 'errors.ts' });
  assert.deepEqual(areaOf('trace/span.ts'), { kind: 'cross-cutting', name: 'trace' });
  assert.deepEqual(areaOf('widgets/a.ts'), { kind: 'unknown', name: 'widgets' });
});

test('findCycles reports each cycle as a closed path and nothing for a DAG', () => {
  const dag = new Map([
    ['a', ['b', 'c']],
    ['b', ['c']],
    ['c', []],
  ]);
  assert.deepEqual(findCycles(dag), []);
  const cyclic = new Map([
    ['a', ['b']],
    ['b', ['c']],
    ['c', ['a']],
    ['d', ['d']],
  ]);
  assert.deepEqual(findCycles(cyclic), [
    ['a', 'b', 'c', 'a'],
    ['d', 'd'],
  ]);
});
