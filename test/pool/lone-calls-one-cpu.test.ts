// A process that may use only one CPU (taskset) runs its lone calls differently: nothing spins, and the
// pool's thread sleeps for each answer rather than for blockingWaitTimeout, woken by the answer, by any
// other message of the worker, or by the call turning to the worker's event loop (thread-worker-handle.ts,
// ONE_CPU_RESULT_WAIT_MS). This runs the whole lone-calls suite in such a process.

import assert from 'node:assert/strict';
import { execFile, spawnSync } from 'node:child_process';
import { describe, it } from 'node:test';

const hasTaskset = spawnSync('taskset', ['-c', '0', 'true']).status === 0;
const suite = new URL('./lone-calls.test.ts', import.meta.url).pathname;
// The child is a test run of its own, not a subtest of this one (node:test marks its children thus).
const { NODE_TEST_CONTEXT: _, ...childEnv } = process.env;

describe('ThreadPool lone calls on one CPU', () => {
  it('passes the lone-calls suite pinned to one CPU (taskset -c 0)', {
    timeout: 240_000,
    skip: hasTaskset ? false : 'taskset (util-linux) is not installed: cannot pin a process to one CPU',
  }, async () => {
    const { code, output } = await new Promise<{ code: number | null; output: string }>((resolve) => {
      execFile(
        'taskset',
        ['-c', '0', process.execPath, '--test', '--test-timeout=120000', suite],
        { timeout: 230_000, maxBuffer: 16 * 2 ** 20, env: childEnv },
        (error, stdout, stderr) => {
          const exit = error === null ? 0 : typeof error.code === 'number' ? error.code : null;
          resolve({ code: exit, output: stdout + stderr });
        },
      );
    });
    assert.equal(code, 0, `the pinned suite failed:\n${output.slice(-4000)}`);
    assert.match(output, /# fail 0|ℹ fail 0/);
    const passed = /(?:#|ℹ) pass (\d+)/.exec(output);
    assert.ok(
      passed !== null && Number(passed[1]) >= 13,
      `every test of the suite ran:\n${output.slice(-2000)}`,
    );
  });
});
