// What the SQLite engine promises beyond the broker contract: several real processes claiming from
// one file never share a job, a SIGKILLed producer loses no acknowledged job and a reopened file keeps
// its queue, damaged rows are quarantined instead of stopping claims, and storage faults surface as
// SKEIN_TASKS_STORAGE.

import assert from 'node:assert/strict';
import { execFile, fork } from 'node:child_process';
import { once } from 'node:events';
import { readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { SkeinError } from '../../src/errors.ts';
import type { JobRecord } from '../../src/tasks/broker.ts';
import { SqliteBroker } from '../../src/tasks/sqlite/sqlite-broker.ts';
import { STATEMENT_NAMES, statementTexts } from '../../src/tasks/sqlite/statements.ts';
import { newJob } from '../conformance/broker.ts';
import { codeOf, SOON_MS, settle, tempDir, within } from '../conformance/helpers.ts';

const FIXTURES = new URL('../fixtures/', import.meta.url);
const TASK = 'file:///app/tasks.ts#resize';

function freshStore(t: { after(fn: () => unknown): void }): { path: string; open(): SqliteBroker } {
  const dir = tempDir();
  const opened: SqliteBroker[] = [];
  t.after(async () => {
    for (const broker of opened) await broker.close();
    dir.remove();
  });
  const path = join(dir.path, 'tasks.db');
  return {
    path,
    open() {
      const broker = new SqliteBroker({ path });
      opened.push(broker);
      return broker;
    },
  };
}

function request(workerId: string) {
  return { queue: 'default', workerId, max: 10, leaseMs: 60_000, tasks: [TASK] };
}

test('several processes claiming from one file never claim the same job and lose none', async (t) => {
  const store = freshStore(t);
  const broker = store.open();
  const jobs = Array.from({ length: 600 }, () => newJob({ task: TASK }));
  await broker.enqueue(jobs);
  const children = ['p1', 'p2', 'p3'].map((workerId) =>
    fork(fileURLToPath(new URL('claim-and-complete-jobs.ts', FIXTURES)), [store.path, workerId, TASK], {
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    }),
  );
  t.after(() => {
    for (const child of children) child.kill('SIGKILL');
  });
  const results = children.map(
    (child) =>
      new Promise<string[]>((resolve, reject) => {
        child.on('message', (message: { claimed?: string[] }) => {
          if (message !== null && typeof message === 'object' && Array.isArray(message.claimed)) {
            resolve(message.claimed);
          }
        });
        child.once('exit', (code) => reject(new Error(`claimer exited with ${code} before reporting`)));
      }),
  );
  await within(
    Promise.all(children.map((child) => once(child, 'message'))),
    SOON_MS * 2,
    'every claimer ready',
  );
  for (const child of children) child.send('go');
  const claimed = await within(Promise.all(results), SOON_MS * 3, 'every claimer done');
  const all = claimed.flat();
  assert.equal(new Set(all).size, all.length, 'no job claimed twice');
  assert.deepEqual(all.toSorted(), jobs.map((job) => job.id).toSorted());
  assert.equal((await broker.stats('default')).counts.succeeded, jobs.length);
});

test('a producer killed with SIGKILL mid-stream loses no job it saw acknowledged', async (t) => {
  const store = freshStore(t);
  store.open();
  const child = fork(fileURLToPath(new URL('enqueue-until-killed.ts', FIXTURES)), [store.path], {
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  t.after(() => child.kill('SIGKILL'));
  const acked: string[] = [];
  const enough = new Promise<void>((resolve) => {
    child.on('message', (message: { acked: string[] }) => {
      acked.push(...message.acked);
      if (acked.length >= 200) resolve();
    });
  });
  await within(enough, SOON_MS * 2, '10 batches acknowledged');
  child.kill('SIGKILL');
  await within(once(child, 'exit'), SOON_MS, 'the producer exits');
  const reopened = store.open();
  for (const id of acked) assert.equal((await reopened.get(id))?.state, 'queued', id);
  const check = new DatabaseSync(store.path, { readOnly: true });
  try {
    assert.equal(
      (check.prepare('PRAGMA integrity_check').get() as { integrity_check: string }).integrity_check,
      'ok',
    );
  } finally {
    check.close();
  }
  const claimed = await reopened.claim({ ...request('after-restart'), max: 1 });
  assert.equal(claimed.length, 1, 'the queue is usable after the crash');
});

test('reopening a file keeps every job in every state with all its fields', async (t) => {
  const store = freshStore(t);
  const first = store.open();
  const queued = newJob({ task: TASK, canvas: new Uint8Array([1]), parentId: 'p' });
  const scheduled = newJob({ task: TASK, runAt: Date.now() + 60 * 60_000 });
  await first.enqueue([newJob({ task: TASK }), newJob({ task: TASK }), newJob({ task: TASK })]);
  const [running, done, dead] = await first.claim({ ...request('w'), max: 3 });
  await first.enqueue([queued, scheduled]);
  assert.ok(running !== undefined && done !== undefined && dead !== undefined);
  await first.reportProgress('w', running.id, new Uint8Array([42]));
  await first.complete('w', done.id, new Uint8Array([1, 2, 3]));
  await first.fail(
    'w',
    dead.id,
    { name: 'Error', message: 'boom', stack: 'Error: boom', code: undefined },
    {
      final: true,
    },
  );
  const ids = [queued.id, scheduled.id, running.id, done.id, dead.id];
  const before = await Promise.all(ids.map((id) => first.get(id)));
  await first.close();
  const second = store.open();
  const after = await Promise.all(ids.map((id) => second.get(id)));
  assert.deepEqual(after, before);
  assert.deepEqual(
    after.map((record) => record?.state),
    ['queued', 'scheduled', 'running', 'succeeded', 'dead'],
  );
  assert.equal(await second.complete('w', running.id, new Uint8Array()), true, 'leases survive a restart');
});

test('claim quarantines damaged rows (bad error JSON, wrong column types) and goes on with the rest', async (t) => {
  const store = freshStore(t);
  const broker = store.open();
  const badError = newJob({ task: TASK, priority: 0 });
  const badPayload = newJob({ task: TASK, priority: 1 });
  const healthy = newJob({ task: TASK, priority: 2 });
  await broker.enqueue([badError, badPayload, healthy]);
  const raw = new DatabaseSync(store.path);
  try {
    raw.prepare(`UPDATE jobs SET error = '{"name": "Err' WHERE id = ?`).run(badError.id);
    raw.prepare(`UPDATE jobs SET payload = 'not a blob', attempt = 'x' WHERE id = ?`).run(badPayload.id);
  } finally {
    raw.close();
  }
  const claimed = await broker.claim(request('w'));
  assert.deepEqual(
    claimed.map((job) => job.id),
    [healthy.id],
  );
  for (const id of [badError.id, badPayload.id]) {
    const record = (await broker.get(id)) as JobRecord;
    assert.equal(record.state, 'dead');
    assert.equal(record.error?.code, 'SKEIN_TASKS_STORAGE');
    assert.match(record.error?.message ?? '', /corrupt.*quarantined/);
  }
  assert.match(((await broker.get(badPayload.id)) as JobRecord).error?.message ?? '', /column payload/);
  assert.deepEqual(await broker.claim(request('w')), [], 'quarantined rows are never claimed');
});

test('a row with an unknown state is quarantined when read, and counted nowhere', async (t) => {
  const store = freshStore(t);
  const broker = store.open();
  const job = newJob({ task: TASK });
  await broker.enqueue([job]);
  const raw = new DatabaseSync(store.path);
  try {
    raw.prepare(`UPDATE jobs SET state = 'limbo' WHERE id = ?`).run(job.id);
  } finally {
    raw.close();
  }
  assert.deepEqual(await broker.claim(request('w')), []);
  assert.equal((await broker.stats('default')).counts.queued, 0);
  const record = (await broker.get(job.id)) as JobRecord;
  assert.equal(record.state, 'dead');
  assert.match(record.error?.message ?? '', /column state holds the text "limbo"/);
  assert.deepEqual(
    (await broker.list('default', 'dead', 10)).map((each) => each.id),
    [job.id],
    'the quarantine was stored, not only reported',
  );
});

test('enqueue on a file the file system refuses to grow rejects with SKEIN_TASKS_STORAGE and stores nothing', async (t) => {
  const dir = tempDir();
  t.after(() => dir.remove());
  const path = join(dir.path, 'tasks.db');
  // A 512 KiB file size limit: the schema fits, a 4 MB payload does not (as on a full disk).
  const script = 'ulimit -f 1024 && exec "$0" "$@"';
  const { stdout } = await promisify(execFile)(
    'sh',
    [
      '-c',
      script,
      process.execPath,
      fileURLToPath(new URL('enqueue-one-big-job.ts', FIXTURES)),
      path,
      '4000000',
    ],
    { timeout: SOON_MS * 2 },
  );
  const outcome = JSON.parse(stdout.trim().split('\n').at(-1) ?? '{}') as Record<string, unknown>;
  assert.equal(outcome.code, 'SKEIN_TASKS_STORAGE', JSON.stringify(outcome));
  assert.match(String(outcome.message), new RegExp(`enqueue failed on ${path}`));
  assert.equal(outcome.stored, false);
});

test('opening a path under a file rejects with SKEIN_TASKS_STORAGE naming the path', (t) => {
  const dir = tempDir();
  t.after(() => dir.remove());
  const file = join(dir.path, 'not-a-directory');
  writeFileSync(file, 'x');
  const path = join(file, 'tasks.db');
  assert.throws(
    () => new SqliteBroker({ path }),
    (error: unknown) => {
      assert.ok(error instanceof SkeinError);
      assert.equal(error.code, 'SKEIN_TASKS_STORAGE');
      assert.ok(error.message.includes(path), error.message);
      return true;
    },
  );
});

test('a file that is not a database, or of a newer schema, is refused with SKEIN_TASKS_STORAGE', (t) => {
  const dir = tempDir();
  t.after(() => dir.remove());
  const garbage = join(dir.path, 'garbage.db');
  writeFileSync(garbage, 'this is not a SQLite database, just text long enough to have a header '.repeat(20));
  assert.throws(() => new SqliteBroker({ path: garbage }), { code: 'SKEIN_TASKS_STORAGE' });
  const newer = join(dir.path, 'newer.db');
  const raw = new DatabaseSync(newer);
  raw.exec('PRAGMA user_version = 999');
  raw.close();
  assert.throws(() => new SqliteBroker({ path: newer }), {
    code: 'SKEIN_TASKS_STORAGE',
    message: /schema version 999/,
  });
});

test('a write lock held past busyTimeout fails the call with SKEIN_TASKS_STORAGE, and it works once freed', async (t) => {
  const store = freshStore(t);
  const broker = new SqliteBroker({ path: store.path, busyTimeout: 50 });
  t.after(() => broker.close());
  const raw = new DatabaseSync(store.path);
  t.after(() => raw.close());
  raw.exec('BEGIN IMMEDIATE');
  const job = newJob({ task: TASK });
  const outcome = await settle(() => broker.enqueue([job]));
  assert.equal(outcome.status, 'rejected');
  const reason = outcome.status === 'rejected' ? outcome.reason : undefined;
  assert.equal(codeOf(reason), 'SKEIN_TASKS_STORAGE');
  assert.match((reason as Error).message, /busyTimeout/);
  raw.exec('ROLLBACK');
  assert.deepEqual(await broker.enqueue([job]), [{ id: job.id, created: true }]);
});

test('waits and event iterations in flight end with SKEIN_TASKS_BROKER_UNAVAILABLE when the broker closes', async (t) => {
  const store = freshStore(t);
  const broker = new SqliteBroker({ path: store.path });
  const job = newJob({ task: TASK });
  await broker.enqueue([job]);
  const waiting = settle(() => broker.waitUntilFinished(job.id, AbortSignal.timeout(SOON_MS)));
  const iterating = settle(async () => {
    for await (const _ of broker.events(AbortSignal.timeout(SOON_MS))) {
      // no events are produced
    }
  });
  await broker.close();
  for (const outcome of await within(Promise.all([waiting, iterating]), SOON_MS, 'both end')) {
    assert.equal(outcome.status, 'rejected');
    assert.equal(
      codeOf(outcome.status === 'rejected' ? outcome.reason : undefined),
      'SKEIN_TASKS_BROKER_UNAVAILABLE',
    );
  }
});

test('a cancel-requested job whose lease runs out ends cancelled, not retried', async (t) => {
  const store = freshStore(t);
  const broker = store.open();
  await broker.enqueue([newJob({ task: TASK })]);
  const [job] = await broker.claim(request('w'));
  assert.ok(job !== undefined);
  assert.equal(await broker.cancel(job.id), 'requested');
  assert.equal(await broker.recoverExpiredLeases((job.leaseUntil ?? 0) + 1000), 1);
  assert.equal((await broker.get(job.id))?.state, 'cancelled');
});

test('sql/ holds exactly one file per prepared statement', () => {
  const files = readdirSync(fileURLToPath(new URL('../../src/tasks/sqlite/sql/', import.meta.url)));
  assert.deepEqual(files.toSorted(), STATEMENT_NAMES.map((name) => `${name}.sql`).toSorted());
});

test('no statement binds a bare parameter as its LIMIT (SQLite would re-prepare it at every call)', () => {
  for (const [name, text] of statementTexts()) {
    const sql = text.replace(/--.*$/gm, '');
    assert.doesNotMatch(sql, /\bLIMIT\s+[:@$?]/i, `${name}.sql: write LIMIT CAST(:limit AS INTEGER)`);
  }
});

test('purgeExpired prunes events past eventRetention, and tails after the pruning miss nothing new', async (t) => {
  const store = freshStore(t);
  const broker = new SqliteBroker({ path: store.path, eventRetention: 1000 });
  t.after(() => broker.close());
  await broker.enqueue([newJob({ task: TASK }), newJob({ task: TASK })]);
  const count = (): number => {
    const raw = new DatabaseSync(store.path, { readOnly: true });
    try {
      return (raw.prepare('SELECT count(*) AS n FROM events').get() as { n: number }).n;
    } finally {
      raw.close();
    }
  };
  assert.equal(count(), 2);
  await broker.purgeExpired(Date.now() - 60_000);
  assert.equal(count(), 2, 'recent events are kept');
  await broker.purgeExpired(Date.now() + 60_000);
  assert.equal(
    count(),
    1,
    'every event older than the retention is gone but the newest, which keeps ids unique',
  );
  const controller = new AbortController();
  t.after(() => controller.abort());
  const next = (async () => {
    for await (const event of broker.events(controller.signal)) return event;
    return undefined;
  })();
  const job = newJob({ task: TASK });
  await broker.enqueue([job]);
  assert.equal((await within(next, SOON_MS, 'the first event after pruning'))?.jobId, job.id);
});

test('a bulk enqueue is all or none: a failing job leaves none of its batch stored', async (t) => {
  const store = freshStore(t);
  const broker = store.open();
  const first = newJob({ task: TASK });
  // A job the layer above would never send (no task): the engine's NOT NULL constraint refuses it.
  const broken = { ...newJob({ task: TASK }), task: null as unknown as string };
  const outcome = await settle(() => broker.enqueue([first, broken]));
  assert.equal(outcome.status, 'rejected');
  assert.equal(codeOf(outcome.status === 'rejected' ? outcome.reason : undefined), 'SKEIN_INTERNAL');
  assert.equal(await broker.get(first.id), undefined);
  assert.equal((await broker.stats('default')).counts.queued, 0);
  assert.deepEqual(await broker.enqueue([first]), [{ id: first.id, created: true }], 'usable afterwards');
});

test('hundreds of concurrent waits each resolve when their own job finishes on another connection', async (t) => {
  const store = freshStore(t);
  const producer = store.open();
  const worker = store.open();
  const jobs = Array.from({ length: 400 }, () => newJob({ task: TASK }));
  await producer.enqueue(jobs);
  const waits = jobs.map((job) => producer.waitUntilFinished(job.id, AbortSignal.timeout(SOON_MS * 2)));
  const claimed = await worker.claim({ ...request('w'), max: jobs.length });
  for (const job of claimed) await worker.complete('w', job.id, job.payload);
  const finished = await within(Promise.all(waits), SOON_MS * 2, 'every wait');
  assert.deepEqual(
    finished.map((record) => [record.id, record.state]),
    jobs.map((job) => [job.id, 'succeeded']),
  );
  assert.deepEqual(
    finished.map((record) => record.result),
    jobs.map((job) => job.payload),
  );
});

test('an aborted event iteration, a settled wait and close() leave no timer behind', async (t) => {
  const store = freshStore(t);
  const timers = (): number => process.getActiveResourcesInfo().filter((kind) => kind === 'Timeout').length;
  const before = timers();
  const broker = new SqliteBroker({ path: store.path });
  const job = newJob({ task: TASK });
  await broker.enqueue([job]);
  const controller = new AbortController();
  const iterator = broker.events(controller.signal)[Symbol.asyncIterator]();
  const pending = iterator.next();
  const waiting = broker.waitUntilFinished(job.id, controller.signal).catch(() => 'aborted');
  assert.ok(timers() > before, 'the tail polls while someone listens');
  controller.abort();
  assert.deepEqual(await pending, { done: true, value: undefined });
  assert.equal(await waiting, 'aborted');
  assert.equal(timers(), before, 'no timer once nobody listens');
  await broker.close();
  assert.equal(timers(), before);
});

/** Collects what `iterable` yields until `signal` aborts; `seen` grows as events arrive. */
function collect<T>(iterable: AsyncIterable<T>): { seen: T[]; done: Promise<void> } {
  const seen: T[] = [];
  const done = (async () => {
    for await (const item of iterable) seen.push(item);
  })();
  return { seen, done };
}

async function until(found: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + SOON_MS;
  while (!found()) {
    if (Date.now() > deadline) assert.fail(`not within ${SOON_MS} ms: ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

test('news() alone reads only news, and misses or repeats none while events() listeners come and go', async (t) => {
  const store = freshStore(t);
  const broker = store.open();
  const other = store.open();
  const controller = new AbortController();
  t.after(() => controller.abort());
  const news = collect(broker.news('default', controller.signal));
  const enqueued: string[] = [];
  // A job enqueued, then claimed and completed: one news event and two that are not news.
  const cycle = async (through: SqliteBroker) => {
    const job = newJob({ task: TASK, queue: 'default' });
    enqueued.push(job.id);
    await through.enqueue([job]);
    const [claimed] = await through.claim(request('w'));
    assert.equal(claimed?.id, job.id);
    await through.complete('w', job.id, new Uint8Array([1]));
  };
  await cycle(broker);
  await until(() => news.seen.length === 1, 'the first news');
  const events = new AbortController();
  const all = collect(broker.events(events.signal));
  await cycle(other);
  await until(() => all.seen.length === 3, "the second job's three events");
  events.abort();
  await all.done;
  await cycle(other);
  await cycle(broker);
  await until(() => news.seen.length === 4, 'the news of four jobs');
  // Anything late would come with the next poll.
  await new Promise((resolve) => setTimeout(resolve, broker.options.pollInterval * 3));
  assert.deepEqual(
    news.seen.map((event) => [event.type, event.jobId]),
    enqueued.map((id) => ['enqueued', id]),
  );
  assert.deepEqual(
    all.seen.map((event) => [event.type, event.jobId]),
    ['enqueued', 'started', 'succeeded'].map((type) => [type, enqueued[1]]),
  );
  controller.abort();
  await news.done;
});

test("one transaction's many events are logged in order, and a claim of many starts each job once", async (t) => {
  const store = freshStore(t);
  const broker = store.open();
  const controller = new AbortController();
  t.after(() => controller.abort());
  const log = collect(broker.events(controller.signal));
  const jobs = Array.from({ length: 300 }, () => newJob({ task: TASK }));
  await broker.enqueue(jobs);
  const claimed = await broker.claim({ ...request('w'), max: 250 });
  assert.deepEqual(
    claimed.map((job) => job.id),
    jobs.slice(0, 250).map((job) => job.id),
  );
  await until(() => log.seen.length === 550, '300 enqueued and 250 started events');
  assert.deepEqual(
    log.seen.map((event) => [event.type, event.jobId]),
    [...jobs.map((job) => ['enqueued', job.id]), ...jobs.slice(0, 250).map((job) => ['started', job.id])],
  );
  const raw = new DatabaseSync(store.path, { readOnly: true });
  try {
    const rows = raw
      .prepare('SELECT state, attempt, worker_id, count(*) AS n FROM jobs GROUP BY 1, 2, 3')
      .all();
    assert.deepEqual(
      rows.map((row) => ({ ...row })),
      [
        { state: 'queued', attempt: 0, worker_id: null, n: 50 },
        { state: 'running', attempt: 1, worker_id: 'w', n: 250 },
      ],
    );
  } finally {
    raw.close();
  }
  controller.abort();
  await log.done;
});
