// Layers import only downward (DESIGN.md: sync < channel < pool < mpi < gpu < tasks < cloud < cli), and
// the cross-cutting modules (src/*.ts, src/trace/, …) import no layer, so each layer stays usable alone.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  areaOf,
  importsOf,
  isRelative,
  LAYERS,
  listSourceFiles,
  readSource,
  resolveRelative,
} from './source-graph.ts';

interface Violation {
  readonly file: string;
  readonly line: number;
  readonly specifier: string;
  readonly why: string;
}

function violationsOf(file: string): Violation[] {
  const from = areaOf(file);
  const found: Violation[] = [];
  for (const ref of importsOf(readSource(file))) {
    const report = (why: string): void => {
      found.push({ file, line: ref.line, specifier: ref.specifier, why });
    };
    if (ref.specifier === 'skein' || ref.specifier.startsWith('skein/')) {
      report('src/ imports itself by relative path, never through the package name');
      continue;
    }
    if (!isRelative(ref.specifier)) continue;
    const target = resolveRelative(file, ref.specifier);
    if (target === undefined) {
      report('the import leaves src/');
      continue;
    }
    const to = areaOf(target);
    if (to.kind === 'unknown') report(`src/${to.name}/ is neither a layer nor a cross-cutting module`);
    else if (from.kind === 'cross-cutting' && to.kind === 'layer') {
      report(`cross-cutting code must not depend on the ${to.name} layer`);
    } else if (from.kind === 'layer' && to.kind === 'layer' && to.rank > from.rank) {
      report(
        `the ${from.name} layer may import only lower layers (${LAYERS.slice(0, from.rank).join(', ') || 'none'}), not ${to.name}`,
      );
    }
  }
  return found;
}

test('every directory under src/ is a layer of DESIGN.md or a cross-cutting module', () => {
  const unknown = [
    ...new Set(
      listSourceFiles()
        .map(areaOf)
        .filter((area) => area.kind === 'unknown')
        .map((area) => area.name),
    ),
  ];
  assert.deepEqual(
    unknown,
    [],
    `add these to LAYERS or CROSS_CUTTING_DIRS in test/shape/source-graph.ts and to docs/ARCHITECTURE.md`,
  );
});

test('a file in src/<layer>/ imports only its own layer, lower layers and cross-cutting modules', () => {
  const violations = listSourceFiles()
    .filter((file) => areaOf(file).kind === 'layer')
    .flatMap(violationsOf);
  assert.deepEqual(
    violations.map((v) => `src/${v.file}:${v.line} imports ${v.specifier}: ${v.why}`),
    [],
  );
});

test('cross-cutting modules (src/*.ts, src/trace/, …) import no layer', () => {
  const violations = listSourceFiles()
    .filter((file) => areaOf(file).kind === 'cross-cutting')
    .flatMap(violationsOf);
  assert.deepEqual(
    violations.map((v) => `src/${v.file}:${v.line} imports ${v.specifier}: ${v.why}`),
    [],
  );
});
