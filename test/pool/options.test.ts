// Pool options: the defaults table against its TSDoc, and validation naming the option path.

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { describe, it } from 'node:test';
import { InvalidArgumentError } from '../../src/index.ts';
import { POOL_DEFAULTS, type PoolOptions, resolvePoolOptions } from '../../src/pool/index.ts';
import { codeOf } from '../conformance/helpers.ts';
import { echo } from '../fixtures/echo.ts';

describe('pool options', () => {
  it('resolves to the frozen defaults, with maxWorkers from availableParallelism()', () => {
    const resolved = resolvePoolOptions();
    assert.ok(Object.isFrozen(resolved));
    assert.ok(Object.isFrozen(POOL_DEFAULTS));
    assert.equal(resolved.maxWorkers, availableParallelism());
    for (const [key, value] of Object.entries(POOL_DEFAULTS)) {
      assert.equal(resolved[key as keyof typeof resolved], value, key);
    }
  });

  it('keeps every @defaultValue in the option docs equal to POOL_DEFAULTS', () => {
    const source = readFileSync(new URL('../../src/pool/options.ts', import.meta.url), 'utf8');
    const documented = new Map<string, string>();
    for (const match of source.matchAll(/@defaultValue ([^*\n]+?)\s*\*\/\s*readonly (\w+)\?/g)) {
      documented.set(match[2] as string, (match[1] as string).trim());
    }
    let compared = 0;
    for (const [key, value] of Object.entries(POOL_DEFAULTS)) {
      const doc = documented.get(key);
      if (doc === undefined) continue;
      const shown =
        typeof value === 'string'
          ? `'${value}'`
          : value === Number.POSITIVE_INFINITY
            ? 'Infinity'
            : String(value);
      assert.equal(doc, shown, `@defaultValue of ${key}`);
      compared++;
    }
    assert.ok(compared >= 8, `compared ${compared} documented defaults`);
  });

  it('names the offending option path and a way out in SKEIN_POOL_INVALID_OPTION', () => {
    const cases: [unknown, string][] = [
      [{ maxWorkers: 0 }, 'maxWorkers'],
      [{ minWorkers: -1 }, 'minWorkers'],
      [{ resourceLimits: { heapMb: 10 } }, 'resourceLimits.heapMb'],
      [{ env: { PATH: 3 } }, 'env.PATH'],
      [{ initializer: { task: echo, args: 'x' } }, 'initializer.args'],
      [{ maxHeapUsedBytes: 0 }, 'maxHeapUsedBytes'],
      [null, 'options'],
    ];
    for (const [options, path] of cases) {
      assert.throws(
        () => resolvePoolOptions(options as PoolOptions),
        (error: unknown) => {
          assert.ok(error instanceof InvalidArgumentError);
          assert.equal(codeOf(error), 'SKEIN_POOL_INVALID_OPTION');
          assert.ok((error as Error).message.startsWith(path), (error as Error).message);
          assert.match((error as Error).message, /got .*; /);
          return true;
        },
      );
    }
  });

  it('accepts Infinity where a limit can be lifted', () => {
    const resolved = resolvePoolOptions({
      maxQueue: Number.POSITIVE_INFINITY,
      taskTimeout: Number.POSITIVE_INFINITY,
    });
    assert.equal(resolved.maxQueue, Number.POSITIVE_INFINITY);
    assert.equal(resolved.taskTimeout, Number.POSITIVE_INFINITY);
  });
});
