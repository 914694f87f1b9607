// The broker conformance suite: every method and invariant of the Broker contract (src/tasks/broker.ts),
// registered once and run against each engine (sqlite-broker.test.ts, and the Redis engine's file).
// Tests wait only by bounded polling of the broker's own state; time-based cases use short windows and
// the `now` arguments of recoverExpiredLeases and purgeExpired instead of sleeping.

import assert from 'node:assert/strict';
import { describe, it, type TestContext } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import { SkeinError } from '../../src/errors.ts';
import type {
  Broker,
  BrokerEvent,
  ClaimRequest,
  JobRecord,
  Join,
  NewJob,
  Settled,
  SettleOutcome,
  StoredError,
} from '../../src/tasks/broker.ts';
import { codeOf, SOON_MS, settle, within } from './helpers.ts';

export interface BrokerHarness {
  /** The engine's name, shown in the test names. */
  readonly name: string;
  /** A broker on a fresh, empty store. */
  create(): Promise<Broker>;
  /** Another broker (its own connection) on the same store as `broker`, which create() made. */
  connect(broker: Broker): Promise<Broker>;
  /** Removes everything the stores of one test left (files, keys); runs after its brokers closed. */
  cleanup(): Promise<void>;
}

const TASK_A = 'file:///app/tasks.ts#resize';
const TASK_B = 'file:///app/tasks.ts#thumbnail';
const QUEUE = 'default';
const POLL_MS = 5;

let jobCounter = 0;

/** A valid NewJob, runnable now, with a fresh time-ordered id; `fields` override any field. */
export function newJob(fields: Partial<NewJob> = {}): NewJob {
  jobCounter++;
  return {
    id: `job-${Date.now().toString(36)}-${String(jobCounter).padStart(6, '0')}`,
    queue: QUEUE,
    task: TASK_A,
    payload: new Uint8Array([jobCounter & 0xff, 1, 2]),
    priority: 0,
    runAt: Date.now(),
    maxAttempts: 3,
    timeLimitMs: null,
    idempotencyKey: null,
    group: null,
    resultTtlMs: 60_000,
    deadLetter: true,
    parentId: null,
    canvas: null,
    ...fields,
  };
}

function request(fields: Partial<ClaimRequest> = {}): ClaimRequest {
  return { queue: QUEUE, workerId: 'worker-1', max: 10, leaseMs: 30_000, tasks: [TASK_A, TASK_B], ...fields };
}

const ERROR: StoredError = {
  name: 'TypeError',
  message: 'cannot resize a negative image',
  stack: 'TypeError: cannot resize a negative image\n    at resize (file:///app/tasks.ts:3:9)',
  code: undefined,
};

/** Polls `probe` until it returns a value other than undefined; fails after `ms`. */
async function until<T>(probe: () => Promise<T | undefined>, what: string, ms = SOON_MS): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`${what}: not reached within ${ms} ms`);
    await delay(POLL_MS);
  }
}

async function state(broker: Broker, id: string): Promise<JobRecord['state'] | undefined> {
  return (await broker.get(id))?.state;
}

async function mustGet(broker: Broker, id: string): Promise<JobRecord> {
  const record = await broker.get(id);
  assert.ok(record !== undefined, `job ${id} exists`);
  return record;
}

export function brokerSuite(harness: BrokerHarness): void {
  /** A broker on a fresh store, closed (with every peer) and cleaned up when the test ends. */
  async function fresh(t: TestContext): Promise<{ broker: Broker; peer(): Promise<Broker> }> {
    const broker = await harness.create();
    const opened = [broker];
    t.after(async () => {
      for (const each of opened) await each.close();
      await harness.cleanup();
    });
    return {
      broker,
      async peer() {
        const other = await harness.connect(broker);
        opened.push(other);
        return other;
      },
    };
  }

  /** Enqueues one job and claims it for `workerId`; returns the claimed record. */
  async function enqueueAndClaim(broker: Broker, fields: Partial<NewJob> = {}, workerId = 'worker-1') {
    const job = newJob(fields);
    await broker.enqueue([job]);
    const [claimed] = await broker.claim(request({ workerId, max: 1, tasks: [job.task], queue: job.queue }));
    assert.equal(claimed?.id, job.id);
    return claimed;
  }

  describe(`Broker conformance: ${harness.name}`, () => {
    describe('enqueue and get', () => {
      it('stores every field of a job and reads it back unchanged', async (t) => {
        const { broker } = await fresh(t);
        const job = newJob({
          payload: new Uint8Array([0, 255, 7, 0]),
          priority: -3,
          maxAttempts: 5,
          timeLimitMs: 1500,
          idempotencyKey: 'order-42',
          group: 'images',
          resultTtlMs: 12_345,
          deadLetter: false,
          parentId: 'parent-1',
          canvas: new Uint8Array([9, 8, 7]),
        });
        const before = Date.now();
        assert.deepEqual(await broker.enqueue([job]), [{ id: job.id, created: true }]);
        const after = Date.now();
        const record = await mustGet(broker, job.id);
        const { createdAt, ...rest } = record;
        assert.deepEqual(rest, {
          ...job,
          state: 'queued',
          attempt: 0,
          startedAt: null,
          finishedAt: null,
          workerId: null,
          leaseUntil: null,
          result: null,
          error: null,
          progress: null,
          cancelRequested: false,
          expiresAt: null,
        });
        assert.ok(
          createdAt >= before - 1000 && createdAt <= after + 1000,
          `createdAt ${createdAt} is about now`,
        );
      });

      it('stores an empty payload and null optional fields as they are', async (t) => {
        const { broker } = await fresh(t);
        const job = newJob({ payload: new Uint8Array(0) });
        await broker.enqueue([job]);
        const record = await mustGet(broker, job.id);
        assert.deepEqual(record.payload, new Uint8Array(0));
        assert.equal(record.canvas, null);
        assert.equal(record.timeLimitMs, null);
        assert.equal(record.group, null);
      });

      it('answers undefined for an id it never stored', async (t) => {
        const { broker } = await fresh(t);
        assert.equal(await broker.get('no-such-job'), undefined);
      });

      it('stores a bulk enqueue in order and answers one entry per job', async (t) => {
        const { broker } = await fresh(t);
        const jobs = Array.from({ length: 50 }, () => newJob());
        const answers = await broker.enqueue(jobs);
        assert.deepEqual(
          answers,
          jobs.map((job) => ({ id: job.id, created: true })),
        );
        assert.deepEqual(
          (await broker.list(QUEUE, 'queued', 100)).map((record) => record.id),
          jobs.map((job) => job.id),
        );
      });

      it('returns the first job for a second enqueue with the same idempotency key in the same queue', async (t) => {
        const { broker } = await fresh(t);
        const first = newJob({ idempotencyKey: 'charge-7' });
        const second = newJob({ idempotencyKey: 'charge-7', payload: new Uint8Array([42]) });
        assert.deepEqual(await broker.enqueue([first]), [{ id: first.id, created: true }]);
        assert.deepEqual(await broker.enqueue([second]), [{ id: first.id, created: false }]);
        assert.equal(await broker.get(second.id), undefined);
        assert.deepEqual((await mustGet(broker, first.id)).payload, first.payload);
        const inOneBatch = [newJob({ idempotencyKey: 'k' }), newJob({ idempotencyKey: 'k' })];
        const answers = await broker.enqueue(inOneBatch);
        assert.deepEqual(answers, [
          { id: inOneBatch[0]!.id, created: true },
          { id: inOneBatch[0]!.id, created: false },
        ]);
      });

      it('stores an id once: an enqueue of an id already stored returns created false and changes nothing', async (t) => {
        const { broker } = await fresh(t);
        const job = newJob();
        assert.deepEqual(await broker.enqueue([job]), [{ id: job.id, created: true }]);
        const again = { ...job, payload: new Uint8Array([99]), priority: 5 };
        // A re-sent enqueue (its reply was lost), alone and in a batch beside a new job.
        assert.deepEqual(await broker.enqueue([again]), [{ id: job.id, created: false }]);
        const fresh2 = newJob();
        assert.deepEqual(await broker.enqueue([again, fresh2]), [
          { id: job.id, created: false },
          { id: fresh2.id, created: true },
        ]);
        const stored = await mustGet(broker, job.id);
        assert.deepEqual([...stored.payload], [...job.payload]);
        assert.equal(stored.priority, job.priority);
      });

      it('scopes idempotency keys to their queue', async (t) => {
        const { broker } = await fresh(t);
        const here = newJob({ idempotencyKey: 'same' });
        const there = newJob({ idempotencyKey: 'same', queue: 'other' });
        await broker.enqueue([here]);
        assert.deepEqual(await broker.enqueue([there]), [{ id: there.id, created: true }]);
      });

      it('keeps a job with a future runAt scheduled and unclaimable until it is due', async (t) => {
        const { broker } = await fresh(t);
        const later = newJob({ runAt: Date.now() + 60 * 60_000 });
        const soon = newJob({ runAt: Date.now() + 200 });
        await broker.enqueue([later, soon]);
        assert.equal(await state(broker, later.id), 'scheduled');
        assert.equal(await state(broker, soon.id), 'scheduled');
        const claimed = await until(async () => {
          const jobs = await broker.claim(request());
          return jobs.length > 0 ? jobs : undefined;
        }, 'the delayed job becomes claimable');
        assert.deepEqual(
          claimed.map((job) => job.id),
          [soon.id],
        );
        assert.ok(Date.now() >= soon.runAt, 'not claimed before its runAt');
        assert.equal(await state(broker, later.id), 'scheduled');
      });
    });

    describe('claim', () => {
      it('claims by priority, then runAt, then id', async (t) => {
        const { broker } = await fresh(t);
        const base = Date.now() - 10_000;
        const jobs = [
          newJob({ priority: 5, runAt: base + 1 }),
          newJob({ priority: 1, runAt: base + 3 }),
          newJob({ priority: 5, runAt: base }),
          newJob({ priority: 1, runAt: base + 2 }),
          newJob({ priority: 3, runAt: base + 2 }),
          newJob({ priority: 3, runAt: base + 2 }),
        ];
        await broker.enqueue(jobs.toReversed());
        const order: string[] = [];
        for (let i = 0; i < jobs.length; i++) {
          const claimed = await broker.claim(request({ max: 1 }));
          assert.equal(claimed.length, 1);
          order.push(claimed[0]!.id);
        }
        const [p5late, p1late, p5early, p1early, p3a, p3b] = jobs.map((job) => job.id);
        assert.deepEqual(order, [p1early, p1late, p3a, p3b, p5early, p5late]);
        assert.deepEqual(await broker.claim(request()), []);
      });

      it('returns claimed jobs running with a lease for the worker and their attempt counted', async (t) => {
        const { broker } = await fresh(t);
        const job = newJob();
        await broker.enqueue([job]);
        const before = Date.now();
        const [claimed] = await broker.claim(request({ workerId: 'w-7', leaseMs: 20_000 }));
        assert.ok(claimed !== undefined);
        assert.equal(claimed.state, 'running');
        assert.equal(claimed.workerId, 'w-7');
        assert.equal(claimed.attempt, 1);
        assert.ok(claimed.startedAt !== null && claimed.startedAt >= before - 1000);
        assert.ok(claimed.leaseUntil !== null && claimed.leaseUntil >= before + 19_000);
        assert.deepEqual(claimed.payload, job.payload);
        const stored = await mustGet(broker, job.id);
        assert.equal(stored.state, 'running');
        assert.equal(stored.workerId, 'w-7');
        assert.equal(stored.attempt, 1);
        assert.equal(stored.leaseUntil, claimed.leaseUntil);
      });

      it('claims at most max jobs, only of the queue asked for', async (t) => {
        const { broker } = await fresh(t);
        await broker.enqueue([...Array.from({ length: 5 }, () => newJob()), newJob({ queue: 'elsewhere' })]);
        assert.equal((await broker.claim(request({ max: 3 }))).length, 3);
        assert.equal((await broker.claim(request({ max: 3 }))).length, 2);
        assert.equal((await broker.claim(request({ max: 3 }))).length, 0);
        assert.equal((await broker.claim(request({ queue: 'elsewhere' }))).length, 1);
      });

      it('claims only the tasks the worker runs and leaves the others queued', async (t) => {
        const { broker } = await fresh(t);
        const a = newJob({ task: TASK_A });
        const b = newJob({ task: TASK_B });
        await broker.enqueue([b, a]);
        const claimed = await broker.claim(request({ tasks: [TASK_A] }));
        assert.deepEqual(
          claimed.map((job) => job.id),
          [a.id],
        );
        assert.equal(await state(broker, b.id), 'queued');
        assert.deepEqual(await broker.claim(request({ tasks: [] })), []);
        assert.deepEqual(
          (await broker.claim(request({ tasks: [TASK_B] }))).map((job) => job.id),
          [b.id],
        );
      });

      it('respects a per-task concurrency cap across workers and frees a slot when a job finishes', async (t) => {
        const { broker, peer } = await fresh(t);
        const other = await peer();
        const capped = Array.from({ length: 5 }, () => newJob({ task: TASK_A }));
        const free = Array.from({ length: 3 }, () => newJob({ task: TASK_B, priority: 1 }));
        await broker.enqueue([...capped, ...free]);
        const concurrency = { [TASK_A]: 2 };
        const first = await broker.claim(request({ workerId: 'w1', concurrency }));
        assert.equal(first.filter((job) => job.task === TASK_A).length, 2);
        assert.equal(
          first.filter((job) => job.task === TASK_B).length,
          3,
          'the cap holds back only its task',
        );
        assert.deepEqual(await other.claim(request({ workerId: 'w2', concurrency })), []);
        assert.equal(await broker.complete('w1', first[0]!.id, new Uint8Array()), true);
        const next = await other.claim(request({ workerId: 'w2', concurrency }));
        assert.equal(next.length, 1);
        assert.equal(next[0]!.task, TASK_A);
      });

      it('respects a per-task rate limit within its window and claims again once it passed', async (t) => {
        const { broker } = await fresh(t);
        await broker.enqueue(Array.from({ length: 5 }, () => newJob({ task: TASK_A })));
        const rateLimits = { [TASK_A]: { limit: 2, intervalMs: 400 } };
        const first = await broker.claim(request({ rateLimits }));
        const start = Date.now();
        assert.equal(first.length, 2);
        const second = await broker.claim(request({ rateLimits }));
        if (Date.now() - start < 300) assert.equal(second.length, 0, 'no third start within the window');
        const later = await until(async () => {
          const jobs = await broker.claim(request({ rateLimits }));
          return jobs.length > 0 ? jobs : undefined;
        }, 'the rate window passes');
        assert.ok(later.length <= 2, `at most the limit per window (got ${later.length})`);
      });

      it('respects a group rate limit shared by jobs of different tasks', async (t) => {
        const { broker } = await fresh(t);
        await broker.enqueue([
          ...Array.from({ length: 3 }, () => newJob({ task: TASK_A, group: 'api' })),
          ...Array.from({ length: 3 }, () => newJob({ task: TASK_B, group: 'api' })),
          newJob({ task: TASK_B, group: null, priority: 9 }),
        ]);
        const rateLimits = { 'group:api': { limit: 4, intervalMs: 60 * 60_000 } };
        const claimed = await broker.claim(request({ rateLimits }));
        assert.equal(claimed.filter((job) => job.group === 'api').length, 4);
        assert.equal(claimed.filter((job) => job.group === null).length, 1, 'jobs outside the group run');
        assert.deepEqual(await broker.claim(request({ rateLimits })), []);
      });
    });

    describe('leases', () => {
      it('lets only the lease holder complete, fail, extend, release, report progress or end a cancel', async (t) => {
        const { broker } = await fresh(t);
        const job = await enqueueAndClaim(broker, {}, 'holder');
        assert.equal(await broker.complete('intruder', job.id, new Uint8Array([1])), false);
        assert.equal(await broker.fail('intruder', job.id, ERROR, { final: true }), false);
        assert.equal(await broker.fail('intruder', job.id, ERROR, { retryAt: Date.now() }), false);
        assert.deepEqual(await broker.extendLeases('intruder', [job.id], 60_000), []);
        assert.equal(await broker.release('intruder', job.id), false);
        assert.equal(await broker.reportProgress('intruder', job.id, new Uint8Array([5])), false);
        assert.equal(await broker.cancelled('intruder', job.id), false);
        const stored = await mustGet(broker, job.id);
        assert.equal(stored.state, 'running');
        assert.equal(stored.workerId, 'holder');
        assert.equal(stored.leaseUntil, job.leaseUntil);
        assert.equal(stored.progress, null);
        assert.equal(await broker.complete('holder', job.id, new Uint8Array([1])), true);
        assert.equal(await broker.complete('holder', job.id, new Uint8Array([2])), false, 'only once');
        assert.equal(await broker.complete('holder', 'no-such-job', new Uint8Array()), false);
      });

      it('records a success with its result and an expiry after resultTtlMs', async (t) => {
        const { broker } = await fresh(t);
        const job = await enqueueAndClaim(broker, { resultTtlMs: 5000 });
        assert.equal(await broker.complete('worker-1', job.id, new Uint8Array([4, 2])), true);
        const done = await mustGet(broker, job.id);
        assert.equal(done.state, 'succeeded');
        assert.deepEqual(done.result, new Uint8Array([4, 2]));
        assert.ok(done.finishedAt !== null);
        assert.equal(done.expiresAt, done.finishedAt + 5000);
        assert.equal(done.workerId, null);
        assert.equal(done.leaseUntil, null);
        assert.equal(done.attempt, 1);
      });

      it('extends only the leases the worker still holds', async (t) => {
        const { broker } = await fresh(t);
        const mine = await enqueueAndClaim(broker, {}, 'w1');
        const theirs = await enqueueAndClaim(broker, {}, 'w2');
        const held = await broker.extendLeases('w1', [mine.id, theirs.id, 'no-such-job'], 90_000);
        assert.deepEqual(held, [mine.id]);
        const extended = await mustGet(broker, mine.id);
        assert.ok(extended.leaseUntil !== null && extended.leaseUntil > (mine.leaseUntil ?? 0));
        assert.equal((await mustGet(broker, theirs.id)).leaseUntil, theirs.leaseUntil);
        assert.deepEqual(await broker.extendLeases('w1', [], 90_000), []);
      });

      it('tells a worker which of its attempts it holds, which were cancelled, and which it lost', async (t) => {
        const { broker } = await fresh(t);
        const held = await enqueueAndClaim(broker, {}, 'w1');
        const cancelled = await enqueueAndClaim(broker, {}, 'w1');
        assert.equal(await broker.cancel(cancelled.id), 'requested');
        const theirs = await enqueueAndClaim(broker, {}, 'w2');
        const finished = await enqueueAndClaim(broker, {}, 'w1');
        await broker.complete('w1', finished.id, new Uint8Array());
        // Failed and claimed again by the same worker: the first attempt is lost, the second held.
        const retried = await enqueueAndClaim(broker, {}, 'w1');
        await broker.fail('w1', retried.id, ERROR, { retryAt: Date.now() - 1 });
        const [again] = await broker.claim(request({ workerId: 'w1', max: 1 }));
        assert.equal(again?.id, retried.id);
        const attempts = [held, cancelled, theirs, finished, retried, again!].map((job) => ({
          id: job.id,
          attempt: job.attempt,
        }));
        attempts.push({ id: 'no-such-job', attempt: 1 });
        assert.deepEqual(await broker.heldStatus('w1', attempts), [
          'held',
          'cancel-requested',
          'lost',
          'lost',
          'lost',
          'held',
          'lost',
        ]);
        assert.deepEqual(await broker.heldStatus('w1', []), []);
        assert.equal((await mustGet(broker, held.id)).leaseUntil, held.leaseUntil, 'a read changes nothing');
      });

      it('gives a released job back queued without counting its attempt', async (t) => {
        const { broker } = await fresh(t);
        const job = await enqueueAndClaim(broker);
        assert.equal(await broker.fail('worker-1', job.id, ERROR, { retryAt: Date.now() - 1 }), true);
        const [second] = await broker.claim(request({ max: 1 }));
        assert.equal(second?.attempt, 2);
        assert.equal(await broker.release('worker-1', job.id), true);
        const released = await mustGet(broker, job.id);
        assert.equal(released.state, 'queued');
        assert.equal(released.attempt, 1);
        assert.equal(released.workerId, null);
        assert.equal(released.leaseUntil, null);
        const [third] = await broker.claim(request({ max: 1 }));
        assert.equal(third?.attempt, 2);
      });

      it('sends a job whose lease ran out back to queued, and the old holder can no longer finish it', async (t) => {
        const { broker } = await fresh(t);
        const job = await enqueueAndClaim(broker, { maxAttempts: 3 }, 'slow');
        assert.equal(await broker.recoverExpiredLeases(Date.now()), 0, 'a live lease is left alone');
        assert.equal(await broker.recoverExpiredLeases((job.leaseUntil ?? 0) + 1000), 1);
        const recovered = await mustGet(broker, job.id);
        assert.equal(recovered.state, 'queued');
        assert.equal(recovered.workerId, null);
        assert.equal(recovered.attempt, 1);
        assert.equal(await broker.complete('slow', job.id, new Uint8Array()), false);
        const [again] = await broker.claim(request({ workerId: 'fast', max: 1 }));
        assert.equal(again?.id, job.id);
        assert.equal(again?.attempt, 2);
      });

      it('recovers short leases that really ran out', async (t) => {
        const { broker } = await fresh(t);
        await broker.enqueue([newJob(), newJob()]);
        const claimed = await broker.claim(request({ leaseMs: 50 }));
        assert.equal(claimed.length, 2);
        let recovered = 0;
        await until(async () => {
          recovered += await broker.recoverExpiredLeases(Date.now());
          return recovered >= 2 ? true : undefined;
        }, 'both 50 ms leases expire');
        assert.equal(recovered, 2);
        for (const job of claimed) assert.equal(await state(broker, job.id), 'queued');
      });

      it('dead-letters a job whose lease ran out on its last attempt, saying the lease expired', async (t) => {
        const { broker } = await fresh(t);
        const dead = await enqueueAndClaim(broker, { maxAttempts: 1, deadLetter: true });
        const failed = await enqueueAndClaim(broker, { maxAttempts: 1, deadLetter: false });
        const later = Math.max(dead.leaseUntil ?? 0, failed.leaseUntil ?? 0) + 1000;
        assert.equal(await broker.recoverExpiredLeases(later), 2);
        const deadRecord = await mustGet(broker, dead.id);
        assert.equal(deadRecord.state, 'dead');
        assert.match(deadRecord.error?.message ?? '', /lease/i);
        assert.ok(deadRecord.finishedAt !== null);
        const failedRecord = await mustGet(broker, failed.id);
        assert.equal(failedRecord.state, 'failed');
        assert.match(failedRecord.error?.message ?? '', /lease/i);
      });
    });

    describe('failure, retry and dead letters', () => {
      it('schedules a failed attempt for its retryAt and makes it claimable once due', async (t) => {
        const { broker } = await fresh(t);
        const job = await enqueueAndClaim(broker);
        const retryAt = Date.now() + 250;
        assert.equal(await broker.fail('worker-1', job.id, ERROR, { retryAt }), true);
        const waiting = await mustGet(broker, job.id);
        assert.equal(waiting.state, 'scheduled');
        assert.equal(waiting.runAt, retryAt);
        assert.equal(waiting.attempt, 1);
        assert.deepEqual(waiting.error, ERROR);
        assert.equal(waiting.workerId, null);
        const [again] = await until(async () => {
          const jobs = await broker.claim(request());
          return jobs.length > 0 ? jobs : undefined;
        }, 'the retry comes due');
        assert.ok(Date.now() >= retryAt, 'not claimed before retryAt');
        assert.equal(again?.id, job.id);
        assert.equal(again?.attempt, 2);
      });

      it('makes a retry due now claimable at once', async (t) => {
        const { broker } = await fresh(t);
        const job = await enqueueAndClaim(broker);
        assert.equal(await broker.fail('worker-1', job.id, ERROR, { retryAt: Date.now() - 5 }), true);
        const [again] = await broker.claim(request());
        assert.equal(again?.id, job.id);
      });

      it('ends a final failure dead with its error when dead-lettering, failed otherwise', async (t) => {
        const { broker } = await fresh(t);
        const dead = await enqueueAndClaim(broker, { deadLetter: true });
        const failed = await enqueueAndClaim(broker, { deadLetter: false, resultTtlMs: 1000 });
        assert.equal(await broker.fail('worker-1', dead.id, ERROR, { final: true }), true);
        assert.equal(await broker.fail('worker-1', failed.id, ERROR, { final: true }), true);
        const deadRecord = await mustGet(broker, dead.id);
        assert.equal(deadRecord.state, 'dead');
        assert.deepEqual(deadRecord.error, ERROR);
        assert.ok(deadRecord.finishedAt !== null);
        const failedRecord = await mustGet(broker, failed.id);
        assert.equal(failedRecord.state, 'failed');
        assert.deepEqual(failedRecord.error, ERROR);
        assert.equal(failedRecord.expiresAt, (failedRecord.finishedAt ?? 0) + 1000);
        assert.deepEqual(
          (await broker.list(QUEUE, 'dead', 10)).map((job) => job.id),
          [dead.id],
        );
      });

      it('keeps an error with a code and no stack as it was given', async (t) => {
        const { broker } = await fresh(t);
        const job = await enqueueAndClaim(broker);
        const coded: StoredError = {
          name: 'SkeinError',
          message: 'm',
          stack: undefined,
          code: 'SKEIN_TIMEOUT',
        };
        await broker.fail('worker-1', job.id, coded, { final: true });
        assert.deepEqual((await mustGet(broker, job.id)).error, coded);
      });

      it('sends a dead or failed job back to queued with a fresh attempt count when retried', async (t) => {
        const { broker } = await fresh(t);
        const job = await enqueueAndClaim(broker, { deadLetter: true });
        await broker.fail('worker-1', job.id, ERROR, { final: true });
        assert.equal(await broker.retry(job.id), true);
        const queued = await mustGet(broker, job.id);
        assert.equal(queued.state, 'queued');
        assert.equal(queued.attempt, 0);
        assert.equal(queued.finishedAt, null);
        const [again] = await broker.claim(request());
        assert.equal(again?.id, job.id);
        assert.equal(again?.attempt, 1);
        assert.equal(await broker.retry(job.id), false, 'a running job is not retried by hand');
        await broker.fail('worker-1', job.id, ERROR, { final: true });
        const failed = await enqueueAndClaim(broker, { deadLetter: false });
        await broker.fail('worker-1', failed.id, ERROR, { final: true });
        assert.equal(await broker.retry(failed.id), true);
        assert.equal(await state(broker, failed.id), 'queued');
        assert.equal(await broker.retry('no-such-job'), false);
      });
    });

    describe('cancel', () => {
      it('cancels a scheduled or queued job at once and never hands it out', async (t) => {
        const { broker } = await fresh(t);
        const queued = newJob();
        const scheduled = newJob({ runAt: Date.now() + 60 * 60_000 });
        await broker.enqueue([queued, scheduled]);
        assert.equal(await broker.cancel(queued.id), 'cancelled');
        assert.equal(await broker.cancel(scheduled.id), 'cancelled');
        for (const id of [queued.id, scheduled.id]) {
          const record = await mustGet(broker, id);
          assert.equal(record.state, 'cancelled');
          assert.ok(record.finishedAt !== null);
        }
        assert.deepEqual(await broker.claim(request()), []);
      });

      it('flags a running job for its worker, which then records it cancelled', async (t) => {
        const { broker } = await fresh(t);
        const job = await enqueueAndClaim(broker, {}, 'holder');
        assert.equal(await broker.cancel(job.id), 'requested');
        const flagged = await mustGet(broker, job.id);
        assert.equal(flagged.state, 'running');
        assert.equal(flagged.cancelRequested, true);
        assert.equal(await broker.cancelled('intruder', job.id), false);
        assert.equal(await broker.cancelled('holder', job.id), true);
        const done = await mustGet(broker, job.id);
        assert.equal(done.state, 'cancelled');
        assert.equal(done.workerId, null);
        assert.equal(await broker.cancelled('holder', job.id), false);
      });

      it('leaves finished jobs alone and answers not-found for unknown ids', async (t) => {
        const { broker } = await fresh(t);
        const succeeded = await enqueueAndClaim(broker);
        await broker.complete('worker-1', succeeded.id, new Uint8Array());
        const dead = await enqueueAndClaim(broker);
        await broker.fail('worker-1', dead.id, ERROR, { final: true });
        const failed = await enqueueAndClaim(broker, { deadLetter: false });
        await broker.fail('worker-1', failed.id, ERROR, { final: true });
        const cancelled = newJob();
        await broker.enqueue([cancelled]);
        await broker.cancel(cancelled.id);
        for (const id of [succeeded.id, dead.id, failed.id, cancelled.id]) {
          const before = await mustGet(broker, id);
          assert.equal(await broker.cancel(id), 'finished', before.state);
          assert.deepEqual(await mustGet(broker, id), before);
        }
        assert.equal(await broker.cancel('no-such-job'), 'not-found');
      });
    });

    describe('progress, children, listings and expiry', () => {
      it('stores the last progress value of a running job', async (t) => {
        const { broker } = await fresh(t);
        const job = await enqueueAndClaim(broker);
        assert.equal(await broker.reportProgress('worker-1', job.id, new Uint8Array([10])), true);
        assert.equal(await broker.reportProgress('worker-1', job.id, new Uint8Array([50])), true);
        assert.deepEqual((await mustGet(broker, job.id)).progress, new Uint8Array([50]));
        await broker.complete('worker-1', job.id, new Uint8Array());
        assert.equal(await broker.reportProgress('worker-1', job.id, new Uint8Array([99])), false);
      });

      it('lists the children of a canvas parent in enqueue order', async (t) => {
        const { broker } = await fresh(t);
        const parent = newJob();
        const kids = [newJob({ parentId: parent.id }), newJob({ parentId: parent.id })];
        const late = newJob({ parentId: parent.id, runAt: Date.now() + 60_000 });
        await broker.enqueue([parent, kids[1]!, kids[0]!]);
        await broker.enqueue([newJob({ parentId: 'someone-else' }), late]);
        assert.deepEqual(
          (await broker.children(parent.id)).map((job) => job.id),
          [kids[1]!.id, kids[0]!.id, late.id],
        );
        assert.deepEqual(await broker.children('no-such-parent'), []);
      });

      it('lists jobs of one queue and state oldest first, with limit and offset', async (t) => {
        const { broker } = await fresh(t);
        const jobs = Array.from({ length: 5 }, () => newJob());
        for (const job of jobs) await broker.enqueue([job]);
        await broker.enqueue([newJob({ queue: 'other' })]);
        const ids = jobs.map((job) => job.id);
        assert.deepEqual(
          (await broker.list(QUEUE, 'queued', 10)).map((job) => job.id),
          ids,
        );
        assert.deepEqual(
          (await broker.list(QUEUE, 'queued', 2, 1)).map((job) => job.id),
          ids.slice(1, 3),
        );
        assert.deepEqual(await broker.list(QUEUE, 'running', 10), []);
      });

      it('purges finished jobs past their expiry and keeps the rest, dead letters included', async (t) => {
        const { broker } = await fresh(t);
        const short = await enqueueAndClaim(broker, { resultTtlMs: 10 });
        await broker.complete('worker-1', short.id, new Uint8Array());
        const long = await enqueueAndClaim(broker, { resultTtlMs: 60 * 60_000 });
        await broker.complete('worker-1', long.id, new Uint8Array());
        const cancelled = newJob({ resultTtlMs: 10 });
        await broker.enqueue([cancelled]);
        await broker.cancel(cancelled.id);
        const dead = await enqueueAndClaim(broker, { resultTtlMs: 10, deadLetter: true });
        await broker.fail('worker-1', dead.id, ERROR, { final: true });
        const running = await enqueueAndClaim(broker, { resultTtlMs: 10 });
        const queued = newJob({ resultTtlMs: 10 });
        await broker.enqueue([queued]);
        const soon = Date.now() + 60_000;
        assert.equal(await broker.purgeExpired(soon), 2);
        assert.equal(await broker.get(short.id), undefined);
        assert.equal(await broker.get(cancelled.id), undefined);
        for (const kept of [long.id, dead.id, running.id, queued.id]) {
          assert.ok((await broker.get(kept)) !== undefined, `${kept} is kept`);
        }
        assert.equal(await broker.purgeExpired(soon), 0);
      });
    });

    describe('ticks', () => {
      it('grants each (schedule, tick) to exactly one of many concurrent callers on two connections', async (t) => {
        const { broker, peer } = await fresh(t);
        const other = await peer();
        for (const tickAt of [1_000_000, 1_060_000, 1_120_000]) {
          const wins = await Promise.all(
            Array.from({ length: 20 }, (_, i) =>
              (i % 2 === 0 ? broker : other).claimTick('nightly', tickAt, `scheduler-${i}`),
            ),
          );
          assert.equal(wins.filter(Boolean).length, 1, `tick ${tickAt}`);
        }
        assert.equal(await broker.claimTick('hourly', 1_000_000, 's'), true, 'ticks are per schedule');
        assert.equal(await other.claimTick('hourly', 1_000_000, 's'), false);
      });
    });

    describe('events, heartbeats and stats', () => {
      it('delivers job events from one connection to another, in order', async (t) => {
        const { broker, peer } = await fresh(t);
        const watcher = await peer();
        const controller = new AbortController();
        t.after(() => controller.abort());
        const seen: string[] = [];
        const job = newJob();
        const done = (async () => {
          for await (const event of watcher.events(controller.signal)) {
            if (event.jobId !== job.id) continue;
            assert.equal(event.queue, QUEUE);
            assert.equal(typeof event.at, 'number');
            seen.push(event.type);
            if (event.type === 'succeeded') return;
          }
        })();
        await broker.enqueue([job]);
        await broker.claim(request({ workerId: 'w' }));
        await broker.reportProgress('w', job.id, new Uint8Array([1]));
        await broker.complete('w', job.id, new Uint8Array());
        await within(done, SOON_MS, 'the succeeded event');
        assert.deepEqual(seen, ['enqueued', 'started', 'progress', 'succeeded']);
      });

      it('emits retrying, dead, cancelled and expired-lease events', async (t) => {
        const { broker, peer } = await fresh(t);
        const watcher = await peer();
        const controller = new AbortController();
        t.after(() => controller.abort());
        const seen = new Map<string, string[]>();
        const collected = (async () => {
          for await (const event of watcher.events(controller.signal)) {
            if (event.jobId === null) continue;
            seen.set(event.jobId, [...(seen.get(event.jobId) ?? []), event.type]);
            if (event.type === 'cancelled' && seen.size >= 3) return;
          }
        })();
        const retried = await enqueueAndClaim(broker, { maxAttempts: 1 });
        await broker.fail('worker-1', retried.id, ERROR, { retryAt: Date.now() + 60_000 });
        const expired = await enqueueAndClaim(broker, { maxAttempts: 1, deadLetter: true });
        await broker.recoverExpiredLeases((expired.leaseUntil ?? 0) + 1000);
        const cancelled = newJob();
        await broker.enqueue([cancelled]);
        await broker.cancel(cancelled.id);
        await within(collected, SOON_MS, 'the cancelled event');
        assert.ok(seen.get(retried.id)?.includes('retrying'), String(seen.get(retried.id)));
        assert.ok(seen.get(expired.id)?.includes('expired-lease'), String(seen.get(expired.id)));
        assert.ok(seen.get(expired.id)?.includes('dead'), String(seen.get(expired.id)));
        assert.ok(seen.get(cancelled.id)?.includes('cancelled'), String(seen.get(cancelled.id)));
      });

      it('emits a worker-heartbeat event for a heartbeat', async (t) => {
        const { broker, peer } = await fresh(t);
        const watcher = await peer();
        const controller = new AbortController();
        t.after(() => controller.abort());
        const beat = (async () => {
          for await (const event of watcher.events(controller.signal)) {
            if (event.type === 'worker-heartbeat') return event;
          }
          return undefined;
        })();
        await broker.heartbeat('worker-9', QUEUE, { pid: 123, running: 2 });
        const event = await within(beat, SOON_MS, 'the heartbeat event');
        assert.equal(event?.workerId, 'worker-9');
        assert.equal(event?.queue, QUEUE);
        assert.equal(event?.jobId, null);
      });

      it("delivers a queue's news: its enqueued, retrying, expired-lease and cancelled events, nothing else", async (t) => {
        const { broker, peer } = await fresh(t);
        const watcher = await peer();
        const controller = new AbortController();
        t.after(() => controller.abort());
        const seen: BrokerEvent[] = [];
        let heard: (() => void) | undefined;
        const listening = (async () => {
          for await (const event of watcher.news(QUEUE, controller.signal)) {
            seen.push(event);
            heard?.();
          }
        })();
        const until = async (what: string, found: () => boolean, act?: () => Promise<unknown>) => {
          const deadline = Date.now() + SOON_MS;
          while (!found()) {
            if (Date.now() > deadline)
              assert.fail(`no news of ${what} within ${SOON_MS} ms: ${JSON.stringify(seen)}`);
            await act?.();
            await Promise.race([new Promise<void>((resolve) => (heard = resolve)), delay(50)]);
          }
        };
        // News is best effort from the moment the subscription stands: enqueue until the first arrives.
        const primers: string[] = [];
        await until(
          'an enqueue',
          () => seen.length > 0,
          async () => {
            await broker.enqueue([newJob({ queue: 'elsewhere' })]);
            // Another task, so that the claims below (of TASK_A) leave these queued.
            const job = newJob({ task: TASK_B });
            primers.push(job.id);
            await broker.enqueue([job]);
          },
        );
        const retried = await enqueueAndClaim(broker, { maxAttempts: 2 });
        await broker.fail('worker-1', retried.id, ERROR, { retryAt: Date.now() + 60_000 });
        // One attempt: the expired job ends dead rather than queued again ahead of the next claim.
        const expired = await enqueueAndClaim(broker, { maxAttempts: 1 });
        await broker.recoverExpiredLeases((expired.leaseUntil ?? 0) + 1000);
        const finished = await enqueueAndClaim(broker);
        await broker.complete('worker-1', finished.id, new Uint8Array());
        const cancelled = newJob();
        await broker.enqueue([cancelled]);
        await broker.cancel(cancelled.id);
        const has = (id: string, type: string) => seen.some((e) => e.jobId === id && e.type === type);
        await until('the cancel', () => has(cancelled.id, 'cancelled'));
        assert.ok(has(retried.id, 'enqueued') && has(retried.id, 'retrying'), JSON.stringify(seen));
        assert.ok(has(expired.id, 'expired-lease'), JSON.stringify(seen));
        assert.ok(has(finished.id, 'enqueued'), JSON.stringify(seen));
        for (const event of seen) {
          assert.equal(event.queue, QUEUE);
          assert.ok(['enqueued', 'retrying', 'expired-lease', 'cancelled'].includes(event.type), event.type);
          assert.equal(typeof event.at, 'number');
          assert.ok(event.at > 0);
        }
        controller.abort();
        await within(listening, SOON_MS, 'the news iteration ends on abort');
      });

      it('ends an event iteration when its signal aborts', async (t) => {
        const { broker } = await fresh(t);
        const controller = new AbortController();
        const iteration = (async () => {
          let count = 0;
          for await (const _ of broker.events(controller.signal)) count++;
          return count;
        })();
        controller.abort();
        assert.equal(await within(iteration, SOON_MS, 'the iteration ends'), 0);
        const aborted = AbortSignal.abort();
        for await (const _ of broker.events(aborted)) assert.fail('no event after an aborted signal');
      });

      it('counts jobs per state and the jobs finished in the last minute', async (t) => {
        const { broker } = await fresh(t);
        const done = await enqueueAndClaim(broker);
        await broker.complete('worker-1', done.id, new Uint8Array());
        const dead = await enqueueAndClaim(broker);
        await broker.fail('worker-1', dead.id, ERROR, { final: true });
        await enqueueAndClaim(broker);
        await broker.enqueue([newJob(), newJob(), newJob({ runAt: Date.now() + 60_000 })]);
        await broker.enqueue([newJob({ queue: 'other' })]);
        const stats = await broker.stats(QUEUE);
        assert.equal(stats.queue, QUEUE);
        assert.deepEqual(stats.counts, {
          scheduled: 1,
          queued: 2,
          running: 1,
          succeeded: 1,
          failed: 0,
          dead: 1,
          cancelled: 0,
        });
        assert.equal(stats.finishedLastMinute, 2);
        assert.ok(stats.latencyP50Ms !== null && stats.latencyP50Ms >= 0);
        assert.ok(stats.latencyP99Ms !== null && stats.latencyP99Ms >= stats.latencyP50Ms);
        const empty = await broker.stats('nothing-here');
        assert.equal(empty.finishedLastMinute, 0);
        assert.equal(empty.latencyP50Ms, null);
        assert.equal(empty.latencyP99Ms, null);
        assert.equal(
          Object.values(empty.counts).reduce((a, b) => a + b, 0),
          0,
        );
      });
    });

    describe('waitUntilFinished', () => {
      it('resolves with the finished record when another connection completes the job', async (t) => {
        const { broker, peer } = await fresh(t);
        const worker = await peer();
        const job = newJob();
        await broker.enqueue([job]);
        const waiting = broker.waitUntilFinished(job.id, AbortSignal.timeout(SOON_MS));
        const [claimed] = await worker.claim(request({ workerId: 'w' }));
        assert.equal(claimed?.id, job.id);
        await worker.complete('w', job.id, new Uint8Array([7]));
        const record = await waiting;
        assert.equal(record.state, 'succeeded');
        assert.deepEqual(record.result, new Uint8Array([7]));
      });

      it('resolves at once for a job already finished, whatever the way it ended', async (t) => {
        const { broker } = await fresh(t);
        const dead = await enqueueAndClaim(broker);
        await broker.fail('worker-1', dead.id, ERROR, { final: true });
        const cancelled = newJob();
        await broker.enqueue([cancelled]);
        await broker.cancel(cancelled.id);
        assert.equal((await broker.waitUntilFinished(dead.id, AbortSignal.timeout(SOON_MS))).state, 'dead');
        assert.equal(
          (await broker.waitUntilFinished(cancelled.id, AbortSignal.timeout(SOON_MS))).state,
          'cancelled',
        );
      });

      it('does not resolve on a retry, only when the job really finished', async (t) => {
        const { broker } = await fresh(t);
        const job = await enqueueAndClaim(broker);
        let finished = false;
        const waiting = broker.waitUntilFinished(job.id, AbortSignal.timeout(SOON_MS)).then((record) => {
          finished = true;
          return record;
        });
        await broker.fail('worker-1', job.id, ERROR, { retryAt: Date.now() - 1 });
        const [again] = await broker.claim(request());
        assert.equal(finished, false, 'still waiting after the retry');
        await broker.fail('worker-1', again?.id ?? '', ERROR, { final: true });
        assert.equal((await waiting).state, 'dead');
      });

      it('rejects with SKEIN_TASKS_JOB_NOT_FOUND for an id the store does not hold', async (t) => {
        const { broker } = await fresh(t);
        const outcome = await settle(() =>
          broker.waitUntilFinished('no-such-job', AbortSignal.timeout(SOON_MS)),
        );
        assert.equal(outcome.status, 'rejected');
        assert.equal(
          codeOf(outcome.status === 'rejected' ? outcome.reason : undefined),
          'SKEIN_TASKS_JOB_NOT_FOUND',
        );
      });

      it('rejects with AbortError when its signal aborts, at once when already aborted', async (t) => {
        const { broker } = await fresh(t);
        const job = newJob();
        await broker.enqueue([job]);
        const controller = new AbortController();
        const waiting = settle(() => broker.waitUntilFinished(job.id, controller.signal));
        controller.abort(new Error('shutting down'));
        const outcome = await within(waiting, SOON_MS, 'the aborted wait');
        assert.equal(outcome.status, 'rejected');
        assert.equal(codeOf(outcome.status === 'rejected' ? outcome.reason : undefined), 'SKEIN_ABORTED');
        const early = await settle(() => broker.waitUntilFinished(job.id, AbortSignal.abort()));
        assert.equal(early.status, 'rejected');
        assert.equal(codeOf(early.status === 'rejected' ? early.reason : undefined), 'SKEIN_ABORTED');
        assert.equal(await state(broker, job.id), 'queued', 'waiting changes nothing');
      });
    });

    describe('settleAndClaim', () => {
      /** The engine's settleAndClaim bound to it. */
      function settler(_t: TestContext, broker: Broker) {
        return broker.settleAndClaim.bind(broker);
      }

      it('refuses a claim made out to another worker as a caller bug, changing nothing', async (t) => {
        const { broker } = await fresh(t);
        const job = newJob();
        await broker.enqueue([job]);
        const outcome = await settle(() =>
          broker.settleAndClaim('worker-a', [], request({ workerId: 'worker-b' })),
        );
        assert.equal(outcome.status, 'rejected');
        assert.equal(codeOf(outcome.status === 'rejected' ? outcome.reason : undefined), 'SKEIN_INTERNAL');
        assert.equal(await state(broker, job.id), 'queued');
      });

      it('applies outcomes in order with the effects of complete and fail, and their events', async (t) => {
        const { broker, peer } = await fresh(t);
        const settleAndClaim = settler(t, broker);
        const watcher = await peer();
        const controller = new AbortController();
        t.after(() => controller.abort());
        const done = await enqueueAndClaim(broker, { resultTtlMs: 5000 });
        const retried = await enqueueAndClaim(broker);
        const dead = await enqueueAndClaim(broker, { deadLetter: true });
        const failed = await enqueueAndClaim(broker, { deadLetter: false, resultTtlMs: 1000 });
        const finals = new Map<string, string>();
        const collected = (async () => {
          for await (const event of watcher.events(controller.signal)) {
            if (event.jobId === null || event.type === 'started' || event.type === 'enqueued') continue;
            assert.equal(event.workerId, 'worker-1');
            finals.set(event.jobId, event.type);
            if (finals.size === 4) return;
          }
        })();
        const retryAt = Date.now() + 60_000;
        const answer = await settleAndClaim(
          'worker-1',
          [
            { id: done.id, kind: 'complete', result: new Uint8Array([4, 2]) },
            { id: retried.id, kind: 'fail', error: ERROR, outcome: { retryAt } },
            { id: dead.id, kind: 'fail', error: ERROR, outcome: { final: true } },
            { id: failed.id, kind: 'fail', error: ERROR, outcome: { final: true } },
          ],
          null,
        );
        assert.deepEqual(answer, { settled: [true, true, true, true], claimed: [] });
        const doneRecord = await mustGet(broker, done.id);
        assert.equal(doneRecord.state, 'succeeded');
        assert.deepEqual(doneRecord.result, new Uint8Array([4, 2]));
        assert.equal(doneRecord.expiresAt, (doneRecord.finishedAt ?? 0) + 5000);
        assert.equal(doneRecord.workerId, null);
        assert.equal(doneRecord.leaseUntil, null);
        const retriedRecord = await mustGet(broker, retried.id);
        assert.equal(retriedRecord.state, 'scheduled');
        assert.equal(retriedRecord.runAt, retryAt);
        assert.equal(retriedRecord.attempt, 1);
        assert.deepEqual(retriedRecord.error, ERROR);
        const deadRecord = await mustGet(broker, dead.id);
        assert.equal(deadRecord.state, 'dead');
        assert.deepEqual(deadRecord.error, ERROR);
        const failedRecord = await mustGet(broker, failed.id);
        assert.equal(failedRecord.state, 'failed');
        assert.equal(failedRecord.expiresAt, (failedRecord.finishedAt ?? 0) + 1000);
        await within(collected, SOON_MS, 'the four settle events');
        assert.deepEqual(Object.fromEntries(finals), {
          [done.id]: 'succeeded',
          [retried.id]: 'retrying',
          [dead.id]: 'dead',
          [failed.id]: 'failed',
        });
      });

      it('settles nothing for a lease this worker no longer holds, and applies the others', async (t) => {
        const { broker } = await fresh(t);
        const settleAndClaim = settler(t, broker);
        const theirs = await enqueueAndClaim(broker, {}, 'other');
        const mine = await enqueueAndClaim(broker);
        const twice = await enqueueAndClaim(broker);
        const expired = newJob({ maxAttempts: 3 });
        await broker.enqueue([expired]);
        assert.deepEqual(
          (await broker.claim(request({ max: 1, leaseMs: 1 }))).map((job) => job.id),
          [expired.id],
        );
        assert.equal(await broker.recoverExpiredLeases(Date.now() + 1000), 1, 'only the 1 ms lease');
        const stolen = await enqueueAndClaim(broker, { priority: -1 }, 'other');
        const before = await Promise.all([theirs, expired, stolen].map((job) => mustGet(broker, job.id)));
        const answer = await settleAndClaim(
          'worker-1',
          [
            { id: stolen.id, kind: 'complete', result: new Uint8Array([1]) },
            { id: mine.id, kind: 'complete', result: new Uint8Array([2]) },
            { id: expired.id, kind: 'fail', error: ERROR, outcome: { final: true } },
            { id: twice.id, kind: 'fail', error: ERROR, outcome: { retryAt: Date.now() + 60_000 } },
            { id: twice.id, kind: 'complete', result: new Uint8Array([3]) },
            { id: 'no-such-job', kind: 'complete', result: new Uint8Array() },
          ],
          null,
        );
        assert.deepEqual(answer.settled, [false, true, false, true, false, false]);
        assert.deepEqual(
          await Promise.all([theirs, expired, stolen].map((job) => mustGet(broker, job.id))),
          before,
          'a lost lease changes nothing',
        );
        assert.equal(await state(broker, mine.id), 'succeeded');
        const retried = await mustGet(broker, twice.id);
        assert.equal(
          retried.state,
          'scheduled',
          'the first outcome for a job wins, the second finds no lease',
        );
        assert.equal(retried.result, null);
      });

      it('claims nothing when claim is null, and with no outcomes claims as claim() would', async (t) => {
        const { broker } = await fresh(t);
        const settleAndClaim = settler(t, broker);
        const base = Date.now() - 10_000;
        const late = newJob({ priority: 1, runAt: base + 1 });
        const early = newJob({ priority: 1, runAt: base });
        const urgent = newJob({ priority: 0, runAt: base + 2 });
        await broker.enqueue([late, early, urgent]);
        assert.deepEqual(await settleAndClaim('w-7', [], null), { settled: [], claimed: [] });
        for (const job of [late, early, urgent]) assert.equal(await state(broker, job.id), 'queued');
        const before = Date.now();
        const answer = await settleAndClaim('w-7', [], request({ workerId: 'w-7', max: 2, leaseMs: 20_000 }));
        const after = Date.now();
        assert.deepEqual(answer.settled, []);
        assert.deepEqual(
          answer.claimed.map((job) => job.id),
          [urgent.id, early.id],
        );
        for (const claimed of answer.claimed) {
          assert.equal(claimed.state, 'running');
          assert.equal(claimed.workerId, 'w-7');
          assert.equal(claimed.attempt, 1);
          assert.ok(claimed.leaseUntil !== null && claimed.leaseUntil >= before + 20_000);
          assert.ok(claimed.leaseUntil <= after + 20_000);
          assert.deepEqual(claimed, await mustGet(broker, claimed.id), 'returned as stored');
        }
        assert.equal(await state(broker, late.id), 'queued');
      });

      it('claims in the same step a retry made due by its own outcomes, and not a retry due later', async (t) => {
        // The claim runs after the outcomes at the same instant: a retry with retryAt <= now is queued
        // again and claimable by this very call, as fail() followed by claim() would have it.
        const { broker } = await fresh(t);
        const settleAndClaim = settler(t, broker);
        const now = await enqueueAndClaim(broker);
        const later = await enqueueAndClaim(broker);
        const answer = await settleAndClaim(
          'worker-1',
          [
            { id: later.id, kind: 'fail', error: ERROR, outcome: { retryAt: Date.now() + 60_000 } },
            { id: now.id, kind: 'fail', error: ERROR, outcome: { retryAt: Date.now() - 5 } },
          ],
          request(),
        );
        assert.deepEqual(answer.settled, [true, true]);
        assert.deepEqual(
          answer.claimed.map((job) => [job.id, job.attempt]),
          [[now.id, 2]],
        );
        assert.equal(await state(broker, later.id), 'scheduled');
      });

      it('counts the jobs it just settled as no longer running against concurrency caps', async (t) => {
        const { broker } = await fresh(t);
        const settleAndClaim = settler(t, broker);
        const capped = request({ concurrency: { [TASK_A]: 2 } });
        await broker.enqueue(Array.from({ length: 5 }, () => newJob()));
        const first = await broker.claim(capped);
        assert.equal(first.length, 2);
        const [one, two] = first.map((job) => job.id);
        const second = await settleAndClaim(
          'worker-1',
          [{ id: one ?? '', kind: 'complete', result: new Uint8Array() }],
          capped,
        );
        assert.equal(second.claimed.length, 1, 'one slot freed, one still running');
        const third = await settleAndClaim(
          'worker-1',
          [
            { id: two ?? '', kind: 'complete', result: new Uint8Array() },
            { id: second.claimed[0]?.id ?? '', kind: 'fail', error: ERROR, outcome: { final: true } },
          ],
          capped,
        );
        assert.deepEqual(third.settled, [true, true]);
        assert.equal(third.claimed.length, 2, 'both slots freed by the same call');
        assert.equal((await broker.stats(QUEUE)).counts.running, 2);
      });

      it('runs M jobs through N workers on N connections with settleAndClaim alone, none lost or done twice', async (t) => {
        const { broker, peer } = await fresh(t);
        if (settler(t, broker) === undefined) return;
        const workers = [broker, await peer(), await peer(), await peer()];
        const jobs = Array.from({ length: 240 }, (_, i) => newJob({ task: i % 2 === 0 ? TASK_A : TASK_B }));
        for (let i = 0; i < jobs.length; i += 60) await broker.enqueue(jobs.slice(i, i + 60));
        // Every fifth job fails its first attempt with a retry due at once, so retries flow through too.
        const flaky = new Set(jobs.filter((_, i) => i % 5 === 0).map((job) => job.id));
        const completedBy = new Map<string, string>();
        const problems: string[] = [];
        const deadline = Date.now() + SOON_MS * 2;
        await Promise.all(
          workers.map(async (worker, n) => {
            const workerId = `settler-${n}`;
            let pending: SettleOutcome[] = [];
            for (;;) {
              const batch: Settled = await (worker.settleAndClaim as NonNullable<Broker['settleAndClaim']>)(
                workerId,
                pending,
                request({ workerId, max: 1 + (n % 3) * 4 }),
              );
              if (batch.settled.length !== pending.length || batch.settled.includes(false))
                problems.push(`${workerId} lost a lease: ${JSON.stringify(batch.settled)}`);
              for (const [i, outcome] of pending.entries()) {
                if (outcome.kind !== 'complete' || batch.settled[i] !== true) continue;
                if (completedBy.has(outcome.id)) problems.push(`${outcome.id} completed twice`);
                completedBy.set(outcome.id, workerId);
              }
              pending = batch.claimed.map((job): SettleOutcome => {
                if (flaky.has(job.id) && job.attempt === 1)
                  return { id: job.id, kind: 'fail', error: ERROR, outcome: { retryAt: Date.now() - 1 } };
                return { id: job.id, kind: 'complete', result: new Uint8Array([job.attempt]) };
              });
              if (batch.claimed.length === 0) {
                if (completedBy.size === jobs.length || Date.now() > deadline) return;
                await delay(1);
              }
            }
          }),
        );
        assert.deepEqual(problems, []);
        assert.deepEqual([...completedBy.keys()].sort(), jobs.map((job) => job.id).sort());
        assert.equal((await broker.stats(QUEUE)).counts.succeeded, jobs.length);
        for (const job of jobs) {
          const record = await mustGet(broker, job.id);
          const attempts = flaky.has(job.id) ? 2 : 1;
          assert.equal(record.attempt, attempts, job.id);
          assert.deepEqual(record.result, new Uint8Array([attempts]));
        }
      });
    });

    describe('joins', () => {
      /** Enqueues `n` jobs and claims each for `workerId`; returns their ids in order. */
      async function claimed(broker: Broker, n: number, workerId = 'worker-1'): Promise<string[]> {
        const ids: string[] = [];
        for (let i = 0; i < n; i++) ids.push((await enqueueAndClaim(broker, {}, workerId)).id);
        return ids;
      }

      function join(key: string, size: number, enqueue: readonly NewJob[]): Join {
        return { key, size, enqueue };
      }

      const RESULT = new Uint8Array([7]);
      /** Follow-ups go to a queue of their own, so that claims of QUEUE never take them. */
      const FOLLOW = 'follow-ups';

      it('enqueues the jobs of a join in the step that records the last of its completions, not before', async (t) => {
        const { broker, peer } = await fresh(t);
        const other = await peer();
        const [a, b, c] = await claimed(broker, 3);
        const follow = newJob({ parentId: 'group-1', canvas: new Uint8Array([1, 2]), idempotencyKey: 'cb' });
        const later = newJob({ queue: 'other-queue', runAt: Date.now() + 60_000 });
        const joined = join(`join-${follow.id}`, 3, [follow, later]);
        assert.equal(await broker.complete('worker-1', a!, RESULT, joined), true);
        assert.equal(await broker.get(follow.id), undefined, 'one of three completed: nothing enqueued');
        const second = await other.settleAndClaim(
          'worker-1',
          [{ id: b!, kind: 'complete', result: RESULT, join: joined }],
          null,
        );
        assert.deepEqual(second.settled, [true]);
        assert.equal(await broker.get(follow.id), undefined, 'two of three completed: nothing enqueued');
        const before = Date.now();
        const last = await broker.settleAndClaim(
          'worker-1',
          [{ id: c!, kind: 'complete', result: RESULT, join: joined }],
          request({ max: 5 }),
        );
        assert.deepEqual(last.settled, [true]);
        assert.deepEqual(
          last.claimed.map((job) => job.id),
          [follow.id],
          'the claim of the same step sees the job the join enqueued',
        );
        const stored = await mustGet(broker, follow.id);
        assert.equal(stored.state, 'running');
        assert.ok(stored.createdAt >= before);
        for (const field of ['payload', 'canvas', 'parentId', 'idempotencyKey', 'task', 'queue'] as const)
          assert.deepEqual(stored[field], follow[field], field);
        assert.equal(await state(broker, later.id), 'scheduled', 'a job of another queue, runAt honoured');
        assert.equal(await state(broker, c!), 'succeeded');
        assert.deepEqual(
          (await broker.children('group-1')).map((job) => job.id),
          [follow.id],
        );
      });

      it('counts only completions that are recorded, and never fires a join one of whose jobs failed', async (t) => {
        const { broker } = await fresh(t);
        const [a, b] = await claimed(broker, 2);
        const [theirs] = await claimed(broker, 1, 'worker-2');
        const follow = newJob();
        const joined = join(`join-${follow.id}`, 2, [follow]);
        assert.equal(await broker.complete('worker-1', theirs!, RESULT, joined), false, 'not its lease');
        const answer = await broker.settleAndClaim(
          'worker-1',
          [
            { id: theirs!, kind: 'complete', result: RESULT, join: joined },
            { id: a!, kind: 'complete', result: RESULT, join: joined },
          ],
          null,
        );
        assert.deepEqual(answer.settled, [false, true]);
        assert.equal(await broker.get(follow.id), undefined, 'the lost lease did not count');
        assert.equal(await broker.fail('worker-1', b!, ERROR, { final: true }), true);
        assert.equal(await broker.get(follow.id), undefined, 'a failed job never completes the join');
        assert.equal(
          await broker.complete('worker-2', theirs!, RESULT, join(`other-${follow.id}`, 5, [])),
          true,
        );
        assert.equal(await broker.get(follow.id), undefined);
        // Retried by hand and completed, the failed job completes the join after all.
        assert.equal(await broker.retry(b!), true);
        const [again] = await broker.claim(request({ max: 1 }));
        assert.equal(again?.id, b);
        assert.equal(await broker.complete('worker-1', b!, RESULT, joined), true);
        assert.equal(await state(broker, follow.id), 'queued');
      });

      it('fires a join of one at once, and counts two completions of one join in one batch', async (t) => {
        const { broker } = await fresh(t);
        const [single, x, y] = await claimed(broker, 3);
        const first = newJob();
        assert.equal(
          await broker.complete('worker-1', single!, RESULT, join(`one-${first.id}`, 1, [first])),
          true,
        );
        assert.equal(await state(broker, first.id), 'queued');
        const second = newJob();
        const joined = join(`two-${second.id}`, 2, [second]);
        const answer = await broker.settleAndClaim(
          'worker-1',
          [
            { id: x!, kind: 'complete', result: RESULT, join: joined },
            { id: y!, kind: 'complete', result: RESULT, join: joined },
          ],
          null,
        );
        assert.deepEqual(answer.settled, [true, true]);
        assert.equal(await state(broker, second.id), 'queued');
      });

      it('enqueues through idempotency keys as enqueue() does: a key already present skips its job', async (t) => {
        const { broker } = await fresh(t);
        const existing = newJob({ queue: FOLLOW, idempotencyKey: 'callback-1' });
        await broker.enqueue([existing]);
        const [a] = await claimed(broker, 1);
        const duplicate = newJob({ queue: FOLLOW, idempotencyKey: 'callback-1' });
        const fresh2 = newJob({ queue: FOLLOW, idempotencyKey: 'callback-2' });
        assert.equal(
          await broker.complete('worker-1', a!, RESULT, join(`keys-${a}`, 1, [duplicate, fresh2])),
          true,
        );
        assert.equal(await broker.get(duplicate.id), undefined, 'the key names the job already stored');
        assert.equal(await state(broker, existing.id), 'queued');
        assert.equal(await state(broker, fresh2.id), 'queued');
      });

      it('fires exactly once when the last two completions race on two connections, many times over', async (t) => {
        const { broker, peer } = await fresh(t);
        const other = await peer();
        const ROUNDS = 40;
        for (let round = 0; round < ROUNDS; round++) {
          const [a] = await claimed(broker, 1, 'worker-a');
          const [b] = await claimed(broker, 1, 'worker-b');
          const [c] = await claimed(broker, 1, 'worker-a');
          // Each completer brings a follow-up of its own (no idempotency key), so a second firing would
          // store a second job instead of being absorbed by a key.
          const mine = newJob({ queue: FOLLOW });
          const theirs = newJob({ queue: FOLLOW });
          const key = `race-${round}-${mine.id}`;
          assert.equal(
            await broker.complete('worker-a', c!, RESULT, join(key, 3, [newJob({ queue: FOLLOW })])),
            true,
          );
          const batch = round % 2 === 0;
          const [one, two] = await Promise.all([
            batch
              ? broker
                  .settleAndClaim(
                    'worker-a',
                    [{ id: a!, kind: 'complete', result: RESULT, join: join(key, 3, [mine]) }],
                    null,
                  )
                  .then((answer) => answer.settled[0])
              : broker.complete('worker-a', a!, RESULT, join(key, 3, [mine])),
            other.settleAndClaim(
              'worker-b',
              [{ id: b!, kind: 'complete', result: RESULT, join: join(key, 3, [theirs]) }],
              null,
            ),
          ]);
          assert.equal(one, true);
          assert.deepEqual(two.settled, [true]);
          const fired = [await broker.get(mine.id), await broker.get(theirs.id)].filter(
            (job) => job !== undefined,
          );
          assert.equal(fired.length, 1, `round ${round}: exactly one completion fired the join`);
        }
      });
    });

    describe('concurrency and lifetime', () => {
      it('hands each of M jobs to exactly one of N claimers on N connections, losing none', async (t) => {
        const { broker, peer } = await fresh(t);
        const claimers = [broker, await peer(), await peer(), await peer()];
        const jobs = Array.from({ length: 240 }, (_, i) => newJob({ task: i % 2 === 0 ? TASK_A : TASK_B }));
        for (let i = 0; i < jobs.length; i += 60) await broker.enqueue(jobs.slice(i, i + 60));
        const claimedBy = new Map<string, string>();
        const duplicates: string[] = [];
        const deadline = Date.now() + SOON_MS * 2;
        await Promise.all(
          claimers.map(async (claimer, n) => {
            const workerId = `claimer-${n}`;
            for (;;) {
              const batch = await claimer.claim(request({ workerId, max: 1 + (n % 3) * 4 }));
              if (batch.length === 0) {
                if (claimedBy.size === jobs.length || Date.now() > deadline) return;
                await delay(1);
                continue;
              }
              for (const job of batch) {
                if (claimedBy.has(job.id)) duplicates.push(job.id);
                claimedBy.set(job.id, workerId);
                assert.equal(await claimer.complete(workerId, job.id, new Uint8Array()), true);
              }
            }
          }),
        );
        assert.deepEqual(duplicates, []);
        assert.deepEqual([...claimedBy.keys()].sort(), jobs.map((job) => job.id).sort());
        assert.equal((await broker.stats(QUEUE)).counts.succeeded, jobs.length);
      });

      it('closes idempotently and refuses calls after close with SKEIN_TASKS_BROKER_UNAVAILABLE', async (t) => {
        const { broker } = await fresh(t);
        await broker.close();
        await broker.close();
        const outcome = await settle(() => broker.enqueue([newJob()]));
        assert.equal(outcome.status, 'rejected');
        const reason = outcome.status === 'rejected' ? outcome.reason : undefined;
        assert.ok(reason instanceof SkeinError);
        assert.equal(codeOf(reason), 'SKEIN_TASKS_BROKER_UNAVAILABLE');
      });
    });
  });
}
