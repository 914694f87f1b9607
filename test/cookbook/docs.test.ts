// The cookbook's documents hold together: every relative link of the docs index, the cookbook, the
// getting-started guide and the chapter READMEs points at a file that exists, every recipe of the nine
// chapters is listed in docs/cookbook.md, and every chapter folder has its README.

import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { test } from 'node:test';
import { ROOT } from './run-recipe.ts';

const CHAPTERS = [
  'getting-started',
  'threads',
  'processes',
  'mpi',
  'async',
  'distributed',
  'cloud',
  'gpu',
  'debugging',
];
const OURS = CHAPTERS.filter((c) => c !== 'mpi' && c !== 'gpu');
const DOCUMENTS = [
  'README.md',
  'docs/README.md',
  'docs/cookbook.md',
  'docs/getting-started.md',
  ...OURS.map((c) => `examples/${c}/README.md`),
];

test('every relative link of the cookbook documents points at an existing file', async () => {
  for (const document of DOCUMENTS) {
    const text = await readFile(join(ROOT, document), 'utf8');
    for (const [, target] of text.matchAll(/\]\(([^)\s]+)\)/g)) {
      if (/^[a-z]+:/.test(target!) || target!.startsWith('#')) continue;
      const path = join(ROOT, dirname(document), target!.split('#')[0]!);
      assert.ok(existsSync(path), `${document} links ${target}, which does not exist`);
    }
  }
});

test('docs/cookbook.md lists every recipe of the nine chapters', async () => {
  const cookbook = await readFile(join(ROOT, 'docs/cookbook.md'), 'utf8');
  for (const chapter of CHAPTERS) {
    const recipes = (await readdir(join(ROOT, 'examples', chapter))).filter((f) => f.endsWith('.ts'));
    assert.ok(recipes.length > 0, chapter);
    for (const recipe of recipes) {
      // functions.ts is the cloud recipes' task module, not a recipe of its own.
      if (chapter === 'cloud' && recipe === 'functions.ts') continue;
      assert.ok(
        cookbook.includes(`(../examples/${chapter}/${recipe})`),
        `examples/${chapter}/${recipe} is not in docs/cookbook.md`,
      );
    }
  }
});

test('the README links the docs index, and the docs index the cookbook and the API reference', async () => {
  const readme = await readFile(join(ROOT, 'README.md'), 'utf8');
  assert.match(readme, /\]\(docs\/README\.md\)/);
  assert.match(readme, /\]\(docs\/cookbook\.md\)/);
  const index = await readFile(join(ROOT, 'docs/README.md'), 'utf8');
  for (const target of ['getting-started.md', 'cookbook.md', 'api/README.md', 'benchmarks.md']) {
    assert.ok(index.includes(`](${target})`), `docs/README.md links ${target}`);
  }
});
