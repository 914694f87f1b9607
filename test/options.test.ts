// Pool options (src/pool/options.ts): every invalid option is refused with SKEIN_POOL_INVALID_OPTION and a
// message naming its path, the defaults are one frozen table, and the TSDoc @defaultValue of each
// option says what resolvePoolOptions() really gives.

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { test } from 'node:test';
import { InvalidArgumentError } from '../src/errors.ts';
import { POOL_DEFAULTS, type PoolOptions, resolvePoolOptions } from '../src/pool/options.ts';
import { double } from './support/exported-tasks.ts';

interface BadCase {
  readonly options: unknown;
  /** The option path the message must start with. */
  readonly path: string;
}

const BAD_OPTIONS: readonly BadCase[] = [
  { options: null, path: 'options' },
  { options: 'four workers', path: 'options' },
  { options: { maxWorkers: 0 }, path: 'maxWorkers' },
  { options: { maxWorkers: 1.5 }, path: 'maxWorkers' },
  { options: { maxWorkers: '2' }, path: 'maxWorkers' },
  { options: { maxWorkers: Number.POSITIVE_INFINITY }, path: 'maxWorkers' },
  { options: { minWorkers: -1 }, path: 'minWorkers' },
  { options: { minWorkers: 3, maxWorkers: 2 }, path: 'minWorkers' },
  { options: { idleTimeout: -1 }, path: 'idleTimeout' },
  { options: { idleTimeout: Number.NaN }, path: 'idleTimeout' },
  { options: { idleTimeout: '10s' }, path: 'idleTimeout' },
  { options: { maxQueue: -1 }, path: 'maxQueue' },
  { options: { maxQueue: 2.5 }, path: 'maxQueue' },
  { options: { resourceLimits: 'small' }, path: 'resourceLimits' },
  { options: { resourceLimits: { heapMb: 64 } }, path: 'resourceLimits.heapMb' },
  {
    options: { resourceLimits: { maxOldGenerationSizeMb: 0 } },
    path: 'resourceLimits.maxOldGenerationSizeMb',
  },
  { options: { resourceLimits: { stackSizeMb: '4' } }, path: 'resourceLimits.stackSizeMb' },
  { options: { env: 'PATH=/bin' }, path: 'env' },
  { options: { env: { PORT: 8080 } }, path: 'env.PORT' },
  { options: { execArgv: '--inspect' }, path: 'execArgv' },
  { options: { execArgv: ['--inspect', 9229] }, path: 'execArgv' },
  { options: { maxTasksPerWorker: 0 }, path: 'maxTasksPerWorker' },
  { options: { maxHeapUsedBytes: 0 }, path: 'maxHeapUsedBytes' },
  { options: { initializer: { task: () => 1 } }, path: 'initializer' },
  { options: { initializer: double }, path: 'initializer' },
  { options: { initializer: { task: double, args: 21 } }, path: 'initializer.args' },
  { options: { cancelMode: 'kill' }, path: 'cancelMode' },
  { options: { taskTimeout: -5 }, path: 'taskTimeout' },
  { options: { closeTimeout: -1 }, path: 'closeTimeout' },
  { options: { trace: 'yes' }, path: 'trace' },
  { options: { name: '' }, path: 'name' },
  { options: { name: 42 }, path: 'name' },
];

for (const { options, path } of BAD_OPTIONS) {
  test(`resolvePoolOptions refuses ${JSON.stringify(options) ?? String(options)} with SKEIN_POOL_INVALID_OPTION naming ${path}`, () => {
    assert.throws(
      () => resolvePoolOptions(options as PoolOptions),
      (error: unknown) => {
        assert.ok(error instanceof InvalidArgumentError);
        assert.equal(error.code, 'SKEIN_POOL_INVALID_OPTION');
        assert.ok(error.message.startsWith(`${path} must be `), error.message);
        assert.match(error.message, /\(got .+\); \S/, 'the message shows the value and the way out');
        return true;
      },
    );
  });
}

test('resolvePoolOptions accepts the edge values: Infinity where allowed, 0 durations, minWorkers = maxWorkers', () => {
  const options = resolvePoolOptions({
    minWorkers: 2,
    maxWorkers: 2,
    idleTimeout: 0,
    maxQueue: 0,
    taskTimeout: Number.POSITIVE_INFINITY,
    maxTasksPerWorker: Number.POSITIVE_INFINITY,
    resourceLimits: { maxOldGenerationSizeMb: 64 },
    env: { A: 'b' },
    execArgv: ['--no-warnings'],
    initializer: { task: double, args: [1] },
    cancelMode: 'terminate',
    trace: true,
    name: 'workers',
  });
  assert.equal(options.minWorkers, 2);
  assert.equal(options.maxQueue, 0);
  assert.equal(options.cancelMode, 'terminate');
  assert.deepEqual(options.resourceLimits, { maxOldGenerationSizeMb: 64 });
});

test('resolved options are frozen copies, so changing the input later changes nothing', () => {
  const execArgv = ['--no-warnings'];
  const env = { A: 'b' };
  const resolved = resolvePoolOptions({ execArgv, env, resourceLimits: { stackSizeMb: 4 } });
  execArgv.push('--inspect');
  env.A = 'changed';
  assert.deepEqual(resolved.execArgv, ['--no-warnings']);
  assert.deepEqual(resolved.env, { A: 'b' });
  assert.ok(Object.isFrozen(resolved));
  assert.ok(Object.isFrozen(resolved.execArgv));
  assert.ok(Object.isFrozen(resolved.env));
  assert.ok(Object.isFrozen(resolved.resourceLimits));
});

test('POOL_DEFAULTS is frozen plain data', () => {
  assert.ok(Object.isFrozen(POOL_DEFAULTS));
  for (const [key, value] of Object.entries(POOL_DEFAULTS)) {
    assert.ok(['number', 'string', 'boolean'].includes(typeof value), `${key} is plain data`);
  }
  assert.throws(() => {
    (POOL_DEFAULTS as { minWorkers: number }).minWorkers = 5;
  }, TypeError);
});

// Expressions a @defaultValue may use for a default that depends on the machine or process, with the
// value resolvePoolOptions() gives for them (env: undefined means "inherit process.env").
const DEFAULT_EXPRESSIONS: Readonly<Record<string, unknown>> = {
  'os.availableParallelism()': availableParallelism(),
  'process.env': undefined,
};

function parseDefaultValue(text: string): unknown {
  if (Object.hasOwn(DEFAULT_EXPRESSIONS, text)) return DEFAULT_EXPRESSIONS[text];
  if (text === 'Infinity') return Number.POSITIVE_INFINITY;
  if (/^'[^']*'$/.test(text)) return text.slice(1, -1);
  return JSON.parse(text.replaceAll('_', '')) as unknown;
}

/** Each PoolOptions field's @defaultValue text, read from the TSDoc in src/pool/options.ts. */
function documentedDefaults(): Map<string, string> {
  const source = readFileSync(new URL('../src/pool/options.ts', import.meta.url), 'utf8');
  const body = /export interface PoolOptions \{([\s\S]*?)\n\}/.exec(source)?.[1];
  assert.ok(body !== undefined, 'PoolOptions found in src/pool/options.ts');
  const defaults = new Map<string, string>();
  for (const match of body.matchAll(/\/\*\*([\s\S]*?)\*\/\s*readonly (\w+)\?:/g)) {
    const value = /@defaultValue\s+(.+?)\s*(?:\n|$)/.exec(match[1]!.replace(/\s*$/, ''))?.[1];
    if (value !== undefined) defaults.set(match[2]!, value.trim());
  }
  return defaults;
}

test('each @defaultValue in PoolOptions is what resolvePoolOptions({}) gives and what POOL_DEFAULTS holds', () => {
  const documented = documentedDefaults();
  assert.ok(
    documented.size >= Object.keys(POOL_DEFAULTS).length,
    `found ${[...documented.keys()].join(', ')}`,
  );
  const resolved = resolvePoolOptions({}) as unknown as Record<string, unknown>;
  for (const [key, text] of documented) {
    const value = parseDefaultValue(text);
    assert.deepEqual(resolved[key], value, `${key}: @defaultValue ${text}`);
    if (Object.hasOwn(POOL_DEFAULTS, key)) {
      assert.equal(
        (POOL_DEFAULTS as Record<string, unknown>)[key],
        value,
        `POOL_DEFAULTS.${key} vs @defaultValue ${text}`,
      );
    }
  }
});

test('every field of POOL_DEFAULTS is documented with a @defaultValue in PoolOptions', () => {
  const documented = documentedDefaults();
  const undocumented = Object.keys(POOL_DEFAULTS).filter((key) => !documented.has(key));
  assert.deepEqual(undocumented, []);
});
