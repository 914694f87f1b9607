// Importing one subpath loads only what it needs: a fresh Node process imports `skein/<x>` with a
// module.registerHooks() load hook recording every module, and the test compares that record with the
// static import graph and the layer order. No other layer, and no third-party package a user would
// not have installed, may come along.

import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { promisify } from 'node:util';
import { areaOf, ROOT_DIR, sourceEdges, srcPathOfUrl } from './source-graph.ts';

const run = promisify(execFile);

const packageJson = JSON.parse(readFileSync(join(ROOT_DIR, 'package.json'), 'utf8')) as {
  exports: Record<string, string>;
  dependencies?: Record<string, string>;
};

const SPAWN_TIMEOUT_MS = 60_000;

// Runs in the child: records each module as it is loaded, imports the subpath given as argv[1]
// (resolved from the repository root, so `skein/…` is the package's self-reference) and prints the URLs.
const RECORD_LOADS = `
import { registerHooks } from 'node:module';
const loaded = [];
registerHooks({ load(url, context, nextLoad) { loaded.push(url); return nextLoad(url, context); } });
await import(process.argv[1]);
process.stdout.write(JSON.stringify(loaded));
`;

async function modulesLoadedBy(specifier: string): Promise<string[]> {
  const { stdout } = await run(process.execPath, ['--input-type=module', '-e', RECORD_LOADS, specifier], {
    cwd: ROOT_DIR,
    timeout: SPAWN_TIMEOUT_MS,
  });
  return JSON.parse(stdout) as string[];
}

/** The src files a module loads when imported: its static, non-type-only imports, transitively. */
function staticClosure(entry: string): Set<string> {
  const edges = sourceEdges().filter((edge) => !edge.ref.typeOnly && !edge.ref.dynamic);
  const seen = new Set([entry]);
  const pending = [entry];
  while (pending.length > 0) {
    const file = pending.pop()!;
    for (const edge of edges) {
      if (edge.from === file && !seen.has(edge.to)) {
        seen.add(edge.to);
        pending.push(edge.to);
      }
    }
  }
  return seen;
}

function packageOfUrl(url: string): string | undefined {
  const match = /\/node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(url);
  return match?.[1];
}

const subpaths = Object.entries(packageJson.exports).filter(([key]) => key !== './package.json');

for (const [key, target] of subpaths) {
  const specifier = key === '.' ? 'skein' : `skein/${key.slice(2)}`;
  const entry = target.replace(/^\.\/src\//, '');
  const own = areaOf(entry);

  test(`importing ${specifier} loads exactly the static imports of src/${entry}, no other layer and no dev dependency`, async () => {
    const loaded = await modulesLoadedBy(specifier);
    const srcFiles = loaded.flatMap((url) => srcPathOfUrl(url) ?? []);
    assert.deepEqual(srcFiles.toSorted(), [...staticClosure(entry)].sort());

    const foreignLayers = srcFiles.filter((file) => {
      const area = areaOf(file);
      if (area.kind !== 'layer') return false;
      return own.kind !== 'layer' || (area.name !== own.name && area.rank > own.rank);
    });
    assert.deepEqual(foreignLayers, [], `${specifier} must not load files of these layers`);

    const dependencies = new Set(Object.keys(packageJson.dependencies ?? {}));
    const packages = [...new Set(loaded.flatMap((url) => packageOfUrl(url) ?? []))];
    assert.deepEqual(
      packages.filter((name) => !dependencies.has(name)),
      [],
      `${specifier} loads packages that are not runtime dependencies of skein`,
    );
  });
}

test('importing skein/pool loads the pool layer, the two sync files that carry shared objects, the channel byte ring, cross-cutting modules and Node built-ins', async () => {
  const loaded = await modulesLoadedBy('skein/pool');
  // The pool turns sync and channel objects among task arguments into handles (sync/shared.ts) and keeps
  // the table of exited threads that robust locks read (sync/threads.ts); the primitives themselves load
  // only when a program uses them.
  // Its lanes to threads are channel's byte ring (channel/ring.ts, which imports nothing).
  const SYNC_FILES_FOR_POOL = ['sync/shared.ts', 'sync/threads.ts', 'channel/ring.ts'];
  const outside = loaded.filter((url) => {
    if (url.startsWith('node:')) return false;
    const file = srcPathOfUrl(url);
    if (file === undefined) return true;
    if (SYNC_FILES_FOR_POOL.includes(file)) return false;
    const area = areaOf(file);
    return !(area.kind === 'cross-cutting' || (area.kind === 'layer' && area.name === 'pool'));
  });
  assert.deepEqual(outside, []);
  assert.ok(
    loaded.some((url) => srcPathOfUrl(url) === 'pool/index.ts'),
    'the hook saw src/pool/index.ts load',
  );
});

test('importing skein loads no layer at all', async () => {
  const loaded = await modulesLoadedBy('skein');
  const layerFiles = loaded
    .flatMap((url) => srcPathOfUrl(url) ?? [])
    .filter((file) => areaOf(file).kind !== 'cross-cutting');
  assert.deepEqual(layerFiles, []);
});
