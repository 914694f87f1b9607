// The Redis broker on a real Redis, beyond the shared conformance suite: several connections claiming
// at once (nothing claimed twice), and settling and claiming at once (nothing lost or done twice), claimTick races, claim filtering, options, a Redis of our own killed
// with SIGKILL and restarted (calls fail fast with SKEIN_TASKS_BROKER_UNAVAILABLE, then recover;
// events and waits ride the outage out), and no key left behind.

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, describe, test } from 'node:test';
import { Redis } from 'ioredis';
import { SkeinError } from '../../src/errors.ts';
import type { BrokerEvent, JobRecord, SettleOutcome } from '../../src/tasks/broker.ts';
import { decodeJob, unframeJob } from '../../src/tasks/redis/job-codec.ts';
import { jobKey } from '../../src/tasks/redis/keys.ts';
import { REDIS_BROKER_DEFAULTS, resolveRedisBrokerOptions } from '../../src/tasks/redis/options.ts';
import { RedisBroker } from '../../src/tasks/redis/redis-broker.ts';
import {
  deleteStore,
  freePort,
  newJob,
  REDIS_MISSING,
  REDIS_SERVER_MISSING,
  REDIS_URL,
  randomPrefix,
  redisAvailable,
  redisServerInstalled,
  ScratchRedis,
  storeKeys,
  until,
} from './redis-helpers.ts';

const UP = await redisAvailable();
const skip = UP ? false : REDIS_MISSING;
const TASK = 'file:///tasks.ts#noop';
const OTHER = 'file:///tasks.ts#other';
const SOON_MS = 10_000;
const ERROR = { name: 'Error', message: 'boom', stack: undefined, code: undefined };

function codeOf(error: unknown): unknown {
  return error instanceof SkeinError ? error.code : undefined;
}

/** A plain connection for reading and damaging a test's keys by hand, closed after the test. */
function inspectorFor(t: { after(fn: () => Promise<void>): void }): Redis {
  const inspector = new Redis(REDIS_URL);
  t.after(() => inspector.quit().then(() => {}));
  return inspector;
}

/** A fresh broker on a fresh prefix; after the test, closes it and deletes (and checks) its keys. */
function fixture(
  t: { after(fn: () => Promise<void>): void },
  count = 1,
): { prefix: string; brokers: RedisBroker[] } {
  const prefix = randomPrefix();
  const brokers = Array.from({ length: count }, () => new RedisBroker({ url: REDIS_URL, prefix }));
  t.after(async () => {
    await Promise.all(brokers.map((broker) => broker.close()));
    await deleteStore(prefix);
  });
  return { prefix, brokers };
}

/** fixture() with one broker, the usual case. */
function oneBroker(t: { after(fn: () => Promise<void>): void }): { prefix: string; broker: RedisBroker } {
  const { prefix, brokers } = fixture(t);
  return { prefix, broker: brokers[0]! };
}

describe('RedisBroker options', () => {
  test('REDIS_BROKER_DEFAULTS is frozen and the resolved options carry it', () => {
    assert.ok(Object.isFrozen(REDIS_BROKER_DEFAULTS));
    const resolved = resolveRedisBrokerOptions();
    assert.ok(Object.isFrozen(resolved));
    assert.deepEqual(resolved, { ...REDIS_BROKER_DEFAULTS, client: undefined });
  });

  test('each @defaultValue in RedisBrokerOptions is what REDIS_BROKER_DEFAULTS holds', () => {
    const source = readFileSync(new URL('../../src/tasks/redis/options.ts', import.meta.url), 'utf8');
    const body = /export interface RedisBrokerOptions \{([\s\S]*?)\n\}/.exec(source)?.[1] ?? '';
    const documented = new Map<string, unknown>();
    for (const match of body.matchAll(/\/\*\*([\s\S]*?)\*\/\s*readonly (\w+)\?:/g)) {
      const text = /@defaultValue\s+(\S+)/.exec(match[1]!)?.[1];
      if (text !== undefined)
        documented.set(match[2]!, text.startsWith("'") ? text.slice(1, -1) : Number(text));
    }
    assert.deepEqual(Object.fromEntries(documented), { ...REDIS_BROKER_DEFAULTS });
  });

  test('rejects a bad url, prefix or eventsMaxLen with SKEIN_TASKS_INVALID_OPTION naming the option', () => {
    for (const [options, name] of [
      [{ url: 'http://x' }, /url/],
      [{ prefix: 'a b' }, /prefix/],
      [{ prefix: '' }, /prefix/],
      [{ eventsMaxLen: 0 }, /eventsMaxLen/],
      [{ claimScanLimit: 1.5 }, /claimScanLimit/],
      [{ client: {} as Redis }, /client/],
    ] as const) {
      assert.throws(
        () => new RedisBroker(options),
        (error: unknown) =>
          codeOf(error) === 'SKEIN_TASKS_INVALID_OPTION' && name.test((error as Error).message),
      );
    }
  });
});

describe('RedisBroker on the machine Redis', { skip }, () => {
  test('keeps payload, result and progress bytes exactly (0x00 and 0xff included)', async (t) => {
    const { broker } = oneBroker(t);
    const payload = new Uint8Array([0, 255, 10, 13, 0, 128]);
    const job = newJob({ payload, canvas: new Uint8Array([]) });
    assert.deepEqual(await broker.enqueue([job]), [{ id: job.id, created: true }]);
    const [claimed] = await broker.claim({
      queue: 'default',
      workerId: 'w',
      max: 1,
      leaseMs: 30_000,
      tasks: [TASK],
    });
    assert.deepEqual(claimed?.payload, payload);
    assert.deepEqual(claimed?.canvas, new Uint8Array([]));
    assert.equal(await broker.reportProgress('w', job.id, new Uint8Array([255, 0])), true);
    assert.equal(await broker.complete('w', job.id, new Uint8Array([0, 0, 7])), true);
    const done = await broker.get(job.id);
    assert.equal(done?.state, 'succeeded');
    assert.deepEqual(done?.result, new Uint8Array([0, 0, 7]));
    assert.deepEqual(done?.progress, new Uint8Array([255, 0]));
    assert.equal(done?.workerId, null);
    assert.equal(done?.expiresAt, (done?.finishedAt ?? 0) + job.resultTtlMs);
  });

  test('publishes a waited-on job whole when it finishes, bytes exact, and only that one', async (t) => {
    const { prefix, broker } = oneBroker(t);
    // A raw subscriber stands in for a waiter: subscribed first, then the mark waitUntilFinished sets.
    const listener = new Redis(REDIS_URL);
    t.after(() => listener.disconnect());
    const frames: Buffer[] = [];
    const lists: string[] = [];
    listener.on('messageBuffer', (_channel: Buffer, message: Buffer) => {
      if (message[0] === 1) frames.push(message);
      else lists.push(message.toString());
    });
    await listener.subscribe(`${prefix}:finished`);
    const waited = newJob({
      payload: new Uint8Array([0, 10, 255, 92, 110]),
      canvas: new Uint8Array([1, 10]),
    });
    const other = newJob();
    await broker.enqueue([waited, other]);
    const marker = new Redis(REDIS_URL);
    t.after(() => marker.disconnect());
    await marker.set(`${prefix}:awaited:${waited.id}`, '1', 'PX', 60_000);
    const claimed = await broker.claim({
      queue: 'default',
      workerId: 'w',
      max: 2,
      leaseMs: 30_000,
      tasks: [TASK],
    });
    assert.equal(claimed.length, 2);
    const { settled } = await broker.settleAndClaim(
      'w',
      [
        { id: waited.id, kind: 'complete', result: new Uint8Array([10, 0, 13, 1]) },
        { id: other.id, kind: 'complete', result: new Uint8Array([2]) },
      ],
      null,
    );
    assert.deepEqual(settled, [true, true]);
    await until(() => frames.length === 1 && lists.length === 1, SOON_MS, 'the finished messages');
    const published = decodeJob(unframeJob(frames[0]!));
    assert.deepEqual(published, await broker.get(waited.id), 'the frame holds the stored job, every field');
    assert.deepEqual(published?.result, new Uint8Array([10, 0, 13, 1]));
    assert.deepEqual(published?.canvas, new Uint8Array([1, 10]));
    assert.deepEqual(lists[0]!.split('\n').sort(), [waited.id, other.id].sort());
    assert.equal(await marker.exists(`${prefix}:awaited:${waited.id}`), 0, 'the script spent the mark');
  });

  test('a small enqueue through a broker that waits marks its jobs awaited in the same step; their wait reads nothing', async (t) => {
    const {
      prefix,
      brokers: [broker, worker],
    } = fixture(t, 2);
    const probe = new Redis(REDIS_URL);
    t.after(() => probe.disconnect());
    const settle = async (ids: readonly string[]): Promise<void> => {
      const claimed = await worker!.claim({
        queue: 'default',
        workerId: 'w',
        max: 10,
        leaseMs: 30_000,
        tasks: [TASK],
      });
      assert.deepEqual(
        claimed.map((job) => job.id),
        ids,
      );
      for (const id of ids) assert.equal(await worker!.complete('w', id, new Uint8Array([7])), true);
    };
    // Before any wait, no mark: the broker does not listen on the finished channel.
    const before = newJob();
    await broker!.enqueue([before]);
    assert.equal(await probe.exists(`${prefix}:awaited:${before.id}`), 0);
    const waiting = broker!.waitUntilFinished(before.id, AbortSignal.timeout(SOON_MS));
    await until(
      async () => (await probe.exists(`${prefix}:awaited:${before.id}`)) === 1,
      SOON_MS,
      'the mark',
    );
    await settle([before.id]);
    assert.equal((await waiting).state, 'succeeded');
    // Now it listens: both jobs are marked by the enqueue itself.
    const first = newJob();
    const second = newJob();
    await broker!.enqueue([first]);
    await broker!.enqueue([second]);
    assert.equal(await probe.exists(`${prefix}:awaited:${first.id}`), 1);
    await settle([first.id, second.id]);
    // The second finish is heard, so the first (published earlier on the channel) was too; with its
    // hash gone, only the message it was published in can answer a wait on it.
    assert.equal(
      (await broker!.waitUntilFinished(second.id, AbortSignal.timeout(SOON_MS))).state,
      'succeeded',
    );
    await probe.del(`{${prefix}:default}:job:${first.id}`);
    const early = await broker!.waitUntilFinished(first.id, AbortSignal.timeout(SOON_MS));
    assert.equal(early.id, first.id);
    assert.equal(early.state, 'succeeded');
    assert.deepEqual(early.result, new Uint8Array([7]));
    assert.equal(
      await probe.exists(`${prefix}:awaited:${first.id}`),
      0,
      'the finishing script spent the mark',
    );
    // A large enqueue (bulk) is not marked.
    const bulk = Array.from({ length: 17 }, () => newJob());
    await broker!.enqueue(bulk);
    assert.equal(await probe.exists(`${prefix}:awaited:${bulk[0]!.id}`), 0);
  });

  test('five connections claiming at once hand out each of 300 jobs exactly once', async (t) => {
    const { brokers } = fixture(t, 5);
    const jobs = Array.from({ length: 300 }, () => newJob());
    await brokers[0]!.enqueue(jobs);
    const claimedBy = new Map<string, number>();
    await Promise.all(
      brokers.map(async (broker, index) => {
        for (;;) {
          const batch = await broker.claim({
            queue: 'default',
            workerId: `w${index}`,
            max: 7,
            leaseMs: 30_000,
            tasks: [TASK],
          });
          if (batch.length === 0) return;
          for (const job of batch) {
            assert.equal(claimedBy.has(job.id), false, `${job.id} claimed twice`);
            claimedBy.set(job.id, index);
            assert.equal(await broker.complete(`w${index}`, job.id, new Uint8Array()), true);
          }
        }
      }),
    );
    assert.deepEqual([...claimedBy.keys()].sort(), jobs.map((job) => job.id).sort());
    const stats = await brokers[0]!.stats('default');
    assert.equal(stats.counts.succeeded, 300);
    assert.equal(stats.counts.running + stats.counts.queued, 0);
    assert.equal(stats.finishedLastMinute, 300);
    assert.ok(
      stats.latencyP50Ms !== null && stats.latencyP99Ms !== null && stats.latencyP50Ms <= stats.latencyP99Ms,
    );
  });

  test('settleAndClaim: five connections settling and claiming at once finish each of 400 jobs exactly once', async (t) => {
    const { brokers } = fixture(t, 5);
    const jobs = Array.from({ length: 400 }, () => newJob({ maxAttempts: 2 }));
    await brokers[0]!.enqueue(jobs);
    const claims = new Map<string, number>();
    const succeededBy = new Map<string, string>();
    await Promise.all(
      brokers.map(async (broker, index) => {
        const workerId = `w${index}`;
        const request = { queue: 'default', workerId, max: 6, leaseMs: 30_000, tasks: [TASK] };
        let outcomes: SettleOutcome[] = [];
        for (;;) {
          const { settled, claimed } = await broker.settleAndClaim(workerId, outcomes, request);
          assert.deepEqual(
            settled,
            outcomes.map(() => true),
            `${workerId} lost a lease it held`,
          );
          outcomes.forEach((outcome) => {
            if (outcome.kind === 'complete') {
              assert.equal(succeededBy.has(outcome.id), false, `${outcome.id} completed twice`);
              succeededBy.set(outcome.id, workerId);
            }
          });
          if (claimed.length === 0) return;
          // Every job fails its first attempt (retried at once, so any connection may claim it again)
          // and succeeds its second.
          outcomes = claimed.map((job): SettleOutcome => {
            claims.set(job.id, (claims.get(job.id) ?? 0) + 1);
            assert.equal(job.workerId, workerId);
            return job.attempt === 1
              ? { id: job.id, kind: 'fail', error: ERROR, outcome: { retryAt: 0 } }
              : { id: job.id, kind: 'complete', result: new Uint8Array([index]) };
          });
        }
      }),
    );
    assert.deepEqual([...succeededBy.keys()].sort(), jobs.map((job) => job.id).sort());
    assert.ok([...claims.values()].every((count) => count === 2));
    const stats = await brokers[0]!.stats('default');
    assert.equal(stats.counts.succeeded, 400);
    assert.equal(stats.counts.running + stats.counts.queued + stats.counts.scheduled, 0);
    const sample = await brokers[0]!.get(jobs[123]!.id);
    assert.equal(sample?.attempt, 2);
    assert.deepEqual(sample?.result, new Uint8Array([Number(succeededBy.get(jobs[123]!.id)!.slice(1))]));
  });

  test('settleAndClaim: a lost lease, an unknown id and another queue in one call; the claim sees freed caps', async (t) => {
    const { broker } = oneBroker(t);
    const lost = newJob();
    const held = newJob();
    const elsewhere = newJob({ queue: 'other' });
    const waiting = newJob();
    await broker.enqueue([lost, held, elsewhere, waiting]);
    const request = { queue: 'default', workerId: 'w', max: 2, leaseMs: 30_000, tasks: [TASK] };
    await broker.claim({ ...request, leaseMs: 1, max: 1 });
    assert.equal(await broker.recoverExpiredLeases(Date.now() + 60_000), 1);
    assert.deepEqual(
      (await broker.claim(request)).map((job) => job.id),
      [lost.id, held.id],
    );
    await broker.claim({ ...request, queue: 'other' });
    const capped = { ...request, max: 5, concurrency: { [TASK]: 2 } };
    assert.deepEqual(await broker.claim(capped), [], 'cap of 2 reached');
    // Through a second connection, whose job → queue cache is empty: it looks the queues up.
    const second = new RedisBroker({ url: REDIS_URL, prefix: broker.options.prefix });
    t.after(() => second.close());
    const { settled, claimed } = await second.settleAndClaim(
      'w',
      [
        { id: held.id, kind: 'complete', result: new Uint8Array([1]) },
        { id: 'no-such-job', kind: 'complete', result: new Uint8Array() },
        { id: lost.id, kind: 'fail', error: ERROR, outcome: { final: true } },
        { id: elsewhere.id, kind: 'fail', error: ERROR, outcome: { final: true } },
        { id: held.id, kind: 'complete', result: new Uint8Array([2]) },
      ],
      capped,
    );
    assert.deepEqual(settled, [true, false, true, true, false]);
    assert.deepEqual(
      claimed.map((job) => job.id),
      [waiting.id],
    );
    assert.deepEqual((await broker.get(held.id))?.result, new Uint8Array([1]));
    assert.equal((await broker.get(lost.id))?.state, 'dead');
    assert.equal((await broker.get(elsewhere.id))?.state, 'dead');
    assert.deepEqual(await broker.settleAndClaim('w', [], null), { settled: [], claimed: [] });
    assert.deepEqual(
      await broker.settleAndClaim(
        'w',
        [{ id: 'no-such-job', kind: 'complete', result: new Uint8Array() }],
        null,
      ),
      { settled: [false], claimed: [] },
    );
  });

  test('settleAndClaim: completions of one batch share an expiry entry, and purge deletes each job when its own expiry is due', async (t) => {
    const { prefix, broker } = oneBroker(t);
    const soon = [newJob({ resultTtlMs: 1000 }), newJob({ resultTtlMs: 1000 })];
    const later = newJob({ resultTtlMs: 3_600_000 });
    await broker.enqueue([...soon, later]);
    const claimed = await broker.claim({
      queue: 'default',
      workerId: 'w',
      max: 3,
      leaseMs: 30_000,
      tasks: [TASK],
    });
    assert.equal(claimed.length, 3);
    const { settled } = await broker.settleAndClaim(
      'w',
      claimed.map((job) => ({ id: job.id, kind: 'complete', result: new Uint8Array([7]) })),
      null,
    );
    assert.deepEqual(settled, [true, true, true]);
    const inspector = inspectorFor(t);
    const expiring = `{${prefix}:default}:expiring`;
    // One member for the two jobs that expire together, one for the other.
    assert.equal(await inspector.zcard(expiring), 2);
    const finished = await broker.get(soon[0]!.id);
    assert.equal(finished?.workerId, null, 'the lease fields are not read once the job finished');
    assert.equal(finished?.leaseUntil, null);
    assert.equal(await broker.purgeExpired(Date.now() + 60_000), 2);
    for (const job of soon) assert.equal(await broker.get(job.id), undefined);
    assert.equal((await broker.get(later.id))?.state, 'succeeded');
    assert.equal((await broker.stats('default')).counts.succeeded, 1);
    assert.equal(await broker.purgeExpired(Date.now() + 2 * 3_600_000), 1);
    assert.equal(await inspector.exists(expiring), 0);
  });

  test('a finished job stores no expiresAt: get() and purge work it out, and honour one a job still carries', async (t) => {
    const { prefix, broker } = oneBroker(t);
    const worked = newJob({ resultTtlMs: 1000 });
    const carried = newJob({ resultTtlMs: 1000 });
    await broker.enqueue([worked, carried]);
    const claimed = await broker.claim({
      queue: 'default',
      workerId: 'w',
      max: 2,
      leaseMs: 30_000,
      tasks: [TASK],
    });
    const { settled } = await broker.settleAndClaim(
      'w',
      claimed.map((job) => ({ id: job.id, kind: 'complete', result: new Uint8Array([7]) })),
      null,
    );
    assert.deepEqual(settled, [true, true]);
    const inspector = inspectorFor(t);
    const keyOf = (id: string): string => jobKey(prefix, 'default', id);
    assert.equal(await inspector.hexists(keyOf(worked.id), 'expiresAt'), 0);
    const done = await broker.get(worked.id);
    assert.equal(done?.expiresAt, (done?.finishedAt ?? 0) + 1000);
    // A job finished by an earlier version carries its expiresAt: that one counts, not finishedAt + ttl.
    const carriedAt = Date.now() + 3_600_000;
    await inspector.hset(keyOf(carried.id), 'expiresAt', String(carriedAt));
    assert.equal((await broker.get(carried.id))?.expiresAt, carriedAt);
    assert.equal(await broker.purgeExpired(Date.now() + 60_000), 1);
    assert.equal(await broker.get(worked.id), undefined);
    assert.equal((await broker.get(carried.id))?.state, 'succeeded');
  });
  test('a new job hash holds no cancelRequested, attempt, zero priority or true deadLetter: they read as false, 0, 0 and true', async (t) => {
    const { prefix, broker } = oneBroker(t);
    const plain = newJob({ priority: 0, runAt: 0, deadLetter: true });
    const low = newJob({ priority: 1, runAt: 0, deadLetter: false });
    const high = newJob({ priority: -1, runAt: 1 });
    await broker.enqueue([low, plain, high]);
    const inspector = inspectorFor(t);
    const keyOf = (id: string): string => jobKey(prefix, 'default', id);
    assert.deepEqual(
      await inspector.hmget(keyOf(plain.id), 'cancelRequested', 'attempt', 'priority', 'deadLetter'),
      [null, null, null, null],
    );
    assert.deepEqual(await inspector.hmget(keyOf(low.id), 'priority', 'deadLetter'), ['1', '0']);
    const queued = await broker.get(plain.id);
    assert.equal(queued?.priority, 0);
    assert.equal(queued?.attempt, 0);
    assert.equal(queued?.cancelRequested, false);
    assert.equal(queued?.deadLetter, true);
    assert.equal((await broker.get(low.id))?.deadLetter, false);
    // Priority 0 sorts between -1 and 1 all the same.
    const claimed = await broker.claim({
      queue: 'default',
      workerId: 'w',
      max: 3,
      leaseMs: 30_000,
      tasks: [TASK],
    });
    assert.deepEqual(
      claimed.map((job) => [job.id, job.attempt, job.priority]),
      [
        [high.id, 1, -1],
        [plain.id, 1, 0],
        [low.id, 1, 1],
      ],
    );
    assert.equal(claimed[1]?.cancelRequested, false);
    assert.equal(await broker.cancel(plain.id), 'requested');
    assert.equal(await inspector.hget(keyOf(plain.id), 'cancelRequested'), '1');
    assert.equal((await broker.get(plain.id))?.cancelRequested, true);
  });

  test("stats() latencies are each job's finishedAt - createdAt; members in the earlier latency form still count", async (t) => {
    const { prefix, broker } = oneBroker(t);
    const job = newJob();
    await broker.enqueue([job]);
    const [claimed] = await broker.claim({
      queue: 'default',
      workerId: 'w',
      max: 1,
      leaseMs: 30_000,
      tasks: [TASK],
    });
    await new Promise((resolve) => setTimeout(resolve, 5));
    const { settled } = await broker.settleAndClaim(
      'w',
      [{ id: claimed!.id, kind: 'complete', result: new Uint8Array([7]) }],
      null,
    );
    assert.deepEqual(settled, [true]);
    const done = await broker.get(job.id);
    const latency = (done?.finishedAt ?? 0) - (done?.createdAt ?? 0);
    assert.ok(latency >= 5);
    const stats = await broker.stats('default');
    assert.equal(stats.finishedLastMinute, 1);
    assert.equal(stats.latencyP50Ms, latency);
    assert.equal(stats.latencyP99Ms, latency);
    const inspector = inspectorFor(t);
    await inspector.zadd(`{${prefix}:default}:finished`, Date.now(), '900000,900001|earlier');
    const mixed = await broker.stats('default');
    assert.equal(mixed.finishedLastMinute, 3);
    assert.equal(mixed.latencyP50Ms, 900_000);
    assert.equal(mixed.latencyP99Ms, 900_001);
  });

  test('enqueues 10,000 jobs in two queues with one call', async (t) => {
    const { broker } = oneBroker(t);
    const jobs = Array.from({ length: 10_000 }, (_, i) => newJob({ queue: i % 2 === 0 ? 'even' : 'odd' }));
    const enqueued = await broker.enqueue(jobs);
    assert.equal(enqueued.filter((entry) => entry.created).length, 10_000);
    assert.equal((await broker.stats('even')).counts.queued, 5000);
    assert.equal((await broker.stats('odd')).counts.queued, 5000);
    assert.equal((await broker.get(jobs[9_999]!.id))?.queue, 'odd');
  });

  test('claimTick: of 40 concurrent callers on 4 connections exactly one wins each tick', async (t) => {
    const { brokers } = fixture(t, 4);
    for (const tick of [1_000, 2_000, 3_000]) {
      const results = await Promise.all(
        Array.from({ length: 40 }, (_, i) => brokers[i % 4]!.claimTick('nightly', tick, `s${i}`)),
      );
      assert.equal(results.filter(Boolean).length, 1, `tick ${tick}`);
    }
  });

  test('claim skips jobs of other tasks, capped tasks and rate-limited groups without removing them', async (t) => {
    const { broker } = oneBroker(t);
    const other = newJob({ task: OTHER });
    const a1 = newJob();
    const a2 = newJob();
    const grouped = newJob({ task: 'file:///tasks.ts#third', group: 'mail' });
    const grouped2 = newJob({ task: 'file:///tasks.ts#fourth', group: 'mail' });
    await broker.enqueue([other, a1, a2, grouped, grouped2]);
    const request = {
      queue: 'default',
      workerId: 'w',
      leaseMs: 30_000,
      max: 10,
      tasks: [TASK, 'file:///tasks.ts#third', 'file:///tasks.ts#fourth'],
      concurrency: { [TASK]: 1 },
      rateLimits: { 'group:mail': { limit: 1, intervalMs: 60_000 } },
    };
    const first = await broker.claim(request);
    assert.deepEqual(
      first.map((job) => job.id),
      [a1.id, grouped.id],
    );
    assert.deepEqual(await broker.claim(request), [], 'cap of 1 and group limit of 1 per minute reached');
    assert.equal(await broker.complete('w', a1.id, new Uint8Array()), true);
    assert.deepEqual(
      (await broker.claim(request)).map((job) => job.id),
      [a2.id],
    );
    assert.equal((await broker.get(other.id))?.state, 'queued');
    assert.equal((await broker.get(grouped2.id))?.state, 'queued');
  });

  test('a job hash damaged by hand is set aside at claim with an error, and the claim goes on', async (t) => {
    const { prefix, broker } = oneBroker(t);
    const damaged = newJob();
    const sound = newJob();
    await broker.enqueue([damaged, sound]);
    const inspector = inspectorFor(t);
    await inspector.hset(jobKey(prefix, 'default', damaged.id), 'maxAttempts', 'three');
    const claimed = await broker.claim({
      queue: 'default',
      workerId: 'w',
      max: 10,
      leaseMs: 1000,
      tasks: [TASK],
    });
    assert.deepEqual(
      claimed.map((job) => job.id),
      [sound.id],
    );
    await assert.rejects(broker.get(damaged.id), (error) => codeOf(error) === 'SKEIN_INTERNAL');
    await inspector.hset(jobKey(prefix, 'default', damaged.id), 'maxAttempts', '3');
    const record = await broker.get(damaged.id);
    assert.equal(record?.state, 'dead');
    assert.match(record?.error?.message ?? '', /damaged.*maxAttempts/);
  });

  test('claims by priority, then runAt, then id', async (t) => {
    const { broker } = oneBroker(t);
    const late = newJob({ priority: 5, runAt: 1 });
    const urgent = newJob({ priority: -1, runAt: 3 });
    const early = newJob({ priority: 5, runAt: 0 });
    const sameA = newJob({ priority: 5, runAt: 1 });
    await broker.enqueue([late, urgent, early, sameA]);
    const claimed = await broker.claim({
      queue: 'default',
      workerId: 'w',
      max: 10,
      leaseMs: 1000,
      tasks: [TASK],
    });
    assert.deepEqual(
      claimed.map((job) => job.id),
      [urgent.id, early.id, late.id, sameA.id],
    );
  });

  test('an idempotency key returns the first job, in the store and within one batch', async (t) => {
    const { broker } = oneBroker(t);
    const first = newJob({ idempotencyKey: 'k' });
    const second = newJob({ idempotencyKey: 'k' });
    const third = newJob({ idempotencyKey: 'k2' });
    const fourth = newJob({ idempotencyKey: 'k2' });
    assert.deepEqual(await broker.enqueue([first]), [{ id: first.id, created: true }]);
    assert.deepEqual(await broker.enqueue([second, third, fourth, first]), [
      { id: first.id, created: false },
      { id: third.id, created: true },
      { id: third.id, created: false },
      { id: first.id, created: false },
    ]);
    assert.equal(await broker.get(second.id), undefined);
  });

  test('a lost lease: recovery requeues the job and the old holder can no longer complete it', async (t) => {
    const { broker } = oneBroker(t);
    const job = newJob({ maxAttempts: 2 });
    await broker.enqueue([job]);
    await broker.claim({ queue: 'default', workerId: 'old', max: 1, leaseMs: 1, tasks: [TASK] });
    assert.equal(await broker.recoverExpiredLeases(Date.now() + 60_000), 1);
    assert.equal((await broker.get(job.id))?.state, 'queued');
    assert.equal(await broker.complete('old', job.id, new Uint8Array()), false);
    await broker.claim({ queue: 'default', workerId: 'new', max: 1, leaseMs: 1, tasks: [TASK] });
    assert.deepEqual(await broker.extendLeases('old', [job.id], 1000), []);
    assert.equal(await broker.recoverExpiredLeases(Date.now() + 60_000), 1);
    const dead = await broker.get(job.id);
    assert.equal(dead?.state, 'dead');
    assert.equal(dead?.attempt, 2);
    assert.equal(dead?.error?.code, 'SKEIN_TASKS_LEASE_EXPIRED');
    assert.equal(dead?.expiresAt, null);
    assert.equal(await broker.retry(job.id), true);
    assert.equal((await broker.get(job.id))?.attempt, 0);
  });

  test('events() delivers changes in order across connections and ends on abort', async (t) => {
    const { brokers } = fixture(t, 2);
    const controller = new AbortController();
    const iterator = brokers[0]!.events(controller.signal)[Symbol.asyncIterator]();
    const job = newJob();
    // Through the same broker: its calls after events() are ordered after the stream's starting point.
    await brokers[0]!.enqueue([job]);
    await brokers[1]!.claim({ queue: 'default', workerId: 'w', max: 1, leaseMs: 10_000, tasks: [TASK] });
    await brokers[1]!.complete('w', job.id, new Uint8Array());
    await brokers[1]!.heartbeat('w', 'default', { pid: 1 });
    const seen: BrokerEvent[] = [];
    for (let i = 0; i < 4; i++) {
      const next = await iterator.next();
      assert.equal(next.done, false);
      seen.push(next.value as BrokerEvent);
    }
    assert.deepEqual(
      seen.map((event) => [event.type, event.jobId, event.workerId]),
      [
        ['enqueued', job.id, null],
        ['started', job.id, 'w'],
        ['succeeded', job.id, 'w'],
        ['worker-heartbeat', null, 'w'],
      ],
    );
    const running = newJob();
    await brokers[0]!.enqueue([running]);
    await brokers[1]!.claim({ queue: 'default', workerId: 'w', max: 1, leaseMs: 10_000, tasks: [TASK] });
    assert.equal(await brokers[1]!.cancel(running.id), 'requested');
    // A retry of a job whose cancel was requested ends it cancelled instead.
    assert.equal(await brokers[1]!.fail('w', running.id, ERROR, { retryAt: Date.now() }), true);
    assert.equal((await brokers[1]!.get(running.id))?.state, 'cancelled');
    const more: BrokerEvent[] = [];
    for (let i = 0; i < 4; i++) more.push((await iterator.next()).value as BrokerEvent);
    assert.deepEqual(
      more.map((event) => [event.type, event.workerId]),
      [
        ['enqueued', null],
        ['started', 'w'],
        ['cancelled', null],
        ['cancelled', 'w'],
      ],
    );
    const pending = iterator.next();
    controller.abort();
    assert.deepEqual(await pending, { done: true, value: undefined });
  });

  test('waitUntilFinished wakes on a finish made through another connection; unknown ids and aborts reject', async (t) => {
    const { brokers } = fixture(t, 2);
    const job = newJob();
    await brokers[0]!.enqueue([job]);
    const waiting = brokers[0]!.waitUntilFinished(job.id, AbortSignal.timeout(SOON_MS));
    await brokers[1]!.claim({ queue: 'default', workerId: 'w', max: 1, leaseMs: 10_000, tasks: [TASK] });
    await brokers[1]!.fail(
      'w',
      job.id,
      { name: 'Error', message: 'boom', stack: undefined, code: 'E_X' },
      {
        final: true,
      },
    );
    const finished: JobRecord = await waiting;
    assert.equal(finished.state, 'dead');
    assert.deepEqual(finished.error, { name: 'Error', message: 'boom', stack: undefined, code: 'E_X' });
    await assert.rejects(brokers[0]!.waitUntilFinished('nope', AbortSignal.timeout(SOON_MS)), (error) => {
      return codeOf(error) === 'SKEIN_TASKS_JOB_NOT_FOUND';
    });
    const other = newJob();
    await brokers[0]!.enqueue([other]);
    const controller = new AbortController();
    const aborted = brokers[0]!.waitUntilFinished(other.id, controller.signal);
    controller.abort();
    await assert.rejects(aborted, (error) => codeOf(error) === 'SKEIN_ABORTED');
  });

  test('purgeExpired leaves no key of the purged jobs, and close() leaves no connection behind', async (t) => {
    const prefix = randomPrefix();
    const broker = new RedisBroker({ url: REDIS_URL, prefix });
    t.after(() => deleteStore(prefix));
    const parent = newJob({ resultTtlMs: 1, idempotencyKey: 'p' });
    const child = newJob({ parentId: parent.id, resultTtlMs: 1 });
    await broker.enqueue([parent, child]);
    assert.deepEqual(
      (await broker.children(parent.id)).map((job) => job.id),
      [child.id],
    );
    assert.equal(await broker.cancel(parent.id), 'cancelled');
    assert.equal(await broker.cancel(child.id), 'cancelled');
    assert.equal(await broker.cancel(child.id), 'finished');
    assert.equal(await broker.purgeExpired(Date.now() + 60_000), 2);
    assert.equal(await broker.cancel(child.id), 'not-found');
    const inspector = inspectorFor(t);
    const left = (await storeKeys(inspector, prefix)).sort();
    // Only store-wide bookkeeping stays: the queue list, the enqueue sequence and the event stream.
    assert.deepEqual(left, [`${prefix}:events`, `${prefix}:queues`, `${prefix}:seq`].sort());
    await broker.close();
    await broker.close();
    await assert.rejects(
      broker.get(parent.id),
      (error) => codeOf(error) === 'SKEIN_TASKS_BROKER_UNAVAILABLE',
    );
  });
});

describe('RedisBroker close()', { skip }, () => {
  test('ends event iterations and waits in flight with SKEIN_TASKS_BROKER_UNAVAILABLE', async (t) => {
    const prefix = randomPrefix();
    t.after(() => deleteStore(prefix));
    const broker = new RedisBroker({ url: REDIS_URL, prefix });
    const job = newJob();
    const iterator = broker.events(AbortSignal.timeout(4 * SOON_MS))[Symbol.asyncIterator]();
    await broker.enqueue([job]);
    assert.equal(((await iterator.next()).value as BrokerEvent).type, 'enqueued');
    // Both settle into values at once: they may reject before the test looks at them.
    const nextEvent = iterator.next().then(
      () => undefined,
      (error: unknown) => error,
    );
    const waiting = broker.waitUntilFinished(job.id, AbortSignal.timeout(4 * SOON_MS)).then(
      () => undefined,
      (error: unknown) => error,
    );
    await broker.get(job.id);
    await broker.close();
    assert.equal(codeOf(await nextEvent), 'SKEIN_TASKS_BROKER_UNAVAILABLE');
    assert.equal(codeOf(await waiting), 'SKEIN_TASKS_BROKER_UNAVAILABLE');
    await assert.rejects(
      broker.waitUntilFinished(job.id, AbortSignal.timeout(SOON_MS)),
      (error) => codeOf(error) === 'SKEIN_TASKS_BROKER_UNAVAILABLE',
    );
  });
});

describe('RedisBroker when Redis goes away and comes back', {
  skip: redisServerInstalled() ? false : REDIS_SERVER_MISSING,
}, () => {
  const scratch: ScratchRedis[] = [];
  after(() => Promise.all(scratch.map((server) => server.dispose())));

  test('calls reject with SKEIN_TASKS_BROKER_UNAVAILABLE while Redis is down, then work again; events and waits resume', async (t) => {
    const server = new ScratchRedis(await freePort());
    scratch.push(server);
    await server.start();
    const broker = new RedisBroker({ url: server.url, prefix: 'reconnect' });
    t.after(() => broker.close());
    const controller = new AbortController();
    t.after(() => controller.abort());
    const events = broker.events(controller.signal)[Symbol.asyncIterator]();
    const before = newJob();
    await broker.enqueue([before]);
    assert.equal(((await events.next()).value as BrokerEvent).jobId, before.id);
    // Settled into a value at once: the waiter may reject before the test gets to look at it.
    const waiting = broker.waitUntilFinished(before.id, AbortSignal.timeout(4 * SOON_MS)).then(
      () => undefined,
      (error: unknown) => error,
    );

    await server.kill();
    await assert.rejects(broker.enqueue([newJob()]), (error) => {
      assert.equal(codeOf(error), 'SKEIN_TASKS_BROKER_UNAVAILABLE');
      assert.match((error as Error).message, /unavailable.*retry/);
      return true;
    });

    // No persistence: the restarted server is empty, as after a crash without appendonly.
    await server.start();
    const after = newJob();
    await until(
      async () => {
        try {
          await broker.enqueue([after]);
          return true;
        } catch (error) {
          assert.equal(codeOf(error), 'SKEIN_TASKS_BROKER_UNAVAILABLE');
          return false;
        }
      },
      SOON_MS,
      'enqueue after the restart',
    );
    const event = await events.next();
    assert.equal(event.done, false);
    assert.deepEqual(
      [(event.value as BrokerEvent).type, (event.value as BrokerEvent).jobId],
      ['enqueued', after.id],
    );

    // The job the waiter waits on was lost with the unpersisted server: the waiter reads again after the
    // reconnect and learns so, instead of hanging.
    assert.equal(codeOf(await waiting), 'SKEIN_TASKS_JOB_NOT_FOUND');
    controller.abort();
  });

  test('a paused Redis (CLIENT PAUSE WRITE) holds calls until the pause ends, and none fails', async (t) => {
    const server = new ScratchRedis(await freePort());
    scratch.push(server);
    await server.start();
    const broker = new RedisBroker({ url: server.url, prefix: 'paused' });
    t.after(() => broker.close());
    const admin = new Redis(server.url);
    t.after(() => admin.quit().then(() => {}));
    await broker.stats('default');
    await admin.call('CLIENT', 'PAUSE', '300', 'WRITE');
    const job = newJob();
    assert.deepEqual(await broker.enqueue([job]), [{ id: job.id, created: true }]);
    assert.equal((await broker.get(job.id))?.state, 'queued');
  });

  test('a broker created while Redis is down rejects its first call with SKEIN_TASKS_BROKER_UNAVAILABLE', async (t) => {
    const port = await freePort();
    const broker = new RedisBroker({ url: `redis://127.0.0.1:${port}`, prefix: 'down' });
    t.after(() => broker.close());
    await assert.rejects(
      broker.stats('default'),
      (error) => codeOf(error) === 'SKEIN_TASKS_BROKER_UNAVAILABLE',
    );
    await assert.rejects(broker.get('x'), (error) => codeOf(error) === 'SKEIN_TASKS_BROKER_UNAVAILABLE');
  });
});
