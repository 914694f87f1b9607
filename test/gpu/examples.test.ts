// Every program under examples/gpu/ runs and prints the results its comments promise (timings are
// printed beside them but not checked: the machine is shared).

import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readdir } from 'node:fs/promises';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { NO_ADAPTER } from './support.ts';

const run = promisify(execFile);
const EXAMPLES = fileURLToPath(new URL('../../examples/gpu/', import.meta.url));
const RUN_TIMEOUT_MS = 60_000;
const MS = String.raw`\d+\.\d\d ms`;

const EXPECTED: Record<string, readonly RegExp[]> = {
  'device-info.ts': [
    /^\d+ adapter\(s\)$/,
    /^adapter: .+ \((software, on the CPU|GPU)\)$/,
    /max buffer binding: \d+ bytes/,
    /max workgroup size: \d+/,
    /features: /,
    /^device opened on .+: f16 (true|false), subgroups (true|false)$/,
  ],
  'elementwise.ts': [
    /^y = a \* x \+ b over 1000000 elements: 0 wrong$/,
    new RegExp(`^gpu ${MS}, cpu ${MS}$`),
  ],
  'vector-sum.ts': [
    /^sum of 4000000 floats: gpu 0, cpu 0$/,
    new RegExp(`^gpu ${MS} \\(with readback\\), cpu ${MS}$`),
  ],
  'memory.ts': [
    /^matrix after zeroing rows 1\.\.2 through a view: 1 2 0 0 0 0$/,
    /^scratch holds 1024 sevens$/,
    /^using a destroyed array: SKEIN_GPU_DESTROYED$/,
  ],
  'matmul.ts': [
    /^matmul 256x256 \((blocked-vec4|tiled-vec4)\): max error below 1e-3$/,
    /^gpu \d+\.\d\d GFLOP\/s, cpu \d+\.\d\d GFLOP\/s$/,
  ],
  'reduction.ts': ['min', 'max', 'product', 'dot'].map(
    (name) => new RegExp(`^${name}: gpu and cpu agree \\(gpu ${MS}, cpu ${MS}\\)$`),
  ),
};

test('every example under examples/gpu has its expected output listed here', async () => {
  const files = (await readdir(EXAMPLES)).filter((file) => file.endsWith('.ts')).sort();
  assert.deepEqual(files, Object.keys(EXPECTED).sort());
});

for (const [file, patterns] of Object.entries(EXPECTED)) {
  test(`examples/gpu/${file} runs and prints its checked results`, { skip: NO_ADAPTER }, async () => {
    const { stdout } = await run(process.execPath, [`${EXAMPLES}${file}`], { timeout: RUN_TIMEOUT_MS });
    const lines = stdout.trim().split('\n');
    if (file === 'device-info.ts') {
      // One block of four lines per adapter, then the device line.
      assert.match(lines[0]!, patterns[0]!);
      assert.match(lines.at(-1)!, patterns.at(-1)!);
      for (let at = 1; at < lines.length - 1; at += 4) {
        for (let k = 0; k < 4; k++) assert.match(lines[at + k]!, patterns[1 + k]!);
      }
      return;
    }
    assert.equal(lines.length, patterns.length, stdout);
    for (const [i, pattern] of patterns.entries()) assert.match(lines[i]!, pattern);
  });
}
