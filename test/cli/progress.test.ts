// The CLI progress bar: in place on a terminal, a few plain lines on a pipe.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ProgressBar } from '../../src/cli/progress.ts';

function recorder(isTTY: boolean): { chunks: string[]; isTTY: boolean; write(chunk: string): void } {
  const chunks: string[] = [];
  return { chunks, isTTY, write: (chunk: string) => void chunks.push(chunk) };
}

test('on a pipe it prints one line at each of 25, 50, 75 and 100 %, whatever the step size', () => {
  const stream = recorder(false);
  const bar = new ProgressBar('ThreadPool', 7, stream);
  for (let done = 1; done <= 7; done++) bar.update(done);
  bar.finish();
  bar.finish();
  assert.deepEqual(stream.chunks, [
    'ThreadPool: 25% (2/7)\n',
    'ThreadPool: 50% (4/7)\n',
    'ThreadPool: 75% (6/7)\n',
    'ThreadPool: 100% (7/7)\n',
  ]);
});

test('on a pipe a jump straight to the end prints every missed step once', () => {
  const stream = recorder(false);
  const bar = new ProgressBar('sequential', 10, stream);
  bar.update(10);
  bar.update(3);
  bar.finish();
  assert.equal(stream.chunks.length, 4);
  assert.ok(stream.chunks.every((line) => line.endsWith('(10/10)\n')));
});

test('on a terminal it redraws one line with a carriage return and ends it on finish', () => {
  const stream = recorder(true);
  const bar = new ProgressBar('ProcessPool', 4, stream);
  bar.update(1);
  bar.finish();
  assert.ok(stream.chunks.every((chunk) => chunk.startsWith('\r') || chunk === '\n'));
  assert.match(stream.chunks[0]!, /^\rProcessPool \[#{8}\.{22}\] {2}25% \(1\/4\)$/);
  assert.equal(stream.chunks.at(-2), `\rProcessPool [${'#'.repeat(30)}] 100% (4/4)`);
  assert.equal(stream.chunks.at(-1), '\n');
});

test('a total that is not a positive integer is refused', () => {
  assert.throws(() => new ProgressBar('x', 0, recorder(false)), RangeError);
  assert.throws(() => new ProgressBar('x', 2.5, recorder(false)), RangeError);
});
