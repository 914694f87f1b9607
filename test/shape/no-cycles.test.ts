// No import cycles between the files of src/: a cycle makes evaluation order depend on which file is
// imported first (a binding read before its module ran is in its temporal dead zone) and ties files
// that should be separable.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { type Edge, findCycles, listSourceFiles, sourceEdges } from './source-graph.ts';

function graphOf(edges: readonly Edge[]): Map<string, string[]> {
  const graph = new Map<string, string[]>(listSourceFiles().map((file) => [file, []]));
  for (const edge of edges) {
    const targets = graph.get(edge.from)!;
    if (!targets.includes(edge.to)) targets.push(edge.to);
  }
  return graph;
}

function describeCycles(cycles: readonly string[][]): string[] {
  return cycles.map((cycle) => cycle.map((file) => `src/${file}`).join(' -> '));
}

test('the files of src/ import each other without cycles at run time', () => {
  // `import type` and `export type … from` are erased before Node runs the file; every other import,
  // dynamic ones included, loads its module.
  const runtime = sourceEdges().filter((edge) => !edge.ref.typeOnly);
  assert.deepEqual(describeCycles(findCycles(graphOf(runtime))), []);
});

test('the files of src/ import each other without cycles counting type-only imports', () => {
  assert.deepEqual(describeCycles(findCycles(graphOf(sourceEdges()))), []);
});
