// RunOptions.onOutput on both pools: what a call prints on stdout and stderr (console.* and direct
// writes, across awaits) reaches its caller in order and before the call settles; other calls' output,
// and output after the call settled, does not; a flood is coalesced and cut at the per-call cap.

import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { describe, it, type TestContext } from 'node:test';
import { type Executor, ProcessPool, ThreadPool } from '../../src/pool/index.ts';
import { OUTPUT_FLUSH_CHARS, OUTPUT_LIMIT_CHARS } from '../../src/pool/output-capture.ts';
import { codeOf, destroyAfter, settle } from '../conformance/helpers.ts';
import {
  printAcrossAwaits,
  printLines,
  printThenLeaveTimer,
  stdoutHooked,
} from '../fixtures/print-output.ts';

const T = { timeout: 30_000 };
const FIXTURES = join(import.meta.dirname, '..', 'fixtures');

type Chunk = { stream: 'stdout' | 'stderr'; text: string };

function collector(): { chunks: Chunk[]; onOutput: (stream: 'stdout' | 'stderr', text: string) => void } {
  const chunks: Chunk[] = [];
  return { chunks, onOutput: (stream, text) => chunks.push({ stream, text }) };
}

/** The lines of one stream, in order. */
function linesOf(chunks: readonly Chunk[], stream: 'stdout' | 'stderr'): string[] {
  return chunks
    .filter((chunk) => chunk.stream === stream)
    .map((chunk) => chunk.text)
    .join('')
    .split('\n')
    .filter((line) => line !== '');
}

function runNode(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      args,
      { timeout: 25_000, maxBuffer: 64 * 2 ** 20 },
      (error, stdout, stderr) => {
        resolve({
          code: error === null ? 0 : typeof error.code === 'number' ? error.code : null,
          stdout,
          stderr,
        });
      },
    );
  });
}

for (const kind of ['thread', 'process'] as const) {
  const usePool = (t: TestContext): Executor =>
    destroyAfter(
      t,
      kind === 'thread' ? new ThreadPool({ maxWorkers: 1 }) : new ProcessPool({ maxWorkers: 1 }),
    );

  describe(`${kind === 'thread' ? 'ThreadPool' : 'ProcessPool'} onOutput`, () => {
    it(
      'receives console.log and process.stderr.write lines, in order, before the call settles',
      T,
      async (t) => {
        const pool = usePool(t);
        const { chunks, onOutput } = collector();
        const result = await pool.submit(printLines, ['a', 50], { onOutput });
        assert.equal(result, 50);
        const numbers = Array.from({ length: 50 }, (_, i) => i + 1);
        assert.deepEqual(
          linesOf(chunks, 'stdout'),
          numbers.map((i) => `a out ${i}`),
        );
        assert.deepEqual(
          linesOf(chunks, 'stderr'),
          numbers.map((i) => `a err ${i}`),
        );
        // Interleaved as written: the stream switches at every line, so no chunk mixes two streams' lines.
        const all = chunks.flatMap((chunk) =>
          chunk.text
            .split('\n')
            .filter((line) => line !== '')
            .map((line) => `${chunk.stream}:${line}`),
        );
        assert.deepEqual(
          all,
          numbers.flatMap((i) => [`stdout:a out ${i}`, `stderr:a err ${i}`]),
        );
      },
    );

    it('captures an async task across awaits and timers, before the call settles', T, async (t) => {
      const pool = usePool(t);
      const { chunks, onOutput } = collector();
      assert.equal(await pool.submit(printAcrossAwaits, ['b', 20], { onOutput }), 'done');
      assert.deepEqual(linesOf(chunks, 'stdout'), ['b before', 'b in timer']);
      assert.deepEqual(linesOf(chunks, 'stderr'), ['b after']);
    });

    it('keeps two calls on one worker apart, and drops what a call prints after it settled', T, async (t) => {
      const pool = usePool(t);
      const first = collector();
      const second = collector();
      // One worker: the second call runs while the first's leftover timer prints.
      const [a, b] = await Promise.all([
        pool.submit(printThenLeaveTimer, ['first', 5], { onOutput: first.onOutput }),
        pool.submit(printAcrossAwaits, ['second', 100], { onOutput: second.onOutput }),
      ]);
      assert.deepEqual([a, b], ['first', 'done']);
      assert.deepEqual(linesOf(first.chunks, 'stdout'), ['first now']);
      assert.deepEqual(linesOf(second.chunks, 'stdout'), ['second before', 'second in timer']);
      assert.deepEqual(linesOf(second.chunks, 'stderr'), ['second after']);
    });

    it(
      'captures nothing for a call without onOutput, and hooks stdout only once a call asks',
      T,
      async (t) => {
        const pool = usePool(t);
        assert.equal(await pool.run(stdoutHooked), false);
        assert.equal(await pool.run(printLines, 'quiet', 1), 1);
        assert.equal(await pool.run(stdoutHooked), false);
        const { chunks, onOutput } = collector();
        // A call without onOutput runs between two capturing ones: its lines go to neither.
        const calls = [
          pool.submit(printLines, ['c1', 2], { onOutput }),
          pool.run(printLines, 'plain', 2),
          pool.submit(printLines, ['c2', 2], { onOutput }),
        ];
        await Promise.all(calls);
        assert.deepEqual(linesOf(chunks, 'stdout'), ['c1 out 1', 'c1 out 2', 'c2 out 1', 'c2 out 2']);
        assert.equal(await pool.run(stdoutHooked), true);
      },
    );

    it('refuses an onOutput that is not a function', T, async (t) => {
      const pool = usePool(t);
      const outcome = await settle(() =>
        pool.submit(printLines, ['x', 1], { onOutput: 'log' as unknown as () => void }),
      );
      assert.equal(outcome.status, 'rejected');
      assert.equal(
        codeOf(outcome.status === 'rejected' ? outcome.reason : undefined),
        'SKEIN_POOL_INVALID_OPTION',
      );
    });

    it('coalesces a flood into few messages and cuts it at the per-call cap with a marker', T, async () => {
      const total = OUTPUT_LIMIT_CHARS + 200_000;
      const child = await runNode([join(FIXTURES, 'print-flood-main.ts'), kind, String(total)]);
      assert.equal(child.code, 0, child.stderr);
      const summary = JSON.parse(child.stderr.trimEnd().split('\n').at(-1)!) as {
        result: number;
        calls: number;
        chars: number;
        cut: boolean;
      };
      assert.equal(summary.result, total);
      assert.equal(summary.cut, true);
      assert.ok(
        summary.chars > OUTPUT_LIMIT_CHARS && summary.chars < OUTPUT_LIMIT_CHARS + 200,
        String(summary.chars),
      );
      // At most one message per OUTPUT_FLUSH_CHARS, plus one per flush interval the task ran (generous).
      assert.ok(
        summary.calls <= Math.ceil(OUTPUT_LIMIT_CHARS / OUTPUT_FLUSH_CHARS) + 200,
        String(summary.calls),
      );
    });
  });
}
