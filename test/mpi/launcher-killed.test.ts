// kill -9 of the launcher: rank processes notice their control connection is gone and exit, so a
// killed `skein mpirun` leaves no orphan ranks behind.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';

const SKEIN = fileURLToPath(new URL('../../bin/skein.ts', import.meta.url));
const PROGRAM = fileURLToPath(new URL('../fixtures/mpi/print-pid-then-wait.ts', import.meta.url));
const ORPHAN_EXIT_TIMEOUT_MS = 10_000;

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

for (const flag of ['--procs', '--tcp']) {
  test(`skein mpirun ${flag} killed with SIGKILL leaves no rank process running`, async () => {
    const launcher = spawn(process.execPath, [SKEIN, 'mpirun', '-n', '3', flag, PROGRAM], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const pids: number[] = [];
    let text = '';
    launcher.stdout.setEncoding('utf8');
    await new Promise<void>((resolve, reject) => {
      launcher.stdout.on('data', (chunk: string) => {
        text += chunk;
        pids.splice(0, pids.length, ...[...text.matchAll(/pid (\d+)/g)].map((m) => Number(m[1])));
        if (pids.length === 3) resolve();
      });
      launcher.once('exit', (code) => reject(new Error(`the launcher exited early (${code}): ${text}`)));
    });
    launcher.kill('SIGKILL');
    await once(launcher, 'exit');
    const deadline = Date.now() + ORPHAN_EXIT_TIMEOUT_MS;
    while (pids.some(alive) && Date.now() < deadline) await sleep(50);
    const left = pids.filter(alive);
    for (const pid of left) process.kill(pid, 'SIGKILL');
    assert.deepEqual(left, [], 'rank processes outlived their launcher');
  });
}
