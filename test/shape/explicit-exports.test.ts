// Public indexes name every export (no `export *`): what a subpath offers is visible in one file, and
// an internal helper cannot leak into the public API by being added to a module the index re-exports.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { blankCommentsAndTemplates, listSourceFiles, readSource } from './source-graph.ts';

test('no index.ts under src/ uses export *', () => {
  const indexes = listSourceFiles().filter((file) => file === 'index.ts' || file.endsWith('/index.ts'));
  assert.ok(
    indexes.includes('index.ts') && indexes.includes('pool/index.ts'),
    `indexes found: ${indexes.join(', ')}`,
  );
  const offenders = indexes.filter((file) =>
    /(?<![\w$])export\s*\*/.test(blankCommentsAndTemplates(readSource(file))),
  );
  assert.deepEqual(offenders, [], 'name each export explicitly: export { a, b } from …');
});
