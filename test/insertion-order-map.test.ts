// InsertionOrderMap against a plain array model under random sets, deletes, oldest-first drops and
// clears, and held full at 50,000 entries while each insert drops the oldest (its use).

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { InsertionOrderMap } from '../src/insertion-order-map.ts';

test('drops entries oldest first and agrees with a model under random operations', () => {
  let seed = 7;
  const random = (n: number): number => {
    seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31;
    return seed % n;
  };
  for (let trial = 0; trial < 40; trial++) {
    const map = new InsertionOrderMap<number, number>();
    const model: [number, number][] = [];
    const at = (key: number): number => model.findIndex(([k]) => k === key);
    for (let step = 0; step < 4000; step++) {
      const op = random(20);
      const key = random(200);
      if (op < 10) {
        map.set(key, step);
        const i = at(key);
        if (i >= 0) model[i]![1] = step;
        else model.push([key, step]);
      } else if (op < 14) {
        const i = at(key);
        assert.equal(map.delete(key), i >= 0);
        if (i >= 0) model.splice(i, 1);
      } else if (op < 19) {
        assert.deepEqual(map.deleteOldest(), model.shift());
      } else {
        map.clear();
        model.length = 0;
      }
      assert.deepEqual([...map], model, `trial ${trial}, step ${step}`);
    }
    while (model.length > 0) assert.deepEqual(map.deleteOldest(), model.shift());
    assert.equal(map.deleteOldest(), undefined);
    map.set(1, 1);
    assert.deepEqual(map.deleteOldest(), [1, 1], 'an emptied map drops what is added after');
  }
});

test('a map held at 50,000 entries, dropping its oldest for each insert, keeps the newest in order', () => {
  const map = new InsertionOrderMap<string, number>();
  for (let i = 0; i < 50_000; i++) map.set(`job-${i}`, i);
  // The task-queue broker's use (its job -> queue cache); bench/tasks/profile-drain.ts shows the cost.
  for (let i = 50_000; i < 250_000; i++) {
    assert.deepEqual(map.deleteOldest(), [`job-${i - 50_000}`, i - 50_000]);
    map.set(`job-${i}`, i);
  }
  assert.equal(map.size, 50_000);
  assert.deepEqual([...map.keys()].slice(0, 2), ['job-200000', 'job-200001']);
  assert.equal(map.get('job-249999'), 249_999);
});
