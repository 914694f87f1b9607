// Every file under examples/ runs as a program and prints what its comments promise, so the examples
// stay in step with the code.

import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readdir } from 'node:fs/promises';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const run = promisify(execFile);
const EXAMPLES = fileURLToPath(new URL('../examples/', import.meta.url));
const RUN_TIMEOUT_MS = 60_000;

/** What each example must print (one pattern per line, in order). */
const EXPECTED: Record<string, readonly RegExp[]> = {
  'primes.ts': [/^168$/, /^78498$/, /^78498$/],
  'bank-transfers.ts': [/^200000 transfers; total 8000 \(expected 8000\)$/],
  'queue-pipeline.ts': [
    /^10000 squares \(workers took \d+ \+ \d+\); sum 333383335000 \(expected 333383335000\)$/,
  ],
};

test('every example has its expected output listed here', async () => {
  const files = (await readdir(EXAMPLES)).filter((file) => file.endsWith('.ts')).sort();
  assert.deepEqual(files, Object.keys(EXPECTED).sort());
});

for (const [file, patterns] of Object.entries(EXPECTED)) {
  test(`examples/${file} runs and prints its result`, async () => {
    const { stdout } = await run(process.execPath, [`${EXAMPLES}${file}`], { timeout: RUN_TIMEOUT_MS });
    const lines = stdout.trim().split('\n');
    assert.equal(lines.length, patterns.length, stdout);
    for (const [i, pattern] of patterns.entries()) assert.match(lines[i]!, pattern);
  });
}
