// Reduction operations on their own (no ranks): every predefined op on scalars, typed arrays of each
// kind (bigint ones included) and arrays, location pairs, user operations, and refusal of mixed kinds.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { BAND, BOR, LAND, LOR, MAX, MAXLOC, MIN, MINLOC, Op, PROD, SUM } from '../../src/mpi/index.ts';

test('SUM, PROD, MAX and MIN combine scalars and typed arrays element-wise into a new array', () => {
  assert.equal(SUM.apply(2, 3), 5);
  assert.equal(PROD.apply(2n, 3n), 6n);
  assert.deepEqual(
    SUM.apply(new Float64Array([1, 2]), new Float64Array([10, 20])),
    new Float64Array([11, 22]),
  );
  assert.deepEqual(PROD.apply(new Int32Array([3, -2]), new Int32Array([4, 5])), new Int32Array([12, -10]));
  assert.deepEqual(
    MAX.apply(new BigInt64Array([1n, 9n]), new BigInt64Array([5n, 2n])),
    new BigInt64Array([5n, 9n]),
  );
  assert.deepEqual(MIN.apply(new Uint8Array([1, 9]), new Uint8Array([5, 2])), new Uint8Array([1, 2]));
  // Two kinds of typed array combine element by element into the first one's kind.
  assert.deepEqual(SUM.apply(new Int32Array([1, 2]), new Float64Array([0.5, 0.5])), new Int32Array([1, 2]));
  assert.deepEqual(MAX.apply([1, [5, 2]], [3, [4, 6]]), [3, [5, 6]]);
  const left = new Float64Array([1]);
  SUM.apply(left, new Float64Array([1]));
  assert.deepEqual(left, new Float64Array([1]), 'operands are not modified');
});

test('logical and bitwise operations keep the operand kind', () => {
  assert.equal(LAND.apply(true, false), false);
  assert.equal(LOR.apply(0, 3), 1);
  assert.equal(LOR.apply(0n, 0n), 0n);
  assert.equal(BAND.apply(0b1100, 0b1010), 0b1000);
  assert.equal(BOR.apply(0b1100n, 0b1010n), 0b1110n);
  assert.deepEqual(
    LAND.apply(new Uint8Array([1, 1, 0]), new Uint8Array([1, 0, 0])),
    new Uint8Array([1, 0, 0]),
  );
});

test('MAXLOC and MINLOC pick the better value and the smaller index on ties', () => {
  assert.deepEqual(MAXLOC.apply([5, 2], [7, 1]), [7, 1]);
  assert.deepEqual(MAXLOC.apply([7, 3], [7, 1]), [7, 1]);
  assert.deepEqual(
    MINLOC.apply(
      [
        [1, 0],
        [9, 0],
      ],
      [
        [1, 1],
        [2, 1],
      ],
    ),
    [
      [1, 0],
      [2, 1],
    ],
  );
  assert.deepEqual(
    MINLOC.apply(new Float64Array([3, 0, 8, 0]), new Float64Array([2, 1, 9, 1])),
    new Float64Array([2, 1, 8, 0]),
  );
});

test('a user operation sees the lower rank first; Op.create refuses a non-function', () => {
  const concat = Op.create((a: string, b: string) => a + b, false);
  assert.equal(concat.commutative, false);
  assert.equal(concat.apply('low', 'high'), 'lowhigh');
  assert.ok(concat instanceof Op);
  assert.throws(() => Op.create('x' as never), {
    code: 'SKEIN_MPI_INVALID_ARGUMENT',
    message: /needs a function/,
  });
});

test('predefined operations refuse values they cannot combine, and arrays of different lengths', () => {
  assert.throws(() => SUM.apply('a', 'b'), {
    code: 'SKEIN_MPI_INVALID_ARGUMENT',
    message: /SUM combines numbers/,
  });
  assert.throws(() => SUM.apply(1, 1n), { code: 'SKEIN_MPI_INVALID_ARGUMENT' });
  assert.throws(() => MAX.apply(new Int32Array(2), new Int32Array(3)), {
    code: 'SKEIN_MPI_INVALID_ARGUMENT',
    message: /same length on every rank \(got 2 and 3\)/,
  });
  assert.throws(() => MAXLOC.apply([1, 2, 3], [1, 2, 3]), {
    code: 'SKEIN_MPI_INVALID_ARGUMENT',
    message: /\[value, index\] pairs/,
  });
});
