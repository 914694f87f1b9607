// Task-queue options: frozen defaults equal to their TSDoc, resolution of delay/eta/priority, and
// SKEIN_TASKS_INVALID_OPTION naming the option path for every bad field.

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import {
  BACKOFF_DEFAULTS,
  JOB_DEFAULTS,
  resolveBackoff,
  resolveJobOptions,
  WORKER_DEFAULTS,
} from '../../src/tasks/index.ts';
import { resolveWorkerTiming } from '../../src/tasks/options.ts';
import { codeOf } from '../conformance/helpers.ts';

function rejects(call: () => unknown, path: RegExp): void {
  assert.throws(call, (error: unknown) => {
    assert.equal(codeOf(error), 'SKEIN_TASKS_INVALID_OPTION');
    assert.match((error as Error).message, path);
    return true;
  });
}

describe('task options', () => {
  it('freezes the defaults and keeps every @defaultValue equal to them', () => {
    for (const table of [BACKOFF_DEFAULTS, JOB_DEFAULTS, WORKER_DEFAULTS]) assert.ok(Object.isFrozen(table));
    const source = readFileSync(new URL('../../src/tasks/options.ts', import.meta.url), 'utf8');
    let compared = 0;
    const tables: [string, Record<string, unknown>][] = [
      ['BackoffOptions', BACKOFF_DEFAULTS],
      ['JobOptions', JOB_DEFAULTS],
      ['WorkerTimingOptions', WORKER_DEFAULTS],
    ];
    for (const [name, table] of tables) {
      const start = source.indexOf(`export interface ${name} {`);
      const block = source.slice(start, source.indexOf('\n}\n', start));
      for (const match of block.matchAll(/@defaultValue ([^*\n]+?)\s*\*\/\s*readonly (\w+)\?/g)) {
        const [, shown, key] = match as unknown as [string, string, string];
        const value = table[key];
        if (value === undefined) continue;
        const expected =
          typeof value === 'string'
            ? `'${value}'`
            : value === Number.POSITIVE_INFINITY
              ? 'Infinity'
              : String(value);
        assert.equal(shown.trim(), expected, `${name}.${key}`);
        compared++;
      }
    }
    assert.ok(compared >= 12, `compared ${compared}`);
  });

  it('resolves a job with the defaults, runAt = now + delay, and eta as a Date or epoch ms', () => {
    const resolved = resolveJobOptions({}, 1000);
    assert.ok(Object.isFrozen(resolved));
    assert.deepEqual(resolved, {
      runAt: 1000,
      priority: 0,
      attempts: 3,
      backoff: BACKOFF_DEFAULTS,
      timeLimit: Number.POSITIVE_INFINITY,
      idempotencyKey: null,
      group: null,
      resultTtl: 86_400_000,
      deadLetter: true,
    });
    assert.equal(resolveJobOptions({ delay: 500 }, 1000).runAt, 1500);
    assert.equal(resolveJobOptions({ eta: new Date(7777) }, 1000).runAt, 7777);
    assert.equal(resolveJobOptions({ eta: 42 }, 1000).runAt, 42);
  });

  it('names the option path of every bad job option', () => {
    rejects(
      () => resolveJobOptions({ delay: -1 }),
      /options\.delay must be a number of milliseconds in 0\.\./,
    );
    // Past a Date's range: refused, not stored as a time no clock reaches.
    rejects(
      () => resolveJobOptions({ delay: 1e300 }),
      /options\.delay must be a number of milliseconds in 0\.\./,
    );
    rejects(() => resolveJobOptions({ eta: 1e300 }), /options\.eta must be a valid Date/);
    // Past the longest Node timer a time limit would fire after 1 ms: refused with the limit named.
    rejects(
      () => resolveJobOptions({ timeLimit: 2 ** 31 }),
      /options\.timeLimit must be a number of milliseconds in 1\.\.2147483647 \(the longest Node timer, about 24\.8 days\), or Infinity/,
    );
    assert.equal(resolveJobOptions({ timeLimit: 2 ** 31 - 1 }).timeLimit, 2 ** 31 - 1);
    assert.equal(resolveJobOptions({ resultTtl: 10 * 365 * 86_400_000 }).resultTtl, 10 * 365 * 86_400_000);
    rejects(() => resolveJobOptions({ delay: 1, eta: 2 }), /options\.delay and options\.eta are exclusive/);
    rejects(() => resolveJobOptions({ eta: new Date('nope') }), /options\.eta must be a valid Date/);
    rejects(() => resolveJobOptions({ priority: 1.5 }), /options\.priority must be an integer/);
    rejects(
      () => resolveJobOptions({ attempts: 0 }),
      /options\.attempts must be an integer >= 1 \(got number 0\)/,
    );
    rejects(() => resolveJobOptions({ timeLimit: 0 }), /options\.timeLimit/);
    rejects(
      () => resolveJobOptions({ idempotencyKey: '' }),
      /options\.idempotencyKey must be a non-empty string/,
    );
    rejects(() => resolveJobOptions({ group: 'a\nb' }), /options\.group .*without control characters/);
    rejects(() => resolveJobOptions({ resultTtl: Number.NaN }), /options\.resultTtl/);
    rejects(() => resolveJobOptions({ deadLetter: 'yes' as never }), /options\.deadLetter must be a boolean/);
    rejects(
      () => resolveJobOptions({ retries: 3 } as never),
      /options\.retries is not an option; the options are delay, eta/,
    );
    rejects(
      () => resolveJobOptions({ backoff: { type: 'linear' as never } }),
      /options\.backoff\.type must be 'fixed' or 'exponential'/,
    );
    rejects(() => resolveJobOptions({ backoff: { jitter: true as never } }), /options\.backoff\.jitter/);
    rejects(
      () => resolveJobOptions({ backoff: { delay: 100, maxDelay: 10 } }),
      /options\.backoff\.maxDelay must be >= options\.backoff\.delay/,
    );
    rejects(() => resolveJobOptions(null as never), /options must be an object/);
  });

  it('resolves backoff with its defaults and freezes it', () => {
    const backoff = resolveBackoff({ delay: 10 });
    assert.ok(Object.isFrozen(backoff));
    assert.deepEqual(backoff, { ...BACKOFF_DEFAULTS, delay: 10 });
  });

  it('names the bad worker timing option', () => {
    assert.equal(resolveWorkerTiming({ concurrency: 3 }).concurrency, 3);
    rejects(() => resolveWorkerTiming({ concurrency: 0 }), /concurrency must be an integer in 1\.\.10000/);
    rejects(
      () => resolveWorkerTiming({ leaseTimeout: 5 }),
      /leaseTimeout must be a number of milliseconds in 30\.\.2147483647/,
    );
    rejects(
      () => resolveWorkerTiming({ closeTimeout: 2 ** 31 }),
      /closeTimeout must be a number of milliseconds/,
    );
    assert.equal(
      resolveWorkerTiming({ closeTimeout: Number.POSITIVE_INFINITY }).closeTimeout,
      Number.POSITIVE_INFINITY,
    );
    rejects(() => resolveWorkerTiming({ pollInterval: Number.POSITIVE_INFINITY }), /pollInterval/);
  });
});
