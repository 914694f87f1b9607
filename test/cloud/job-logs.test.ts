// The job log store on its own: lines split and kept in order per job and attempt, the per-job caps
// on lines and bytes dropping the oldest (and counting them), long lines split, expiry after the TTL,
// and followers told of new lines.

import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it, type TestContext } from 'node:test';
import { type JobLogOptions, JobLogs } from '../../src/cloud/job-logs.ts';

async function open(t: TestContext, options?: JobLogOptions): Promise<JobLogs> {
  const dir = await mkdtemp(join(tmpdir(), 'skein-logs-'));
  const logs = new JobLogs(join(dir, 'logs.db'), options);
  t.after(async () => {
    logs.close();
    await rm(dir, { recursive: true, force: true });
  });
  return logs;
}

const texts = (logs: JobLogs, job: string): string[] => logs.read(job, 0, 100_000).lines.map((l) => l.text);

describe('JobLogs', () => {
  it('splits text into lines, keeps a partial line as one, and keeps jobs apart', async (t) => {
    const logs = await open(t);
    assert.equal(logs.append('a', 1, 'stdout', 'one\ntwo\r\nthree', 10), 3);
    assert.equal(logs.append('b', 1, 'stderr', 'other\n', 11), 1);
    assert.equal(logs.append('a', 2, 'stderr', '\nfour\n', 12), 2);
    const page = logs.read('a', 0, 10);
    assert.deepEqual(
      page.lines.map((l) => `${l.attempt} ${l.stream} ${l.at} ${l.text}`),
      ['1 stdout 10 one', '1 stdout 10 two', '1 stdout 10 three', '2 stderr 12 ', '2 stderr 12 four'],
    );
    assert.equal(page.next, page.lines.at(-1)!.seq);
    assert.deepEqual(texts(logs, 'b'), ['other']);
    assert.deepEqual(logs.read('a', page.next, 10), { lines: [], next: page.next, dropped: 0 });
    assert.deepEqual(logs.read('none', 0, 10), { lines: [], next: 0, dropped: 0 });
  });

  it('drops the oldest lines beyond the line cap and counts them', async (t) => {
    const logs = await open(t, { maxLines: 5 });
    for (let i = 1; i <= 8; i++) logs.append('j', 1, 'stdout', `line ${i}\n`, i);
    assert.deepEqual(texts(logs, 'j'), ['line 4', 'line 5', 'line 6', 'line 7', 'line 8']);
    assert.equal(logs.read('j', 0, 10).dropped, 3);
    logs.append('j', 1, 'stdout', Array.from({ length: 12 }, (_, i) => `batch ${i}`).join('\n'), 9);
    assert.deepEqual(texts(logs, 'j'), ['batch 7', 'batch 8', 'batch 9', 'batch 10', 'batch 11']);
    assert.equal(logs.read('j', 0, 10).dropped, 15);
  });

  it('drops the oldest lines beyond the byte cap, and splits a very long line', async (t) => {
    const logs = await open(t, { maxBytes: 100 });
    for (let i = 0; i < 10; i++) logs.append('j', 1, 'stdout', `${String(i).repeat(30)}\n`, i);
    assert.deepEqual(texts(logs, 'j'), ['7'.repeat(30), '8'.repeat(30), '9'.repeat(30)]);
    const big = await open(t);
    big.append('k', 1, 'stdout', 'x'.repeat(64 * 1024 + 10), 1);
    assert.deepEqual(
      texts(big, 'k').map((text) => text.length),
      [64 * 1024, 10],
    );
  });

  it('deletes the lines of jobs nothing was written to for the TTL', async (t) => {
    const logs = await open(t, { ttl: 1000 });
    logs.append('old', 1, 'stdout', 'gone\n', 1000);
    logs.append('new', 1, 'stdout', 'kept\n', 5000);
    logs.prune(5500);
    assert.deepEqual(texts(logs, 'old'), []);
    assert.deepEqual(texts(logs, 'new'), ['kept']);
  });

  it('tells followers of new lines', async (t) => {
    const logs = await open(t);
    const seen: [string, number][] = [];
    logs.on('appended', (job, seq) => seen.push([job, seq]));
    logs.append('j', 1, 'stdout', 'a\nb\n', 1);
    assert.deepEqual(seen, [['j', logs.read('j', 0, 10).next]]);
  });
});
