// The cloud store's lookup caches: what the server reads on every request (tokens, functions) is kept
// in memory, yet a write through this store is seen by the very next lookup, and a write by another
// process on the same file within FRESHNESS_CHECK_MS (100 ms): the check that sees those is a SQLite
// statement, too costly for every request. A token revoked through the server is never accepted again.

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { CloudStore } from '../../src/cloud/cloud-store.ts';

function twoStores(t: { after(fn: () => void): void }): [CloudStore, CloudStore] {
  const dir = mkdtempSync(join(tmpdir(), 'skein-cloud-store-'));
  const path = join(dir, 'cloud.db');
  const stores: [CloudStore, CloudStore] = [new CloudStore(path), new CloudStore(path)];
  t.after(() => {
    for (const store of stores) store.close();
    rmSync(dir, { recursive: true, force: true });
  });
  return stores;
}

const token = (id: string) => ({
  id,
  hash: new Uint8Array(32).fill(7),
  name: `token ${id}`,
  scopes: ['invoke' as const],
  tenant: 'default',
  createdAt: 1000,
  revokedAt: null,
  expiresAt: null,
});

/** Longer than the store's freshness interval: another connection's writes are seen after this. */
const AFTER_FRESHNESS_CHECK_MS = 150;

test('a token revoked through this store is seen at once, through another connection within 100 ms', async (t) => {
  const [server, other] = twoStores(t);
  server.insertToken(token('a'));
  server.insertToken(token('b'));
  // Read twice: the second read is the cached record.
  assert.equal(server.token('a')?.revokedAt, null);
  assert.equal(server.token('a')?.revokedAt, null);
  assert.ok(Object.isFrozen(server.token('a')), 'a cached record is shared, so frozen');
  assert.equal(server.revokeToken('a', 2000), true);
  assert.equal(server.token('a')?.revokedAt, 2000);
  assert.equal(server.token('b')?.revokedAt, null);
  // Another process on the same file revokes b: a lookup here after the freshness interval sees it.
  assert.equal(other.revokeToken('b', 3000), true);
  await sleep(AFTER_FRESHNESS_CHECK_MS);
  assert.equal(server.token('b')?.revokedAt, 3000);
  assert.equal(server.token('missing'), undefined);
  other.insertToken(token('missing'));
  assert.equal(server.token('missing')?.name, 'token missing', 'an unknown id is not cached as missing');
});

test('a function moved by a deploy or a rollback here is seen at once, elsewhere within 100 ms', async (t) => {
  const [server, other] = twoStores(t);
  const deploy = (store: CloudStore, hash: string, at: number) =>
    store.deploy({ hash, exports: ['echo'], size: 10, createdAt: at }, [
      { name: 'echo', exportName: 'echo' },
    ]);
  deploy(server, 'a'.repeat(64), 1000);
  assert.equal(server.fn('echo')?.current.hash, 'a'.repeat(64));
  assert.equal(server.fn('echo')?.current.hash, 'a'.repeat(64));
  deploy(server, 'b'.repeat(64), 2000);
  assert.equal(server.fn('echo')?.current.version, 2);
  assert.equal(other.setFunctionVersion('echo', 1, 3000), true);
  await sleep(AFTER_FRESHNESS_CHECK_MS);
  assert.equal(server.fn('echo')?.current.version, 1, 'a rollback made by another process is seen');
  deploy(other, 'c'.repeat(64), 4000);
  await sleep(AFTER_FRESHNESS_CHECK_MS);
  assert.equal(server.fn('echo')?.current.hash, 'c'.repeat(64));
});
