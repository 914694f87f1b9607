// Cloud server options (src/cloud/options.ts): the defaults are one frozen table that the TSDoc
// @defaultValue of each option repeats, bad values are refused naming the option, and only loopback
// addresses are accepted without allowRemote.

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import {
  CLOUD_DEFAULTS,
  isLoopbackHost,
  REMOTE_AGENT_DEFAULTS,
  RemoteAgent,
  resolveCloudServerOptions,
} from '../../src/cloud/index.ts';
import { ROOT } from './harness.ts';

test('CLOUD_DEFAULTS is frozen and is what resolveCloudServerOptions gives when nothing is set', () => {
  assert.ok(Object.isFrozen(CLOUD_DEFAULTS));
  const resolved = resolveCloudServerOptions({ projectDir: tmpdir() });
  assert.ok(Object.isFrozen(resolved));
  for (const [key, value] of Object.entries(CLOUD_DEFAULTS)) {
    assert.equal(resolved[key as keyof typeof resolved], value, key);
  }
  assert.equal(resolved.concurrency, availableParallelism());
  assert.equal(resolved.projectDir, tmpdir());
  assert.equal(resolved.dataDir, join(tmpdir(), '.skein'));
});

test('the @defaultValue of each option in its TSDoc equals CLOUD_DEFAULTS', () => {
  const source = readFileSync(join(ROOT, 'src/cloud/options.ts'), 'utf8');
  const documented = new Map<string, string>();
  for (const match of source.matchAll(/@defaultValue ([^*\n]+?) \*\/\n\s+readonly (\w+)\?:/g)) {
    documented.set(match[2]!, match[1]!.trim());
  }
  for (const [key, value] of Object.entries(CLOUD_DEFAULTS)) {
    const shown = typeof value === 'string' ? `'${value}'` : String(value);
    assert.equal(documented.get(key), shown, key);
  }
});

test('resolveCloudServerOptions refuses bad values with SKEIN_CLOUD_INVALID_OPTION naming the option', () => {
  const cases: [Record<string, unknown>, string][] = [
    [{ port: -1 }, 'port'],
    [{ port: 1.5 }, 'port'],
    [{ port: '7420' }, 'port'],
    [{ concurrency: 0 }, 'concurrency'],
    [{ bodyLimit: 10 }, 'bodyLimit'],
    [{ authFailureLimit: 0 }, 'authFailureLimit'],
    [{ leaseTimeout: 5 }, 'leaseTimeout'],
    [{ closeTimeout: -1 }, 'closeTimeout'],
    [{ host: '' }, 'host'],
    [{ allowRemote: 'yes' }, 'allowRemote'],
    [{ dataDir: '' }, 'dataDir'],
    [{ redis: 'http://127.0.0.1:6379' }, 'redis'],
    [{ redis: '' }, 'redis'],
    [{ redisPrefix: 'a b' }, 'redisPrefix'],
    [{ localAgent: 'no' }, 'localAgent'],
    [{ agentTimeout: 10 }, 'agentTimeout'],
    [{ functionTimeout: 0 }, 'functionTimeout'],
    [{ functionTimeout: 2 ** 31 }, 'functionTimeout'],
    [{ functionConcurrency: 0 }, 'functionConcurrency'],
    [{ functionIdleTimeout: -1 }, 'functionIdleTimeout'],
  ];
  for (const [options, path] of cases) {
    assert.throws(
      () => resolveCloudServerOptions(options),
      (error: Error & { code?: string }) => {
        assert.equal(error.code, 'SKEIN_CLOUD_INVALID_OPTION', JSON.stringify(options));
        assert.ok(error.message.startsWith(`${path} must be`), error.message);
        return true;
      },
    );
  }
});

test('only loopback addresses count as loopback', () => {
  for (const host of ['127.0.0.1', '127.1.2.3', 'localhost', '::1', '[::1]'])
    assert.ok(isLoopbackHost(host), host);
  for (const host of ['0.0.0.0', '10.0.0.1', '::', '127.0.0.256', '127.0.0', 'example.com', '128.0.0.1']) {
    assert.ok(!isLoopbackHost(host), host);
  }
});

test('RemoteAgent.start refuses bad options naming them, before it calls the server', async () => {
  assert.ok(Object.isFrozen(REMOTE_AGENT_DEFAULTS));
  const base = { server: 'http://127.0.0.1:1', token: 'skein_x' };
  const cases: [Record<string, unknown>, string][] = [
    [{ concurrency: 0 }, 'concurrency'],
    [{ closeTimeout: -1 }, 'closeTimeout'],
    [{ labels: { 'a b': 'x' } }, 'labels key'],
    [{ labels: { zone: 'line\nbreak' } }, 'labels.zone'],
    [{ server: 'ftp://x' }, 'server'],
  ];
  for (const [options, path] of cases) {
    await assert.rejects(
      RemoteAgent.start({ ...base, ...options } as never),
      (error: Error & { code?: string }) => {
        assert.equal(error.code, 'SKEIN_CLOUD_INVALID_OPTION', JSON.stringify(options));
        assert.ok(error.message.startsWith(path), error.message);
        return true;
      },
    );
  }
});
