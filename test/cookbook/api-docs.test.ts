// The API reference in docs/api cannot silently fall behind the code: every name each public entry
// point exports has its section on that entry point's page, and the generator finds a declaration
// for each (a name it cannot follow would print as "declaration not found").

import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { entryPoints, findDeclaration, parseExports } from '../../tools/api-docs/generate.ts';
import { ROOT } from './run-recipe.ts';

test('every name exported by src/index.ts and each src/<layer>/index.ts has its section in docs/api', async () => {
  const index = await readFile(join(ROOT, 'docs/api/README.md'), 'utf8');
  for (const { layer, file } of await entryPoints()) {
    const page = join(ROOT, 'docs/api', layer === 'skein' ? 'skein.md' : `${layer}.md`);
    const text = await readFile(page, 'utf8').catch(() =>
      assert.fail(`${page} is missing: run npm run docs:api`),
    );
    assert.ok(
      index.includes(`(${layer === 'skein' ? 'skein' : layer}.md)`),
      `docs/api/README.md links ${layer}`,
    );
    const headings = new Set(
      text
        .split('\n')
        .filter((l) => l.startsWith('### '))
        .map((l) => l.slice(4)),
    );
    const names = parseExports(await readFile(file, 'utf8'), file).map((e) => e.name);
    assert.ok(names.length > 0, `${file} exports names`);
    const missing = names.filter((name) => !headings.has(name));
    assert.deepEqual(missing, [], `docs/api is stale for ${layer}: run npm run docs:api`);
  }
});

test('the generator follows every export to its declaration', async () => {
  for (const { file } of await entryPoints()) {
    for (const entry of parseExports(await readFile(file, 'utf8'), file)) {
      const found = await findDeclaration(entry.local, entry.from);
      assert.ok(found !== undefined, `${entry.name} (from ${entry.from})`);
      assert.ok(found.signature.includes(entry.local), `${entry.name}: ${found.signature.slice(0, 80)}`);
    }
  }
});
