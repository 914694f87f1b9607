// Closing everything leaves nothing behind: after a worker (with its own pool), a scheduler, a queue and
// the broker are closed, the process holds no more timers, sockets or worker threads than before, and
// a Redis store can be deleted to the last key.

import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import { type Broker, Scheduler, TaskQueue, Worker } from '../../src/tasks/index.ts';
import { RedisBroker } from '../../src/tasks/redis/redis-broker.ts';
import { SqliteBroker } from '../../src/tasks/sqlite/sqlite-broker.ts';
import { add } from '../fixtures/add.ts';
import { ENGINES, FAST } from './helpers.ts';
import { deleteStore, REDIS_URL, randomPrefix } from './redis-helpers.ts';

const SETTLE_MS = 10_000;

/** Active resources by kind (timers, sockets, worker threads, …), as Node reports them. */
function resources(): Map<string, number> {
  const counts = new Map<string, number>();
  for (const kind of process.getActiveResourcesInfo()) counts.set(kind, (counts.get(kind) ?? 0) + 1);
  return counts;
}

/** Kinds that have more resources now than in `baseline`. */
function extra(baseline: Map<string, number>): string[] {
  return [...resources()]
    .filter(([kind, count]) => count > (baseline.get(kind) ?? 0))
    .map(([kind, count]) => `${kind} ${baseline.get(kind) ?? 0} → ${count}`);
}

for (const engine of ENGINES) {
  describe(`closing (${engine})`, () => {
    it('a worker, a scheduler, a queue and the broker leave no timers, sockets or threads behind', async () => {
      // Let the test runner's own start-up handles settle into the baseline.
      await delay(50);
      const baseline = resources();
      const dir = await mkdtemp(join(tmpdir(), 'skein-leaks-'));
      const prefix = randomPrefix();
      const broker: Broker =
        engine === 'redis'
          ? new RedisBroker({ url: REDIS_URL, prefix })
          : new SqliteBroker({ path: join(dir, 'tasks.db'), pollInterval: 10 });
      const queue = new TaskQueue({ broker });
      const worker = new Worker({ broker, tasks: [add], concurrency: 2, ...FAST });
      const scheduler = new Scheduler({
        broker,
        schedules: [{ id: 'tick', task: add, args: [1, 1], every: 50 }],
      });
      try {
        await worker.start();
        scheduler.start();
        const job = await queue.enqueue(add, 2, 3);
        assert.equal(await job.result({ timeout: SETTLE_MS }), 5);
        const events = new AbortController();
        const iterator = queue.events(events.signal)[Symbol.asyncIterator]();
        const next = iterator.next();
        events.abort();
        await next.catch(() => undefined);
      } finally {
        await scheduler.close();
        await worker.close();
        await queue.close();
        await broker.close();
        if (engine === 'redis') await deleteStore(prefix);
        await rm(dir, { recursive: true, force: true });
      }
      // Threads and sockets close asynchronously after close() resolves; give them a bounded while.
      const deadline = performance.now() + SETTLE_MS;
      while (extra(baseline).length > 0 && performance.now() < deadline) await delay(20);
      assert.deepEqual(extra(baseline), []);
    });
  });
}
