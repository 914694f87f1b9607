// Queue across real worker threads: many producers and many consumers lose and duplicate nothing and
// keep each producer's order, a small capacity holds while producers block, taskDone/join count work
// done elsewhere, close() wakes consumers blocked in get(), and a queue reaches pool tasks as itself.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Queue } from '../../src/channel/index.ts';
import { ThreadPool } from '../../src/pool/index.ts';
import { toHandle } from '../../src/sync/index.ts';
import { putRange } from '../fixtures/queue-tasks.ts';
import { cellsOf, SOON_MS, terminated, untilCell } from '../sync/helpers.ts';
import { spawn } from '../sync/spawn.ts';

interface Flow {
  readonly producers: number;
  readonly consumers: number;
  readonly perProducer: number;
  readonly paddingBytes: number;
  readonly options: ConstructorParameters<typeof Queue>[0];
}

/** Runs producers and consumers over one queue; returns what each consumer got, as [producer, seq] pairs. */
async function runFlow(flow: Flow): Promise<Int32Array[]> {
  const queue = new Queue(flow.options);
  const handle = toHandle(queue);
  const gate = cellsOf(1);
  const consumers = Array.from(
    { length: flow.consumers },
    () =>
      spawn<Int32Array>('queue-consumer.ts', { queue: handle, gate: gate.buffer, maxItems: Infinity }).done,
  );
  const producers = Array.from(
    { length: flow.producers },
    (_, producer) =>
      spawn<number>('queue-producer.ts', {
        queue: handle,
        producer,
        count: flow.perProducer,
        paddingBytes: flow.paddingBytes,
      }).done,
  );
  assert.deepEqual(await Promise.all(producers), Array(flow.producers).fill(flow.perProducer));
  queue.close();
  const got = await Promise.all(consumers);
  assert.equal(queue.size, 0);
  return got;
}

/** Every item arrived exactly once, and each consumer saw each producer's items in increasing order. */
function checkFlow(flow: Flow, got: Int32Array[], label: string): void {
  const seen = Array.from({ length: flow.producers }, () => new Uint8Array(flow.perProducer));
  for (const [consumer, pairs] of got.entries()) {
    const last = new Array<number>(flow.producers).fill(-1);
    for (let i = 0; i < pairs.length; i += 2) {
      const producer = pairs[i]!;
      const seq = pairs[i + 1]!;
      assert.ok(
        seq > last[producer]!,
        `${label}: consumer ${consumer} got ${producer}:${seq} after ${last[producer]}`,
      );
      last[producer] = seq;
      assert.equal(seen[producer]![seq], 0, `${label}: ${producer}:${seq} delivered twice`);
      seen[producer]![seq] = 1;
    }
  }
  for (const [producer, marks] of seen.entries()) {
    assert.equal(marks.indexOf(0), -1, `${label}: producer ${producer} lost item ${marks.indexOf(0)}`);
  }
}

test('three producers and three consumers on a small queue lose and duplicate nothing and keep each producer in order', async () => {
  const flow: Flow = {
    producers: 3,
    consumers: 3,
    perProducer: 4000,
    paddingBytes: 0,
    options: { capacity: 16 },
  };
  for (let round = 0; round < 3; round++) checkFlow(flow, await runFlow(flow), `round ${round}`);
});

test('1 KiB messages through a ring that holds only a few of them arrive whole and in order', async () => {
  const flow: Flow = {
    producers: 2,
    consumers: 2,
    perProducer: 1500,
    paddingBytes: 1024,
    options: { bufferBytes: 4096 },
  };
  for (let round = 0; round < 2; round++) checkFlow(flow, await runFlow(flow), `round ${round}`);
});

test('LIFO and priority queues shared by threads deliver every item exactly once', async () => {
  for (const order of ['lifo', 'priority'] as const) {
    const flow: Flow = {
      producers: 2,
      consumers: 2,
      perProducer: 2000,
      paddingBytes: 0,
      options: { order, capacity: 8 },
    };
    const got = await runFlow(flow);
    const all = got.flatMap((pairs) =>
      Array.from({ length: pairs.length / 2 }, (_, i) => pairs[2 * i]! * 1e6 + pairs[2 * i + 1]!),
    );
    assert.equal(all.length, 2 * 2000, order);
    assert.equal(new Set(all).size, all.length, `${order}: no duplicates`);
  }
});

test('a producer thread blocked on a full queue never pushes it past its capacity', async () => {
  const capacity = 4;
  const queue = new Queue<[number, number, string]>({ capacity });
  const producer = spawn<number>('queue-producer.ts', {
    queue: toHandle(queue),
    producer: 0,
    count: 500,
    paddingBytes: 0,
  });
  for (let seq = 0; seq < 500; seq++) {
    assert.ok(queue.size <= capacity, `size ${queue.size} with capacity ${capacity}`);
    const [, got] = await queue.getAsync({ timeout: SOON_MS });
    assert.equal(got, seq);
  }
  assert.equal(await producer.done, 500);
});

test('join returns once worker threads have called taskDone for every item', async () => {
  const queue = new Queue<number>({ capacity: 10 });
  const total = cellsOf(1);
  const workers = [0, 1].map(
    () => spawn('queue-task-worker.ts', { queue: toHandle(queue), total: total.buffer }).done,
  );
  let expected = 0;
  for (let job = 1; job <= 300; job++) {
    await queue.putAsync(job, { timeout: SOON_MS });
    expected += job;
  }
  await queue.joinAsync({ timeout: SOON_MS });
  // Each worker adds before it calls taskDone, so the sum is complete when join returns.
  assert.equal(Atomics.load(total, 0), expected);
  assert.equal(queue.unfinishedTasks, 0);
  queue.close();
  await Promise.all(workers);
});

test('close() wakes consumer threads blocked in get(), which end with what was left', async () => {
  const queue = new Queue<[number, number]>();
  const gate = cellsOf(1);
  const consumers = [0, 1].map(
    () =>
      spawn<Int32Array>('queue-consumer.ts', {
        queue: toHandle(queue),
        gate: gate.buffer,
        maxItems: Infinity,
      }).done,
  );
  await untilCell(gate, 0, 2, 'both consumers about to get');
  queue.put([9, 0]);
  queue.close();
  const got = await Promise.all(consumers);
  assert.deepEqual(
    got.map((pairs) => [...pairs]).sort((a, b) => b.length - a.length),
    [[9, 0], []],
  );
});

test('a consumer thread terminated while blocked in get() leaves the queue working for the others', async () => {
  const queue = new Queue<[number, number]>();
  const gate = cellsOf(1);
  const doomed = spawn('queue-consumer.ts', {
    queue: toHandle(queue),
    gate: gate.buffer,
    maxItems: Infinity,
  });
  await untilCell(gate, 0, 1, 'the consumer about to get');
  await terminated(doomed.worker);
  for (let i = 0; i < 20; i++) {
    const getting = queue.getAsync({ timeout: SOON_MS });
    queue.put([0, i]);
    assert.deepEqual(await getting, [0, i]);
  }
  assert.equal(queue.size, 0);
});

test('a Queue passed to pool.run reaches the task as the same queue', async () => {
  await using pool = new ThreadPool({ minWorkers: 1, maxWorkers: 2 });
  const queue = new Queue<number>({ capacity: 5 });
  const running = pool.run(putRange, queue, 100);
  const got: number[] = [];
  for (let i = 0; i < 100; i++) got.push(await queue.getAsync({ timeout: SOON_MS }));
  assert.equal(await running, 100);
  assert.deepEqual(
    got,
    Array.from({ length: 100 }, (_, i) => i),
  );
});
