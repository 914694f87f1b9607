// The demo's workload is deterministic and its bands tile the image exactly, which is what makes the
// demo's checksum comparison between executors meaningful.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { assembleImage, renderBand, splitIntoBands, toPgm } from '../../src/cli/mandelbrot.ts';

const VIEW = { width: 97, height: 61, iterations: 150 };

test('bands cover every row exactly once, the last one shorter when the height does not divide', () => {
  const bands = splitIntoBands(VIEW, 8);
  assert.equal(bands.length, 8);
  assert.deepEqual(
    bands.map((band) => [band.startRow, band.rows]),
    [0, 8, 16, 24, 32, 40, 48, 56].map((start) => [start, start === 56 ? 5 : 8]),
  );
});

test('rendering in bands gives the same image as rendering in one piece', () => {
  const whole = renderBand({ ...VIEW, startRow: 0, rows: VIEW.height }).pixels;
  for (const rowsPerBand of [1, 7, 61]) {
    const banded = assembleImage(VIEW, splitIntoBands(VIEW, rowsPerBand).map(renderBand));
    assert.deepEqual(banded, whole, `rowsPerBand ${rowsPerBand}`);
  }
  assert.ok(
    whole.includes(0) && whole.some((pixel) => pixel > 200),
    'the image has both the set and its outside',
  );
});

test('the image is symmetric about the real axis when the height is odd', () => {
  const image = renderBand({ ...VIEW, startRow: 0, rows: VIEW.height }).pixels;
  for (let row = 0; row < VIEW.height; row++) {
    const mirror = VIEW.height - 1 - row;
    assert.deepEqual(
      image.subarray(row * VIEW.width, (row + 1) * VIEW.width),
      image.subarray(mirror * VIEW.width, (mirror + 1) * VIEW.width),
      `row ${row}`,
    );
  }
});

test('toPgm writes a P5 header followed by the pixels', () => {
  const image = new Uint8Array([1, 2, 3, 4, 5, 6]);
  const file = toPgm({ width: 3, height: 2, iterations: 1 }, image);
  assert.equal(new TextDecoder().decode(file.subarray(0, 11)), 'P5\n3 2\n255\n');
  assert.deepEqual(file.subarray(11), image);
});
