// The `skein` executable, run for real in a child process: the demo renders the same image sequentially,
// on a ThreadPool and on a ProcessPool and prints matching checksums; help, version and usage errors
// behave as documented.

import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const BIN = join(ROOT, 'bin/skein.ts');
const RUN_TIMEOUT_MS = 120_000;

interface Outcome {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

function skein(...args: string[]): Promise<Outcome> {
  return new Promise((resolve, reject) => {
    execFile(
      process.execPath,
      [BIN, ...args],
      { cwd: ROOT, timeout: RUN_TIMEOUT_MS },
      (error, stdout, stderr) => {
        if (error !== null && typeof error.code !== 'number') reject(error);
        else resolve({ code: error === null ? 0 : (error.code as number), stdout, stderr });
      },
    );
  });
}

const SMALL = ['--width', '160', '--height', '120', '--iterations', '200', '--workers', '2'];

test('skein demo renders the image three ways and prints matching checksums, speedup and efficiency', async () => {
  const { code, stdout, stderr } = await skein('demo', ...SMALL);
  assert.equal(code, 0, stderr);
  const match = /^checksums: all 3 match \(sha256 ([0-9a-f]{64})\)$/m.exec(stdout);
  assert.ok(match !== null, stdout);
  const shortSum = match[1]!.slice(0, 16);
  for (const label of ['sequential', 'ThreadPool', 'ProcessPool']) {
    const row = new RegExp(
      `^${label}\\s+(\\d+)\\s+(\\d+\\.\\d)\\s+(\\d+\\.\\d\\d)x\\s+(\\S+)\\s+${shortSum}$`,
      'm',
    ).exec(stdout);
    assert.ok(row !== null, `a ${label} row with the common checksum in:\n${stdout}`);
    if (label !== 'sequential') {
      assert.equal(row[1], '2');
      const efficiency = Number(row[4]!.replace('%', ''));
      // Both columns are rounded (speedup to 0.01, efficiency to 0.1 %): 0.005 × 50 + 0.05 at most apart.
      assert.ok(
        Math.abs(efficiency - Number(row[3]) * 50) <= 0.3 + 1e-9,
        `efficiency ${efficiency}% = speedup ${row[3]} / 2 workers`,
      );
    }
  }
  assert.match(stdout, /^Mandelbrot 160x120, 200 iterations, 15 tasks of 8 rows; 2 workers per pool/m);
  // stderr is a pipe here, so each progress bar prints a line at 25, 50, 75 and 100 %.
  for (const label of ['sequential', 'ThreadPool', 'ProcessPool']) {
    for (const percent of [25, 50, 75, 100]) {
      assert.match(stderr, new RegExp(`^${label}: ${percent}% \\(\\d+/15\\)$`, 'm'));
    }
  }
});

test('skein demo --out writes the image as a binary PGM file', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'skein-demo-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const out = join(dir, 'mandelbrot.pgm');
  const { code, stdout, stderr } = await skein(
    'demo',
    '--width',
    '64',
    '--height',
    '48',
    '--workers',
    '1',
    '--out',
    out,
  );
  assert.equal(code, 0, stderr);
  assert.match(stdout, /wrote .*mandelbrot\.pgm \(PGM, 64x48\)/);
  const file = await readFile(out);
  const header = 'P5\n64 48\n255\n';
  assert.equal(file.subarray(0, header.length).toString('latin1'), header);
  assert.equal(file.length, header.length + 64 * 48);
  assert.ok(file.subarray(header.length).includes(0), 'points inside the set are black');
  assert.ok(
    file.subarray(header.length).some((byte) => byte > 128),
    'points far outside are bright',
  );
});

test('skein --help and skein demo --help print usage and exit 0', async () => {
  const help = await skein('--help');
  assert.equal(help.code, 0);
  assert.match(help.stdout, /^Usage: skein <command> \[options\]/);
  assert.match(help.stdout, /^ {2}demo /m);
  const demoHelp = await skein('demo', '--help');
  assert.equal(demoHelp.code, 0);
  assert.match(demoHelp.stdout, /^Usage: skein demo \[options\]/);
  assert.match(demoHelp.stdout, /--iterations <n>/);
});

test('skein --version prints the version of package.json', async () => {
  const { version } = JSON.parse(await readFile(join(ROOT, 'package.json'), 'utf8')) as { version: string };
  const { code, stdout } = await skein('--version');
  assert.equal(code, 0);
  assert.equal(stdout, `${version}\n`);
});

test('an unknown command exits 2 with a message naming it and pointing at --help', async () => {
  const { code, stdout, stderr } = await skein('frobnicate');
  assert.equal(code, 2);
  assert.equal(stdout, '');
  assert.equal(stderr, `skein: unknown command "frobnicate"; run 'skein --help' to see the commands\n`);
});

test('no command exits 2 and prints the usage on stderr', async () => {
  const { code, stderr } = await skein();
  assert.equal(code, 2);
  assert.match(stderr, /^Usage: skein <command>/);
});

test('a bad demo option exits 2 naming the option and its value', async () => {
  const badValue = await skein('demo', '--width', '0');
  assert.equal(badValue.code, 2);
  assert.match(
    badValue.stderr,
    /^skein demo: --width must be an integer from 1 to 100000 \(got "0"\); run 'skein demo --help'/,
  );
  const unknown = await skein('demo', '--colour', 'red');
  assert.equal(unknown.code, 2);
  assert.match(unknown.stderr, /^skein demo: Unknown option '--colour'/);
});

test('package.json names bin/skein.ts as the skein executable, with a node shebang and the executable bit', async () => {
  const { bin } = JSON.parse(await readFile(join(ROOT, 'package.json'), 'utf8')) as {
    bin: Record<string, string>;
  };
  assert.equal(bin.skein, './bin/skein.ts');
  assert.ok((await readFile(BIN, 'utf8')).startsWith('#!/usr/bin/env node\n'));
  assert.ok(((await stat(BIN)).mode & 0o111) !== 0, 'bin/skein.ts is executable');
});
