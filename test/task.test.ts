// The task reference (src/task.ts): validation of task() and actor(), direct calls, finding the export
// name by identity, refusing a reference its module does not export, and taskContext() outside a pool.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { InvalidArgumentError, SkeinError } from '../src/errors.ts';
import {
  actor,
  actorInfo,
  isTask,
  rememberExportName,
  resolveExportName,
  task,
  taskContext,
  taskContextStorage,
} from '../src/task.ts';
import {
  Counter,
  delayedEcho,
  double,
  getHiddenActor,
  getNotExported,
  readContext,
} from './support/exported-tasks.ts';

const FIXTURE_URL = new URL('./support/exported-tasks.ts', import.meta.url).href;

function assertCode(code: string, pattern: RegExp): (error: unknown) => true {
  return (error) => {
    assert.ok(error instanceof SkeinError, `expected a SkeinError, got ${String(error)}`);
    assert.equal(error.code, code);
    assert.match(error.message, pattern);
    return true;
  };
}

test('task() rejects a first argument that is not import.meta with SKEIN_TASK_INVALID', () => {
  for (const meta of [undefined, null, {}, { url: '' }, { url: 42 }, 'file:///x.ts']) {
    assert.throws(
      () => task(meta as unknown as ImportMeta, () => 1),
      assertCode('SKEIN_TASK_INVALID', /task\(import\.meta, …\) needs the defining module's import\.meta/),
    );
  }
});

test('task() rejects a second argument that is not a function with SKEIN_TASK_INVALID naming it', () => {
  assert.throws(
    () => task(import.meta, 42 as unknown as () => number),
    assertCode('SKEIN_TASK_INVALID', /needs a function as fn \(got number 42\)/),
  );
  assert.throws(
    () => task(import.meta, null as unknown as () => number),
    (error) => error instanceof InvalidArgumentError,
  );
});

test('task() rejects an empty or non-string name option with SKEIN_TASK_INVALID', () => {
  for (const name of ['', 7]) {
    assert.throws(
      () => task(import.meta, () => 1, { name: name as string }),
      assertCode('SKEIN_TASK_INVALID', /task option name must be a non-empty string/),
    );
  }
});

test('a task reference called directly runs its function in this thread, sync or async', async () => {
  assert.equal(double(21), 42);
  assert.equal(double.fn(4), 8);
  assert.equal(await delayedEcho('here'), 'here');
  assert.ok(isTask(double));
  assert.ok(!isTask((n: number) => n));
  assert.equal(double.moduleUrl, FIXTURE_URL);
});

test('the export name is found by identity in the module namespace, then remembered on the reference', async () => {
  const fresh = task({ url: FIXTURE_URL }, (n: number) => n);
  assert.equal(fresh.exportName, undefined);
  assert.equal(await resolveExportName(double, double.moduleUrl, double.exportName), 'double');
  assert.equal(await resolveExportName(delayedEcho, delayedEcho.moduleUrl, undefined), 'delayedEcho');
  rememberExportName(double, 'double');
  assert.equal(double.exportName, 'double');
});

test('a name given in the options is used without importing the module', async () => {
  const named = task({ url: 'file:///does/not/exist.ts' }, () => 1, { name: 'renamed' });
  assert.equal(named.exportName, 'renamed');
  assert.equal(named.name, 'renamed');
  assert.equal(await resolveExportName(named, named.moduleUrl, named.exportName), 'renamed');
});

test('a reference its module does not export rejects with SKEIN_TASK_NOT_EXPORTED', async () => {
  const hidden = getNotExported();
  assert.equal(hidden(), 'hidden');
  await assert.rejects(
    resolveExportName(hidden, hidden.moduleUrl, hidden.exportName),
    assertCode(
      'SKEIN_TASK_NOT_EXPORTED',
      /does not export this task or actor; export it .* or pass \{ name \}/,
    ),
  );
  const HiddenActor = getHiddenActor();
  await assert.rejects(
    resolveExportName(HiddenActor, actorInfo(HiddenActor)!.moduleUrl, undefined),
    assertCode('SKEIN_TASK_NOT_EXPORTED', /exported-tasks\.ts does not export/),
  );
});

test('actor() marks an exported class with its module URL and leaves it usable as a class', async () => {
  const info = actorInfo(Counter);
  assert.equal(info?.moduleUrl, FIXTURE_URL);
  assert.equal(info?.exportName, undefined);
  assert.equal(new Counter(10).add(5), 15);
  assert.equal(await resolveExportName(Counter, FIXTURE_URL, undefined), 'Counter');
  rememberExportName(Counter, 'Counter');
  assert.equal(actorInfo(Counter)?.exportName, 'Counter');
  assert.equal(actorInfo(class Plain {}), undefined);
});

test('actor() rejects a missing import.meta or something that is not a class with SKEIN_TASK_INVALID', () => {
  assert.throws(
    () => actor(null as unknown as ImportMeta, class A {}),
    assertCode('SKEIN_TASK_INVALID', /actor\(import\.meta, …\) needs/),
  );
  for (const notAClass of [() => ({}), 42, null]) {
    assert.throws(
      () => actor(import.meta, notAClass as unknown as new () => object),
      assertCode('SKEIN_TASK_INVALID', /actor\(import\.meta, Class\) needs a class as Class/),
    );
  }
});

test('taskContext() outside a pool gives a signal that never aborts and progress that goes nowhere', () => {
  const context = taskContext();
  assert.equal(context.workerId, -1);
  assert.equal(context.signal.aborted, false);
  assert.equal(context.cancelled, false);
  context.throwIfCancelled();
  context.progress({ done: 1 });
  assert.deepEqual(readContext(), { workerId: -1, aborted: false, cancelled: false });
});

test('taskContext() returns the context a worker runtime set for the running task', () => {
  const controller = new AbortController();
  const context = {
    signal: controller.signal,
    cancelled: false,
    throwIfCancelled() {},
    progress() {},
    workerId: 7,
  };
  const seen = taskContextStorage.run(context, () => readContext());
  assert.deepEqual(seen, { workerId: 7, aborted: false, cancelled: false });
  assert.equal(taskContext().workerId, -1, 'the context does not leak outside run()');
});
