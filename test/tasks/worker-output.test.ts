// A Worker's onOutput: what each job prints reaches the hook with the job and its attempt, in order and
// before the attempt is settled, on a pool and run inline; a throwing hook is reported, not fatal.

import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { ThreadPool } from '../../src/pool/index.ts';
import type { JobRecord } from '../../src/tasks/index.ts';
import { printLines } from '../fixtures/print-output.ts';
import { printThenFailUntil } from '../fixtures/print-then-fail-until.ts';
import { setup } from './helpers.ts';

const pool = new ThreadPool({ minWorkers: 1, maxWorkers: 1 });
after(() => pool.close());

type Seen = { id: string; attempt: number; stream: string; text: string };

function recorder(): {
  seen: Seen[];
  onOutput: (job: JobRecord, stream: 'stdout' | 'stderr', text: string) => void;
} {
  const seen: Seen[] = [];
  return {
    seen,
    onOutput: (job, stream, text) => {
      for (const line of text.split('\n'))
        if (line !== '') seen.push({ id: job.id, attempt: job.attempt, stream, text: line });
    },
  };
}

describe('Worker onOutput', () => {
  for (const where of ['pool', 'inline'] as const) {
    it(`hands each job's output to the hook before its result is stored (${where})`, async (t) => {
      const { queue, worker } = await setup(t, where === 'pool' ? pool : 'inline');
      const { seen, onOutput } = recorder();
      await worker({ tasks: [printLines], onOutput });
      const job = await queue.enqueue(printLines, 'j', 3);
      assert.equal(await job.result({ timeout: 15_000 }), 3);
      assert.deepEqual(
        seen.map((s) => `${s.id}/${s.attempt}/${s.stream}/${s.text}`),
        [1, 2, 3].flatMap((i) => [`${job.id}/1/stdout/j out ${i}`, `${job.id}/1/stderr/j err ${i}`]),
      );
    });
  }

  it('tells the attempts of a retried job apart', async (t) => {
    const { dir, queue, worker } = await setup(t, pool);
    const { seen, onOutput } = recorder();
    await worker({ tasks: [printThenFailUntil], onOutput });
    const job = await queue.submit(printThenFailUntil, [join(dir, 'runs.log'), 2], {
      attempts: 2,
      backoff: { type: 'fixed', delay: 1, jitter: 'none' },
    });
    assert.equal(await job.result({ timeout: 15_000 }), 2);
    assert.deepEqual(
      seen.map((s) => `${s.attempt}/${s.stream}/${s.text}`),
      ['1/stdout/run 1', '1/stderr/failing run 1', '2/stdout/run 2'],
    );
  });

  it('reports a throwing hook as brokerError and still finishes the job', async (t) => {
    const { queue, worker } = await setup(t, pool);
    const errors: unknown[] = [];
    const started = await worker({
      tasks: [printLines],
      onOutput: () => {
        throw new Error('hook failed');
      },
    });
    started.on('brokerError', (error) => errors.push(error));
    const job = await queue.enqueue(printLines, 'h', 1);
    assert.equal(await job.result({ timeout: 15_000 }), 1);
    assert.ok(errors.some((error) => (error as Error).message === 'hook failed'));
  });
});
