// ProcessQueue across real child processes: many producers and consumers with nothing lost or
// duplicated and FIFO per producer, blocking forms in children, aborts racing grants (an item handed
// out as its get is aborted goes back), a consumer SIGKILLed while waiting, and the local API.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { setImmediate as yieldToLoop } from 'node:timers/promises';
import { PROCESS_QUEUE_DEFAULTS, ProcessQueue } from '../../src/channel/process-queue.ts';
import { toHandle } from '../../src/sync/shared.ts';
import { forkFixture, SOON_MS } from '../sync/process-children.ts';

const T = { timeout: 60_000 };

describe('ProcessQueue', () => {
  it('moves every item from many producers to many consumers once, FIFO per producer', T, async (t) => {
    const queue = new ProcessQueue<{ producer: number; seq: number; sample: Float64Array }>({ capacity: 16 });
    const consumers = [true, false].map((blocking) => {
      const child = forkFixture(t, 'consume-from-queue.ts');
      child.send({ queue: toHandle(queue), blocking });
      return child;
    });
    const perProducer = 200;
    const producers = [true, false].map((blocking, producer) => {
      const child = forkFixture(t, 'produce-into-queue.ts');
      child.send({ queue: toHandle(queue), producer, count: perProducer, blocking });
      return child;
    });
    for (let seq = 0; seq < perProducer; seq++) {
      await queue.putAsync({ producer: 2, seq, sample: new Float64Array([seq, 2]) }, { timeout: SOON_MS });
    }
    for (const child of producers) await child.next('done');
    await queue.joinAsync({ timeout: SOON_MS });
    assert.equal(queue.unfinishedTasks, 0);
    queue.close();
    const taken: [number, number][][] = [];
    for (const child of consumers) {
      assert.equal(await child.next('ready'), 'ready');
      taken.push((await child.next<{ items: [number, number][] }>('items')).items);
    }
    for (const child of [...producers, ...consumers]) await child.finished('exit');
    const all = taken.flat().map(([producer, seq]) => producer * perProducer + seq);
    assert.deepEqual(
      all.toSorted((a, b) => a - b),
      Array.from({ length: 3 * perProducer }, (_, i) => i),
      'every item taken exactly once',
    );
    for (const items of taken) {
      for (let producer = 0; producer < 3; producer++) {
        const seqs = items.filter(([p]) => p === producer).map(([, seq]) => seq);
        assert.deepEqual(
          seqs,
          seqs.toSorted((a, b) => a - b),
          `producer ${producer} in order`,
        );
      }
    }
  });

  it('gives back an item handed out as its get was aborted: nothing lost, nothing twice', T, async (t) => {
    const queue = new ProcessQueue<number>();
    const consumer = forkFixture(t, 'consume-with-aborts.ts');
    consumer.send({ queue: toHandle(queue) });
    await consumer.next('ready');
    const count = 300;
    for (let i = 0; i < count; i++) {
      queue.putNowait(i);
      if (i % 3 === 0) await yieldToLoop();
    }
    queue.close();
    const { items } = await consumer.next<{ items: number[]; aborted: number }>('items');
    await consumer.finished('exit');
    assert.deepEqual(
      items.toSorted((a, b) => a - b),
      Array.from({ length: count }, (_, i) => i),
    );
  });

  it('loses nothing to a consumer SIGKILLed while it waits', T, async (t) => {
    const queue = new ProcessQueue<string>();
    const consumer = forkFixture(t, 'consume-from-queue.ts');
    consumer.send({ queue: toHandle(queue), blocking: false });
    await consumer.next('ready');
    process.kill(consumer.pid, 'SIGKILL');
    // Put before the hub has seen the connection close: the item may go out to the dead consumer's
    // waiting get, and must come back when the connection closes unacknowledged.
    queue.putNowait('survivor');
    await consumer.exited;
    assert.equal(await queue.getAsync({ timeout: SOON_MS }), 'survivor');
  });

  it('orders by priority or LIFO, reports full and empty, and closes like a channel', async () => {
    const urgent = new ProcessQueue<string>({ order: 'priority' });
    urgent.putNowait('later', { priority: 5 });
    urgent.putNowait('first', { priority: -1 });
    urgent.putNowait('second');
    urgent.putNowait('third');
    assert.deepEqual(
      [urgent.getNowait(), urgent.getNowait(), urgent.getNowait(), urgent.getNowait()],
      ['first', 'second', 'third', 'later'],
    );
    const stack = new ProcessQueue<number>({ order: 'lifo', capacity: 2 });
    stack.put(1);
    stack.put(2);
    assert.equal(stack.full(), true);
    assert.throws(() => stack.putNowait(3), { code: 'SKEIN_CHANNEL_FULL' });
    assert.throws(() => stack.put(3), { code: 'SKEIN_SYNC_WOULD_DEADLOCK' });
    await assert.rejects(stack.putAsync(3, { timeout: 10 }), { code: 'SKEIN_TIMEOUT' });
    assert.deepEqual([stack.get(), stack.getNowait()], [2, 1]);
    assert.throws(() => stack.getNowait(), { code: 'SKEIN_CHANNEL_EMPTY' });
    assert.throws(() => stack.putNowait(1, { priority: 1 }), { code: 'SKEIN_CHANNEL_INVALID_ARGUMENT' });
    stack.taskDone();
    stack.taskDone();
    assert.throws(() => stack.taskDone(), { code: 'SKEIN_CHANNEL_INVALID_ARGUMENT' });

    const queue = new ProcessQueue<{ at: Date; data: Uint8Array }>();
    assert.deepEqual(queue.options, PROCESS_QUEUE_DEFAULTS);
    const waiting = queue.getAsync();
    const value = { at: new Date(0), data: new Uint8Array([1, 2, 3]) };
    await queue.putAsync(value);
    assert.deepEqual(await waiting, value);
    queue.putNowait(value);
    const blockedPut = new ProcessQueue<number>({ capacity: 1 });
    blockedPut.putNowait(1);
    const pendingPut = blockedPut.putAsync(2);
    blockedPut.close();
    await assert.rejects(pendingPut, { code: 'SKEIN_CHANNEL_CLOSED' });
    assert.equal(blockedPut.getNowait(), 1, 'what was put before close() is still taken');
    await assert.rejects(blockedPut.getAsync(), { code: 'SKEIN_CHANNEL_CLOSED' });
    queue.close();
    const drained: unknown[] = [];
    for await (const item of queue) drained.push(item);
    assert.deepEqual(drained, [value]);
    assert.throws(() => queue.putNowait(value), { code: 'SKEIN_CHANNEL_CLOSED' });
    assert.throws(() => new ProcessQueue({ capacity: 0 }), { code: 'SKEIN_CHANNEL_INVALID_ARGUMENT' });
    assert.throws(() => queue.putNowait((() => {}) as never), { code: 'SKEIN_CODEC_UNSUPPORTED' });
  });
});
