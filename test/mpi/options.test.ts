// mpirun's options (src/mpi/options.ts): the defaults are one frozen table whose numbers the TSDoc
// @defaultValue tags repeat, and each invalid option is refused with SKEIN_MPI_INVALID_ARGUMENT naming it.

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { MPIRUN_DEFAULTS, resolveMpirunOptions } from '../../src/mpi/index.ts';

test('MPIRUN_DEFAULTS is frozen and each @defaultValue in options.ts says what resolveMpirunOptions gives', () => {
  assert.ok(Object.isFrozen(MPIRUN_DEFAULTS));
  const source = readFileSync(new URL('../../src/mpi/options.ts', import.meta.url), 'utf8');
  const documented = [...source.matchAll(/@defaultValue (\S+)\s*\*\/\s*readonly (\w+)\?/g)].map(
    (m): [string, string] => [m[2]!, m[1]!],
  );
  assert.ok(documented.length >= 6, 'the options carry @defaultValue tags');
  const resolved = resolveMpirunOptions() as unknown as Record<string, unknown>;
  for (const [name, value] of documented) {
    assert.equal(String(resolved[name]), value.replace(/^'(.*)'$/, '$1'), name);
    assert.equal(String((MPIRUN_DEFAULTS as Record<string, unknown>)[name]), String(resolved[name]), name);
  }
});

test('resolveMpirunOptions refuses each bad option with SKEIN_MPI_INVALID_ARGUMENT naming it', () => {
  const cases: [unknown, RegExp][] = [
    [null, /options must be an object/],
    [{ eagerLimit: -1 }, /eagerLimit must be an integer/],
    [{ eagerLimit: 1.5 }, /eagerLimit/],
    [{ deadlockTimeout: 0 }, /deadlockTimeout/],
    [{ abortGrace: '1s' }, /abortGrace/],
    [{ timeout: Number.NaN }, /timeout/],
    [{ ringBytes: 16 }, /ringBytes/],
    [{ syncWaitTimeout: -0.5 }, /syncWaitTimeout must be a number of milliseconds/],
    [{ spinTimeout: -1 }, /spinTimeout must be a number of milliseconds/],
    [{ spinTimeout: '50us' }, /spinTimeout/],
    [{ output: 'loud' }, /output must be 'inherit', 'prefix' or a function/],
    [{ argv: [1] }, /argv must be an array of strings/],
    [{ host: '' }, /host must be a host name or address/],
  ];
  for (const [options, message] of cases) {
    assert.throws(
      () => resolveMpirunOptions(options as never),
      { code: 'SKEIN_MPI_INVALID_ARGUMENT', message },
      String(options),
    );
  }
  assert.equal(resolveMpirunOptions({ ringBytes: 65_537 }).ringBytes, 65_536);
  // Left to mpirun, which decides from the rank count and the cores.
  assert.equal(resolveMpirunOptions({}).spinTimeout, undefined);
  assert.equal(resolveMpirunOptions({ spinTimeout: 0 }).spinTimeout, 0);
});
