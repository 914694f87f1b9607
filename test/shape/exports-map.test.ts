// package.json "exports" is exactly the public indexes: "." → src/index.ts and "./<dir>" →
// src/<dir>/index.ts for every directory of src/ that has one, so a new layer cannot ship unexported
// and no subpath can point at an internal file.

import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { listSourceFiles, ROOT_DIR } from './source-graph.ts';

const packageJson = JSON.parse(readFileSync(join(ROOT_DIR, 'package.json'), 'utf8')) as {
  exports: Record<string, unknown>;
};

/** Exports that are not a src/ index: the manifest itself, which tools read. */
const NON_SOURCE_EXPORTS = new Set(['./package.json']);

function sortedEntries(record: Record<string, unknown>): [string, unknown][] {
  return Object.entries(record).sort(([a], [b]) => a.localeCompare(b));
}

test('package.json exports "." and "./<dir>" for src/index.ts and every src/<dir>/index.ts, and nothing else', () => {
  const expected: Record<string, string> = { '.': './src/index.ts' };
  for (const file of listSourceFiles()) {
    const match = /^([^/]+)\/index\.ts$/.exec(file);
    if (match !== null) expected[`./${match[1]}`] = `./src/${file}`;
  }
  const actual = Object.fromEntries(
    Object.entries(packageJson.exports).filter(([key]) => !NON_SOURCE_EXPORTS.has(key)),
  );
  assert.deepEqual(sortedEntries(actual), sortedEntries(expected));
});

test('every path in package.json exports exists', () => {
  const missing = Object.values(packageJson.exports).filter(
    (target) => typeof target !== 'string' || !existsSync(join(ROOT_DIR, target)),
  );
  assert.deepEqual(missing, []);
});
