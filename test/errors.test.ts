// The error table and the error classes: docs/errors.md lists exactly ERROR_CODES, every code is used
// by some test, errors rebuilt from their code after a real thread hop keep their class, and instanceof
// holds between two separately loaded copies of src/errors.ts.

import assert from 'node:assert/strict';
import { once } from 'node:events';
import { copyFile, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import * as errors from '../src/errors.ts';

const {
  AbortError,
  ERROR_CODES,
  InvalidArgumentError,
  SkeinError,
  TimeoutError,
  WorkerCrashedError,
  abortErrorFrom,
  errorFromCode,
  internalError,
  normalizeThrown,
} = errors;

const ROOT = fileURLToPath(new URL('../', import.meta.url));
const CODES = Object.keys(ERROR_CODES);

/** Rows of the table in docs/errors.md: code → class named in the second column. */
async function documentedCodes(): Promise<Map<string, string>> {
  const markdown = await readFile(join(ROOT, 'docs/errors.md'), 'utf8');
  const rows = new Map<string, string>();
  for (const match of markdown.matchAll(/^\|\s*`(SKEIN_[A-Z0-9_]+)`\s*\|\s*`(\w+)`\s*\|/gm)) {
    assert.ok(!rows.has(match[1]!), `docs/errors.md lists ${match[1]} twice`);
    rows.set(match[1]!, match[2]!);
  }
  return rows;
}

/** The text of every .ts file under test/ except this one, whose uses of codes are about the table itself. */
async function otherTestSources(): Promise<string> {
  const dir = join(ROOT, 'test');
  const files = (await readdir(dir, { recursive: true })).filter(
    (file) => file.endsWith('.ts') && join(dir, file) !== fileURLToPath(import.meta.url),
  );
  return (await Promise.all(files.map((file) => readFile(join(dir, file), 'utf8')))).join('\n');
}

/**
 * Codes only an invariant break produces, so no test elsewhere can provoke them on purpose; this file
 * checks how they are built (internalError, errorFromCode with an unknown code).
 */
const CODES_TESTED_HERE = new Set(['SKEIN_INTERNAL']);

test('docs/errors.md lists every code of ERROR_CODES and no other', async () => {
  const documented = await documentedCodes();
  assert.deepEqual([...documented.keys()].sort(), [...CODES].sort());
});

test('docs/errors.md names, for each code, the class errorFromCode builds', async () => {
  const documented = await documentedCodes();
  for (const code of CODES) {
    assert.equal(
      documented.get(code),
      errorFromCode(code, 'x', { exitCode: 1, workerId: 0 }).constructor.name,
      code,
    );
  }
});

test('every error code is used by at least one test', async () => {
  const sources = await otherTestSources();
  const untested = CODES.filter(
    (code) => !CODES_TESTED_HERE.has(code) && !new RegExp(`\\b${code}\\b`).test(sources),
  );
  assert.deepEqual(untested, [], 'write a test that makes Skein throw each of these');
});

test('ERROR_CODES is frozen and every code is SKEIN_<LAYER>_<WHAT> with a one-line meaning', () => {
  assert.ok(Object.isFrozen(ERROR_CODES));
  for (const [code, meaning] of Object.entries(ERROR_CODES)) {
    assert.match(code, /^SKEIN_[A-Z0-9]+(_[A-Z0-9]+)*$/);
    assert.ok(meaning.length > 10 && !meaning.includes('\n'), code);
  }
});

test('errors built in a worker thread and rebuilt from their code keep class, code, message and fields', async () => {
  const fieldsFor = (code: string): Record<string, unknown> =>
    errorFromCode(code, '') instanceof WorkerCrashedError
      ? { exitCode: 137, signal: 'SIGKILL', workerId: 3 }
      : { cause: `cause of ${code}`, detail: 42 };
  const requests = CODES.map((code) => ({ code, fields: fieldsFor(code) }));
  const worker = new Worker(new URL('./support/error-round-trip-worker.ts', import.meta.url), {
    workerData: requests,
  });
  const [replies] = (await once(worker, 'message')) as [
    { code: string; message: string; name: string; fields: Record<string, unknown> }[],
  ];
  await once(worker, 'exit');
  assert.equal(replies.length, CODES.length);
  for (const reply of replies) {
    const rebuilt = errorFromCode(reply.code, reply.message, reply.fields);
    const local = errorFromCode(reply.code, reply.message, fieldsFor(reply.code));
    assert.ok(rebuilt instanceof SkeinError, reply.code);
    assert.ok(rebuilt instanceof Error, reply.code);
    assert.equal(rebuilt.constructor, local.constructor, reply.code);
    assert.equal(rebuilt.name, reply.name, reply.code);
    assert.equal(rebuilt.code, reply.code);
    assert.equal(rebuilt.message, reply.message);
    for (const [key, value] of Object.entries(fieldsFor(reply.code))) {
      assert.deepEqual((rebuilt as unknown as Record<string, unknown>)[key], value, `${reply.code}.${key}`);
    }
  }
  const crashed = replies.find((reply) => errorFromCode(reply.code, '') instanceof WorkerCrashedError)!;
  const rebuilt = errorFromCode(crashed.code, crashed.message, crashed.fields);
  assert.ok(rebuilt instanceof WorkerCrashedError);
  assert.equal(rebuilt.exitCode, 137);
  assert.equal(rebuilt.signal, 'SIGKILL');
  assert.equal(rebuilt.workerId, 3);
});

test('errorFromCode turns an unknown code into an internal error that says it is a bug in Skein', () => {
  const error = errorFromCode('SKEIN_NO_SUCH_CODE', 'boom');
  assert.equal(error.code, 'SKEIN_INTERNAL');
  assert.match(error.message, /SKEIN_NO_SUCH_CODE.*boom.*bug in Skein/);
  assert.match(
    internalError('the queue lost a task').message,
    /the queue lost a task; this is a bug in Skein/,
  );
});

test('a second copy of errors.ts recognizes instances of the first and the other way round', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'skein-errors-copy-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  await writeFile(join(dir, 'package.json'), '{ "type": "module" }\n');
  await copyFile(join(ROOT, 'src/errors.ts'), join(dir, 'errors.ts'));
  const copy = (await import(pathToFileURL(join(dir, 'errors.ts')).href)) as typeof errors;
  assert.notEqual(copy.SkeinError, SkeinError, 'the copy is a separate module instance');

  const crashedInCopy = new copy.WorkerCrashedError('worker 1 died', { exitCode: 1, workerId: 1 });
  assert.ok(crashedInCopy instanceof WorkerCrashedError);
  assert.ok(crashedInCopy instanceof SkeinError);
  assert.ok(!(crashedInCopy instanceof TimeoutError));
  assert.ok(!(crashedInCopy instanceof InvalidArgumentError));

  assert.ok(new AbortError() instanceof copy.AbortError);
  assert.ok(new TimeoutError('late') instanceof copy.SkeinError);
  assert.ok(!(new TimeoutError('late') instanceof copy.AbortError));

  const badOption = new copy.InvalidArgumentError(
    'SKEIN_POOL_INVALID_OPTION',
    'maxWorkers must be an integer >= 1',
  );
  assert.ok(badOption instanceof InvalidArgumentError);
  const closed = new copy.SkeinError('SKEIN_POOL_CLOSED', 'the pool is closed');
  assert.ok(closed instanceof SkeinError);
  assert.ok(!(closed instanceof InvalidArgumentError));
  assert.ok(!(new Error('plain') instanceof copy.SkeinError));
  assert.ok(!(Object.assign(new Error('lookalike'), { code: 'SKEIN_ABORTED' }) instanceof SkeinError));
});

test('error classes report their class name and keep cause', () => {
  const cause = new Error('root');
  const error = new TimeoutError('too slow', { cause });
  assert.equal(error.name, 'TimeoutError');
  assert.equal(error.cause, cause);
  assert.equal(new SkeinError('SKEIN_POOL_QUEUE_FULL', 'full').name, 'SkeinError');
  assert.equal(
    new InvalidArgumentError('SKEIN_POOL_INVALID_TASK', 'not a task').name,
    'InvalidArgumentError',
  );
  assert.ok(!('cause' in new AbortError()), 'no cause property when none was given');
});

test('normalizeThrown wraps a non-Error in SKEIN_NON_ERROR_THROWN, keeping the value, and passes Errors through', () => {
  const original = new RangeError('r');
  assert.equal(normalizeThrown(original), original);
  const wrapped = normalizeThrown('just a string');
  assert.ok(wrapped instanceof SkeinError);
  assert.equal(wrapped.code, 'SKEIN_NON_ERROR_THROWN');
  assert.equal(wrapped.cause, 'just a string');
  assert.match(wrapped.message, /"just a string"/);
  const circular: Record<string, unknown> = {};
  circular.self = circular;
  assert.equal(normalizeThrown(circular).cause, circular);
  assert.match(normalizeThrown(Object.create(null)).message, /\[object Object\]/);
});

test('abortErrorFrom gives SKEIN_ABORTED with the reason as cause, or SKEIN_TIMEOUT for a timeout signal', async () => {
  const aborted = abortErrorFrom(AbortSignal.abort('user pressed stop'));
  assert.ok(aborted instanceof AbortError);
  assert.equal((aborted as InstanceType<typeof AbortError>).code, 'SKEIN_ABORTED');
  assert.equal(aborted.cause, 'user pressed stop');

  const signal = AbortSignal.timeout(1);
  await once(signal, 'abort');
  const timedOut = abortErrorFrom(signal);
  assert.ok(timedOut instanceof TimeoutError);
  assert.equal((timedOut as InstanceType<typeof TimeoutError>).code, 'SKEIN_TIMEOUT');

  const own = new TimeoutError('task took too long');
  assert.equal(abortErrorFrom(AbortSignal.abort(own)), own);
});
