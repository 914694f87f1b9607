// InsertionOrderMap against a plain array model under random sets, deletes, oldest-first drops and
// clears, and held full at 50,000 entries while each insert drops the oldest (its use); InsertionOrderSet
// likewise, with peeks and re-added members, and as a wait list of 50,000 served in order.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { InsertionOrderMap, InsertionOrderSet } from '../src/insertion-order-map.ts';

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

test('a set peeks and takes its oldest member and agrees with a model under random operations', () => {
  let seed = 11;
  const random = (n: number): number => {
    seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31;
    return seed % n;
  };
  for (let trial = 0; trial < 40; trial++) {
    const set = new InsertionOrderSet<number>();
    const model: number[] = [];
    for (let step = 0; step < 4000; step++) {
      const op = random(24);
      // Small values: members leave and come back, the oldest among them too (it must go to the end).
      const member = random(60) + 1;
      if (op < 10) {
        set.add(member);
        if (!model.includes(member)) model.push(member);
      } else if (op < 14) {
        const i = model.indexOf(member);
        assert.equal(set.delete(member), i >= 0);
        if (i >= 0) model.splice(i, 1);
      } else if (op < 17) {
        const oldest = model[0];
        if (oldest !== undefined) {
          // The oldest leaves by delete() after a peek: a wait list's "serve it, then remove it".
          assert.equal(set.oldest(), oldest);
          assert.equal(set.delete(oldest), true);
          model.shift();
        }
      } else if (op < 20) {
        assert.equal(set.oldest(), model[0]);
      } else if (op < 23) {
        assert.equal(set.deleteOldest(), model.shift());
      } else {
        set.clear();
        model.length = 0;
      }
      assert.deepEqual([...set], model, `trial ${trial}, step ${step}`);
    }
    while (model.length > 0) assert.equal(set.deleteOldest(), model.shift());
    assert.equal(set.oldest(), undefined);
    assert.equal(set.deleteOldest(), undefined);
    set.add(5);
    assert.equal(set.oldest(), 5, 'an emptied set finds what is added after');
  }
});

test('a wait list of 50,000, each served member replaced by a newcomer, serves in arrival order', () => {
  // The sync hub's use (lock, semaphore and queue wait lists): serve the oldest while more arrive, and
  // every tenth newcomer stops waiting (a timeout) while others are ahead of it.
  const waiters = new InsertionOrderSet<{ id: number }>();
  const byId: { id: number }[] = [];
  const join = (id: number): void => {
    byId[id] = { id };
    waiters.add(byId[id]!);
  };
  for (let id = 0; id < 50_000; id++) join(id);
  const withdrawn = new Set<number>();
  let expected = 0;
  let served = 0;
  for (let id = 50_000; id < 200_000; id++) {
    while (withdrawn.has(expected)) expected++;
    const next = waiters.oldest()!;
    assert.equal(next.id, expected);
    waiters.delete(next);
    expected++;
    served++;
    join(id);
    const leaving = id - 20_000;
    if (leaving % 10 === 0 && leaving > expected && waiters.delete(byId[leaving]!)) withdrawn.add(leaving);
  }
  assert.ok(withdrawn.size > 10_000);
  assert.equal(waiters.size, 200_000 - served - withdrawn.size);
  assert.equal(
    waiters.deleteOldest()!.id,
    [...Array(200_000).keys()].find((n) => n >= expected && !withdrawn.has(n)),
  );
});
