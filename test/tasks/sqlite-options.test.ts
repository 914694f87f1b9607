// SQLite broker options (src/tasks/sqlite/options.ts): every invalid option is refused with
// SKEIN_TASKS_INVALID_OPTION and a message naming it, the defaults are one frozen table, and each
// TSDoc @defaultValue says what resolveSqliteBrokerOptions() really gives.

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { InvalidArgumentError } from '../../src/errors.ts';
import {
  resolveSqliteBrokerOptions,
  SQLITE_BROKER_DEFAULTS,
  type SqliteBrokerOptions,
} from '../../src/tasks/sqlite/options.ts';
import { SqliteBroker } from '../../src/tasks/sqlite/sqlite-broker.ts';
import { tempDir } from '../conformance/helpers.ts';

const BAD_OPTIONS: readonly { readonly options: unknown; readonly path: string }[] = [
  { options: null, path: 'options' },
  { options: 'tasks.db', path: 'options' },
  { options: { path: '' }, path: 'path' },
  { options: { path: 42 }, path: 'path' },
  { options: { busyTimeout: -1 }, path: 'busyTimeout' },
  { options: { busyTimeout: 1.5 }, path: 'busyTimeout' },
  { options: { busyTimeout: '5s' }, path: 'busyTimeout' },
  { options: { busyTimeout: null }, path: 'busyTimeout' },
  { options: { synchronous: 'off' }, path: 'synchronous' },
  { options: { synchronous: 'FULL' }, path: 'synchronous' },
  { options: { pollInterval: 0 }, path: 'pollInterval' },
  { options: { pollInterval: Number.POSITIVE_INFINITY }, path: 'pollInterval' },
  { options: { eventRetention: -5 }, path: 'eventRetention' },
];

for (const { options, path } of BAD_OPTIONS) {
  test(`resolveSqliteBrokerOptions refuses ${JSON.stringify(options) ?? String(options)} with SKEIN_TASKS_INVALID_OPTION naming ${path}`, () => {
    assert.throws(
      () => resolveSqliteBrokerOptions(options as SqliteBrokerOptions),
      (error: unknown) => {
        assert.ok(error instanceof InvalidArgumentError);
        assert.equal(error.code, 'SKEIN_TASKS_INVALID_OPTION');
        assert.ok(error.message.startsWith(`${path} must be `), error.message);
        assert.match(error.message, /\(got .+\); \S/, 'the message shows the value and the way out');
        return true;
      },
    );
  });
}

test('the SqliteBroker constructor validates its options before touching the disk', () => {
  assert.throws(() => new SqliteBroker({ synchronous: 'off' as 'full' }), {
    code: 'SKEIN_TASKS_INVALID_OPTION',
  });
});

test('resolveSqliteBrokerOptions freezes its result and keeps given values', () => {
  const resolved = resolveSqliteBrokerOptions({
    path: 'x.db',
    busyTimeout: 0,
    synchronous: 'full',
    pollInterval: 1,
  });
  assert.ok(Object.isFrozen(resolved));
  assert.ok(Object.isFrozen(SQLITE_BROKER_DEFAULTS));
  assert.deepEqual(resolved, {
    path: 'x.db',
    busyTimeout: 0,
    synchronous: 'full',
    pollInterval: 1,
    eventRetention: SQLITE_BROKER_DEFAULTS.eventRetention,
  });
});

test('each @defaultValue in SqliteBrokerOptions is what resolveSqliteBrokerOptions({}) gives and SQLITE_BROKER_DEFAULTS holds', () => {
  const source = readFileSync(new URL('../../src/tasks/sqlite/options.ts', import.meta.url), 'utf8');
  const body = /export interface SqliteBrokerOptions \{([\s\S]*?)\n\}/.exec(source)?.[1] ?? '';
  const documented = new Map<string, unknown>();
  for (const match of body.matchAll(/\/\*\*([\s\S]*?)\*\/\s*readonly (\w+)\?:/g)) {
    const text = /@defaultValue\s+(.+?)\s*(?:\*\/|\n|$)/.exec(match[1] ?? '')?.[1]?.trim();
    if (text === undefined) continue;
    documented.set(match[2] ?? '', /^'[^']*'$/.test(text) ? text.slice(1, -1) : JSON.parse(text));
  }
  assert.deepEqual([...documented.keys()].sort(), Object.keys(SQLITE_BROKER_DEFAULTS).sort());
  const resolved = resolveSqliteBrokerOptions({}) as unknown as Record<string, unknown>;
  for (const [key, value] of documented) {
    assert.equal(resolved[key], value, key);
    assert.equal((SQLITE_BROKER_DEFAULTS as Record<string, unknown>)[key], value, key);
  }
});

test('the default path is .skein/tasks.db under the working directory, its directory created', async (t) => {
  const dir = tempDir();
  const cwd = process.cwd();
  process.chdir(dir.path);
  t.after(() => {
    process.chdir(cwd);
    dir.remove();
  });
  const broker = new SqliteBroker();
  await broker.close();
  assert.ok(readFileSync(join(dir.path, '.skein', 'tasks.db')).byteLength > 0);
});
